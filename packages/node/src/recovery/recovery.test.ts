// The known limits a fault exposes, closed (issue 16), in one process: a real chain over HTTP,
// a principal, two workers and a gateway-only node clients talk to. Each test fails without
// its fix:
// - a worker down while its task's input was handed over and gossiped runs the task once it is
//   back (re-delivery from the gateway that holds the input);
// - a worker that heard a record and stopped before the input came runs it after a restart
//   (the record is heard again);
// - a contract's new worker runs on the previous worker's deltas that are not on chain yet
//   (fetched from that worker before running), so the counter goes on from where it was.
import { compileSecretContract, exampleSourcePath } from "@enigma/secret-contract";
import { sameAddress, selectWorker, type Hex } from "@enigma/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveNodeConfig, type NodeUserConfig } from "../config.js";
import { PROTOCOLS, TOPICS, encodeMessage, taskResultSchema } from "../messages.js";
import { EnigmaNode } from "../node.js";
import { P2PNetwork } from "../p2p/network.js";
import {
  TestClient,
  rpc,
  sent,
  startTestNet,
  waitFor,
  type SubmittedTask,
  type TestNet,
} from "../testnet.fixture.js";
import { chainGate, type ChainGate } from "./chain-gate.fixture.js";

let net: TestNet;
let gateway: EnigmaNode;
let client: TestClient;
let counter: Uint8Array;
const gates: ChainGate[] = [];

beforeAll(async () => {
  counter = (await compileSecretContract(exampleSourcePath("counter"))).wasm;
  net = await startTestNet({ workers: 2 });
  gateway = new EnigmaNode(resolveNodeConfig(net.configFor(9, { roles: ["gateway"] })));
  await gateway.start();
  client = new TestClient(net, 10, gateway.endpoints().rpcUrl ?? "");
}, 120_000);

afterAll(async () => {
  await gateway.stop();
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- undefined when beforeAll failed
  await net?.stop();
  for (const g of gates) await g.close();
}, 60_000);

function u64be(bytes: Uint8Array): bigint {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, false);
}

function indexOf(signer: string): number {
  const i = net.workers.findIndex((w) => w.signer !== undefined && sameAddress(w.signer, signer));
  if (i === -1) throw new Error(`no worker ${signer}`);
  return i;
}

/** Stops worker `i` (its data stays). */
async function stopWorker(i: number): Promise<NodeUserConfig> {
  const w = net.workers[i];
  if (w === undefined) throw new Error(`no worker ${i}`);
  const config = net.configFor(i + 1);
  await w.stop();
  return config;
}

/** Starts worker `i` again on its data, with `extra` config. */
async function startWorker(i: number, extra: Partial<NodeUserConfig> = {}): Promise<EnigmaNode> {
  const w = new EnigmaNode(resolveNodeConfig(net.configFor(i + 1, extra)));
  await w.start();
  net.workers[i] = w;
  // The gateway reaches it once it is in its directory (it asks its peers on demand).
  return w;
}

/**
 * Restarts worker `i` behind a chain gate (open for now): closing it later cuts that worker off
 * the chain, so what it runs stays uncommitted.
 */
async function restartGated(i: number): Promise<ChainGate> {
  await stopWorker(i);
  const gate = await chainGate(net.rpcUrl);
  gates.push(gate);
  await startWorker(i, { ethereum: { ...net.configFor(i + 1).ethereum, rpcUrl: gate.url } });
  return gate;
}

async function selectedFor(contract: string): Promise<Hex> {
  const epoch = await net.chain.currentEpoch();
  const w = epoch === undefined ? undefined : selectWorker(contract, epoch);
  if (w === undefined) throw new Error("no epoch");
  return w.toLowerCase() as Hex;
}

async function chainStatus(taskId: string): Promise<number> {
  return (await net.chain.getTaskRecord(taskId))?.status ?? 0;
}

async function deployCounter(): Promise<Hex> {
  const d = await client.deploy(counter, "construct()", []);
  expect((await client.result(d)).status).toBe("SUCCESS");
  return d.taskId;
}

