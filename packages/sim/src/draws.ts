// The simulator's draws: the same results as `referenceDraws` in @enigma/protocol (and the
// Solidity walk), computed fast. Draw 0 of every contract is hashed, reduced and walked in one
// WebAssembly call per epoch; the walk "first worker that takes r to zero or below" is a binary
// search over prefix sums (the first index whose prefix sum reaches r is exactly where the walk
// stops, a zero-stake first worker at r = 0 included). Arithmetic is exact: doubles and
// WebAssembly's i64 while the epoch's total stake is below 2^52, bigints above. A property test
// holds all of it to the reference.
import { EnigmaError, ErrorCode, type SelectionDraws } from "@enigma/protocol";
import { type DrawHasher, WASM_TOTAL_LIMIT, wordAt } from "./keccak-wasm.js";

/** Index of the first `prefix[i] >= r` in `[0, count)`, or `count` when none. */
function firstReaching(prefix: Float64Array, count: number, r: number): number {
  let lo = 0;
  let hi = count;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((prefix[mid] ?? 0) >= r) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** One epoch of a simulation: its snapshot, prefix sums and every contract's draw 0. */
export class SimEpoch {
  readonly index: number;
  readonly seed: Uint8Array;
  readonly workers: readonly string[];
  readonly stakes: readonly bigint[];
  readonly count: number;
  readonly total: bigint;
  readonly #hasher: DrawHasher;
  readonly #hashes: Uint8Array;
  /** Exact path (total below 2^52): prefix sums and stakes as doubles, draw 0 of each contract. */
  readonly #prefix: Float64Array | undefined;
  readonly #stake: Float64Array | undefined;
  /** Draws 0 .. prefetched-1 of every contract (exact path), by draw number. */
  readonly #batched: Int32Array[] = [];
  readonly #totalNumber: number;
  readonly #prefixBig: bigint[];
  #positions: Map<string, number> | undefined;

  constructor(
    index: number,
    seed: bigint,
    workers: readonly string[],
    stakes: readonly bigint[],
    hasher: DrawHasher,
    prefetch = 1,
  ) {
    this.index = index;
    this.seed = new Uint8Array(32);
    const seedView = new DataView(this.seed.buffer);
    for (let i = 0; i < 4; i++) {
      seedView.setBigUint64(8 * i, (seed >> BigInt(192 - 64 * i)) & 0xffffffffffffffffn);
    }
    this.workers = workers;
    this.stakes = stakes;
    this.count = workers.length;
    this.#hasher = hasher;
    let total = 0n;
    this.#prefixBig = stakes.map((s) => (total += s));
    this.total = total;
    this.#totalNumber = Number(total);
    this.#hashes = new Uint8Array(32 * hasher.contracts);
    const drawable = this.count > 0 && total > 0n;
    if (total < BigInt(WASM_TOTAL_LIMIT)) {
      this.#prefix = Float64Array.from(this.#prefixBig, Number);
      this.#stake = Float64Array.from(stakes, Number);
      // Every strategy makes draw 0 of every contract, a group of k draws 1 .. k-1 as well
      // (and a few more on repeats): batch those, one WebAssembly call each.
      for (let n = 0; drawable && n < prefetch; n++) {
        const indices = new Int32Array(hasher.contracts);
        const hashes = n === 0 ? this.#hashes : undefined;
        hasher.indexAll(this.seed, n, this.#prefix, this.#totalNumber, hashes, indices);
        this.#batched.push(indices);
      }
    } else if (drawable) {
      hasher.hashAll(this.seed, this.#hashes);
    }
  }

  /** The snapshot index of `worker` (case-insensitive), or -1. */
  indexOf(worker: string): number {
    if (this.#positions === undefined) {
      this.#positions = new Map();
      this.workers.forEach((w, i) => {
        const key = w.toLowerCase();
        if (!this.#positions?.has(key)) this.#positions?.set(key, i);
      });
    }
    return this.#positions.get(worker.toLowerCase()) ?? -1;
  }

  #hash(contract: number, n: number): bigint {
    return n === 0
      ? wordAt(new DataView(this.#hashes.buffer), 32 * contract)
      : this.#hasher.hashOne(this.seed, contract, n);
  }

  /** `hash(contract, n) mod t` on the exact path. */
  #reduce(contract: number, n: number, t: number): number {
    return n === 0
      ? this.#hasher.reduceWord(this.#hashes.subarray(32 * contract, 32 * contract + 32), t)
      : this.#hasher.reduceOne(this.seed, contract, n, t);
  }

  /** Discovery's draw `n` of `contract` (see `SelectionDraws.draw`). */
  draw(contract: number, n: number): number {
    if (this.count === 0 || this.total === 0n) return -1;
    if (this.#prefix !== undefined) {
      const batched = this.#batched[n];
      if (batched !== undefined) return batched[contract] ?? -1;
      const i = firstReaching(
        this.#prefix,
        this.count,
        this.#reduce(contract, n, this.#totalNumber),
      );
      return i < this.count ? i : this.count - 1;
    }
    const r = this.#hash(contract, n) % this.total;
    const prefix = this.#prefixBig;
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((prefix[mid] ?? 0n) >= r) hi = mid;
      else lo = mid + 1;
    }
    return lo < this.count ? lo : this.count - 1;
  }

  /** Draw `n` over the workers not in `excluded` (see `SelectionDraws.drawExcluding`). */
  drawExcluding(contract: number, n: number, excluded: readonly number[]): number {
    const ex = [...new Set(excluded)].sort((a, b) => a - b);
    for (const i of ex) {
      if (!Number.isInteger(i) || i < 0 || i >= this.count) {
        throw new EnigmaError(ErrorCode.InvalidArgument, "excluded index out of range", {
          details: { index: i, count: this.count },
        });
      }
    }
    let removed = 0n;
    for (const i of ex) removed += this.stakes[i] ?? 0n;
    const total = this.total - removed;
    if (this.count === ex.length || total === 0n) return -1;
    // f(i) = prefix(i) - stake of the excluded at or before i: non-decreasing, so the walk that
    // skips the excluded stops at the first non-excluded index at or after the first f(i) >= r.
    let lo = 0;
    let hi = this.count;
    const prefix = this.#prefix;
    const stake = this.#stake;
    if (prefix !== undefined && stake !== undefined) {
      const r = this.#reduce(contract, n, Number(total));
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        let f = prefix[mid] ?? 0;
        for (const e of ex) if (e <= mid) f -= stake[e] ?? 0;
        if (f >= r) hi = mid;
        else lo = mid + 1;
      }
    } else {
      const r = this.#hash(contract, n) % total;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        let f = this.#prefixBig[mid] ?? 0n;
        for (const e of ex) if (e <= mid) f -= this.stakes[e] ?? 0n;
        if (f >= r) hi = mid;
        else lo = mid + 1;
      }
    }
    let i = lo;
    while (i < this.count && ex.includes(i)) i++;
    if (i < this.count) return i;
    // The walk's "else the last" (not reached with r < total): the last non-excluded worker.
    for (let j = this.count - 1; j >= 0; j--) if (!ex.includes(j)) return j;
    return -1;
  }

  /** The stake of worker `i` as a number (exact while the total is below 2^52). */
  stakeNumber(i: number): number {
    return this.#stake?.[i] ?? Number(this.stakes[i] ?? 0n);
  }
}

function checkDrawNumber(n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new EnigmaError(ErrorCode.InvalidArgument, "draw number must be a non-negative integer", {
      details: { n },
    });
  }
}

