// The JSON-RPC endpoint's bounds (issue 20 "public endpoints without bounds", issue 18 "the
// WebSocket server caps subscriptions per socket but not connections"): connections and
// WebSockets per address and overall, handlers per batch and per address, the wait queue, and
// WebSocket backpressure. A hostile client connects from other loopback addresses (127.0.0.2,
// .3: Linux routes all of 127/8 to lo) than the honest one (127.0.0.1).
import { request, Agent } from "node:http";
import { connect, type Socket } from "node:net";
import { ErrorCode, TaskResultStatus, generateKeyPair, toRpcHex } from "@enigma/protocol";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { NodeMetrics } from "../observability.js";
import { CallLimiter } from "./limits.js";
import { RPC_SERVER_BOUNDS, RpcServer, type RpcHandlers, type RpcServerOptions } from "./server.js";

const workerKey = toRpcHex(
  generateKeyPair(new TextEncoder().encode("bounds test worker key")).publicKey,
);
const userPub = toRpcHex(
  generateKeyPair(new TextEncoder().encode("bounds test user key 1")).publicKey,
);
const HONEST = "127.0.0.1";
const HOSTILE = "127.0.0.2";
const HOSTILE_2 = "127.0.0.3";

/** A gate the key handler waits on, and how many handlers run at once. */
class Gate {
  running = 0;
  most = 0;
  started = 0;
  #open = false;
  #waiters: (() => void)[] = [];
  #watchers: (() => void)[] = [];

  async enter(): Promise<void> {
    this.running++;
    this.started++;
    this.most = Math.max(this.most, this.running);
    for (const w of this.#watchers.splice(0)) w();
    if (!this.#open) await new Promise<void>((r) => this.#waiters.push(r));
    this.running--;
  }

  /** Resolves once `n` handlers have started in total. */
  async startedAtLeast(n: number): Promise<void> {
    while (this.started < n) await new Promise<void>((r) => this.#watchers.push(r));
  }

  open(): void {
    this.#open = true;
    for (const w of this.#waiters.splice(0)) w();
  }

  /** Lets the longest-waiting handler finish. */
  releaseOne(): void {
    this.#waiters.shift()?.();
  }
}

function handlers(gate: Gate, pad = 0): RpcHandlers {
  return {
    getInfo: () => Promise.resolve({ node: "bounds", pad: "x".repeat(pad) }),
    getWorkerEncryptionKey: async () => {
      await gate.enter();
      return { result: { workerEncryptionKey: workerKey, workerSig: "11".repeat(65) } };
    },
    deploySecretContract: () => Promise.resolve({ sendTaskResult: true }),
    sendTaskInput: () => Promise.resolve({ sendTaskResult: true }),
    getTaskStatus: () => Promise.resolve({ result: { status: TaskResultStatus.InProgress } }),
    getTaskResult: () => Promise.resolve({ result: null }),
  };
}

const servers: RpcServer[] = [];
const cleanups: (() => void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) c();
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

async function serve(
  gate: Gate,
  opts: Partial<RpcServerOptions> = {},
  pad = 0,
): Promise<{ server: RpcServer; metrics: NodeMetrics }> {
  const metrics = new NodeMetrics();
  const server = new RpcServer({ port: 0, handlers: handlers(gate, pad), metrics, ...opts });
  servers.push(server);
  await server.start();
  return { server, metrics };
}

interface Reply {
  status: number;
  body: unknown;
}

/** A POST from `from`, on its own connection unless an agent is given. */
function post(url: string, body: unknown, from: string, agent?: Agent): Promise<Reply> {
  const text = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: "POST",
        localAddress: from,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(text) },
        ...(agent === undefined ? { agent: false } : { agent }),
      },
      (res) => {
        let data = "";
        res.on("data", (b: Buffer) => (data += b.toString()));
        res.on("end", () => {
          resolve({
            status: res.statusCode ?? 0,
            body: data === "" ? undefined : JSON.parse(data),
          });
        });
      },
    );
    req.on("error", reject);
    req.end(text);
  });
}

const getInfo = { jsonrpc: "2.0", id: 1, method: "getInfo", params: {} };
const keyCall = (id: number) => ({
  jsonrpc: "2.0",
  id,
  method: "getWorkerEncryptionKey",
  params: { workerAddress: "ab".repeat(20), userPubKey: userPub },
});
const batch = (n: number, from = 0) => Array.from({ length: n }, (_, i) => keyCall(from + i));

/** A raw TCP connection from `from` that stays open (an idle keep-alive client). */
async function hold(url: string, from: string): Promise<Socket> {
  const { port } = new URL(url);
  const socket = connect({ host: "127.0.0.1", port: Number(port), localAddress: from });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  cleanups.push(() => socket.destroy());
  return socket;
}

/** What a refused raw connection receives before it is closed. */
function refusal(socket: Socket): Promise<string> {
  return new Promise((resolve) => {
    let data = "";
    socket.on("data", (b: Buffer) => (data += b.toString()));
    socket.on("close", () => {
      resolve(data);
    });
  });
}

