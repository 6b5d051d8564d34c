import { once } from "node:events";
import { request } from "node:http";
import {
  EnigmaError,
  ErrorCode,
  TaskResultStatus,
  generateKeyPair,
  toRpcHex,
} from "@enigma/protocol";
import { afterEach, describe, expect, it, vi } from "vitest";
import { WebSocket } from "ws";
import { NodeMetrics, createLogger } from "../observability.js";
import { RpcServer, type RpcHandlers, type RpcServerOptions } from "./server.js";

const enc = new TextEncoder();
// Seeded keys: a valid 64-byte user key, sent un-prefixed and upper-case as a client may.
const userPub = toRpcHex(generateKeyPair(enc.encode("rpc test user key")).publicKey);
const workerKey = toRpcHex(generateKeyPair(enc.encode("rpc test worker key")).publicKey);
const workerAddress = "AbCdEf0123456789aBcDeF0123456789AbCdEf01";
const taskId = "AB".repeat(32);
const contract = "cd".repeat(32);
const lower = (h: string) => `0x${h.toLowerCase()}`;

interface JsonRpcReply {
  jsonrpc: "2.0";
  id: string | number | null;
  result?: unknown;
  error?: { code: number; message: string; data?: Record<string, unknown> };
}

function stubHandlers() {
  return {
    getInfo: vi.fn(() => Promise.resolve({ node: "worker-1", version: "0.1.0" })),
    getWorkerEncryptionKey: vi.fn(() =>
      Promise.resolve({ result: { workerEncryptionKey: workerKey, workerSig: "11".repeat(65) } }),
    ),
    deploySecretContract: vi.fn(() => Promise.resolve({ sendTaskResult: true })),
    sendTaskInput: vi.fn(() => Promise.resolve({ sendTaskResult: true })),
    getTaskStatus: vi.fn(() =>
      Promise.resolve({ result: { status: TaskResultStatus.InProgress } }),
    ),
    getTaskResult: vi.fn(() =>
      Promise.resolve({
        result: {
          taskId: lower(taskId) as `0x${string}`,
          status: TaskResultStatus.Success,
          output: "0xbeef" as const,
          usedGas: 12_345,
        },
      }),
    ),
  } satisfies RpcHandlers;
}

type Stubs = ReturnType<typeof stubHandlers>;

const servers: RpcServer[] = [];
const sockets: WebSocket[] = [];

afterEach(async () => {
  for (const ws of sockets.splice(0)) ws.terminate();
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

async function startServer(
  opts: Partial<RpcServerOptions> = {},
): Promise<{ server: RpcServer; handlers: Stubs }> {
  const handlers = stubHandlers();
  const server = new RpcServer({ port: 0, handlers, ...opts });
  servers.push(server);
  await server.start();
  return { server, handlers };
}

async function post(
  server: RpcServer,
  body: unknown,
  init: { raw?: boolean; headers?: Record<string, string> } = {},
): Promise<Response> {
  return fetch(server.url, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...init.headers },
    body: init.raw === true ? (body as string) : JSON.stringify(body),
  });
}

async function call(server: RpcServer, method: string, params?: unknown, id: unknown = 1) {
  const res = await post(server, { jsonrpc: "2.0", id, method, params });
  expect(res.status).toBe(200);
  expect(res.headers.get("access-control-allow-origin")).toBe("*");
  return (await res.json()) as JsonRpcReply;
}

