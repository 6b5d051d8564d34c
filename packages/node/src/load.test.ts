// A node under load from a hostile client (issue 20, "public endpoints without bounds"): from
// its own address (127.0.0.2) it pushes each bound of the JSON-RPC endpoint in turn:
// WebSockets past the per-address cap, a WebSocket that floods requests and never reads its
// answers, connections past the per-address cap, and batches of 100 key requests (among them
// 16 naming the honest user's public key, the eviction attack) past the wait queue. Meanwhile
// an honest client (127.0.0.1) deploys a contract and runs a task through the same gateway:
// every `getInfo` it sends is answered, its task succeeds with the right output, and the
// node's bounds show up in its metrics. The node runs with its default bounds.
import { request } from "node:http";
import { connect, type Socket } from "node:net";
import { ErrorCode, bytesToHex, generateKeyPair, type Hex } from "@enigma/protocol";
import { compileSecretContract, exampleSourcePath } from "@enigma/secret-contract";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import type { EnigmaNode } from "./node.js";
import { RPC_SERVER_BOUNDS } from "./rpc/server.js";
import { TestClient, rpc, startTestNet, type TestNet } from "./testnet.fixture.js";

const HOSTILE = "127.0.0.2";

let net: TestNet;
let worker: EnigmaNode;
let url: string;
let honest: TestClient;
let counter: Uint8Array;
const cleanups: (() => void)[] = [];

beforeAll(async () => {
  counter = (await compileSecretContract(exampleSourcePath("counter"))).wasm;
  net = await startTestNet({ workers: 1 });
  const w = net.workers[0];
  if (w === undefined) throw new Error("no worker");
  worker = w;
  url = w.endpoints().rpcUrl ?? "";
  honest = new TestClient(net, 10, url);
}, 120_000);

afterAll(async () => {
  for (const c of cleanups.splice(0)) c();
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- undefined when beforeAll failed
  await net?.stop();
}, 60_000);

/** The honest client's getInfo: answered, with the time it took (reported, not asserted). */
async function honestInfo(): Promise<number> {
  const t0 = performance.now();
  const info = (await rpc(url, "getInfo", {})) as { name?: string };
  expect(info.name).toBe("enigma-node");
  return performance.now() - t0;
}

async function metric(name: string, label = ""): Promise<number> {
  const lines = (await worker.metrics.text())
    .split("\n")
    .filter((l) => l.startsWith(name) && l.includes(label));
  return lines.reduce((sum, l) => sum + Number(l.split(" ").at(-1)), 0);
}

/** A hostile JSON-RPC POST from 127.0.0.2 on its own connection. */
function hostilePost(body: unknown): Promise<{ status: number; body: unknown }> {
  const text = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: "POST",
        agent: false,
        localAddress: HOSTILE,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(text) },
      },
      (res) => {
        let data = "";
        res.on("data", (b: Buffer) => (data += b.toString()));
        res.on("end", () => {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(data) as unknown });
        });
      },
    );
    req.on("error", reject);
    req.end(text);
  });
}

