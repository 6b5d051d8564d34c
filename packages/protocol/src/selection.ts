import { keccak_256 } from "@noble/hashes/sha3.js";
import { EnigmaError, ErrorCode } from "./errors.js";
import { bytesToHex, hexToBytes } from "./hex.js";

/**
 * One epoch's parameters as `Enigma.getWorkerParams(blockNumber)` returns them: the seed and
 * the workers' enclave signer addresses with their stakes, in the epoch's order.
 */
export interface EpochWorkers {
  readonly seed: bigint;
  readonly workers: readonly string[];
  readonly stakes: readonly bigint[];
}

/**
 * A worker-selection strategy: which workers serve a secret contract in an epoch. Swappable so
 * that a contributor can prototype another one; every strategy runs the shared suite in
 * `selection.test.ts`, and a strategy used on chain must also pass the Solidity parity test
 * (`contracts/test/selection.test.ts`).
 */
export interface WorkerSelectionStrategy {
  readonly name: string;
  /**
   * The `groupSize` workers (distinct signer addresses, in draw order) selected for `scAddr`.
   * Returns `[]` when the epoch has no worker or no stake.
   */
  selectWorkerGroup(scAddr: string, epoch: EpochWorkers, groupSize?: number): string[];
}

const U256 = 2n ** 256n;

function word(v: bigint, what: string): Uint8Array {
  if (v < 0n || v >= U256) {
    throw new EnigmaError(ErrorCode.InvalidArgument, `${what} must fit in uint256`, {
      details: { [what]: v.toString() },
    });
  }
  return hexToBytes(v.toString(16).padStart(64, "0"));
}

function checkEpoch(epoch: EpochWorkers): void {
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

/**
 * Draw `n` of DESIGN.md section 5: `r = keccak256(abi.encode(uint256 seed, bytes32 scAddr,
 * uint256 n)) % total`; walk the workers subtracting each stake; the first that takes `r` to
 * zero or below wins, else the last. Same as Solidity's `WorkerSelection.draw`. ("Zero or
 * below" gives the first worker one ticket more than its stake and the last one fewer; kept
 * for compatibility, negligible with stakes in grains.)
 */
export function drawWorker(
  scAddr: string,
  epoch: EpochWorkers,
  n: bigint | number = 0n,
): string | undefined {
  checkEpoch(epoch);
  const sc = hexToBytes(scAddr, "scAddr");
  if (sc.length !== 32) {
    throw new EnigmaError(ErrorCode.InvalidArgument, "scAddr must be 32 bytes", {
      details: { scAddr },
    });
  }
  const total = epoch.stakes.reduce((a, b) => a + b, 0n);
  if (epoch.workers.length === 0 || total === 0n) return undefined;
  const msg = new Uint8Array(96);
  msg.set(word(epoch.seed, "seed"), 0);
  msg.set(sc, 32);
  msg.set(word(BigInt(n), "n"), 64);
  let r = BigInt(bytesToHex(keccak_256(msg))) % total;
  for (let i = 0; i < epoch.workers.length; i++) {
    r -= epoch.stakes[i] ?? 0n;
    if (r <= 0n) return epoch.workers[i];
  }
  return epoch.workers[epoch.workers.length - 1];
}

/**
 * Discovery's selection (the default strategy): draws `n = 0, 1, ...` until `groupSize`
 * distinct workers are held. The network runs with a group size of 1, where only draw 0 is
 * made, which is exactly what the `Enigma` contract checks receipts against.
 *
 * @example
 * const [worker] = discoverySelection.selectWorkerGroup(scAddr, { seed, workers, stakes });
 */
export const discoverySelection: WorkerSelectionStrategy = Object.freeze({
  name: "discovery",
  selectWorkerGroup(scAddr: string, epoch: EpochWorkers, groupSize = 1): string[] {
    if (!Number.isInteger(groupSize) || groupSize < 1) {
      throw new EnigmaError(ErrorCode.InvalidArgument, "groupSize must be a positive integer", {
        details: { groupSize },
      });
    }
    checkEpoch(epoch);
    const eligible = new Set(epoch.workers.filter((_, i) => (epoch.stakes[i] ?? 0n) > 0n));
    if (groupSize > eligible.size && eligible.size > 0) {
      // Discovery's client loops forever here; refuse instead.
      throw new EnigmaError(ErrorCode.InvalidArgument, "groupSize exceeds the staked workers", {
        details: { groupSize, workers: eligible.size },
      });
    }
    const group: string[] = [];
    // A worker with a tiny share of the stake may take astronomically many draws to appear.
    const maxDraws = 10_000n * BigInt(groupSize);
    for (let n = 0n; group.length < groupSize; n++) {
      if (n >= maxDraws) {
        throw new EnigmaError(
          ErrorCode.InvalidArgument,
          "no distinct group within the draw limit",
          {
            details: { groupSize, draws: maxDraws.toString() },
          },
        );
      }
      const w = drawWorker(scAddr, epoch, n);
      if (w === undefined) return [];
      if (!group.some((g) => g.toLowerCase() === w.toLowerCase())) group.push(w);
    }
    return group;
  },
});

/** The selected worker (group size 1) for `scAddr`, or undefined when the epoch is empty. */
export function selectWorker(
  scAddr: string,
  epoch: EpochWorkers,
  strategy: WorkerSelectionStrategy = discoverySelection,
): string | undefined {
  return strategy.selectWorkerGroup(scAddr, epoch, 1)[0];
}
