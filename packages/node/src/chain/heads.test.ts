// New heads over a real Hardhat endpoint's WebSocket, and the fallback when an endpoint has
// none.
import { createServer, type Server } from "node:http";
import hre from "hardhat";
import { JsonRpcProvider } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { subscribeHeads, webSocketUrlOf } from "./heads.js";

let server: Awaited<ReturnType<typeof hre.network.createServer>>;
let rpcUrl: string;
let provider: JsonRpcProvider;

beforeAll(async () => {
  server = await hre.network.createServer("default", "127.0.0.1", 0);
  const { address, port } = await server.listen();
  rpcUrl = `http://${address}:${port}`;
  provider = new JsonRpcProvider(rpcUrl, undefined, { staticNetwork: true });
});
afterAll(async () => {
  provider.destroy();
  await server.close();
});

/** Resolves when `f` returns true, checking after every pushed head. */
function collector() {
  const heads: number[] = [];
  let wake: (() => void) | undefined;
  return {
    heads,
    onHead: (n: number) => {
      heads.push(n);
      wake?.();
    },
    until: async (f: () => boolean) => {
      while (!f()) await new Promise<void>((r) => (wake = r));
    },
  };
}

describe("subscribeHeads", () => {
  it("derives the WebSocket URL from the HTTP one", () => {
    expect(webSocketUrlOf("http://127.0.0.1:8545")).toBe("ws://127.0.0.1:8545/");
    expect(webSocketUrlOf("https://node.example/rpc")).toBe("wss://node.example/rpc");
  });

  it("pushes every block Hardhat mines", async () => {
    const c = collector();
    const sub = subscribeHeads({ url: webSocketUrlOf(rpcUrl), onHead: c.onHead });
    // `live` has no event of its own: checked until the subscription is answered.
    while (!sub.live) await new Promise((r) => setTimeout(r, 5));
    const start = await provider.getBlockNumber();
    for (let i = 0; i < 3; i++) await provider.send("hardhat_mine", ["0x1"]);
    await c.until(() => c.heads.includes(start + 3));
    sub.close();
    expect(c.heads.filter((n) => n > start)).toEqual([start + 1, start + 2, start + 3]);
    expect(sub.live).toBe(false);
  });

  it("an endpoint without WebSocket is not live and is retried later, quietly", async () => {
    // A plain HTTP server answers the upgrade with 404, as an HTTP-only JSON-RPC port does.
    let upgrades = 0;
    const plain: Server = createServer((_req, res) => {
      res.writeHead(404).end();
    });
    plain.on("upgrade", (_req, socket) => {
      upgrades++;
      // An upgrade's socket is the listener's own: Node.js gives it no error handler. The client
      // drops the connection once it has read the 404 (and retries), which can reset this end:
      // unhandled, that ECONNRESET was an uncaught exception of a whole-suite run.
      socket.on("error", () => undefined);
      socket.end("HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n");
    });
    await new Promise<void>((r) => plain.listen(0, "127.0.0.1", r));
    const { port } = plain.address() as { port: number };
    const c = collector();
    const sub = subscribeHeads({
      url: `ws://127.0.0.1:${port}`,
      onHead: c.onHead,
      retryMs: 10,
      maxRetryMs: 20,
    });
    while (upgrades < 2) await new Promise((r) => setTimeout(r, 5));
    expect(sub.live).toBe(false);
    sub.close();
    await new Promise<void>((r) =>
      plain.close(() => {
        r();
      }),
    );
    expect(c.heads).toEqual([]);
  });
});
