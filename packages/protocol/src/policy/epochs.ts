import { EnigmaError, ErrorCode } from "../errors.js";
import { integerParameter } from "./group.js";
import type { EpochPolicy, EpochStart, WorkerStanding } from "./types.js";

function checkBlocks(firstBlock: number, epochSize: number): void {
  if (!Number.isSafeInteger(firstBlock) || firstBlock < 0) {
    throw new EnigmaError(ErrorCode.InvalidArgument, "firstBlock must be a block number", {
      details: { firstBlock },
    });
  }
  if (!Number.isSafeInteger(epochSize) || epochSize < 1) {
    throw new EnigmaError(ErrorCode.InvalidArgument, "epochSize must be a positive integer", {
      details: { epochSize },
    });
  }
}

function eligible(
  loggedIn: readonly WorkerStanding[],
  stakingThreshold: bigint,
): { workers: string[]; stakes: bigint[] } {
  if (stakingThreshold < 0n) {
    throw new EnigmaError(ErrorCode.InvalidArgument, "stakingThreshold must not be negative", {
      details: { stakingThreshold: stakingThreshold.toString() },
    });
  }
  const workers: string[] = [];
  const stakes: bigint[] = [];
  for (const w of loggedIn) {
    if (w.stake < 0n) {
      throw new EnigmaError(ErrorCode.InvalidArgument, "a stake must not be negative", {
        details: { signer: w.signer, stake: w.stake.toString() },
      });
    }
    if (w.stake < stakingThreshold) continue;
    workers.push(w.signer);
    stakes.push(w.stake);
  }
  return { workers, stakes };
}

/**
 * Discovery's epochs, as the `Enigma` contract implements them (`setWorkersParams`): an epoch
 * lasts at least `epochSize` blocks from the block it was set in (the next one starts when the
 * principal's transaction is mined, at `firstBlock + epochSize` or later); it snapshots the
 * logged-in workers holding at least the staking threshold, in login order, each with its whole
 * balance; a contract's state key goes to the worker selected in the current epoch or in the
 * previous one (a task recorded just before a boundary still runs); a restarting node rescans
 * `taskTimeout + epochSize` blocks.
 */
export const discoveryEpochs: EpochPolicy = Object.freeze({
  name: "discovery",
  onChain: true,
  nextEpochBlock(firstBlock: number, epochSize: number): number {
    checkBlocks(firstBlock, epochSize);
    return firstBlock + epochSize;
  },
  lastEpochBlock(firstBlock: number, epochSize: number): number {
    checkBlocks(firstBlock, epochSize);
    return firstBlock + epochSize - 1;
  },
  isEpochDue(head: number, current: EpochStart | undefined, epochSize: number): boolean {
    if (current === undefined) return true;
    checkBlocks(current.firstBlockNumber, epochSize);
    return head >= current.firstBlockNumber + epochSize;
  },
  snapshot: eligible,
  stateKeyEpochs(current: number): number[] {
    if (!Number.isSafeInteger(current) || current < 0) {
      throw new EnigmaError(ErrorCode.InvalidArgument, "epoch index must be >= 0", {
        details: { current },
      });
    }
    return current > 0 ? [current, current - 1] : [current];
  },
  rescanBlocks(taskTimeout: number, epochSize: number): number {
    checkBlocks(taskTimeout, epochSize);
    return taskTimeout + epochSize;
  },
});

/**
 * Discovery's epochs with each worker's counted stake capped at `percent`% of the eligible
 * stake (at least 1 grain): a whale weighs at most that much in selection. Simulation only for
 * now (`onChain: false`): the `Enigma` contract snapshots whole balances until it delegates the
 * snapshot to a policy.
 *
 * @example
 * runSimulation({ ...scenario, epochPolicy: "capped:10" });
 */
export function cappedEpochs(percent: number): EpochPolicy {
  const p = integerParameter("capped", "percent", percent, 1, 100);
  return Object.freeze({
    ...discoveryEpochs,
    name: `capped:${p}`,
    onChain: false,
    snapshot(loggedIn: readonly WorkerStanding[], stakingThreshold: bigint) {
      const s = eligible(loggedIn, stakingThreshold);
      const total = s.stakes.reduce((a, b) => a + b, 0n);
      const floor = (total * BigInt(p)) / 100n;
      const cap = floor > 0n ? floor : 1n;
      return { workers: s.workers, stakes: s.stakes.map((x) => (x > cap ? cap : x)) };
    },
  });
}
