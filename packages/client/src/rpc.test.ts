import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { ErrorCode, isEnigmaError } from "@enigma/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rejectedCode } from "@enigma/protocol/testing";
import { NodeRpcClient } from "./rpc.js";

let server: Server;
let url: string;
const seen: unknown[] = [];

beforeAll(async () => {
  // A real HTTP server that speaks JSON-RPC the way a node does, plus a few broken modes.
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      const msg = JSON.parse(body) as { id: number; method: string; params: unknown };
      seen.push(msg);
      const reply = (o: unknown): void => {
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify(o));
      };
      switch (msg.method) {
        case "getInfo":
          reply({ jsonrpc: "2.0", id: msg.id, result: { peers: 3 } });
          break;
        case "fails":
          reply({
            jsonrpc: "2.0",
            id: msg.id,
            error: { code: -32602, message: "invalid params", data: { field: "taskId" } },
          });
          break;
        case "notSelected":
          reply({
            jsonrpc: "2.0",
            id: msg.id,
            error: { code: 413, message: "this node's worker is not selected for the task" },
          });
          break;
        case "html":
          res.statusCode = 502;
          res.end("<html>bad gateway</html>");
          break;
        default:
          reply({ jsonrpc: "2.0", id: msg.id + 1, result: null });
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((r) => {
    server.close(() => {
      r();
    });
  });
});

describe("NodeRpcClient", () => {
  it("sends JSON-RPC 2.0 and returns the result", async () => {
    const rpc = new NodeRpcClient(url);
    await expect(rpc.call("getInfo", { a: 1 })).resolves.toEqual({ peers: 3 });
    expect(seen.at(-1)).toEqual({ jsonrpc: "2.0", id: 1, method: "getInfo", params: { a: 1 } });
  });

  it("turns a node's error object into RpcError with its code and data", async () => {
    const rpc = new NodeRpcClient(url);
    try {
      await rpc.call("fails", {});
      expect.unreachable();
    } catch (e) {
      expect(isEnigmaError(e, ErrorCode.RpcError)).toBe(true);
      if (!isEnigmaError(e)) throw e;
      expect(e.message).toBe("fails failed: invalid params");
      expect(e.details).toMatchObject({ rpcCode: -32602, data: { field: "taskId" } });
    }
  });

  it("raises a node's catalog error code as that EnigmaError", async () => {
    const rpc = new NodeRpcClient(url);
    const e = await rpc.call("notSelected", {}).catch((x: unknown) => x);
    expect(isEnigmaError(e, ErrorCode.WorkerNotSelected)).toBe(true);
    if (!isEnigmaError(e)) throw e;
    expect(e.details).toMatchObject({ method: "notSelected", rpcCode: 413 });
  });

  it("reports transport problems as RpcTransport: non-JSON, wrong id, unreachable", async () => {
    const rpc = new NodeRpcClient(url);
    expect(await rejectedCode(rpc.call("html", {}))).toBe(ErrorCode.RpcTransport);
    expect(await rejectedCode(rpc.call("wrongId", {}))).toBe(ErrorCode.RpcTransport);
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => {
      closed.close(() => {
        r();
      });
    });
    expect(
      await rejectedCode(new NodeRpcClient(`http://127.0.0.1:${port}`).call("getInfo", {})),
    ).toBe(ErrorCode.RpcTransport);
  });

  it("rejects a URL that is not http(s)", () => {
    expect(() => new NodeRpcClient("not a url")).toThrow(/not a URL/);
    expect(() => new NodeRpcClient("ws://127.0.0.1:1")).toThrow(/http\(s\)/);
  });
});
