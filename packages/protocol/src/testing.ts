import { isEnigmaError } from "./errors.js";

/**
 * Test helpers (subpath `@enigma/protocol/testing`): which catalog code an operation failed
 * with. `undefined` when it did not fail; -1 when it failed with something that is not an
 * EnigmaError (a test should treat that as a bug: every failure must be typed).
 *
 * @example
 * expect(thrownCode(() => aesDecrypt(key, tampered))).toBe(ErrorCode.DecryptionFailed);
 */
export function thrownCode(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (e) {
    return isEnigmaError(e) ? e.code : -1;
  }
  return undefined;
}

/** The async form of `thrownCode`, for a promise. */
export async function rejectedCode(p: Promise<unknown>): Promise<number | undefined> {
  try {
    await p;
  } catch (e) {
    return isEnigmaError(e) ? e.code : -1;
  }
  return undefined;
}

// Compliance suites for policies (worker-selection strategies, epoch policies), and the
// statistics they use.
export {
  contractAddresses,
  selectionHistories,
  selectionStrategySuite,
} from "./testing/selection-suite.js";
export type {
  HistoryOptions,
  SelectionHistory,
  SelectionSuiteOptions,
  TestApi,
} from "./testing/selection-suite.js";
export { epochPolicySuite } from "./testing/epoch-suite.js";
export type { EpochSuiteOptions } from "./testing/epoch-suite.js";
export { chiSquarePValue, chiSquareTest, gammaQ, lnGamma } from "./testing/stats.js";
export type { ChiSquareResult } from "./testing/stats.js";
