// The simulator's draws against the reference draws every node runs: equal for every input.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  getSelectionStrategy,
  referenceDraws,
  selectGroup,
  type SelectionEpoch,
} from "@enigma/protocol";
import { contractAddresses, selectionHistories } from "@enigma/protocol/testing";
import { SimDraws, SimEpoch } from "./draws.js";
import { DrawHasher } from "./keccak-wasm.js";

const bytes = (hex: string) => Uint8Array.from(Buffer.from(hex.slice(2), "hex"));
const tagOf = (hex: string) => Number.parseInt(hex.slice(-8), 16);

// Zero, tiny ("zero or below" edges), grain-sized, and totals past 2^53 (the bigint path).
const stake = fc.oneof(
  { weight: 1, arbitrary: fc.constant(0n) },
  { weight: 2, arbitrary: fc.bigInt({ min: 1n, max: 10n }) },
  { weight: 4, arbitrary: fc.bigInt({ min: 1n, max: 10n ** 14n }) },
  { weight: 1, arbitrary: fc.bigInt({ min: 2n ** 52n - 3n, max: 10n ** 24n }) },
);

function simEpochs(contracts: string[], epochs: readonly SelectionEpoch[]) {
  const hasher = new DrawHasher(contracts.map(bytes));
  const tags = Uint32Array.from(contracts, tagOf);
  return epochs.map(
    (e, i) =>
      new SimDraws(
        new SimEpoch(i, e.seed, e.workers, e.stakes, hasher, 1 + (i % 3)),
        contracts,
        tags,
      ),
  );
}

describe("simulator draws", () => {
  it("equal the reference draws, with and without exclusions", () => {
    fc.assert(
      fc.property(
        fc.array(contractAddresses, { minLength: 1, maxLength: 4 }),
        selectionHistories({ stake, maxEpochs: 1, maxWorkers: 9 }),
        fc.integer({ min: 0, max: 5 }),
        fc.array(fc.nat(), { maxLength: 4 }),
        (contracts, h, n, picks) => {
          const [sim] = simEpochs(contracts, [h.current]);
          contracts.forEach((sc, k) => {
            const ref = referenceDraws(sc, h.current);
            const d = sim?.bind(k);
            expect(d?.draw(n)).toBe(ref.draw(n));
            const excluded =
              h.current.workers.length === 0 ? [] : picks.map((p) => p % h.current.workers.length);
            expect(d?.drawExcluding(n, excluded)).toBe(ref.drawExcluding(n, excluded));
          });
        },
      ),
      { numRuns: 300 },
    );
  });

  it("give every registered strategy the reference's groups over whole histories", () => {
    for (const name of ["discovery", "group:3", "rotation:2", "rotation:3"]) {
      const strategy = getSelectionStrategy(name);
      fc.assert(
        fc.property(
          fc.array(contractAddresses, { minLength: 1, maxLength: 3 }),
          selectionHistories({ stake, maxEpochs: 4, maxWorkers: 8 }),
          (contracts, h) => {
            const sims = simEpochs(contracts, h.epochs);
            contracts.forEach((sc, k) => {
              const at = sims.length - 1;
              const current = sims[at]?.bind(k);
              if (current === undefined) throw new Error("no epoch");
              const picked = strategy.select(current, (back) => sims[at - back]?.bind(k));
              const fast = picked.map((i) => current.worker(i));
              expect(fast).toEqual(selectGroup(sc, h.current, strategy, h.lookup));
            });
          },
        ),
        { numRuns: 100 },
      );
    }
  });
});
