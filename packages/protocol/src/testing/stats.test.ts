import { describe, expect, it } from "vitest";
import { chiSquarePValue, chiSquareTest, lnGamma } from "./stats.js";

describe("chi-square test", () => {
  it("gives the p-values of the published tables", () => {
    // Critical values at 5% and 1% (any statistics textbook's table).
    expect(chiSquarePValue(3.841, 1)).toBeCloseTo(0.05, 4);
    expect(chiSquarePValue(14.067, 7)).toBeCloseTo(0.05, 4);
    expect(chiSquarePValue(23.209, 10)).toBeCloseTo(0.01, 4);
    expect(chiSquarePValue(59.703, 30)).toBeCloseTo(0.001, 4);
    expect(chiSquarePValue(0, 4)).toBe(1);
    expect(lnGamma(5)).toBeCloseTo(Math.log(24), 12);
    expect(lnGamma(0.5)).toBeCloseTo(Math.log(Math.sqrt(Math.PI)), 12);
  });

  it("accepts a fair sample and rejects a loaded one", () => {
    expect(chiSquareTest([251, 249, 250, 250], [0.25, 0.25, 0.25, 0.25]).pValue).toBeGreaterThan(
      0.99,
    );
    expect(chiSquareTest([400, 200, 200, 200], [0.25, 0.25, 0.25, 0.25]).pValue).toBeLessThan(
      1e-10,
    );
    expect(() => chiSquareTest([1, 2], [0.5, 0.5])).toThrow(/below 5/);
  });
});
