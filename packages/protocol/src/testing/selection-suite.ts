// The compliance suite every worker-selection strategy passes before it is used (modeled on
// js-libp2p's interface-compliance-tests: the suite is a function, a strategy adopts it in a few
// lines). Test-framework agnostic: it takes `describe` and `it`, and fails by throwing.
import fc from "fast-check";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { isEnigmaError } from "../errors.js";
import { bytesToHex } from "../hex.js";
import { selectGroup } from "../policy/select.js";
import type { EpochLookup, SelectionEpoch, WorkerSelectionStrategy } from "../policy/types.js";
import { chiSquareTest } from "./stats.js";

/** The part of a test framework the suites use (vitest, mocha, node:test all fit). */
export interface TestApi {
  describe(name: string, body: () => void): void;
  it(name: string, body: () => void | Promise<void>): void;
}

export interface SelectionSuiteOptions {
  /** Seed of every random input (fast-check and the statistical test). Default 0x5eed. */
  seed?: number;
  /** Runs per property. Default 100. */
  runs?: number;
  /**
   * Significance level of the stake-proportionality test: the probability that a correct
   * strategy fails it for a given seed. Default 1e-6 (with the fixed default seed the outcome
   * is deterministic; change the seed and a correct strategy still fails one time in a million).
   */
  alpha?: number;
  /** Contracts drawn for the proportionality test. Default 20,000. */
  samples?: number;
}

const json = (v: unknown) =>
  JSON.stringify(v, (_, x: unknown) => (typeof x === "bigint" ? x.toString() : x));

function fail(message: string, details?: unknown): never {
  throw new Error(details === undefined ? message : `${message}: ${json(details)}`);
}

const hexOf = (bytes: number) =>
  fc.uint8Array({ minLength: bytes, maxLength: bytes }).map((b) => bytesToHex(b));
/** Random 32-byte secret-contract addresses. */
export const contractAddresses = hexOf(32);
const contractArb = contractAddresses;
const seedArb = fc.bigInt({ min: 0n, max: 2n ** 256n - 1n });

/** A history of epochs 0..last: `current` is the last one, `lookup` reads any by index. */
export interface SelectionHistory {
  epochs: SelectionEpoch[];
  lookup: EpochLookup;
  current: SelectionEpoch;
}

export interface HistoryOptions {
  /** Stakes of the pool's workers (each epoch draws a fresh one per worker). */
  stake: fc.Arbitrary<bigint>;
  /** Epochs in a history: 1 to this. */
  maxEpochs: number;
  /** Give the first worker of each epoch stake (Discovery's walk stops at a zero-stake first worker when r = 0). */
  firstPositive?: boolean;
  /** Distinct workers in the pool: 1 to this (default 12). */
  maxWorkers?: number;
}

/**
 * Random epoch histories as a network produces them: a pool of distinct workers, each epoch a
 * subset of it (mostly the same workers from one epoch to the next, in a rotated order) with
 * fresh seeds and stakes. Shared by this suite and the Solidity agreement helper.
 */
export function selectionHistories(o: HistoryOptions): fc.Arbitrary<SelectionHistory> {
  return fc
    .record({
      pool: fc.uniqueArray(hexOf(20), { minLength: 1, maxLength: o.maxWorkers ?? 12 }),
      count: fc.integer({ min: 1, max: o.maxEpochs }),
    })
    .chain(({ pool, count }) =>
      fc
        .array(
          fc.record({
            seed: seedArb,
            mask: fc.array(
              fc.boolean().map((b) => b || pool.length === 1),
              {
                minLength: pool.length,
                maxLength: pool.length,
              },
            ),
            stakes: fc.array(o.stake, { minLength: pool.length, maxLength: pool.length }),
            rotate: fc.nat({ max: pool.length - 1 }),
          }),
          { minLength: count, maxLength: count },
        )
        .map((raw) => {
          const epochs = raw.map((r, index): SelectionEpoch => {
            const order = [...pool.slice(r.rotate), ...pool.slice(0, r.rotate)];
            const workers: string[] = [];
            const stakes: bigint[] = [];
            order.forEach((w, i) => {
              // Most workers stay from one epoch to the next (the first always does).
              if (r.mask[i] !== true && i !== 0 && i % 3 === 0) return;
              workers.push(w);
              stakes.push(r.stakes[i] ?? 0n);
            });
            if (o.firstPositive === true && stakes[0] === 0n) stakes[0] = 10n ** 6n;
            return { seed: r.seed, workers, stakes, index };
          });
          const current = epochs[epochs.length - 1];
          if (current === undefined) throw new Error("empty history");
          return { epochs, current, lookup: (i: number) => epochs[i] };
        }),
    );
}