describe("RpcServer over HTTP: the six Discovery methods", () => {
  it("getInfo", async () => {
    const { server, handlers } = await startServer();
    const reply = await call(server, "getInfo", undefined, "a");
    expect(reply).toEqual({
      jsonrpc: "2.0",
      id: "a",
      result: { node: "worker-1", version: "0.1.0" },
    });
    expect(handlers.getInfo).toHaveBeenCalledTimes(1);
  });

  it("getWorkerEncryptionKey gets normalized hex", async () => {
    const { server, handlers } = await startServer();
    const reply = await call(server, "getWorkerEncryptionKey", {
      workerAddress,
      userPubKey: userPub.toUpperCase(),
    });
    expect(reply.result).toEqual({
      result: { workerEncryptionKey: workerKey, workerSig: "11".repeat(65) },
    });
    expect(handlers.getWorkerEncryptionKey).toHaveBeenCalledWith({
      workerAddress: lower(workerAddress),
      userPubKey: lower(userPub),
    });
  });

  it("deploySecretContract", async () => {
    const { server, handlers } = await startServer();
    const preCode = Buffer.from("gzipped wasm stand-in!").toString("base64"); // padded
    const params = {
      workerAddress,
      preCode,
      encryptedArgs: "AABB",
      encryptedFn: "0xCCDD",
      userDHKey: userPub,
      contractAddress: taskId,
    };
    const reply = await call(server, "deploySecretContract", params, 7);
    expect(reply).toEqual({ jsonrpc: "2.0", id: 7, result: { sendTaskResult: true } });
    expect(handlers.deploySecretContract).toHaveBeenCalledWith({
      workerAddress: lower(workerAddress),
      preCode,
      encryptedArgs: "0xaabb",
      encryptedFn: "0xccdd",
      userDHKey: lower(userPub),
      contractAddress: lower(taskId),
    });
  });

  it("sendTaskInput", async () => {
    const { server, handlers } = await startServer();
    const reply = await call(server, "sendTaskInput", {
      taskId,
      workerAddress,
      encryptedFn: "01",
      encryptedArgs: "",
      userDHKey: userPub,
      contractAddress: contract,
    });
    expect(reply.result).toEqual({ sendTaskResult: true });
    expect(handlers.sendTaskInput).toHaveBeenCalledWith({
      taskId: lower(taskId),
      workerAddress: lower(workerAddress),
      encryptedFn: "0x01",
      encryptedArgs: "0x",
      userDHKey: lower(userPub),
      contractAddress: lower(contract),
    });
  });

  it("getTaskStatus, with withResult defaulting to false", async () => {
    const { server, handlers } = await startServer();
    const reply = await call(server, "getTaskStatus", { taskId, workerAddress });
    expect(reply.result).toEqual({ result: { status: "INPROGRESS" } });
    expect(handlers.getTaskStatus).toHaveBeenCalledWith({
      taskId: lower(taskId),
      workerAddress: lower(workerAddress),
      withResult: false,
    });
  });

  it("getTaskResult", async () => {
    const { server, handlers } = await startServer();
    const reply = await call(server, "getTaskResult", { taskId });
    expect(reply.result).toEqual({
      result: { taskId: lower(taskId), status: "SUCCESS", output: "0xbeef", usedGas: 12_345 },
    });
    expect(handlers.getTaskResult).toHaveBeenCalledWith({ taskId: lower(taskId) });
  });
});