async function value(t: SubmittedTask, timeoutMs?: number): Promise<bigint> {
  const r = await client.result(t, timeoutMs);
  expect(r.status).toBe("SUCCESS");
  return u64be(r.output);
}

describe("re-delivery of inputs", () => {
  it("a worker down when its input was handed over and gossiped runs the task once back", async () => {
    const sc = await deployCounter();
    const i = indexOf(await selectedFor(sc));
    // Once the client has the worker's key, the worker goes down: the record is mined and the
    // gateway takes the input, hands it over (refused: the worker is down) and gossips it (the
    // worker hears nothing).
    const t = await client.compute(sc, "increment()", [], 1_000_000n, {
      beforeRecord: async () => {
        await stopWorker(i);
      },
    });
    await startWorker(i);
    expect(await value(t)).toBe(1n);
    await net.advanceEpoch();
    await waitFor(async () => ((await chainStatus(t.taskId)) === 2 ? true : undefined), "commit");
  }, 120_000);

  it("a worker that heard a record and stopped before its input came runs it after a restart", async () => {
    const sc = await deployCounter();
    const i = indexOf(await selectedFor(sc));
    // The worker's admin endpoint tells which block its chain watcher delivered last.
    let worker = net.workers[i];
    if (worker === undefined) throw new Error("no worker");
    await stopWorker(i);
    worker = await startWorker(i, { admin: { host: "127.0.0.1", port: 0, faults: false } });
    const adminUrl = worker.endpoints().adminUrl ?? "";
    const t = await client.compute(sc, "increment()", [], 1_000_000n, {
      beforeInput: async (taskId) => {
        const block = (await net.chain.getTaskRecord(taskId))?.blockNumber ?? Infinity;
        await waitFor(async () => {
          const s = (await rpc(adminUrl, "admin_status", {})) as { chainCursor: number | null };
          return (s.chainCursor ?? -1) >= block ? true : undefined;
        }, "the worker hearing the record");
        await stopWorker(i);
      },
    });
    await startWorker(i);
    expect(await value(t)).toBe(1n);
  }, 120_000);
});

describe("the previous worker's deltas before a hand-over", () => {
  it("a contract's new worker runs on the previous worker's deltas that are not on chain yet", async () => {
    const sc = await deployCounter();
    await net.advanceEpoch();
    await waitFor(async () => ((await chainStatus(sc)) === 2 ? true : undefined), "deployment");
    const a = indexOf(await selectedFor(sc));
    const b = 1 - a;
    // The next worker is down while the current one runs two tasks, and the current one then
    // loses the chain, so its deltas stay uncommitted (only it holds them).
    await stopWorker(b);
    const gate = await restartGated(a);
    const one = await client.compute(sc, "increment()", []);
    const two = await client.compute(sc, "increment()", []);
    expect([await value(one), await value(two)]).toEqual([1n, 2n]);
    gate.open = false;
    // Epochs go on until the contract is the other worker's.
    const bSigner = net.workers[b]?.signer ?? "";
    for (let n = 0; !sameAddress(await selectedFor(sc), bSigner); n++) {
      if (n > 12) throw new Error("the contract never moved to the other worker");
      await net.advanceEpoch();
    }
    await startWorker(b);
    const three = await client.compute(sc, "increment()", []);
    // Without the fetch, it would wait out its bound for the earlier tasks' results (30 s),
    // then run on delta 0 and answer 1.
    expect(await value(three, 60_000)).toBe(3n);
    // The previous worker comes back to the chain: all three commit, deltas in order.
    gate.open = true;
    await net.advanceEpoch();
    for (const t of [one, two, three]) {
      await waitFor(
        async () => ((await chainStatus(t.taskId)) === 2 ? true : undefined),
        `commit of ${t.taskId}`,
        60_000,
      );
    }
    expect(await net.chain.countStateDeltas(sc)).toBe(4);
  }, 240_000);
});

