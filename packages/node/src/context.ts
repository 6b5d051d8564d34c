// The services one node is built from, handed to each part explicitly (no globals), so that a
// test can build several nodes in one process.
import type { EpochPolicy, Hex, WorkerSelectionStrategy } from "@enigma/protocol";
import type { EnigmaChain } from "./chain/enigma-chain.js";
import type { ChainEvent } from "./chain/types.js";
import type { NodeConfig } from "./config.js";
import type { Logger, NodeMetrics } from "./observability.js";
import type { P2PNetwork } from "./p2p/network.js";
import type { NodeSelection } from "./selection.js";
import type { NodeStore } from "./store/store.js";

/** The policies a node runs (config `policy`, resolved once through the registry). */
export interface NodePolicy {
  readonly selection: WorkerSelectionStrategy;
  readonly epochs: EpochPolicy;
}

export interface NodeContext {
  readonly config: NodeConfig;
  readonly store: NodeStore;
  readonly chain: EnigmaChain;
  readonly p2p: P2PNetwork;
  readonly metrics: NodeMetrics;
  readonly log: Logger;
  readonly policy: NodePolicy;
  /** Who is selected for what: `policy.selection` over the chain's epochs. */
  readonly selection: NodeSelection;
}

/** What the chain watcher learned about a task record (its order is `(blockNumber, logIndex)`). */
export interface RecordInfo {
  taskId: Hex;
  inputsHash: Hex;
  gasLimit: bigint;
  gasPx: bigint;
  sender: Hex;
  blockNumber: number;
  logIndex: number;
  /** When this node learned of the record (ms since epoch). */
  seenAt: number;
}

/** A `TaskRecordCreated` event as a record heard now. */
export function recordOfEvent(e: Extract<ChainEvent, { type: "TaskRecordCreated" }>): RecordInfo {
  return {
    taskId: e.taskId as Hex,
    inputsHash: e.inputsHash as Hex,
    gasLimit: e.gasLimit,
    gasPx: e.gasPx,
    sender: e.sender as Hex,
    blockNumber: e.blockNumber,
    logIndex: e.logIndex,
    seenAt: Date.now(),
  };
}

/** Record order as one number: block, then log index. */
export function recordOrder(r: { blockNumber: number; logIndex: number }): number {
  return r.blockNumber * 1_000_000 + r.logIndex;
}

/** Waits `ms`, or less when `signal` aborts. */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
