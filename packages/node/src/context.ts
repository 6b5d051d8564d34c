// The services one node is built from, handed to each part explicitly (no globals), so that a
// test can build several nodes in one process.
import { selectWorker, sameAddress, type Hex } from "@enigma/protocol";
import type { EnigmaChain, EpochInfo } from "./chain/enigma-chain.js";
import type { ChainEvent } from "./chain/types.js";
import type { NodeConfig } from "./config.js";
import type { Logger, NodeMetrics } from "./observability.js";
import type { P2PNetwork } from "./p2p/network.js";
import type { NodeStore } from "./store/store.js";

export interface NodeContext {
  readonly config: NodeConfig;
  readonly store: NodeStore;
  readonly chain: EnigmaChain;
  readonly p2p: P2PNetwork;
  readonly metrics: NodeMetrics;
  readonly log: Logger;
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

/** Selections already computed, per epoch object (the chain's epoch cache keeps them). */
const selections = new WeakMap<EpochInfo, Map<string, Hex | undefined>>();
/**
 * Contracts remembered per epoch. Anyone can make a node compute a selection (an input for a
 * made-up contract address costs nothing to send), so the cache is bounded: the least recently
 * asked address goes first. A selection is a few hashes, so a miss costs microseconds.
 */
export const SELECTION_CACHE_MAX = 4_096;

/** The worker selected for `contract` in `epoch` (lower-case), or undefined when none is staked. */
export function selectedWorker(contract: string, epoch: EpochInfo): Hex | undefined {
  // Every task's check asks again (gateway, gossip, pipeline), and the selection hashes.
  let known = selections.get(epoch);
  if (known === undefined) {
    known = new Map();
    selections.set(epoch, known);
  }
  const key = contract.toLowerCase();
  if (known.has(key)) {
    const hit = known.get(key);
    // Most recently used last (Map keeps insertion order).
    known.delete(key);
    known.set(key, hit);
    return hit;
  }
  const w = selectWorker(contract, epoch);
  const selected = w === undefined ? undefined : (w.toLowerCase() as Hex);
  known.set(key, selected);
  if (known.size > SELECTION_CACHE_MAX) {
    const oldest = known.keys().next();
    if (oldest.done !== true) known.delete(oldest.value);
  }
  return selected;
}

/** How many selections are cached for `epoch` (tests). */
export function cachedSelections(epoch: EpochInfo): number {
  return selections.get(epoch)?.size ?? 0;
}

/** Whether `signer` is the selected worker of `contract` in the epoch in force at `blockNumber`. */
export async function isSelected(
  chain: EnigmaChain,
  contract: string,
  blockNumber: number,
  signer: string,
): Promise<boolean> {
  const epoch = await chain.getEpoch(blockNumber);
  if (epoch === undefined) return false;
  const w = selectedWorker(contract, epoch);
  return w !== undefined && sameAddress(w, signer);
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
