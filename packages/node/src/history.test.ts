// A contract's delta history stays whole (issues 18 and 20), end to end in one process: a task
// refunded in the middle of the history leaves no gap that later receipts build on, a node that
// joins afterwards syncs and runs the contract, a replayed delta is refused on gossip, and a
// stored delta that is not the committed one is removed and fetched again (when its receipt is
// heard, and when the node starts).
import { bytesToHex, keccak256, sameAddress, type Hex } from "@enigma/protocol";
import { compileSecretContract, exampleSourcePath } from "@enigma/secret-contract";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EnigmaChain } from "./chain/enigma-chain.js";
import { resolveNodeConfig } from "./config.js";
import { PROTOCOLS, TOPICS, encodeMessage, taskResultSchema, type TaskResult } from "./messages.js";
import { EnigmaNode } from "./node.js";
import { P2PNetwork } from "./p2p/network.js";
import { NodeStore } from "./store/store.js";
import {
  ENG,
  TestClient,
  account,
  gossipRejects,
  sent,
  startTestNet,
  waitFor,
  type TestNet,
} from "./testnet.fixture.js";

const EPOCH = 10;
let net: TestNet;
let counter: Uint8Array;

beforeAll(async () => {
  counter = (await compileSecretContract(exampleSourcePath("counter"))).wasm;
  // One worker: it is the selected worker of every contract until the late one takes over.
  net = await startTestNet({ workers: 1, epochSize: EPOCH });
}, 120_000);

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- undefined when beforeAll failed
  await net?.stop();
}, 60_000);

function u64be(bytes: Uint8Array): bigint {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, false);
}

/** Stops `node` and starts it again from its data directory (same config). */
async function restart(node: EnigmaNode): Promise<EnigmaNode> {
  await node.stop();
  const again = new EnigmaNode(node.config);
  await again.start();
  const i = net.workers.indexOf(node);
  if (i >= 0) net.workers[i] = again;
  return again;
}

/** Opens a stopped node's store for the duration of `f`. */
async function withStore<T>(node: EnigmaNode, f: (s: NodeStore) => Promise<T>): Promise<T> {
  const store = new NodeStore({ dir: join(node.config.dataDir, "db") });
  await store.start();
  try {
    return await f(store);
  } finally {
    await store.stop();
  }
}

/** Advances epochs until the chain has `count` deltas of `scAddr`. */
async function committed(scAddr: Hex, count: number): Promise<Hex[]> {
  await net.advanceEpoch();
  await waitFor(
    async () => ((await net.chain.countStateDeltas(scAddr)) >= count ? true : undefined),
    `${count} committed deltas`,
  );
  return (await net.chain.getStateDeltaHashes(scAddr)) as Hex[];
}

