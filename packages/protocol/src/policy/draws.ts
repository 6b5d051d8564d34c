// The reference draws: a literal copy of the Solidity walk (`contracts/selection/SelectionDraws.sol`
// and `libraries/WorkerSelection.sol`), in bigints. Nodes, clients and the CLI select with these;
// the simulator has a batched twin that a property test holds to the same results.
import { keccak_256 } from "@noble/hashes/sha3.js";
import { EnigmaError, ErrorCode } from "../errors.js";
import { bytesToHex, hexToBytes } from "../hex.js";
import type {
  DrawsHistory,
  EpochLookup,
  EpochWorkers,
  SelectionDraws,
  SelectionEpoch,
} from "./types.js";

const U256 = 2n ** 256n;

function word(v: bigint, what: string): Uint8Array {
  if (v < 0n || v >= U256) {
    throw new EnigmaError(ErrorCode.InvalidArgument, `${what} must fit in uint256`, {
      details: { [what]: v.toString() },
    });
  }
  return hexToBytes(v.toString(16).padStart(64, "0"));
}

/** Checks that an epoch has one stake per worker and that every stake fits in uint256. */
export function checkEpoch(epoch: EpochWorkers): void {
  if (epoch.workers.length !== epoch.stakes.length) {
    throw new EnigmaError(
      ErrorCode.InvalidArgument,
      "workers and stakes must have one entry each",
      {
        details: { workers: epoch.workers.length, stakes: epoch.stakes.length },
      },
    );
  }
  for (const s of epoch.stakes) word(s, "stake");
}

function contractBytes(scAddr: string): Uint8Array {
  const sc = hexToBytes(scAddr, "scAddr");
  if (sc.length !== 32) {
    throw new EnigmaError(ErrorCode.InvalidArgument, "scAddr must be 32 bytes", {
      details: { scAddr },
    });
  }
  return sc;
}

/** `uint256(keccak256(abi.encode(uint256 seed, bytes32 scAddr, uint256 n)))`. */
function drawHash(seed: Uint8Array, sc: Uint8Array, n: number): bigint {
  const msg = new Uint8Array(96);
  msg.set(seed, 0);
  msg.set(sc, 32);
  msg.set(word(BigInt(n), "n"), 64);
  return BigInt(bytesToHex(keccak_256(msg)));
}

function checkDrawNumber(n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new EnigmaError(ErrorCode.InvalidArgument, "draw number must be a non-negative integer", {
      details: { n },
    });
  }
}

/**
 * The walk of DESIGN.md section 5 over the workers not in `excluded`: `r = hash % total`
 * (total of their stakes); the first that takes `r` to zero or below wins, else the last one.
 * ("Zero or below" gives the first worker one ticket more than its stake and the last one
 * fewer; kept for compatibility, negligible with stakes in grains.)
 */
function walk(
  hash: bigint,
  stakes: readonly bigint[],
  excluded: ReadonlySet<number> | undefined,
): number {
  let total = 0n;
  let last = -1;
  for (let i = 0; i < stakes.length; i++) {
    if (excluded?.has(i) === true) continue;
    total += stakes[i] ?? 0n;
    last = i;
  }
  if (last < 0 || total === 0n) return -1;
  let r = hash % total;
  for (let i = 0; i < stakes.length; i++) {
    if (excluded?.has(i) === true) continue;
    const stake = stakes[i] ?? 0n;
    if (r <= stake) return i;
    r -= stake;
  }
  return last;
}

class ReferenceDraws implements SelectionDraws {
  readonly epochIndex: number | undefined;
  readonly contract: string;
  readonly contractTag: number;
  readonly count: number;
  readonly #epoch: SelectionEpoch;
  readonly #seed: Uint8Array;
  readonly #sc: Uint8Array;
  readonly #hashes = new Map<number, bigint>();
  #index: Map<string, number> | undefined;

