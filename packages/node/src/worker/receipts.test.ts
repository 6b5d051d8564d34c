// The receipt batcher commits a contract's receipts on top of the chain's delta head: a receipt
// built on deltas another worker has not committed yet is held until their task settles; one
// built on a delta the chain will never record (its task refunded, failed, or forked off) is
// dropped with the stored deltas from the gap on, so that the worker goes on from the committed
// state (issue 20: delta history that stays whole).
import {
  bytesToHex,
  discoveryEpochs,
  discoverySelection,
  keccak256,
  type ChainReceipt,
  type Hex,
} from "@enigma/protocol";
import type { WorkerEnclave } from "@enigma/enclave";
import { describe, expect, it } from "vitest";
import type { EnigmaChain } from "../chain/enigma-chain.js";
import type { NodeConfig } from "../config.js";
import type { NodeContext } from "../context.js";
import { NodeMetrics, createLogger } from "../observability.js";
import type { P2PNetwork } from "../p2p/network.js";
import { NodeSelection } from "../selection.js";
import type { NodeStore } from "../store/store.js";
import { ReceiptBatcher } from "./receipts.js";

const h = (s: string) => bytesToHex(keccak256(new TextEncoder().encode(s)));
const ZERO: Hex = `0x${"00".repeat(32)}`;
const X = h("contract x");
const Y = h("contract y");
const TIMEOUT = 30;

/** The receipt of task `id`, run on delta `index - 1` (named `base`) and writing `delta`. */
function receipt(
  id: string,
  scAddr: Hex,
  o: { index: number; base: Hex; delta?: Hex | null; success?: boolean },
): ChainReceipt {
  return {
    taskId: h(id),
    scAddr,
    inputsHash: h(`inputs of ${id}`),
    prevDeltaHash: o.base,
    deltaIndex: o.index,
    stateDeltaHash: o.delta === null ? ZERO : (o.delta ?? h(`delta of ${id}`)),
    outputHash: h(`output of ${id}`),
    gasUsed: 1_000n,
    success: o.success ?? true,
    preCodeHash: ZERO,
    codeHash: ZERO,
    ethAddress: "0x0000000000000000000000000000000000000000",
    ethCalldata: "0x",
  };
}

/**
 * A batcher over fakes: `queue` is the worker's pending receipts, `onChain` each contract's
 * committed delta hashes, `writers` which task wrote each stored delta (`contract:index`),
 * `records` the chain status and block of tasks; commits land in `batches`, truncations in
 * `truncated`.
 */
function setup(
  queue: ChainReceipt[],
  onChain: Map<string, Hex[]>,
  writers: Map<string, Hex> = new Map(),
  records: Map<string, { status: number; blockNumber: number }> = new Map(),
  /** After each commit: what the worker queues meanwhile, or what other workers commit. */
  afterCommit?: (push: (r: ChainReceipt) => void) => void,
) {
  const batches: string[][] = [];
  const truncated: [string, number][] = [];
  const refunded: string[] = [];
  let pending = [...queue];
  let block = 100;
  const store = {
    pendingReceipts: () => Promise.resolve([...pending]),
    commitReceipts: (ids: string[]) => {
      pending = pending.filter((r) => !ids.includes(r.taskId));
      return Promise.resolve();
    },
    deltaTask: (contract: string, index: number) =>
      Promise.resolve(writers.get(`${contract}:${index}`)),
  } as unknown as NodeStore;
  const chain = {
    taskTimeout: TIMEOUT,
    blockNumber: () => Promise.resolve(block),
    countStateDeltas: (sc: string) => Promise.resolve(onChain.get(sc)?.length ?? 0),
    getStateDeltaHashes: (sc: string, from: number, to: number) =>
      Promise.resolve((onChain.get(sc) ?? []).slice(from, to)),
    getTaskRecord: (id: string) => Promise.resolve(records.get(id)),
    returnFeesForTask: (id: string) => {
      refunded.push(id);
      const r = records.get(id);
      if (r !== undefined) r.status = 5;
      return Promise.resolve();
    },
    commitReceipts: (rs: ChainReceipt[]) => {
      batches.push(rs.map((r) => r.taskId));
      for (const r of rs) {
        const list = onChain.get(r.scAddr) ?? [];
        if (r.success && r.stateDeltaHash !== ZERO) list.push(r.stateDeltaHash as Hex);
        onChain.set(r.scAddr, list);
        const rec = records.get(r.taskId);
        if (rec !== undefined) rec.status = 2;
      }
      afterCommit?.((r) => pending.push(r));
      return Promise.resolve({ transactionHash: "0x01", blockNumber: 1, events: [] });
    },
  } as unknown as EnigmaChain;
  const ctx: NodeContext = {
    config: { worker: { orderingDeadlineMs: 5_000, maxBatch: 100 } } as unknown as NodeConfig,
    store,
    chain,
    p2p: {} as unknown as P2PNetwork,
    metrics: new NodeMetrics(),
    log: createLogger({ level: "silent", name: "receipts-test" }),
    policy: { selection: discoverySelection, epochs: discoveryEpochs },
    selection: new NodeSelection(discoverySelection, chain),
  };
  const enclave = { signReceipts: () => "0x01" } as unknown as WorkerEnclave;
  const batcher = new ReceiptBatcher(ctx, enclave, {
    holdRetryMs: 20,
    truncateDeltas: (contract, from) => {
      truncated.push([contract, from]);
      return Promise.resolve(1);
    },
  });
  return {
    batcher,
    batches,
    truncated,
    refunded,
    onChain,
    pending: () => pending.map((r) => r.taskId),
    mine: (n: number) => (block += n),
  };
}