describe("RpcServer over HTTP: errors", () => {
  it("invalid params: -32602 with the issue path, and the handler never runs", async () => {
    const { server, handlers } = await startServer();
    const reply = await call(server, "getTaskStatus", { taskId: "abcd", workerAddress }, 3);
    expect(reply.id).toBe(3);
    expect(reply.error?.code).toBe(-32602);
    expect(reply.error?.message).toContain("taskId");
    expect(reply.error?.data).toMatchObject({
      code: ErrorCode.InvalidRpcParams,
      name: "InvalidRpcParams",
      details: { method: "getTaskStatus", issues: [{ path: "taskId" }] },
    });
    expect(handlers.getTaskStatus).not.toHaveBeenCalled();

    const offCurve = await call(server, "getWorkerEncryptionKey", {
      workerAddress,
      userPubKey: "00".repeat(64),
    });
    expect(offCurve.error?.code).toBe(-32602);
    expect(offCurve.error?.data).toMatchObject({ details: { issues: [{ path: "userPubKey" }] } });
    expect(handlers.getWorkerEncryptionKey).not.toHaveBeenCalled();
  });

  it("unknown method: -32601", async () => {
    const { server } = await startServer();
    const reply = await call(server, "eth_sendTransaction", {}, 4);
    expect(reply).toMatchObject({ id: 4, error: { code: -32601 } });
    expect(reply.error?.data).toMatchObject({ code: ErrorCode.MethodNotFound });
    // Inherited object keys are not methods.
    expect((await call(server, "constructor", {})).error?.code).toBe(-32601);
    expect((await call(server, "__proto__", {})).error?.code).toBe(-32601);
  });

  it("malformed JSON: -32700 with a null id", async () => {
    const { server } = await startServer();
    const res = await post(server, '{"jsonrpc":"2.0","id":1,"method":', { raw: true });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      jsonrpc: "2.0",
      id: null,
      error: { code: -32700, message: "parse error" },
    });
  });

  it("invalid envelope: -32600, echoing a usable id", async () => {
    const { server, handlers } = await startServer();
    const wrongVersion = await post(server, { jsonrpc: "1.0", id: 9, method: "getInfo" });
    expect(await wrongVersion.json()).toMatchObject({ id: 9, error: { code: -32600 } });
    const notAnObject = await post(server, 1);
    expect(await notAnObject.json()).toMatchObject({ id: null, error: { code: -32600 } });
    const badParams = await post(server, { jsonrpc: "2.0", id: 2, method: "getInfo", params: "x" });
    expect(await badParams.json()).toMatchObject({ id: 2, error: { code: -32600 } });
    expect(handlers.getInfo).not.toHaveBeenCalled();
  });

  it("a batch answers each call, in one array, skipping notifications", async () => {
    const { server, handlers } = await startServer();
    const res = await post(server, [
      { jsonrpc: "2.0", id: 1, method: "getTaskResult", params: { taskId } },
      { jsonrpc: "2.0", id: 2, method: "getTaskResult", params: { taskId: "zz" } },
      { jsonrpc: "2.0", id: 3, method: "nope" },
      { jsonrpc: "2.0", method: "getInfo" },
      { foo: "bar" },
    ]);
    const replies = (await res.json()) as JsonRpcReply[];
    expect(replies).toHaveLength(4);
    const byId = new Map(replies.map((r) => [r.id, r]));
    expect(byId.get(1)?.result).toMatchObject({ result: { status: "SUCCESS" } });
    expect(byId.get(2)?.error?.code).toBe(-32602);
    expect(byId.get(3)?.error?.code).toBe(-32601);
    expect(byId.get(null)?.error?.code).toBe(-32600);
    expect(handlers.getTaskResult).toHaveBeenCalledTimes(1);
    expect(handlers.getInfo).toHaveBeenCalledTimes(1); // the notification ran
  });

  it("an empty batch is one -32600; an over-long batch is refused whole", async () => {
    const { server, handlers } = await startServer({ maxBatchSize: 2 });
    expect(await (await post(server, [])).json()).toMatchObject({
      id: null,
      error: { code: -32600 },
    });
    const three = Array.from({ length: 3 }, (_, i) => ({
      jsonrpc: "2.0",
      id: i,
      method: "getInfo",
    }));
    expect(await (await post(server, three)).json()).toMatchObject({ error: { code: -32600 } });
    expect(handlers.getInfo).not.toHaveBeenCalled();
  });

  it("a notification runs the handler and gets no response (204)", async () => {
    const { server, handlers } = await startServer();
    const res = await post(server, { jsonrpc: "2.0", method: "getTaskResult", params: { taskId } });
    expect(res.status).toBe(204);
    expect(await res.text()).toBe("");
    expect(handlers.getTaskResult).toHaveBeenCalledWith({ taskId: lower(taskId) });
    // id: null is a request (with a null id), not a notification.
    expect(await call(server, "getInfo", undefined, null)).toMatchObject({ id: null });
  });

  it("an EnigmaError from a handler keeps its catalog code", async () => {
    const { server, handlers } = await startServer();
    handlers.sendTaskInput.mockRejectedValueOnce(
      new EnigmaError(ErrorCode.WorkerNotSelected, "this worker is not selected for the task", {
        details: { taskId: lower(taskId) },
      }),
    );
    const reply = await call(server, "sendTaskInput", {
      taskId,
      workerAddress,
      encryptedFn: "01",
      encryptedArgs: "02",
      userDHKey: userPub,
      contractAddress: contract,
    });
    expect(reply.error).toEqual({
      code: 413,
      message: "this worker is not selected for the task",
      data: {
        code: 413,
        name: "WorkerNotSelected",
        message: "this worker is not selected for the task",
        details: { taskId: lower(taskId) },
      },
    });
  });

  it("any other throw is -32603 internal error: logged with its stack, not sent", async () => {
    const lines: string[] = [];
    const logger = createLogger({ level: "debug", destination: { write: (l) => lines.push(l) } });
    const { server, handlers } = await startServer({ logger });
    handlers.getTaskResult.mockRejectedValueOnce(new Error("leveldb at /secret/path is corrupt"));
    const res = await post(server, {
      jsonrpc: "2.0",
      id: 5,
      method: "getTaskResult",
      params: { taskId },
    });
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({
      jsonrpc: "2.0",
      id: 5,
      error: { code: -32603, message: "internal error" },
    });
    expect(text).not.toContain("secret");
    const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const failure = logged.find((l) => l["msg"] === "rpc handler failed");
    expect(failure).toMatchObject({ level: "error", component: "rpc", method: "getTaskResult" });
    expect(JSON.stringify(failure)).toContain("/secret/path");
    expect((failure?.["err"] as { stack: string }).stack).toContain("server.test.ts");
    // Every call is logged at debug with its method and duration.
    expect(logged.find((l) => l["msg"] === "rpc call")).toMatchObject({
      method: "getTaskResult",
      outcome: "internal_error",
      durationMs: expect.any(Number) as number,
    });
  });

  it("a result JSON cannot carry is an internal error, not a crash", async () => {
    const { server, handlers } = await startServer();
    handlers.getInfo.mockResolvedValueOnce({ big: 1n } as unknown as {
      node: string;
      version: string;
    });
    expect((await call(server, "getInfo")).error?.code).toBe(-32603);
    expect((await call(server, "getInfo")).result).toMatchObject({ node: "worker-1" });
  });

  it("survives hostile bodies", async () => {
    const { server } = await startServer();
    const bodies = [
      "",
      "null",
      "[1,2]",
      '"x"',
      "[[]]",
      '{"__proto__":{"jsonrpc":"2.0"},"method":"getInfo"}',
      '{"jsonrpc":"2.0","id":{},"method":"getInfo"}',
      "[".repeat(100_000),
      `${"[".repeat(5_000)}${"]".repeat(5_000)}`,
      "\u0000\uffff",
    ];
    for (const body of bodies) {
      const res = await post(server, body, { raw: true });
      expect(res.status).toBe(200);
      const reply = (await res.json()) as JsonRpcReply | JsonRpcReply[];
      const first = Array.isArray(reply) ? reply[0] : reply;
      expect([-32700, -32600]).toContain(first?.error?.code);
    }
    expect((await call(server, "getInfo")).result).toBeDefined();
  });
});

