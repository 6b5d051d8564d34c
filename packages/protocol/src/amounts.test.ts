import { formatUnits, parseUnits } from "ethers";
import { describe, expect, it } from "vitest";
import { engToGrains, grainsToEng } from "./amounts.js";
import { ErrorCode, isEnigmaError } from "./errors.js";

describe("ENG amounts", () => {
  it("agrees with ethers' 8-decimal parse and format", () => {
    for (const s of ["0", "1", "1.5", "0.00000001", "150000000", "12.34567891"]) {
      expect(engToGrains(s)).toBe(parseUnits(s, 8));
      expect(grainsToEng(engToGrains(s))).toBe(
        formatUnits(parseUnits(s, 8), 8).replace(/\.0$/, ""),
      );
    }
  });

  it("formats negatives (balances deltas) and trims zeros", () => {
    expect(grainsToEng(-150_000_000n)).toBe("-1.5");
    expect(grainsToEng(100_000_000n)).toBe("1");
  });

  it("rejects inexact or malformed amounts with a typed error", () => {
    for (const bad of ["", "-1", "1.123456789", "1e8", "abc", "1."]) {
      let caught: unknown;
      try {
        engToGrains(bad);
      } catch (e) {
        caught = e;
      }
      expect(isEnigmaError(caught, ErrorCode.InvalidAmount), bad).toBe(true);
    }
  });
});