describe("a deployment's code before it is committed", () => {
  it("a contract's new worker that was down during the deployment runs it before it commits", async () => {
    // The deployment runs on worker a while worker b is down, and a then loses the chain, so
    // the deployment stays uncommitted: no chain sync can bring b the code. b gets the
    // deployment's signed result from a before it runs (its delta 0), and the code from a
    // peer's copy of the deployment's input: re-delivered at its start (the record is pending
    // and b has no trace of it), else asked for when the code is needed and checked against
    // the result's code hash (`fetchInput`, tested on its own in redelivery.test.ts).
    const sc = await client.nextTaskId();
    const a = indexOf(await selectedFor(sc));
    const b = 1 - a;
    await stopWorker(b);
    const gate = await restartGated(a);
    expect(await deployCounter()).toBe(sc);
    gate.open = false;
    const bSigner = net.workers[b]?.signer ?? "";
    for (let n = 0; !sameAddress(await selectedFor(sc), bSigner); n++) {
      if (n > 12) throw new Error("the contract never moved to the other worker");
      await net.advanceEpoch();
    }
    expect(await chainStatus(sc)).toBe(1); // still pending on chain
    const fresh = await startWorker(b);
    expect((await fresh.contract(sc)).codeHash).toBeUndefined();
    const one = await client.compute(sc, "increment()", []);
    // Without the code its worker retries "being deployed but its code is not here" until it
    // gives up, and the task fails.
    expect(await value(one, 60_000)).toBe(1n);
    expect((await fresh.contract(sc)).codeHash).toMatch(/^0x[0-9a-f]{64}$/);
    gate.open = true;
    await net.advanceEpoch();
    for (const t of [sc, one.taskId]) {
      await waitFor(
        async () => ((await chainStatus(t)) === 2 ? true : undefined),
        `commit of ${t}`,
        60_000,
      );
    }
  }, 240_000);
});

describe("a refunded task's delta", () => {
  it("is dropped by every node that stored it, and the contract goes on from the chain's state", async () => {
    const sc = await deployCounter();
    await net.advanceEpoch();
    await waitFor(async () => ((await chainStatus(sc)) === 2 ? true : undefined), "deployment");
    const a = indexOf(await selectedFor(sc));
    // Its worker runs the task and everyone stores its delta, but the worker cannot commit it.
    const gate = await restartGated(a);
    const lost = await client.compute(sc, "increment()", []);
    expect(await value(lost)).toBe(1n);
    await waitFor(
      async () => ((await gateway.contract(sc)).deltas === 2 ? true : undefined),
      "the gateway storing the delta",
    );
    gate.open = false;
    // Past its timeout, its sender takes the fee back.
    await net.mine(net.chain.taskTimeout + 2);
    await sent(net.enigma.getFunction("returnFeesForTask")(lost.taskId));
    expect(await chainStatus(lost.taskId)).toBe(5);
    // The delta is not the chain's: the gateway (which heard it) drops it.
    await waitFor(
      async () => ((await gateway.contract(sc)).deltas === 1 ? true : undefined),
      "the refunded delta dropped",
    );
    gate.open = true;
    // The next increment counts from the chain's state again.
    await net.advanceEpoch();
    const next = await client.compute(sc, "increment()", []);
    expect(await value(next, 60_000)).toBe(1n);
  }, 240_000);
});