describe("RpcServer over HTTP: transport", () => {
  it("refuses a body over maxBodyBytes with 413 / MessageTooLarge, without calling a handler", async () => {
    const { server, handlers } = await startServer({ maxBodyBytes: 1024 });
    const big = {
      jsonrpc: "2.0",
      id: 1,
      method: "sendTaskInput",
      params: {
        taskId,
        workerAddress,
        encryptedFn: "aa".repeat(4096),
        encryptedArgs: "",
        userDHKey: userPub,
        contractAddress: contract,
      },
    };
    const res = await post(server, big);
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({
      id: null,
      error: { code: ErrorCode.MessageTooLarge, data: { name: "MessageTooLarge" } },
    });
    expect(handlers.sendTaskInput).not.toHaveBeenCalled();
    // Just under the limit is fine.
    expect((await call(server, "getInfo")).result).toBeDefined();
  });

  it("stops reading a chunked body (no Content-Length) at the limit", async () => {
    const { server, handlers } = await startServer({ maxBodyBytes: 1024 });
    const { status, body } = await new Promise<{ status: number; body: string }>(
      (resolve, reject) => {
        const req = request(
          server.url,
          { method: "POST", headers: { "Content-Type": "application/json" } },
          (res) => {
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (c: string) => (body += c));
            res.on("end", () => {
              resolve({ status: res.statusCode ?? 0, body });
            });
          },
        );
        req.on("error", reject);
        // Chunks of 600 bytes: the second crosses the limit; the writes after it are never read.
        req.write(`{"jsonrpc":"2.0","id":1,"method":"getInfo","params":{"pad":"${"x".repeat(540)}`);
        req.write("x".repeat(600));
        req.end();
      },
    );
    expect(status).toBe(413);
    expect(JSON.parse(body)).toMatchObject({ error: { code: ErrorCode.MessageTooLarge } });
    expect(handlers.getInfo).not.toHaveBeenCalled();
  });

  it("wants JSON: other content types are 415, other HTTP methods 405", async () => {
    const { server } = await startServer();
    const form = await fetch(server.url, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: "a=1",
    });
    expect(form.status).toBe(415);
    expect(await form.json()).toMatchObject({ error: { code: -32600 } });
    const charset = await post(
      server,
      { jsonrpc: "2.0", id: 1, method: "getInfo" },
      {
        headers: { "Content-Type": "application/json; charset=UTF-8" },
      },
    );
    expect(charset.status).toBe(200);

    const get = await fetch(server.url);
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST, OPTIONS");
    expect((await fetch(server.url, { method: "DELETE" })).status).toBe(405);
  });

  it("answers a CORS preflight from a browser client", async () => {
    const { server } = await startServer();
    const res = await fetch(server.url, {
      method: "OPTIONS",
      headers: {
        Origin: "http://localhost:3000",
        "Access-Control-Request-Method": "POST",
        // enigma-js sends a `credentials` header alongside Content-Type.
        "Access-Control-Request-Headers": "content-type,credentials",
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(res.headers.get("access-control-allow-methods")).toContain("POST");
    expect(res.headers.get("access-control-allow-headers")).toBe("content-type,credentials");
  });

  it("serves /health, and /metrics with rpc_requests_total", async () => {
    const metrics = new NodeMetrics({ defaultLabels: { node: "gw" } });
    const { server } = await startServer({ metrics });
    await call(server, "getInfo");
    await call(server, "getInfo");
    await call(server, "getTaskResult", { taskId: "00" });
    await call(server, "nope");
    await post(server, "{", { raw: true });

    const health = await fetch(`${server.url}/health`);
    expect(await health.json()).toEqual({ ok: true });

    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe(metrics.contentType);
    const text = await res.text();
    expect(text).toContain(
      'enigma_rpc_requests_total{method="getInfo",outcome="success",node="gw"} 2',
    );
    expect(text).toContain(
      'enigma_rpc_requests_total{method="getTaskResult",outcome="invalid_params",node="gw"} 1',
    );
    expect(text).toContain(
      'enigma_rpc_requests_total{method="unknown",outcome="method_not_found",node="gw"} 1',
    );
    expect(text).toContain(
      'enigma_rpc_requests_total{method="none",outcome="parse_error",node="gw"} 1',
    );
    expect(text).toMatch(/^enigma_rpc_request_seconds_count\{[^}]*method="getInfo"[^}]*\} 2$/m);
  });

  it("/metrics is 404 without metrics", async () => {
    const { server } = await startServer();
    expect((await fetch(`${server.url}/metrics`)).status).toBe(404);
  });

  it("reports its address only once started, and fails to start on a taken port", async () => {
    const handlers = stubHandlers();
    const idle = new RpcServer({ handlers });
    expect(() => idle.url).toThrow(/not started/);
    const { server } = await startServer();
    const port = Number(new URL(server.url).port);
    expect(server.url).toBe(`http://127.0.0.1:${port}`);
    expect(server.wsUrl).toBe(`ws://127.0.0.1:${port}/ws`);
    const clash = new RpcServer({ handlers, port });
    await expect(clash.start()).rejects.toMatchObject({ code: ErrorCode.RpcTransport });
    await clash.stop();
  });

  it("refuses a handler set with a method missing", () => {
    const { getInfo: _omitted, ...rest } = stubHandlers();
    expect(() => new RpcServer({ handlers: rest as unknown as RpcHandlers })).toThrow(
      /missing: getInfo/,
    );
  });
});

