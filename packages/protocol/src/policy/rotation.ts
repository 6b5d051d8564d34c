import { EnigmaError, ErrorCode } from "../errors.js";
import { integerParameter } from "./group.js";
import type { DrawsHistory, SelectionDraws, WorkerSelectionStrategy } from "./types.js";

/**
 * Term limits: a worker keeps a contract at most `maxEpochs` epochs in a row. Each contract's
 * epochs are cut into terms of `maxEpochs` (staggered per contract: a term starts when
 * `(epoch index + contractTag) % maxEpochs == 0`). Inside a term the worker is Discovery's
 * (draw 0). At a term's first epoch, when draw 0 picks the worker that held the contract in the
 * previous epoch, the same hash is drawn again over the others' stake (`drawExcluding(0,
 * [holder])`); when nobody else holds stake, the holder stays.
 *
 * Why this shape: the previous holder is Discovery's worker of the previous epoch (that epoch
 * is never a term start, since `maxEpochs >= 2`), so the rule looks back exactly one epoch and
 * never recurses; on chain the strategy reads the previous epoch's snapshot, which `Enigma`
 * keeps anyway. Given a change, the new worker is stake-weighted among the others; the cost is
 * a forced hand-over every `maxEpochs` epochs (more state-key hand-overs than Discovery), the
 * gain is that no single worker holds a contract's state for longer than a term.
 *
 * @example
 * const [worker] = selectGroup(scAddr, current, rotationSelection(4), (i) => epochs[i]);
 */
export function rotationSelection(maxEpochs: number): WorkerSelectionStrategy {
  const term = integerParameter("rotation", "maxEpochs", maxEpochs, 2, 1_000_000);
  const name = `rotation:${term}`;
  return Object.freeze({
    name,
    groupSize: 1,
    lookback: 1,
    select(current: SelectionDraws, history: DrawsHistory): number[] {
      const base = current.draw(0);
      if (base < 0) return [];
      const index = current.epochIndex;
      if (index === undefined) {
        throw new EnigmaError(
          ErrorCode.SelectionHistoryMissing,
          `${name} needs the epoch's index`,
          { details: { contract: current.contract } },
        );
      }
      if ((index + current.contractTag) % term !== 0) return [base];
      const previous = history(1);
      if (previous === undefined) return [base];
      const held = previous.draw(0);
      if (held < 0 || previous.worker(held).toLowerCase() !== current.worker(base).toLowerCase()) {
        return [base];
      }
      const other = current.drawExcluding(0, [base]);
      return [other < 0 ? base : other];
    },
  });
}
