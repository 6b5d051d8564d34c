import { EnigmaError, ErrorCode } from "../errors.js";
import { sameAddress } from "../keys.js";
import { discoverySelection } from "./discovery.js";
import { referenceDraws, referenceHistory } from "./draws.js";
import type { EpochLookup, SelectionEpoch, WorkerSelectionStrategy } from "./types.js";

/**
 * Checks a strategy's output: distinct indices of the snapshot, at most `groupSize` of them. A
 * plug-in's output is checked here, once, rather than trusted by every caller.
 */
export function checkGroup(
  strategy: WorkerSelectionStrategy,
  picked: readonly number[],
  count: number,
): void {
  const bad = () =>
    new EnigmaError(
      ErrorCode.InvalidArgument,
      `strategy ${strategy.name} returned an invalid group`,
      {
        details: { group: [...picked], count, groupSize: strategy.groupSize },
      },
    );
  if (picked.length > strategy.groupSize) throw bad();
  for (let a = 0; a < picked.length; a++) {
    const i = picked[a] ?? -1;
    if (!Number.isInteger(i) || i < 0 || i >= count) throw bad();
    for (let b = 0; b < a; b++) if (picked[b] === i) throw bad();
  }
}

/**
 * The group `strategy` selects for `scAddr` in `epoch` (signer addresses, in draw order; `[]`
 * when nobody holds stake). A strategy that looks back reads earlier epochs through `previous`
 * (by epoch index) and needs `epoch.index`; without them it throws `SelectionHistoryMissing`.
 *
 * @example
 * const group = selectGroup(scAddr, epoch, getSelectionStrategy("group:3"));
 */
export function selectGroup(
  scAddr: string,
  epoch: SelectionEpoch,
  strategy: WorkerSelectionStrategy = discoverySelection,
  previous?: EpochLookup,
): string[] {
  const draws = referenceDraws(scAddr, epoch);
  const picked = strategy.select(draws, referenceHistory(scAddr, epoch, previous));
  checkGroup(strategy, picked, draws.count);
  return picked.map((i) => draws.worker(i));
}

/**
 * The first member of the group (the selected worker for group size 1), or undefined when
 * nobody holds stake.
 *
 * @example
 * const worker = selectWorker(scAddr, { seed, workers, stakes });
 */
export function selectWorker(
  scAddr: string,
  epoch: SelectionEpoch,
  strategy: WorkerSelectionStrategy = discoverySelection,
  previous?: EpochLookup,
): string | undefined {
  return selectGroup(scAddr, epoch, strategy, previous)[0];
}

/** Whether `signer` is in the group `strategy` selects for `scAddr` in `epoch`. */
export function isSelectedWorker(
  signer: string,
  scAddr: string,
  epoch: SelectionEpoch,
  strategy: WorkerSelectionStrategy = discoverySelection,
  previous?: EpochLookup,
): boolean {
  return selectGroup(scAddr, epoch, strategy, previous).some((w) => sameAddress(w, signer));
}