const lower = (ws: readonly string[]) => ws.map((w) => w.toLowerCase());

/**
 * Registers the compliance tests of `strategy`.
 *
 * @example
 * import { describe, it } from "vitest";
 * selectionStrategySuite(groupSelection(3), { describe, it });
 */
export function selectionStrategySuite(
  strategy: WorkerSelectionStrategy,
  t: TestApi,
  options: SelectionSuiteOptions = {},
): void {
  const seed = options.seed ?? 0x5eed;
  const numRuns = options.runs ?? 100;
  const alpha = options.alpha ?? 1e-6;
  const samples = options.samples ?? 20_000;
  const maxEpochs = strategy.lookback + 3;
  const check = <T>(arb: fc.Arbitrary<T>, body: (v: T) => void) => {
    fc.assert(fc.property(arb, body), { seed, numRuns });
  };
  const staked = fc.oneof(
    { weight: 1, arbitrary: fc.constant(0n) },
    { weight: 4, arbitrary: fc.bigInt({ min: 10n ** 6n, max: 10n ** 12n }) },
  );
  // Comparable stakes (within a factor 2): a group of k fills within a few dozen draws.
  const comparable = fc.bigInt({ min: 5n * 10n ** 7n, max: 10n ** 8n });

  t.describe(`selection strategy "${strategy.name}" (compliance)`, () => {
    t.it("declares a name, a group size and a lookback", () => {
      if (!/^[a-z][a-z0-9-]*(:\d+)?$/.test(strategy.name)) {
        fail("name must read like a registry name (`rotation:4`)", strategy.name);
      }
      if (!Number.isSafeInteger(strategy.groupSize) || strategy.groupSize < 1) {
        fail("groupSize must be a positive integer", strategy.groupSize);
      }
      if (!Number.isSafeInteger(strategy.lookback) || strategy.lookback < 0) {
        fail("lookback must be a non-negative integer", strategy.lookback);
      }
    });

    t.it("is deterministic: the same epochs give the same group", () => {
      check(fc.tuple(contractArb, selectionHistories({ stake: staked, maxEpochs })), ([sc, h]) => {
        const a = selectGroup(sc, h.current, strategy, h.lookup);
        const b = selectGroup(sc, { ...h.current }, strategy, (i) => {
          const e = h.epochs[i];
          return e === undefined ? undefined : { ...e };
        });
        if (json(a) !== json(b)) fail("two selections of the same input differ", { a, b, sc });
      });
    });

    t.it("selects distinct workers of the epoch that hold stake, at most groupSize", () => {
      check(
        fc.tuple(
          contractArb,
          selectionHistories({ stake: staked, maxEpochs, firstPositive: true }),
        ),
        ([sc, h]) => {
          const group = lower(selectGroup(sc, h.current, strategy, h.lookup));
          const holders = new Set(
            lower(h.current.workers.filter((_, i) => (h.current.stakes[i] ?? 0n) > 0n)),
          );
          if (group.length > strategy.groupSize) fail("group larger than groupSize", group);
          if (new Set(group).size !== group.length) fail("a worker appears twice", group);
          for (const w of group) {
            if (!holders.has(w)) fail("selected a worker outside the epoch or without stake", w);
          }
          if (holders.size > 0 && group.length === 0) fail("nobody selected although stake exists");
        },
      );
    });

    t.it("fills its group when enough workers hold comparable stake", () => {
      check(
        fc.tuple(
          contractArb,
          selectionHistories({ stake: comparable, maxEpochs, firstPositive: true }),
        ),
        ([sc, h]) => {
          const group = selectGroup(sc, h.current, strategy, h.lookup);
          const want = Math.min(strategy.groupSize, h.current.workers.length);
          if (group.length !== want) {
            fail(`expected ${want} workers`, { group, workers: h.current.workers.length });
          }
        },
      );
    });

    t.it("selects nobody when the epoch has no worker or no stake", () => {
      check(fc.tuple(contractArb, selectionHistories({ stake: staked, maxEpochs })), ([sc, h]) => {
        const empty = { ...h.current, workers: [], stakes: [] };
        const unstaked = { ...h.current, stakes: h.current.stakes.map(() => 0n) };
        for (const e of [empty, unstaked]) {
          const group = selectGroup(sc, e, strategy, h.lookup);
          if (group.length !== 0) fail("selected a worker without stake", { group, epoch: e });
        }
      });
    });

    t.it("reads no epoch beyond its lookback", () => {
      check(
        fc.tuple(contractArb, selectionHistories({ stake: staked, maxEpochs: maxEpochs + 2 })),
        ([sc, h]) => {
          const index = h.current.index ?? 0;
          const fenced: EpochLookup = (i) => {
            if (i < index - strategy.lookback || i >= index) {
              fail(`read epoch ${i} from epoch ${index} with lookback ${strategy.lookback}`);
            }
            return h.lookup(i);
          };
          const a = selectGroup(sc, h.current, strategy, fenced);
          const b = selectGroup(sc, h.current, strategy, h.lookup);
          if (json(a) !== json(b)) fail("the group depends on how history is read", { a, b });
        },
      );
    });

    t.it("rejects malformed epochs and addresses with typed errors", () => {
      const w = `0x${"22".repeat(20)}`;
      const sc = `0x${"11".repeat(32)}`;
      const bad: [string, SelectionEpoch][] = [
        [sc, { seed: 1n, workers: [w], stakes: [], index: 0 }],
        [`0x${"11".repeat(20)}`, { seed: 1n, workers: [w], stakes: [1n], index: 0 }],
        [sc, { seed: -1n, workers: [w], stakes: [1n], index: 0 }],
        [sc, { seed: 1n, workers: [w], stakes: [-1n], index: 0 }],
      ];
      for (const [addr, e] of bad) {
        let err: unknown;
        try {
          selectGroup(addr, e, strategy, () => e);
        } catch (caught) {
          err = caught;
        }
        if (!isEnigmaError(err)) fail("malformed input was not refused with an EnigmaError", e);
      }
    });

    t.it(
      `is stake-proportional in an epoch without history (chi-square, false-failure rate ${alpha})`,
      () => {
        const tag = new TextEncoder().encode(`selection-suite ${seed}`);
        const h = (i: number, what: number) => {
          const m = new Uint8Array(tag.length + 8);
          m.set(tag);
          new DataView(m.buffer).setUint32(tag.length, what);
          new DataView(m.buffer).setUint32(tag.length + 4, i);
          return keccak_256(m);
        };
        // Shares 1/36 ... 8/36: unequal, every expected count far above 5.
        const workers: string[] = Array.from({ length: 8 }, (_, i) =>
          bytesToHex(h(i, 1).subarray(0, 20)),
        );
        const stakes = workers.map((_, i) => BigInt(i + 1) * 10n ** 8n);
        const total = stakes.reduce((a, b) => a + b, 0n);
        const epoch: SelectionEpoch = {
          seed: BigInt(bytesToHex(h(0, 2))),
          workers,
          stakes,
          index: 0,
        };
        const counts = new Array<number>(workers.length).fill(0);
        for (let i = 0; i < samples; i++) {
          const [first] = selectGroup(bytesToHex(h(i, 3)), epoch, strategy, () => undefined);
          const at = first === undefined ? -1 : workers.indexOf(first);
          if (at < 0) fail("no worker selected in a staked epoch", { contract: i });
          counts[at] = (counts[at] ?? 0) + 1;
        }
        const result = chiSquareTest(
          counts,
          stakes.map((s) => Number(s) / Number(total)),
        );
        if (result.pValue < alpha) {
          fail("first members are not distributed like stake", {
            ...result,
            counts,
            expected: stakes.map((s) => (Number(s) / Number(total)) * samples),
          });
        }
      },
    );
  });
}
