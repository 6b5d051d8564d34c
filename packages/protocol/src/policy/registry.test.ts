import { describe, expect, it } from "vitest";
import { ErrorCode, isEnigmaError } from "../errors.js";
import { thrownCode } from "../testing.js";
import {
  EPOCH_POLICIES,
  SELECTION_STRATEGIES,
  getEpochPolicy,
  getSelectionStrategy,
  listEpochPolicies,
  listSelectionStrategies,
} from "./registry.js";

describe("policy registry", () => {
  it("names every strategy and policy by its registry name, parameter included", () => {
    expect(getSelectionStrategy("discovery").name).toBe("discovery");
    expect(getSelectionStrategy("group").name).toBe("group:3");
    expect(getSelectionStrategy("group:5").groupSize).toBe(5);
    expect(getSelectionStrategy("rotation:7").name).toBe("rotation:7");
    expect(getEpochPolicy("discovery").onChain).toBe(true);
    expect(getEpochPolicy("capped:25").name).toBe("capped:25");
    for (const d of listSelectionStrategies()) {
      expect(getSelectionStrategy(d.name).name.split(":")[0]).toBe(d.name);
      expect(d.solidity).toMatch(/^[A-Z]\w+Selection$/);
    }
    for (const d of listEpochPolicies())
      expect(getEpochPolicy(d.name).name.split(":")[0]).toBe(d.name);
    expect(SELECTION_STRATEGIES[0]?.name).toBe("discovery");
    expect(EPOCH_POLICIES[0]?.name).toBe("discovery");
  });

  it("returns the same instance for the same name", () => {
    expect(getSelectionStrategy("group:4")).toBe(getSelectionStrategy("group:4"));
  });

  it("refuses unknown names and bad parameters with UnknownPolicy, listing what is known", () => {
    let err: unknown;
    try {
      getSelectionStrategy("lottery");
    } catch (e) {
      err = e;
    }
    expect(isEnigmaError(err, ErrorCode.UnknownPolicy)).toBe(true);
    expect((err as Error).message).toContain("discovery, group[:N], rotation[:N]");
    for (const bad of ["discovery:2", "group:0", "group:x", "rotation:1", "Group", "", "group:"]) {
      expect(
        thrownCode(() => getSelectionStrategy(bad)),
        bad,
      ).toBe(ErrorCode.UnknownPolicy);
    }
    expect(thrownCode(() => getEpochPolicy("capped:0"))).toBe(ErrorCode.UnknownPolicy);
    expect(thrownCode(() => getEpochPolicy("fixed"))).toBe(ErrorCode.UnknownPolicy);
  });
});