/** A WebSocket client whose messages can be awaited in order. */
async function connect(server: RpcServer) {
  const ws = new WebSocket(server.wsUrl);
  sockets.push(ws);
  const queue: unknown[] = [];
  const waiters: ((m: unknown) => void)[] = [];
  ws.on("message", (data: Buffer) => {
    const msg: unknown = JSON.parse(data.toString("utf8"));
    const w = waiters.shift();
    if (w) w(msg);
    else queue.push(msg);
  });
  await once(ws, "open");
  let nextId = 1;
  return {
    ws,
    next(): Promise<Record<string, unknown>> {
      if (queue.length > 0) return Promise.resolve(queue.shift() as Record<string, unknown>);
      return new Promise((resolve) => waiters.push(resolve as (m: unknown) => void));
    },
    send(method: string, params?: unknown): number {
      const id = nextId++;
      ws.send(JSON.stringify({ jsonrpc: "2.0", id, method, params }));
      return id;
    },
  };
}

describe("RpcServer over WebSocket", () => {
  it("delivers notifyTaskStatus to the task's subscribers only", async () => {
    const { server } = await startServer();
    const a = await connect(server);
    const b = await connect(server);

    a.send("subscribeTaskStatus", { taskId }); // un-prefixed, upper-case
    const sub = await a.next();
    expect(sub).toMatchObject({ jsonrpc: "2.0", id: 1, result: expect.any(String) as string });
    b.send("subscribeTaskStatus", { taskId: contract }); // another task
    await b.next();

    server.notifyTaskStatus(`0x${taskId}`, "SUCCESS", { output: "beef", status: "overridden?" });
    expect(await a.next()).toEqual({
      jsonrpc: "2.0",
      method: "taskStatus",
      params: {
        subscription: sub["result"],
        taskId: lower(taskId),
        status: "SUCCESS",
        output: "beef",
      },
    });

    // b heard nothing: its next message is the answer to its next call.
    b.send("getInfo");
    expect(await b.next()).toMatchObject({ id: 2, result: { node: "worker-1" } });
  });

  it("rejects an invalid subscription; unsubscribe stops notifications", async () => {
    const { server } = await startServer();
    const c = await connect(server);
    c.send("subscribeTaskStatus", { taskId: "1234" });
    expect(await c.next()).toMatchObject({
      id: 1,
      error: {
        code: -32602,
        data: { code: ErrorCode.InvalidRpcParams, details: { issues: [{ path: "taskId" }] } },
      },
    });
    c.send("subscribeTaskStatus", {});
    expect(await c.next()).toMatchObject({ id: 2, error: { code: -32602 } });

    c.send("subscribeTaskStatus", { taskId });
    const { result: subscription } = await c.next();
    c.send("unsubscribe", { subscription });
    expect(await c.next()).toMatchObject({ id: 4, result: true });
    c.send("unsubscribe", { subscription });
    expect(await c.next()).toMatchObject({ id: 5, result: false });
    server.notifyTaskStatus(taskId, "FAILED");
    c.send("getInfo");
    expect(await c.next()).toMatchObject({ id: 6 });
  });

  it("bounds the subscriptions of one socket", async () => {
    const { server } = await startServer({ maxSubscriptionsPerSocket: 2 });
    const c = await connect(server);
    for (let i = 1; i <= 3; i++) c.send("subscribeTaskStatus", { taskId });
    // Calls on one socket run concurrently: match the answers by id.
    const replies = [await c.next(), await c.next(), await c.next()].sort(
      (x, y) => Number(x["id"]) - Number(y["id"]),
    );
    expect(replies[0]).toHaveProperty("result");
    expect(replies[1]).toHaveProperty("result");
    expect(replies[2]).toMatchObject({ id: 3, error: { code: ErrorCode.RpcError } });
  });

  it("validates what it is given to notifyTaskStatus", async () => {
    const { server } = await startServer();
    expect(() => {
      server.notifyTaskStatus("nope", "SUCCESS");
    }).toThrow(EnigmaError);
    expect(() => {
      server.notifyTaskStatus(taskId, "SUCCESS", { gas: 1n });
    }).toThrow(/extra must be JSON/);
  });

  it("answers garbage with a JSON-RPC error and refuses other upgrade paths", async () => {
    const { server } = await startServer();
    const c = await connect(server);
    c.ws.send("{not json");
    expect(await c.next()).toMatchObject({ id: null, error: { code: -32700 } });

    const wrongPath = new WebSocket(`${server.url.replace("http", "ws")}/other`);
    sockets.push(wrongPath);
    const [err] = (await once(wrongPath, "error")) as [Error];
    expect(err.message).toContain("404");
  });
});

describe("RpcServer.stop", () => {
  it("closes keep-alive and WebSocket connections; the port then refuses", async () => {
    const listening = () =>
      process.getActiveResourcesInfo().filter((r) => r === "TCPServerWrap").length;
    const before = listening();
    const { server } = await startServer();
    expect(listening()).toBe(before + 1);
    const url = server.url;
    await call(server, "getInfo"); // leaves a keep-alive connection in fetch's pool
    const c = await connect(server);
    const closed = once(c.ws, "close");

    await server.stop();
    await closed;
    await expect(fetch(url, { method: "POST", body: "{}" })).rejects.toThrow();
    expect(listening()).toBe(before);
    // Stopping twice is harmless; a stopped server can start again.
    await server.stop();
    await server.start();
    expect((await call(server, "getInfo")).result).toBeDefined();
  });
});