function errorCodeOf(r: Reply): number | undefined {
  return (r.body as { error?: { code?: number } } | undefined)?.error?.code;
}

async function metric(metrics: NodeMetrics, name: string): Promise<string> {
  const text = await metrics.text();
  return text
    .split("\n")
    .filter((l) => l.startsWith(name))
    .join("\n");
}

describe("connection caps", () => {
  it("refuses an address's connections past its cap with 503 ConnectionLimit; other addresses are served", async () => {
    const gate = new Gate();
    const { server, metrics } = await serve(gate, { maxConnectionsPerAddress: 3 });
    for (let i = 0; i < 3; i++) await hold(server.url, HOSTILE);
    const extra = await hold(server.url, HOSTILE);
    const answer = await refusal(extra);
    expect(answer).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n/);
    expect(JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4))).toMatchObject({
      error: { code: ErrorCode.ConnectionLimit, data: { details: { cap: "address" } } },
    });
    // The honest address is untouched by the hostile one's cap.
    expect(await post(server.url, getInfo, HONEST)).toMatchObject({ status: 200 });
    expect(server.load().connections).toBe(3);
    expect(await metric(metrics, "enigma_rpc_refused_total")).toMatch(/reason="connections"} 1$/m);
  });

  it("refuses any connection past the overall cap, and serves again once one closes", async () => {
    const gate = new Gate();
    const { server } = await serve(gate, { maxConnections: 4, maxConnectionsPerAddress: 3 });
    const held = [
      ...(await Promise.all([0, 1, 2].map(() => hold(server.url, HOSTILE)))),
      await hold(server.url, HOSTILE_2),
    ];
    // Accepted connections are counted as they arrive, so wait until the server has them all.
    while (server.load().connections < 4) await new Promise((r) => setTimeout(r, 5));
    const refused = await post(server.url, getInfo, HONEST);
    expect(refused.status).toBe(503);
    expect(errorCodeOf(refused)).toBe(ErrorCode.ConnectionLimit);
    held[0]?.destroy();
    while (server.load().connections > 3) await new Promise((r) => setTimeout(r, 5));
    expect(await post(server.url, getInfo, HONEST)).toMatchObject({ status: 200 });
  });

  it("caps WebSockets per address and overall (503 on the upgrade); an honest WebSocket still opens", async () => {
    const gate = new Gate();
    const { server } = await serve(gate, { maxWebSocketsPerAddress: 2, maxWebSockets: 3 });
    const open = (from: string) =>
      new Promise<WebSocket>((resolve, reject) => {
        const ws = new WebSocket(server.wsUrl, { localAddress: from });
        cleanups.push(() => {
          ws.terminate();
        });
        ws.once("open", () => {
          resolve(ws);
        });
        ws.once("error", reject);
      });
    await open(HOSTILE);
    await open(HOSTILE);
    await expect(open(HOSTILE)).rejects.toThrow(/Unexpected server response: 503/);
    const honest = await open(HONEST);
    expect(server.load().webSockets).toBe(3);
    await expect(open(HOSTILE_2)).rejects.toThrow(/503/);
    honest.close();
    while (server.load().webSockets > 2) await new Promise((r) => setTimeout(r, 5));
    await open(HOSTILE_2);
  });
});

describe("handler concurrency", () => {
  it("runs a batch of 100 calls 8 at a time (the default per address), then answers all 100", async () => {
    const gate = new Gate();
    const { server } = await serve(gate);
    const reply = post(server.url, batch(100), HOSTILE);
    await gate.startedAtLeast(RPC_SERVER_BOUNDS.maxConcurrentCallsPerAddress);
    // Give the event loop turns to start more handlers, if anything would.
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(gate.running).toBe(8);
    expect(server.load()).toMatchObject({ callsRunning: 8, callsQueued: 92 });
    gate.open();
    const { body } = await reply;
    expect((body as unknown[]).length).toBe(100);
    expect(gate.most).toBe(8);
  });

  it("keeps an address under its cap across connections and serves a quiet address first", async () => {
    const gate = new Gate();
    const { server } = await serve(gate, { maxConcurrentCalls: 12 });
    // Two hostile addresses, ten connections each, a batch of 10 on each: 200 calls.
    const hostile = [HOSTILE, HOSTILE_2].flatMap((from) =>
      Array.from({ length: 10 }, (_, c) => post(server.url, batch(10, c * 10), from)),
    );
    await gate.startedAtLeast(12);
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    // Overall 12 at once: 8 for the first address, 4 for the second (each under its own cap).
    expect(gate.running).toBe(12);
    // The honest client's call waits for a slot, and gets the first one that frees: it runs
    // fewer calls (none) than either hostile address.
    const honest = post(server.url, getInfo, HONEST);
    while (server.load().callsQueued < 189) await new Promise((r) => setTimeout(r, 5));
    gate.releaseOne();
    const answered = await honest;
    expect(answered).toMatchObject({ status: 200, body: { result: { node: "bounds" } } });
    // Answered while the hostile calls still wait (one more started when the honest one ended).
    expect(server.load().callsQueued).toBeGreaterThanOrEqual(187);
    gate.open();
    const replies = await Promise.all(hostile);
    expect(replies.flatMap((r) => r.body as unknown[])).toHaveLength(200);
    expect(gate.most).toBe(12);
  });

  it("refuses calls past an address's queue with ServerBusy (423), running none of them", async () => {
    const gate = new Gate();
    const { server } = await serve(gate);
    const replies = [0, 1, 2].map((b) => post(server.url, batch(100, b * 100), HOSTILE));
    await gate.startedAtLeast(8);
    // 300 calls: 8 running, 256 waiting, 36 refused at once.
    while (server.load().callsQueued < 256) await new Promise((r) => setTimeout(r, 5));
    gate.open();
    const answers = (await Promise.all(replies)).flatMap((r) => r.body as { error?: unknown }[]);
    const busy = answers.filter(
      (a) => (a.error as { code?: number } | undefined)?.code === ErrorCode.ServerBusy,
    );
    expect(answers).toHaveLength(300);
    expect(busy).toHaveLength(36);
    expect(gate.started).toBe(264);
  });
});

