import { EnigmaError, ErrorCode } from "../errors.js";
import { checkEpoch, referenceDraws } from "./draws.js";
import { drawDistinct } from "./group.js";
import type { EpochWorkers, SelectionDraws, WorkerSelectionStrategy } from "./types.js";

/** Discovery's strategy with the group-size argument of the earlier interface. */
export interface DiscoverySelection extends WorkerSelectionStrategy {
  /**
   * The `groupSize` workers (distinct signers, in draw order) Discovery's draws give for
   * `scAddr`; `[]` when the epoch has no worker or no stake. Refuses a group larger than the
   * staked workers (Discovery's contract would loop forever). Prefer `groupSelection(k)`.
   */
  selectWorkerGroup(scAddr: string, epoch: EpochWorkers, groupSize?: number): string[];
}

/**
 * Discovery's selection (the default strategy): the worker of draw 0, a group of one. This is
 * exactly what the `Enigma` contract checks receipts against (`WorkerSelection.drawStored`).
 *
 * @example
 * const [worker] = selectGroup(scAddr, { seed, workers, stakes }, discoverySelection);
 */
export const discoverySelection: DiscoverySelection = Object.freeze({
  name: "discovery",
  groupSize: 1,
  lookback: 0,
  select(d: SelectionDraws): number[] {
    const i = d.draw(0);
    return i < 0 ? [] : [i];
  },
  selectWorkerGroup(scAddr: string, epoch: EpochWorkers, groupSize = 1): string[] {
    if (!Number.isInteger(groupSize) || groupSize < 1) {
      throw new EnigmaError(ErrorCode.InvalidArgument, "groupSize must be a positive integer", {
        details: { groupSize },
      });
    }
    checkEpoch(epoch);
    const eligible = new Set(
      epoch.workers.filter((_, i) => (epoch.stakes[i] ?? 0n) > 0n).map((w) => w.toLowerCase()),
    );
    if (groupSize > eligible.size && eligible.size > 0) {
      // Discovery's client loops forever here; refuse instead.
      throw new EnigmaError(ErrorCode.InvalidArgument, "groupSize exceeds the staked workers", {
        details: { groupSize, workers: eligible.size },
      });
    }
    const d = referenceDraws(scAddr, epoch);
    // A worker with a tiny share of the stake may take astronomically many draws to appear.
    const maxDraws = 10_000 * groupSize;
    const group = drawDistinct(d, groupSize, maxDraws);
    if (group.length > 0 && group.length < groupSize) {
      throw new EnigmaError(ErrorCode.InvalidArgument, "no distinct group within the draw limit", {
        details: { groupSize, draws: maxDraws },
      });
    }
    return group.map((i) => d.worker(i));
  },
});