  constructor(scAddr: string, epoch: SelectionEpoch) {
    checkEpoch(epoch);
    if (
      epoch.index !== undefined &&
      (!Number.isSafeInteger(epoch.index) || epoch.index < 0 || epoch.index >= 2 ** 32)
    ) {
      throw new EnigmaError(ErrorCode.InvalidArgument, "epoch index must be a uint32", {
        details: { index: epoch.index },
      });
    }
    this.#sc = contractBytes(scAddr);
    this.#seed = word(epoch.seed, "seed");
    this.#epoch = epoch;
    this.epochIndex = epoch.index;
    this.contract = bytesToHex(this.#sc);
    this.contractTag = new DataView(this.#sc.buffer, this.#sc.byteOffset).getUint32(28);
    this.count = epoch.workers.length;
  }

  worker(index: number): string {
    const w = this.#epoch.workers[index];
    if (w === undefined) {
      throw new EnigmaError(ErrorCode.InvalidArgument, "worker index out of range", {
        details: { index, count: this.count },
      });
    }
    return w;
  }

  indexOf(worker: string): number {
    if (this.#index === undefined) {
      this.#index = new Map();
      this.#epoch.workers.forEach((w, i) => {
        const key = w.toLowerCase();
        if (!this.#index?.has(key)) this.#index?.set(key, i);
      });
    }
    return this.#index.get(worker.toLowerCase()) ?? -1;
  }

  #hash(n: number): bigint {
    checkDrawNumber(n);
    let h = this.#hashes.get(n);
    if (h === undefined) {
      h = drawHash(this.#seed, this.#sc, n);
      this.#hashes.set(n, h);
    }
    return h;
  }

  draw(n: number): number {
    if (this.count === 0) return -1;
    return walk(this.#hash(n), this.#epoch.stakes, undefined);
  }

  drawExcluding(n: number, excluded: readonly number[]): number {
    for (const i of excluded) {
      if (!Number.isInteger(i) || i < 0 || i >= this.count) {
        throw new EnigmaError(ErrorCode.InvalidArgument, "excluded index out of range", {
          details: { index: i, count: this.count },
        });
      }
    }
    if (this.count === 0) return -1;
    return walk(this.#hash(n), this.#epoch.stakes, new Set(excluded));
  }
}

/**
 * The reference draws of `scAddr` in `epoch` (validated: one stake per worker, uint256 values,
 * a 32-byte address).
 */
export function referenceDraws(scAddr: string, epoch: SelectionEpoch): SelectionDraws {
  return new ReferenceDraws(scAddr, epoch);
}

function missing(message: string, details: Record<string, unknown>): EnigmaError {
  return new EnigmaError(ErrorCode.SelectionHistoryMissing, message, { details });
}

/**
 * The earlier epochs' draws of `scAddr`, read through `previous` (by epoch index). A strategy
 * that looks back gets `undefined` before the first epoch, and a `SelectionHistoryMissing`
 * error when the caller cannot say what an earlier epoch was: guessing would select another
 * worker than the chain.
 */
export function referenceHistory(
  scAddr: string,
  epoch: SelectionEpoch,
  previous: EpochLookup | undefined,
): DrawsHistory {
  return (back) => {
    if (!Number.isSafeInteger(back) || back < 1) {
      throw new EnigmaError(ErrorCode.InvalidArgument, "history offset must be >= 1", {
        details: { back },
      });
    }
    if (epoch.index === undefined) {
      throw missing("this selection strategy needs the epoch's index", { back });
    }
    const wanted = epoch.index - back;
    if (wanted < 0) return undefined;
    const e = previous?.(wanted);
    if (e === undefined) {
      throw missing(`this selection strategy needs epoch ${wanted}, which was not given`, {
        epoch: epoch.index,
        wanted,
      });
    }
    return referenceDraws(scAddr, { ...e, index: wanted });
  };
}

/**
 * The worker picked by Discovery's draw `n` (DESIGN.md section 5), or undefined when the epoch
 * has no worker or no stake. Same as Solidity's `WorkerSelection.draw`.
 */
export function drawWorker(
  scAddr: string,
  epoch: EpochWorkers,
  n: bigint | number = 0n,
): string | undefined {
  const d = referenceDraws(scAddr, epoch);
  const i = d.draw(Number(n));
  return i < 0 ? undefined : d.worker(i);
}
