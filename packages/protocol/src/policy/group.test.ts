import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { selectionStrategySuite } from "../testing.js";
import { discoverySelection } from "./discovery.js";
import { drawWorker, referenceDraws } from "./draws.js";
import { GROUP_MAX_DRAWS, groupSelection } from "./group.js";
import { selectGroup } from "./select.js";

selectionStrategySuite(groupSelection(3), { describe, it });
selectionStrategySuite(groupSelection(1), { describe, it }, { runs: 30 });

const A = `0x${"aa".repeat(20)}`;
const B = `0x${"bb".repeat(20)}`;
const C = `0x${"cc".repeat(20)}`;
const SC = `0x${"01".repeat(32)}`;

describe("group strategy", () => {
  it("draws as Discovery's getWorkerGroupImpl: distinct signers of draws 0, 1, ... in order", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 256n - 1n }), (seed) => {
        const e = { seed, workers: [A, B, C], stakes: [10n ** 8n, 2n * 10n ** 8n, 3n * 10n ** 8n] };
        const expected: string[] = [];
        for (let n = 0; expected.length < 2; n++) {
          const w = drawWorker(SC, e, n);
          if (w !== undefined && !expected.includes(w)) expected.push(w);
        }
        expect(selectGroup(SC, e, groupSelection(2))).toEqual(expected);
        // The first member is Discovery's worker, and group:1 is Discovery.
        expect(selectGroup(SC, e, groupSelection(1))).toEqual(
          selectGroup(SC, e, discoverySelection),
        );
      }),
      { numRuns: 50 },
    );
  });

  it("clamps the group to the epoch's workers, as Discovery did", () => {
    const e = { seed: 9n, workers: [A, B], stakes: [10n ** 8n, 10n ** 8n] };
    expect(selectGroup(SC, e, groupSelection(5))).toHaveLength(2);
  });

  it("settles for fewer members after GROUP_MAX_DRAWS draws instead of looping forever", () => {
    // B is last with a stake of 1: "zero or below" leaves it no ticket, so it is never drawn.
    const e = { seed: 9n, workers: [A, B], stakes: [10n ** 8n, 1n] };
    expect(selectGroup(SC, e, groupSelection(2))).toEqual([A]);
    let draws = 0;
    const d = referenceDraws(SC, e);
    const counting = {
      ...d,
      worker: (i: number) => d.worker(i),
      indexOf: (w: string) => d.indexOf(w),
      draw: (n: number) => (draws++, d.draw(n)),
    };
    groupSelection(2).select(counting, () => undefined);
    expect(draws).toBe(GROUP_MAX_DRAWS);
  });

  it("refuses a group size out of range with UnknownPolicy", () => {
    expect(() => groupSelection(0)).toThrow(/k must be an integer/);
    expect(() => groupSelection(65)).toThrow(/k must be an integer/);
  });
});
