// The per-node chain proxy in front of a JSON-RPC server (a stand-in that answers every request
// and counts raw transactions): pass, refuse, hang, slow, and a watched transaction whose
// answer is swallowed after it reached the server.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Wallet } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChainProxy } from "./chain-proxy.js";

let upstream: Server;
let upstreamUrl = "";
const received: string[] = [];

beforeAll(async () => {
  upstream = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = JSON.parse(Buffer.concat(chunks).toString()) as { id: number; method: string };
      received.push(body.method);
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ jsonrpc: "2.0", id: body.id, result: "0x1" }));
    });
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
});

afterAll(async () => {
  upstream.closeAllConnections();
  await new Promise<void>((r) =>
    upstream.close(() => {
      r();
    }),
  );
});

async function call(url: string, method: string, params: unknown[] = [], timeoutMs = 2_000) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  return ((await res.json()) as { result: unknown }).result;
}

describe("ChainProxy", () => {
  it("passes, refuses, hangs, slows down and comes back", async () => {
    const proxy = new ChainProxy({ upstream: upstreamUrl });
    await proxy.start();
    try {
      expect(await call(proxy.url, "eth_blockNumber")).toBe("0x1");

      proxy.setMode({ kind: "refuse" });
      await expect(call(proxy.url, "eth_blockNumber")).rejects.toThrow();

      proxy.setMode({ kind: "hang" });
      const before = received.length;
      await expect(call(proxy.url, "eth_blockNumber", [], 500)).rejects.toThrow(/abort|timeout/i);
      expect(received.length).toBe(before);

      proxy.setMode({ kind: "slow", latencyMs: 150 });
      const t0 = performance.now();
      expect(await call(proxy.url, "eth_chainId")).toBe("0x1");
      // One way and back: at least twice the latency.
      expect(performance.now() - t0).toBeGreaterThanOrEqual(290);

      proxy.setMode({ kind: "pass" });
      expect(await call(proxy.url, "eth_blockNumber")).toBe("0x1");
    } finally {
      await proxy.stop();
    }
  });

  it("forwards a watched transaction and swallows the chain's answer", async () => {
    const proxy = new ChainProxy({ upstream: upstreamUrl });
    await proxy.start();
    try {
      const wallet = Wallet.createRandom();
      const raw = await wallet.signTransaction({
        to: wallet.address,
        data: "0xdeadbeef",
        chainId: 1,
        nonce: 7,
        gasLimit: 100_000,
        gasPrice: 1,
      });
      const seen: string[] = [];
      proxy.watchTransactions((tx) => {
        seen.push(tx.data);
        return tx.data.startsWith("0xdeadbeef") ? "swallow" : "pass";
      });
      const before = received.filter((m) => m === "eth_sendRawTransaction").length;
      await expect(call(proxy.url, "eth_sendRawTransaction", [raw], 800)).rejects.toThrow();
      // The transaction reached the chain; only its answer was lost.
      expect(received.filter((m) => m === "eth_sendRawTransaction").length).toBe(before + 1);
      expect(seen).toEqual(["0xdeadbeef"]);
      // Other calls on fresh connections go through.
      expect(await call(proxy.url, "eth_blockNumber")).toBe("0x1");
    } finally {
      await proxy.stop();
    }
  });
});
