import { EnigmaError, ErrorCode } from "../errors.js";
import type { SelectionDraws, WorkerSelectionStrategy } from "./types.js";

/**
 * Draws a group may take before it settles for fewer members. Discovery's contract loops until
 * the group is full, and forever when it cannot be (fewer drawable workers than the group); we
 * stop here, on chain too (`GroupSelection.MAX_DRAWS`), and keep the members found.
 */
export const GROUP_MAX_DRAWS = 1024;

/**
 * Discovery's group rule (`getWorkerGroupImpl` in enigma-contract's `WorkersImpl.sol`): draws
 * `n = 0, 1, ...`, keeping each signer not already held, until `size` are held or `maxDraws`
 * draws were made. `[]` when nobody holds stake.
 */
export function drawDistinct(d: SelectionDraws, size: number, maxDraws: number): number[] {
  const group: number[] = [];
  const held: string[] = [];
  for (let n = 0; group.length < size && n < maxDraws; n++) {
    const i = d.draw(n);
    if (i < 0) return [];
    const w = d.worker(i).toLowerCase();
    if (!held.includes(w)) {
      held.push(w);
      group.push(i);
    }
  }
  return group;
}

/** Checks a strategy parameter: an integer in `[min, max]`. */
export function integerParameter(
  strategy: string,
  what: string,
  value: number,
  min: number,
  max: number,
): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new EnigmaError(
      ErrorCode.UnknownPolicy,
      `${strategy}: ${what} must be an integer from ${min} to ${max}`,
      { details: { [what]: value } },
    );
  }
  return value;
}

/**
 * Groups of `k` workers per contract, drawn as Discovery's contract drew them for its
 * `workerGroupSize` (the group is clamped to the epoch's worker count; a receipt from any member
 * is accepted). Draw 0 gives the first member, so the first member is Discovery's worker.
 *
 * @example
 * const members = selectGroup(scAddr, epoch, groupSelection(3));
 */
export function groupSelection(k: number): WorkerSelectionStrategy {
  const size = integerParameter("group", "k", k, 1, 64);
  return Object.freeze({
    name: `group:${size}`,
    groupSize: size,
    lookback: 0,
    select(d: SelectionDraws): number[] {
      return drawDistinct(d, Math.min(size, d.count), GROUP_MAX_DRAWS);
    },
  });
}