function hostileSocket(): Promise<WebSocket | Error> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${url.replace("http", "ws")}/ws`, { localAddress: HOSTILE });
    cleanups.push(() => {
      ws.terminate();
    });
    ws.once("open", () => {
      resolve(ws);
    });
    ws.once("error", (e) => {
      resolve(e);
    });
  });
}

async function hostileConnection(): Promise<Socket> {
  const socket = connect({
    host: "127.0.0.1",
    port: Number(new URL(url).port),
    localAddress: HOSTILE,
  });
  cleanups.push(() => socket.destroy());
  socket.on("error", () => undefined);
  await new Promise((r) => socket.once("connect", r));
  return socket;
}

describe("a node under a hostile client's load", () => {
  it("keeps serving an honest client while a hostile one pushes each bound", async () => {
    const latencies: Record<string, number> = { idle: await honestInfo() };

    // The honest client's deployment goes first and completes under every phase below.
    const deployment = honest.deploy(counter, "construct()", []);

    // 1. WebSockets past the per-address cap: the extra ones get 503.
    const sockets = await Promise.all(
      Array.from({ length: RPC_SERVER_BOUNDS.maxWebSocketsPerAddress + 8 }, () => hostileSocket()),
    );
    const open = sockets.filter((s): s is WebSocket => s instanceof WebSocket);
    const refused = sockets.filter((s) => s instanceof Error);
    expect(open).toHaveLength(RPC_SERVER_BOUNDS.maxWebSocketsPerAddress);
    expect(refused).toHaveLength(8);
    for (const e of refused) expect(String(e)).toMatch(/Unexpected server response: 503/);
    latencies["websockets at the cap"] = await honestInfo();

    // 2. One of them floods requests and never reads: it is dropped, the node does not buffer.
    const flooder = open[0];
    if (flooder === undefined) throw new Error("no hostile socket");
    flooder.pause();
    const infos = JSON.stringify(
      Array.from({ length: 100 }, (_, i) => ({
        jsonrpc: "2.0",
        id: i,
        method: "getInfo",
        params: {},
      })),
    );
    const dropped = metric("enigma_rpc_refused_total", 'reason="ws_backpressure"');
    expect(await dropped).toBe(0);
    // Each answer is about 25 KB: a few hundred exceed the kernel's socket buffers and the
    // 8 MiB a client may leave unread.
    for (
      let i = 0;
      i < 2_000 && (await metric("enigma_rpc_refused_total", "ws_backpressure")) === 0;
      i++
    ) {
      flooder.send(infos);
      if (i % 50 === 49) latencies["websocket flood"] = await honestInfo();
    }
    expect(await metric("enigma_rpc_refused_total", 'reason="ws_backpressure"')).toBe(1);
    for (const ws of open) ws.terminate();

    // 3. Connections past the per-address cap: the extra ones get 503, the honest ones do not.
    const held = await Promise.all(
      Array.from({ length: RPC_SERVER_BOUNDS.maxConnectionsPerAddress }, () => hostileConnection()),
    );
    const extra = await hostileConnection();
    const answer = await new Promise<string>((resolve) => {
      let data = "";
      extra.on("data", (b: Buffer) => (data += b.toString()));
      extra.on("close", () => {
        resolve(data);
      });
    });
    expect(answer).toMatch(/^HTTP\/1\.1 503 /);
    expect(answer).toContain(`"code":${ErrorCode.ConnectionLimit}`);
    latencies["connections at the cap"] = await honestInfo();
    for (const s of held) s.destroy();

    const d = await deployment;
    expect((await honest.result(d)).status).toBe("SUCCESS");
    const scAddr: Hex = d.taskId;

    // 4. Batches of 100 key requests, 16 of them naming the honest user's public key: 8 run
    // at a time for the hostile address, 256 wait, the rest are refused with ServerBusy.
    const workerAddress = (worker.signer ?? "").slice(2);
    const increment = honest.compute(scAddr, "increment()", []);
    const victimKey = bytesToHex((await increment).user.publicKey).slice(2);
    const keyCalls = (batch: number) =>
      Array.from({ length: 100 }, (_, i) => ({
        jsonrpc: "2.0",
        id: batch * 100 + i,
        method: "getWorkerEncryptionKey",
        params: {
          workerAddress,
          userPubKey:
            batch === 0 && i < 16 ? victimKey : bytesToHex(randomPoint(batch * 100 + i)).slice(2),
        },
      }));
    // Built first, then sent together: 1,000 calls arrive at once.
    const batches = Array.from({ length: 10 }, (_, b) => keyCalls(b));
    let hostileDone = 0;
    const floods = batches.map((b) =>
      hostilePost(b).then((r) => {
        hostileDone++;
        return r;
      }),
    );
    // The honest client is answered while the hostile's calls still wait.
    latencies["key request flood"] = await honestInfo();
    expect(hostileDone).toBeLessThan(10);
    const replies = (await Promise.all(floods)).flatMap(
      (r) => r.body as { error?: { code: number }; result?: unknown }[],
    );
    expect(replies).toHaveLength(1000);
    const busy = replies.filter((r) => r.error?.code === ErrorCode.ServerBusy).length;
    const served = replies.filter((r) => r.result !== undefined).length;
    expect(busy).toBeGreaterThan(0);
    expect(busy + served).toBe(1000);

    // The honest task, whose key the hostile asked for 16 times meanwhile, still succeeds.
    const out = await honest.result(await increment);
    expect(out.status).toBe("SUCCESS");
    expect(BigInt(bytesToHex(out.output))).toBe(1n);
    expect(await metric("enigma_rpc_refused_total", 'reason="connections"')).toBeGreaterThan(0);
    expect(await metric("enigma_rpc_refused_total", 'reason="websockets"')).toBeGreaterThan(0);
    console.info(
      `honest getInfo under load (ms): ${Object.entries(latencies)
        .map(([k, v]) => `${k} ${v.toFixed(1)}`)
        .join(", ")}`,
    );
  }, 180_000);
});

/** A valid user public key (64 bytes) per index. */
function randomPoint(i: number): Uint8Array {
  return generateKeyPair(new TextEncoder().encode(`hostile user key number ${i}`)).publicKey;
}
