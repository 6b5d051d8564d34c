// Results whose delta came ahead of its predecessors. Gossip does not keep order: a worker's
// results k and k+1 can reach a node as k+1, k (through different mesh peers). A delta is
// stored only at its own index on the delta it was built on, so k+1 cannot be stored before k.
// Dropping it would leave a gap that only a peer request or the chain's sync fills, and a node
// that is the contract's next worker would run on the state before k+1: a fork at k+1 that
// the chain settles by refunding one side (`pnpm bench:chaos`'s soak refunded hundreds of
// tasks a run that way at epoch hand-overs). So such a result is held here, verified, until
// the delta before it is stored, and then stored in turn.
//
// Bounded in entries and in delta bytes; the oldest go first (a peer request or the chain's
// sync fills what is dropped).
import type { TaskResult } from "../messages.js";

/** Results held at most. */
const MAX_RESULTS = 1_024;
/** Delta data held at most (hex characters, 2 per byte): 32 MiB of deltas. */
const MAX_HEX_CHARS = 64 * 1024 * 1024;

const keyOf = (contract: string, index: number) => `${contract.toLowerCase()}:${index}`;

export class AheadResults {
  /** Insertion order is age order. */
  readonly #held = new Map<string, TaskResult>();
  #hexChars = 0;
  readonly #maxResults: number;
  readonly #maxHexChars: number;

  constructor(o: { maxResults?: number; maxHexChars?: number } = {}) {
    this.#maxResults = o.maxResults ?? MAX_RESULTS;
    this.#maxHexChars = o.maxHexChars ?? MAX_HEX_CHARS;
  }

  get size(): number {
    return this.#held.size;
  }

  /**
   * Holds a verified result whose delta could not be stored yet. The first one held at an index
   * stays (a second result at the same index is a fork: the chain decides between them).
   */
  hold(r: TaskResult): void {
    if (r.delta === null) return;
    const key = keyOf(r.contractAddress, r.delta.index);
    if (this.#held.has(key)) return;
    this.#held.set(key, r);
    this.#hexChars += r.delta.data.length;
    while (this.#held.size > this.#maxResults || this.#hexChars > this.#maxHexChars) {
      const oldest = this.#held.keys().next();
      if (oldest.done === true) break;
      this.#drop(oldest.value);
    }
  }

  /**
   * The held result at `index` of `contract` (the node has `index` deltas of it, so it is the
   * next to store), taken out. The one at `index - 1`, filled meanwhile by another path, is
   * dropped.
   */
  take(contract: string, index: number): TaskResult | undefined {
    if (this.#held.size === 0) return undefined;
    if (index > 0) this.#drop(keyOf(contract, index - 1));
    const key = keyOf(contract, index);
    const r = this.#held.get(key);
    if (r !== undefined) this.#drop(key);
    return r;
  }

  #drop(key: string): void {
    const r = this.#held.get(key);
    if (r === undefined) return;
    this.#held.delete(key);
    this.#hexChars -= r.delta?.data.length ?? 0;
  }
}