async function until(probe: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 5_000;
  while (!probe()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("ReceiptBatcher: receipts on top of the chain's delta head", () => {
  it("commits receipts built on the chain's head at once, chaining within the batch", async () => {
    const d0 = h("d0");
    const t = setup(
      [
        receipt("x1", X, { index: 1, base: d0, delta: h("d1") }),
        receipt("x2", X, { index: 2, base: h("d1"), delta: null }), // a read
        receipt("x3", X, { index: 2, base: h("d1"), delta: h("d3") }),
        receipt("y0", Y, { index: 0, base: ZERO }), // a deployment
      ],
      new Map([[X, [d0]]]),
    );
    await t.batcher.trigger("epoch-end");
    expect(t.batches).toEqual([[h("x1"), h("x2"), h("x3"), h("y0")]]);
    expect(t.truncated).toEqual([]);
    await t.batcher.stop();
  });

  it("holds a contract's receipts until another worker's earlier delta is committed", async () => {
    // X has delta 0 on chain; delta 1 is the previous worker's task (pending); this worker ran
    // X's tasks with deltas 2 and 3 on top of it, and Y's deployment.
    const [d0, d1] = [h("d0"), h("d1")];
    const records = new Map([[h("other x1"), { status: 1, blockNumber: 90 }]]);
    const t = setup(
      [
        receipt("x2", X, { index: 2, base: d1, delta: h("d2") }),
        receipt("y0", Y, { index: 0, base: ZERO }),
        receipt("x3", X, { index: 3, base: h("d2") }),
      ],
      new Map([[X, [d0]]]),
      new Map([[`${X}:1`, h("other x1")]]),
      records,
    );
    try {
      await t.batcher.trigger("epoch-end");
      expect(t.batches).toEqual([[h("y0")]]);
      // The previous worker commits delta 1: the held receipts follow, in order.
      t.onChain.set(X, [d0, d1]);
      records.set(h("other x1"), { status: 2, blockNumber: 90 });
      await until(() => t.pending().length === 0, "the held receipts");
      expect(t.batches).toEqual([[h("y0")], [h("x2"), h("x3")]]);
      expect(t.truncated).toEqual([]);
    } finally {
      await t.batcher.stop();
    }
  });

  it("commits a held receipt once the earlier delta is committed, while receipts of other contracts keep coming", async () => {
    // The worker's x2 waits for the previous worker's delta 1; meanwhile it keeps queueing
    // receipts of Y, so one commit round goes on and on. The previous worker commits delta 1
    // during that round: x2 must follow in the same round. (It used to stay held until the
    // round ended; with receipts arriving all the time that was after x1's timeout, when this
    // worker refunded its own x2 as "a delta that never came" and dropped all it built on it.)
    const [d0, d1] = [h("d0"), h("d1")];
    const records = new Map([[h("other x1"), { status: 1, blockNumber: 90 }]]);
    let y = 0;
    let x1Committed = false;
    const t = setup(
      [
        receipt("y0", Y, { index: 0, base: ZERO, delta: h("y0 delta") }),
        receipt("x2", X, { index: 2, base: d1, delta: h("d2") }),
      ],
      new Map([[X, [d0]]]),
      new Map([
        [`${X}:1`, h("other x1")],
        [`${X}:2`, h("x2")],
      ]),
      records,
      (push) => {
        if (!x1Committed) {
          // The previous worker commits delta 1 right after this worker's first batch.
          x1Committed = true;
          t.onChain.set(X, [d0, d1]);
          records.set(h("other x1"), { status: 2, blockNumber: 90 });
        }
        // Another Y receipt is queued while each batch is in flight, for a long while.
        if (t.pending().includes(h("x2")) && y < 200) {
          y++;
          push(
            receipt(`y${y}`, Y, { index: y, base: h(`y${y - 1} delta`), delta: h(`y${y} delta`) }),
          );
        }
      },
    );
    try {
      await t.batcher.trigger("epoch-end");
      expect(t.pending()).not.toContain(h("x2"));
      expect(t.batches.flat()).toContain(h("x2"));
      expect(y).toBeLessThan(5); // in the round's next batch, not after the stream ran dry
      expect(t.refunded).toEqual([]);
      expect(t.truncated).toEqual([]);
    } finally {
      await t.batcher.stop();
    }
  });

  it("a refunded task's delta is a gap: receipts built on it are dropped and the deltas from it removed", async () => {
    const d0 = h("d0");
    const t = setup(
      [
        receipt("x2", X, { index: 2, base: h("d1") }),
        receipt("x3", X, { index: 3, base: h("d2") }),
        receipt("fail", X, { index: 3, base: h("d2"), delta: null, success: false }),
      ],
      new Map([[X, [d0]]]),
      new Map([[`${X}:1`, h("x1")]]),
      new Map([[h("x1"), { status: 5, blockNumber: 90 }]]),
    );
    await t.batcher.trigger("epoch-end");
    // The failure receipt does not depend on the state: it commits.
    expect(t.batches).toEqual([[h("fail")]]);
    expect(t.pending()).toEqual([]);
    expect(t.truncated).toEqual([[X, 1]]);
    await t.batcher.stop();
  });

  it("refunds the writer of a missing delta once it timed out, then goes on from the committed state", async () => {
    const records = new Map([[h("x1"), { status: 1, blockNumber: 90 }]]);
    const t = setup(
      [receipt("x2", X, { index: 2, base: h("d1") })],
      new Map([[X, [h("d0")]]]),
      new Map([[`${X}:1`, h("x1")]]),
      records,
    );
    try {
      await t.batcher.trigger("epoch-end");
      expect(t.pending()).toEqual([h("x2")]); // held while x1 may still commit
      t.mine(TIMEOUT);
      await until(() => t.pending().length === 0, "the gap to be settled");
      expect(t.refunded).toEqual([h("x1")]);
      expect(t.batches).toEqual([]);
      expect(t.truncated).toEqual([[X, 1]]);
    } finally {
      await t.batcher.stop();
    }
  });

  it("drops receipts run on state the chain has moved past or forked from", async () => {
    const [d0, d1] = [h("d0"), h("d1")];
    const t = setup(
      [
        // Run on delta 0 while the chain has 0 and 1 (another worker's delta 1 came first).
        receipt("stale", X, { index: 1, base: d0, delta: h("mine 1") }),
        receipt("on stale", X, { index: 2, base: h("mine 1") }),
        // Y: run on a delta 0 that is not the committed one.
        receipt("fork", Y, { index: 1, base: h("not y0"), delta: null }),
      ],
      new Map([
        [X, [d0, d1]],
        [Y, [h("y0")]],
      ]),
    );
    await t.batcher.trigger("epoch-end");
    expect(t.batches).toEqual([]);
    expect(t.pending()).toEqual([]);
    expect(t.truncated).toEqual([
      [X, 1],
      [Y, 0],
    ]);
    await t.batcher.stop();
  });
});
