import { ErrorCode, isEnigmaError } from "@enigma/protocol";
import { describe, expect, it } from "vitest";
import { PRESETS, resolveDevnetOptions } from "./presets.js";

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (isEnigmaError(e, ErrorCode.InvalidConfig))
      return `${String(e.details["path"])}: ${e.message}`;
    throw e;
  }
  throw new Error("expected InvalidConfig");
}

describe("resolveDevnetOptions", () => {
  it("returns the preset, with overrides applied and undefined ones ignored", () => {
    expect(resolveDevnetOptions()).toEqual(PRESETS.fast);
    const o = resolveDevnetOptions("realistic", { workers: 2, seed: undefined });
    expect(o).toMatchObject({
      workers: 2,
      epochBlocks: 100,
      blockTime: 1000,
      seed: "enigma",
      confirmations: 2,
    });
    expect(Object.isFrozen(o)).toBe(true);
  });

  it("names the field and the allowed range for bad values", () => {
    expect(configError(() => resolveDevnetOptions("slow"))).toMatch(
      /^preset: unknown preset "slow"/,
    );
    expect(configError(() => resolveDevnetOptions("fast", { workers: 0 }))).toMatch(
      /^workers: .*from 1 to 64/,
    );
    expect(configError(() => resolveDevnetOptions("fast", { epochBlocks: 2.5 }))).toMatch(
      /^epochBlocks:/,
    );
    expect(configError(() => resolveDevnetOptions("fast", { blockTime: 0 }))).toMatch(
      /^blockTime:/,
    );
    expect(configError(() => resolveDevnetOptions("fast", { seed: "" }))).toMatch(/^seed:/);
    expect(configError(() => resolveDevnetOptions("fast", { confirmations: -1 }))).toMatch(
      /^confirmations: .*from 0 to 64/,
    );
    expect(
      configError(() => resolveDevnetOptions("fast", { epochBlocks: 100, taskTimeoutBlocks: 50 })),
    ).toMatch(/^taskTimeoutBlocks: .*must exceed epochBlocks/);
  });

  it("does not accept inherited keys as preset names", () => {
    expect(configError(() => resolveDevnetOptions("toString"))).toMatch(/unknown preset/);
  });
});