describe("CallLimiter", () => {
  it("gives a free slot to the waiting address running the fewest calls", async () => {
    const limiter = new CallLimiter({
      maxConcurrent: 2,
      maxConcurrentPerAddress: 2,
      maxQueuedPerAddress: 10,
    });
    const order: string[] = [];
    const release: (() => void)[] = [];
    const call = (who: string) =>
      limiter.run(who, async () => {
        order.push(who);
        await new Promise<void>((r) => release.push(r));
      });
    // Queued calls start on a later turn of the event loop: two turns see one started.
    const turns = async () => {
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
    };
    const all = [call("a"), call("a"), call("a"), call("a"), call("b")];
    expect(order).toEqual(["a", "a"]);
    release.shift()?.();
    await turns();
    // a runs one, b none: b goes first although a queued earlier.
    expect(order).toEqual(["a", "a", "b"]);
    while (release.length > 0 || order.length < 5) {
      release.shift()?.();
      await turns();
    }
    await Promise.all(all);
    expect(order).toEqual(["a", "a", "b", "a", "a"]);
  });
});

describe("WebSocket backpressure", () => {
  it("drops a WebSocket client that does not read its replies; others are served", async () => {
    const gate = new Gate();
    gate.open();
    // Large replies (a padded getInfo) fill the kernel's buffers, then the server's queue.
    const { server, metrics } = await serve(gate, { maxWsBufferedBytes: 1024 * 1024 }, 1024);
    const hostile = new WebSocket(server.wsUrl, { localAddress: HOSTILE });
    cleanups.push(() => {
      hostile.terminate();
    });
    await new Promise((r) => hostile.once("open", r));
    hostile.pause(); // reads nothing from now on
    // 200 batches of 100 answers of about 1 KB: 20 MB the client never reads.
    const infos = JSON.stringify(Array.from({ length: 100 }, (_, i) => ({ ...getInfo, id: i })));
    for (let i = 0; i < 200; i++) hostile.send(infos);
    // The server drops it (a paused client does not even see its socket close).
    while (server.load().webSockets > 0) await new Promise((r) => setTimeout(r, 10));
    expect(await metric(metrics, "enigma_rpc_refused_total")).toMatch(
      /reason="ws_backpressure"} 1$/m,
    );
    // An honest WebSocket client that reads gets its answer.
    const honest = new WebSocket(server.wsUrl, { localAddress: HONEST });
    cleanups.push(() => {
      honest.terminate();
    });
    await new Promise((r) => honest.once("open", r));
    const answer = new Promise<string>((r) =>
      honest.once("message", (d: Buffer) => {
        r(d.toString());
      }),
    );
    honest.send(JSON.stringify(getInfo));
    expect(JSON.parse(await answer)).toMatchObject({ id: 1, result: { node: "bounds" } });
    expect(server.load().webSockets).toBe(1);
  });

  it("stops reading a WebSocket with too many messages in flight, and resumes", async () => {
    const gate = new Gate();
    const { server } = await serve(gate, { maxWsMessagesInFlight: 4 });
    const ws = new WebSocket(server.wsUrl, { localAddress: HOSTILE });
    cleanups.push(() => {
      ws.terminate();
    });
    await new Promise((r) => ws.once("open", r));
    const answers: unknown[] = [];
    ws.on("message", (d: Buffer) => answers.push(JSON.parse(d.toString())));
    for (let i = 0; i < 20; i++) ws.send(JSON.stringify(keyCall(i)));
    await gate.startedAtLeast(4);
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    // Four messages are being answered; the rest wait in the socket, not in the server.
    expect(gate.started).toBe(4);
    expect(server.load().callsQueued).toBe(0);
    gate.open();
    while (answers.length < 20) await new Promise((r) => setTimeout(r, 5));
    expect(gate.most).toBe(4);
  });
});
