// The receipt batcher commits a contract's deltas in order across workers: a receipt whose
// delta comes after deltas another worker has not committed yet is held back (the chain would
// accept it, then refuse those with DeltaOutOfOrder), for a bounded time.
import { bytesToHex, keccak256, type ChainReceipt, type Hex } from "@enigma/protocol";
import type { WorkerEnclave } from "@enigma/enclave";
import { describe, expect, it } from "vitest";
import type { EnigmaChain } from "../chain/enigma-chain.js";
import type { NodeConfig } from "../config.js";
import type { NodeContext } from "../context.js";
import { NodeMetrics, createLogger } from "../observability.js";
import type { P2PNetwork } from "../p2p/network.js";
import type { NodeStore } from "../store/store.js";
import { ReceiptBatcher } from "./receipts.js";

const h = (s: string) => bytesToHex(keccak256(new TextEncoder().encode(s)));
const ZERO: Hex = `0x${"00".repeat(32)}`;
const X = h("contract x");
const Y = h("contract y");

function receipt(taskId: Hex, scAddr: Hex): ChainReceipt {
  return {
    taskId,
    scAddr,
    inputsHash: h(`inputs of ${taskId}`),
    prevDeltaHash: ZERO,
    deltaIndex: 0,
    stateDeltaHash: h(`delta of ${taskId}`),
    outputHash: h(`output of ${taskId}`),
    gasUsed: 1_000n,
    success: true,
    preCodeHash: ZERO,
    codeHash: ZERO,
    ethAddress: "0x0000000000000000000000000000000000000000",
    ethCalldata: "0x",
  };
}

/**
 * A batcher over fakes: `queue` is the worker's pending receipts (with each one's delta index),
 * `onChain` the number of deltas committed per contract; commits land in `batches`.
 */
function setup(
  queue: { r: ChainReceipt; index: number }[],
  onChain: Map<string, number>,
  options: { holdMaxMs?: number } = {},
) {
  const batches: string[][] = [];
  let pending = [...queue];
  const store = {
    pendingReceipts: () => Promise.resolve(pending.map((q) => q.r)),
    getTask: (taskId: string) => {
      const q = queue.find((x) => x.r.taskId === taskId);
      return Promise.resolve(q && { result: { delta: { index: q.index } } });
    },
    commitReceipts: (ids: string[]) => {
      pending = pending.filter((q) => !ids.includes(q.r.taskId));
      return Promise.resolve();
    },
  } as unknown as NodeStore;
  const chain = {
    countStateDeltas: (sc: string) => Promise.resolve(onChain.get(sc) ?? 0),
    commitReceipts: (rs: ChainReceipt[]) => {
      batches.push(rs.map((r) => r.taskId));
      for (const r of rs) onChain.set(r.scAddr, (onChain.get(r.scAddr) ?? 0) + 1);
      return Promise.resolve({ transactionHash: "0x01", blockNumber: 1, events: [] });
    },
  } as unknown as EnigmaChain;
  const ctx: NodeContext = {
    config: { worker: { orderingWindowMs: 50, maxBatch: 100 } } as unknown as NodeConfig,
    store,
    chain,
    p2p: {} as unknown as P2PNetwork,
    metrics: new NodeMetrics(),
    log: createLogger({ level: "silent", name: "receipts-test" }),
  };
  const enclave = { signReceipts: () => "0x01" } as unknown as WorkerEnclave;
  const batcher = new ReceiptBatcher(ctx, enclave, { holdRetryMs: 20, ...options });
  return { batcher, batches, onChain, pending: () => pending.length };
}

async function until(probe: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 5_000;
  while (!probe()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("ReceiptBatcher delta order across workers", () => {
  it("holds a contract's receipts until the earlier deltas of another worker are committed", async () => {
    // X has its delta 0 on chain; this worker ran X's tasks with deltas 2 and 3 (delta 1 is
    // another worker's, not committed yet), and Y's deployment.
    const t = setup(
      [
        { r: receipt(h("x2"), X), index: 2 },
        { r: receipt(h("y0"), Y), index: 0 },
        { r: receipt(h("x3"), X), index: 3 },
      ],
      new Map([[X, 1]]),
    );
    try {
      await t.batcher.trigger("epoch-end");
      expect(t.batches).toEqual([[h("y0")]]);
      // The previous worker commits delta 1: the held receipts follow, in order.
      t.onChain.set(X, 2);
      await until(() => t.pending() === 0, "the held receipts");
      expect(t.batches).toEqual([[h("y0")], [h("x2"), h("x3")]]);
    } finally {
      await t.batcher.stop();
    }
  });

  it("commits receipts on top of what the chain has at once", async () => {
    const t = setup(
      [
        { r: receipt(h("x1"), X), index: 1 },
        { r: receipt(h("x2"), X), index: 2 },
      ],
      new Map([[X, 1]]),
    );
    await t.batcher.trigger("epoch-end");
    expect(t.batches).toEqual([[h("x1"), h("x2")]]);
    await t.batcher.stop();
  });

  it("commits anyway once a receipt has waited longer than the limit", async () => {
    const t = setup([{ r: receipt(h("x5"), X), index: 5 }], new Map([[X, 1]]), {
      holdMaxMs: 100,
    });
    try {
      await t.batcher.trigger("epoch-end");
      expect(t.batches).toEqual([]);
      await until(() => t.pending() === 0, "the receipt past the limit");
      expect(t.batches).toEqual([[h("x5")]]);
    } finally {
      await t.batcher.stop();
    }
  });
});
