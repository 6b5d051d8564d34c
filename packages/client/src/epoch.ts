import { EnigmaError, ErrorCode, discoveryEpochs, type EpochPolicy } from "@enigma/protocol";

/** An epoch as `Enigma.getWorkerParams` gives it. */
export interface Epoch {
  firstBlockNumber: bigint;
  seed: bigint;
  workers: string[];
  stakes: bigint[];
}

export interface EpochSource {
  /** The newest epoch on chain (`getWorkerParams`). */
  read(): Promise<Epoch>;
  /** Blocks per epoch (`getEpochSize`: an immutable of the contract, asked once). */
  epochSize(): Promise<bigint>;
  /** The chain's head block number. */
  blockNumber(): Promise<number>;
}

/**
 * The epoch in force, read once per epoch instead of once per task. The `Enigma` contract
 * starts no epoch before the epoch policy's next epoch block (Discovery's: `firstBlockNumber +
 * epochSize`; earlier is `EpochTooEarly`), so while the head is `marginBlocks` short of that
 * block the cached epoch is the one a record sent now lands in;
 * near and past it every call reads the chain again. A record that still lands in a newer
 * epoch reverts `WrongEpoch` and the client retries after `invalidate()`.
 */
export class EpochCache {
  readonly #src: EpochSource;
  readonly #margin: bigint;
  readonly #policy: EpochPolicy;
  #size: Promise<bigint> | undefined;
  #cached: Epoch | undefined;
  #reading: Promise<Epoch> | undefined;

  constructor(src: EpochSource, marginBlocks = 4, policy: EpochPolicy = discoveryEpochs) {
    this.#src = src;
    this.#margin = BigInt(marginBlocks);
    this.#policy = policy;
  }

  /** The epoch read last, unchecked (undefined before the first read or after `invalidate`). */
  get cached(): Epoch | undefined {
    return this.#cached;
  }

  /** The current epoch; `NoEpoch` when none started yet. */
  async current(): Promise<Epoch> {
    const cached = this.#cached;
    if (cached !== undefined) {
      this.#size ??= this.#src.epochSize().catch((e: unknown) => {
        this.#size = undefined;
        throw e;
      });
      const [head, size] = await Promise.all([this.#src.blockNumber(), this.#size]);
      const next = this.#policy.nextEpochBlock(Number(cached.firstBlockNumber), Number(size));
      if (BigInt(head) + 1n + this.#margin < BigInt(next)) return cached;
    }
    // Concurrent callers share one read.
    this.#reading ??= this.#src
      .read()
      .then((e) => {
        if (e.firstBlockNumber === 0n) {
          throw new EnigmaError(
            ErrorCode.NoEpoch,
            "no epoch has started yet: wait for the principal",
          );
        }
        this.#cached = e;
        return e;
      })
      .finally(() => {
        this.#reading = undefined;
      });
    return this.#reading;
  }

  /** Forgets the cached epoch (after a `WrongEpoch` revert). */
  invalidate(): void {
    this.#cached = undefined;
  }
}