describe("a contract's delta history stays whole", () => {
  let scAddr: Hex;
  let client: TestClient;
  let late: EnigmaNode;

  it("a task refunded in the middle of the history: the receipt built on its delta is dropped, the worker goes on from the committed state", async () => {
    let worker = net.workers[0];
    if (worker === undefined) throw new Error("no worker");
    client = new TestClient(net, 10, worker.endpoints().rpcUrl ?? "");
    const deploy = await client.deploy(counter, "construct()", []);
    expect((await client.result(deploy)).status).toBe("SUCCESS");
    scAddr = deploy.taskId;
    const [d0] = await committed(scAddr, 1);

    // t1 writes delta 1, t2 delta 2 on it; the worker goes down before the epoch ends.
    const t1 = await client.compute(scAddr, "increment()", []);
    expect(u64be((await client.result(t1)).output)).toBe(1n);
    const t2 = await client.compute(scAddr, "increment()", []);
    expect(u64be((await client.result(t2)).output)).toBe(2n);
    await worker.stop();
    // t1 times out and anyone returns its fee: its delta can never be committed.
    await net.mine(3 * EPOCH + 2);
    const refunder = await EnigmaChain.connect({
      rpcUrl: net.rpcUrl,
      enigmaAddress: net.enigmaAddress,
      tokenAddress: net.tokenAddress,
      privateKey: account(15).privateKey,
    });
    try {
      await refunder.returnFeesForTask(t1.taskId);
    } finally {
      await refunder.close();
    }
    expect((await net.chain.getTaskRecord(t1.taskId))?.status).toBe(5);

    // Back up: t1's receipt is settled, t2's can never be (built on the refunded delta); the
    // worker drops the deltas from the gap on and goes on from delta 0.
    worker = await restart(worker);
    client.gateway = worker.endpoints().rpcUrl ?? "";
    const back = await waitFor(async () => {
      const c = await worker.contract(scAddr);
      return c.deltas === 1 ? c : undefined;
    }, "the worker to drop the deltas after the gap");
    expect(back.lastDeltaHash).toBe(d0);
    expect((await net.chain.getTaskRecord(t2.taskId))?.status).toBe(1); // refundable later
    const t3 = await client.compute(scAddr, "increment()", []);
    expect(u64be((await client.result(t3)).output)).toBe(1n);
    const hashes = await committed(scAddr, 2);
    expect(hashes).toHaveLength(2);
    expect((await net.chain.getTaskRecord(t3.taskId))?.status).toBe(2);
    expect((await worker.contract(scAddr)).lastDeltaHash).toBe(hashes[1]);
  }, 120_000);

  it("a worker that joins afterwards syncs the history and runs the contract on it", async () => {
    const first = net.workers[0];
    if (first === undefined) throw new Error("no worker");
    await sent(net.token.getFunction("transfer")(account(3).address, 1_000n * ENG));
    late = new EnigmaNode(resolveNodeConfig(net.configFor(2)));
    await late.start();
    net.workers.push(late);
    // The first worker logs out: from the epoch after next, the late one is the only worker.
    const custodian = await EnigmaChain.connect({
      rpcUrl: net.rpcUrl,
      enigmaAddress: net.enigmaAddress,
      tokenAddress: net.tokenAddress,
      privateKey: first.config.ethereum.privateKey ?? "",
    });
    try {
      await custodian.logout();
    } finally {
      await custodian.close();
    }
    await waitFor(
      async () => {
        const e = await net.chain.currentEpoch();
        if (e?.workers.length === 1 && sameAddress(e.workers[0] ?? "", late.signer ?? "")) {
          return true;
        }
        await net.advanceEpoch();
        return undefined;
      },
      "an epoch with only the late worker",
      60_000,
    );
    client.gateway = late.endpoints().rpcUrl ?? "";
    const t4 = await client.compute(scAddr, "increment()", []);
    expect(t4.worker).toBe(late.signer?.toLowerCase());
    expect(u64be((await client.result(t4)).output)).toBe(2n);
    const hashes = await committed(scAddr, 3);
    expect((await late.contract(scAddr)).lastDeltaHash).toBe(hashes[2]);
  }, 120_000);

  it("refuses a genuine delta replayed at another index on gossip, and stores nothing of it", async () => {
    const intruder = new P2PNetwork({});
    await intruder.start();
    try {
      const peer = await intruder.dial(late.endpoints().multiaddrs[0] ?? "");
      const t5 = await client.compute(scAddr, "increment()", []);
      expect(u64be((await client.result(t5)).output)).toBe(3n);
      const genuine = taskResultSchema.parse(
        await intruder.request(peer, PROTOCOLS.taskResult, { taskId: t5.taskId }),
      );
      expect(genuine.delta?.index).toBe(3);
      const before = await late.contract(scAddr);
      const rejects = () => gossipRejects(late, TOPICS.results);
      // Delta 3 again at index 4 (what a node holding 4 deltas would take next)...
      const moved = {
        ...genuine,
        delta: { ...(genuine.delta as NonNullable<TaskResult["delta"]>), index: 4 },
      };
      // ...and with the signed index changed too (then the signature does not match).
      const resigned = { ...moved, deltaIndex: 4 };
      for (const forged of [moved, resigned]) {
        const n = await rejects();
        await intruder.publish(TOPICS.results, encodeMessage(forged), {
          minPeers: 1,
          timeoutMs: 5_000,
        });
        await waitFor(
          async () => ((await rejects()) > n ? true : undefined),
          "the replay rejected",
        );
      }
      expect(await late.contract(scAddr)).toEqual(before);
    } finally {
      await intruder.stop();
    }
  }, 60_000);

  it("removes a stored delta that is not the committed one and fetches it again: when its receipt is heard, and when the node starts", async () => {
    const first = net.workers[0];
    if (first === undefined) throw new Error("no worker");
    const fake = (i: number) => {
      const data = new TextEncoder().encode(`not the committed delta ${i}`);
      return { index: i, hash: keccak256(data), data };
    };
    const onChain = await net.chain.getStateDeltaHashes(scAddr);
    expect(onChain).toHaveLength(3);

    // A forged delta 2 while the node is down: the counts agree with the chain, but at start
    // the node checks what it holds, removes it and fetches the committed one.
    await first.stop();
    await withStore(first, async (s) => {
      await s.truncateDeltas(scAddr, 2);
      await s.putDelta(scAddr, fake(2));
    });
    const again = await restart(first);
    await waitFor(async () => {
      const [d2] = await again.deltaHashes(scAddr, 2, 3);
      return d2 === onChain[2] ? true : undefined;
    }, "delta 2 fetched again at start");

    // A delta 3 that is not the one the chain will commit (say, from a worker that forked off):
    // when the epoch's receipts are committed, the node replaces it.
    await again.stop();
    await withStore(again, async (s) => {
      await s.truncateDeltas(scAddr, 3);
      await s.putDelta(scAddr, fake(3));
    });
    const last = await restart(again);
    expect((await last.deltaHashes(scAddr, 3, 4))[0]).toBe(bytesToHex(fake(3).hash));
    const hashes = await committed(scAddr, 4);
    await waitFor(async () => {
      const [d3] = await last.deltaHashes(scAddr, 3, 4);
      return d3 === hashes[3] ? true : undefined;
    }, "delta 3 replaced by the committed one");
    expect(await last.deltaHashes(scAddr)).toEqual(hashes);
  }, 120_000);
});