/**
 * The draws of one contract in one epoch, for a strategy's `select`. One object per epoch is
 * re-bound to each contract in turn (`bind`), so a strategy must not keep it past `select`.
 */
export class SimDraws implements SelectionDraws {
  epochIndex: number;
  contract = "";
  contractTag = 0;
  count: number;
  readonly epoch: SimEpoch;
  readonly #contracts: readonly string[];
  readonly #tags: Uint32Array;
  #at = 0;

  constructor(epoch: SimEpoch, contracts: readonly string[], tags: Uint32Array) {
    this.epoch = epoch;
    this.epochIndex = epoch.index;
    this.count = epoch.count;
    this.#contracts = contracts;
    this.#tags = tags;
  }

  bind(contract: number): this {
    this.#at = contract;
    this.contract = this.#contracts[contract] ?? "";
    this.contractTag = this.#tags[contract] ?? 0;
    return this;
  }

  worker(index: number): string {
    const w = this.epoch.workers[index];
    if (w === undefined) {
      throw new EnigmaError(ErrorCode.InvalidArgument, "worker index out of range", {
        details: { index, count: this.count },
      });
    }
    return w;
  }

  indexOf(worker: string): number {
    return this.epoch.indexOf(worker);
  }

  draw(n: number): number {
    checkDrawNumber(n);
    return this.epoch.draw(this.#at, n);
  }

  drawExcluding(n: number, excluded: readonly number[]): number {
    checkDrawNumber(n);
    return this.epoch.drawExcluding(this.#at, n, excluded);
  }
}