describe("results heard out of order", () => {
  it("a node that hears a worker's results k+1 then k stores both deltas, in order", async () => {
    // A listener cut off from every peer of the network (a partition it keeps) misses two
    // results on gossip; then a peer it does accept gossips them to it in the wrong order. Before
    // the fix it dropped delta k+1 and, being cut off, had no peer to ask for it again.
    const listener = new EnigmaNode(
      resolveNodeConfig(
        net.configFor(11, {
          roles: ["gateway"],
          admin: { host: "127.0.0.1", port: 0, faults: true },
        }),
      ),
    );
    await listener.start();
    const intruder = new P2PNetwork({});
    await intruder.start();
    try {
      const sc = await deployCounter();
      const first = await client.compute(sc, "increment()", []);
      expect(await value(first)).toBe(1n);
      await waitFor(
        async () => ((await listener.contract(sc)).deltas === 2 ? true : undefined),
        "the listener at deltas 0 and 1",
        60_000,
      );
      const others = [net.principal, ...net.workers, gateway].map((n) => n.endpoints().peerId);
      await rpc(listener.endpoints().adminUrl ?? "", "admin_refusePeers", { peers: others });
      const k = await client.compute(sc, "increment()", []);
      expect(await value(k)).toBe(2n);
      const next = await client.compute(sc, "increment()", []);
      expect(await value(next)).toBe(3n);
      // The genuine signed results, as any node serves them (asked by another peer: the
      // intruder's only connection is to the listener).
      const fetcher = new P2PNetwork({});
      await fetcher.start();
      const [rk, rNext] = await (async () => {
        try {
          const source = await fetcher.dial(gateway.endpoints().multiaddrs[0] ?? "");
          return await Promise.all(
            [k, next].map(async (t) =>
              taskResultSchema.parse(
                await fetcher.request(source, PROTOCOLS.taskResult, { taskId: t.taskId }),
              ),
            ),
          );
        } finally {
          await fetcher.stop();
        }
      })();
      expect([rk?.delta?.index, rNext?.delta?.index]).toEqual([2, 3]);
      expect((await listener.contract(sc)).deltas).toBe(2);
      await intruder.dial(listener.endpoints().multiaddrs[0] ?? "");
      for (const r of [rNext, rk]) {
        await intruder.publish(TOPICS.results, encodeMessage(r), { minPeers: 1, timeoutMs: 5_000 });
      }
      await waitFor(
        async () => ((await listener.contract(sc)).deltas === 4 ? true : undefined),
        "both deltas stored",
      );
      expect(await listener.deltaHashes(sc)).toEqual(await gateway.deltaHashes(sc, 0, 4));
    } finally {
      await intruder.stop();
      await listener.stop();
    }
  }, 120_000);
});

// The admin endpoint's read-only answers, against the same network.
describe("admin endpoint", () => {
  it("answers status and contract queries, and has no fault methods unless asked", async () => {
    const sc = await deployCounter();
    // The deployment's own worker is restarted with an admin endpoint, once it has stored the
    // contract: the endpoint answers what the node kept across the restart (the deployment is
    // not committed yet, so nothing else would bring it back before the epoch ends).
    const i = indexOf(await selectedFor(sc));
    const before = net.workers[i];
    await waitFor(async () => {
      const c = await before?.contract(sc);
      return c !== undefined && c.deltas > 0 && c.codeHash !== undefined ? true : undefined;
    }, "the contract stored before the restart");
    const w = await startWorkerWithAdmin(i);
    const url = w.endpoints().adminUrl ?? "";
    const status = (await rpc(url, "admin_status", {})) as { roles: string[]; faults: unknown };
    expect(status.roles).toEqual(["worker", "gateway"]);
    expect(status.faults).toBeNull();
    const c = (await waitFor(async () => {
      const r = (await rpc(url, "admin_contract", { address: sc })) as {
        codeHash: string | null;
        deltaCount: number;
        deltaHashes: string[];
      };
      // The code and the first delta come separately (sync and gossip): wait for both.
      return r.deltaCount > 0 && r.codeHash !== null ? r : undefined;
    }, "the contract on the restarted worker")) as { codeHash: string; deltaHashes: string[] };
    expect(c.codeHash).toMatch(/^0x[0-9a-f]{64}$/);
    expect(c.deltaHashes).toHaveLength(1);
    await expect(
      rpc(url, "admin_armFault", { point: "task-stored", action: "crash" }),
    ).rejects.toMatchObject({ code: -32601 });
    await expect(rpc(url, "admin_contract", { address: "0x12" })).rejects.toMatchObject({
      code: -32602,
    });
  }, 120_000);
});

async function startWorkerWithAdmin(i: number): Promise<EnigmaNode> {
  await stopWorker(i);
  return startWorker(i, { admin: { host: "127.0.0.1", port: 0, faults: false } });
}
