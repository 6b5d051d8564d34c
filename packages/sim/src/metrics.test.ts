import { describe, expect, it } from "vitest";
import { gini, totalVariation, windowProbabilities } from "./metrics.js";

describe("measures", () => {
  it("Gini: 0 for equal loads, (n-1)/n when one worker has all, by hand in between", () => {
    expect(gini([5, 5, 5, 5])).toBe(0);
    expect(gini([0, 0, 0, 8])).toBeCloseTo(3 / 4, 12);
    // Sorted 1, 3: ((2-2-1)*1 + (4-2-1)*3) / (2 * 4) = 2/8.
    expect(gini([3, 1])).toBeCloseTo(0.25, 12);
    expect(gini([])).toBe(0);
    expect(gini([0, 0])).toBe(0);
  });

  it("total variation between distributions given as weights", () => {
    expect(totalVariation([1, 1], [2, 2])).toBe(0);
    expect(totalVariation([1, 0], [0, 1])).toBe(1);
    expect(totalVariation([3, 1], [1, 1])).toBeCloseTo(0.25, 12);
  });

  it("window probabilities from run lengths, counted by hand", () => {
    // 2 contracts x 4 epochs; runs: one of 3, one of 1. k=1: 4 held epochs of 8;
    // k=2: windows inside the 3-run = 2, of 2 * 3 windows; k=3: 1 of 2 * 2; k=4: 0 of 2.
    const h = [0, 1, 0, 1];
    expect(windowProbabilities(h, 2, 4, 10)).toEqual([4 / 8, 2 / 6, 1 / 4, 0]);
  });
});
