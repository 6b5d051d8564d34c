// Worker selection as a node runs it: the strategy the node was configured with (the one the
// Enigma contract was deployed with: checked at start), over the chain's epochs. Every check of
// "is this worker selected" in the node asks this one object; none re-derives a selection.
import {
  selectGroup,
  type EpochLookup,
  type Hex,
  type WorkerSelectionStrategy,
} from "@enigma/protocol";
import type { EpochInfo } from "./chain/types.js";

/**
 * Contracts remembered per epoch. Anyone can make a node compute a selection (an input for a
 * made-up contract address costs nothing to send), so the cache is bounded: the least recently
 * asked address goes first. A selection is a few hashes, so a miss costs microseconds.
 */
export const SELECTION_CACHE_MAX = 4_096;

/** Where earlier epochs come from (the chain adapter, which caches them). */
export interface EpochSource {
  getEpoch(blockNumber: number): Promise<EpochInfo | undefined>;
}

export class NodeSelection {
  readonly strategy: WorkerSelectionStrategy;
  readonly #epochs: EpochSource;
  /** Groups already computed, per epoch object (the chain's epoch cache keeps those). */
  readonly #groups = new WeakMap<EpochInfo, Map<string, readonly Hex[]>>();

  constructor(strategy: WorkerSelectionStrategy, epochs: EpochSource) {
    this.strategy = strategy;
    this.#epochs = epochs;
  }

  /**
   * The group selected for `contract` in `epoch` (lower-case signers, in draw order; empty when
   * nobody holds stake). Its first member is the worker a client picks by default.
   */
  async group(contract: string, epoch: EpochInfo): Promise<readonly Hex[]> {
    // Every task's check asks again (gateway, gossip, pipeline, results), and selection hashes.
    let known = this.#groups.get(epoch);
    if (known === undefined) {
      known = new Map();
      this.#groups.set(epoch, known);
    }
    const key = contract.toLowerCase();
    const hit = known.get(key);
    if (hit !== undefined) {
      // Most recently used last (Map keeps insertion order).
      known.delete(key);
      known.set(key, hit);
      return hit;
    }
    const previous = await this.#history(epoch);
    const group = Object.freeze(
      selectGroup(contract, epoch, this.strategy, previous).map((w) => w.toLowerCase() as Hex),
    );
    known.set(key, group);
    if (known.size > SELECTION_CACHE_MAX) {
      const oldest = known.keys().next();
      if (oldest.done !== true) known.delete(oldest.value);
    }
    return group;
  }

  /** Whether `signer` is in the group of `contract` in `epoch`. */
  async isMember(contract: string, epoch: EpochInfo, signer: string): Promise<boolean> {
    return (await this.group(contract, epoch)).includes(signer.toLowerCase() as Hex);
  }

  /** Whether `signer` is in the group of `contract` in the epoch in force at `blockNumber`. */
  async isSelectedAt(contract: string, blockNumber: number, signer: string): Promise<boolean> {
    const epoch = await this.#epochs.getEpoch(blockNumber);
    return epoch !== undefined && this.isMember(contract, epoch, signer);
  }

  /** How many groups are cached for `epoch` (tests). */
  cached(epoch: EpochInfo): number {
    return this.#groups.get(epoch)?.size ?? 0;
  }

  /**
   * The `lookback` epochs before `epoch`, fetched before selecting (a strategy's lookup is
   * synchronous): the epoch in force at the block before an epoch's first is its predecessor.
   */
  async #history(epoch: EpochInfo): Promise<EpochLookup | undefined> {
    const depth = this.strategy.lookback;
    if (depth === 0) return undefined;
    const known = new Map<number, EpochInfo>();
    let e: EpochInfo | undefined = epoch;
    for (let k = 0; k < depth && e !== undefined && e.index > 0; k++) {
      e = await this.#epochs.getEpoch(e.firstBlockNumber - 1);
      if (e !== undefined) known.set(e.index, e);
    }
    return (i) => known.get(i);
  }
}
