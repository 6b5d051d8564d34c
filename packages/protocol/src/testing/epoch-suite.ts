// The compliance suite of an epoch policy (see selection-suite.ts for the shape).
import fc from "fast-check";
import { bytesToHex } from "../hex.js";
import type { EpochPolicy, WorkerStanding } from "../policy/types.js";
import type { TestApi } from "./selection-suite.js";

export interface EpochSuiteOptions {
  /** Seed of every random input. Default 0x5eed. */
  seed?: number;
  /** Runs per property. Default 100. */
  runs?: number;
}

function fail(message: string, details?: unknown): never {
  const json = JSON.stringify(details, (_, x: unknown) =>
    typeof x === "bigint" ? x.toString() : x,
  );
  throw new Error(details === undefined ? message : `${message}: ${json}`);
}

const standingArb = fc.uniqueArray(
  fc.record({
    signer: fc.uint8Array({ minLength: 20, maxLength: 20 }).map((b) => bytesToHex(b)),
    stake: fc.bigInt({ min: 0n, max: 10n ** 24n }),
  }),
  { maxLength: 24, selector: (w) => w.signer },
);

/**
 * Registers the compliance tests of an epoch policy: boundaries that move forward and agree
 * with each other, a snapshot drawn from the logged-in workers in their order, a state-key
 * window that holds the current epoch and no future one.
 *
 * @example
 * epochPolicySuite(cappedEpochs(10), { describe, it });
 */
export function epochPolicySuite(
  policy: EpochPolicy,
  t: TestApi,
  options: EpochSuiteOptions = {},
): void {
  const params = { seed: options.seed ?? 0x5eed, numRuns: options.runs ?? 100 };
  const block = fc.integer({ min: 0, max: 2 ** 40 });
  const size = fc.integer({ min: 1, max: 100_000 });

  t.describe(`epoch policy "${policy.name}" (compliance)`, () => {
    t.it("moves epochs forward, and its boundaries agree with each other", () => {
      fc.assert(
        fc.property(block, size, fc.integer({ min: 0, max: 200_000 }), (first, n, ahead) => {
          const next = policy.nextEpochBlock(first, n);
          const last = policy.lastEpochBlock(first, n);
          if (!(next > first)) fail("the next epoch must start after this one", { first, next });
          if (last !== next - 1 || last < first)
            fail("last block != next start - 1", { last, next });
          const head = first + ahead;
          const due = policy.isEpochDue(head, { firstBlockNumber: first }, n);
          if (due !== head >= next)
            fail("isEpochDue disagrees with nextEpochBlock", { head, next });
          if (!policy.isEpochDue(head, undefined, n)) fail("the first epoch must be due at once");
        }),
        params,
      );
    });

    t.it("snapshots eligible logged-in workers, in login order, never above their stake", () => {
      fc.assert(
        fc.property(standingArb, fc.bigInt({ min: 0n, max: 10n ** 20n }), (loggedIn, threshold) => {
          const snap = policy.snapshot(loggedIn, threshold);
          const again = policy.snapshot(
            loggedIn.map((w) => ({ ...w })),
            threshold,
          );
          if (snap.workers.length !== snap.stakes.length) fail("one stake per worker", snap);
          if (
            snap.workers.join() !== again.workers.join() ||
            snap.stakes.join() !== again.stakes.join()
          ) {
            fail("the snapshot is not deterministic");
          }
          let from = 0;
          snap.workers.forEach((w, i) => {
            const at = loggedIn.findIndex((x, j) => j >= from && x.signer === w);
            const standing: WorkerStanding | undefined = loggedIn[at];
            if (standing === undefined) fail("a worker not logged in, or out of login order", w);
            from = at + 1;
            const stake = snap.stakes[i] ?? -1n;
            if (stake < 0n || stake > standing.stake) fail("counted stake outside [0, balance]", w);
            if (standing.stake < threshold) fail("a worker below the staking threshold", w);
          });
        }),
        params,
      );
    });

    t.it("authorizes state keys for the current epoch, never a future one", () => {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 2 ** 31 }), (current) => {
          const epochs = policy.stateKeyEpochs(current);
          if (epochs[0] !== current) fail("the current epoch must come first", epochs);
          epochs.forEach((e, i) => {
            if (!Number.isSafeInteger(e) || e < 0 || e > current)
              fail("an impossible epoch", epochs);
            if (i > 0 && e >= (epochs[i - 1] ?? 0)) fail("epochs must be newest first", epochs);
          });
        }),
        params,
      );
    });

    t.it("rescans at least one epoch of blocks", () => {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 10_000 }), size, (timeout, n) => {
          if (policy.rescanBlocks(timeout, n) < n) fail("rescan window shorter than an epoch");
        }),
        params,
      );
    });
  });
}
