import { ErrorCode, isEnigmaError } from "@enigma/protocol";
import { describe, expect, it } from "vitest";
import { PRESETS, blockPaceMs, resolveDevnetOptions } from "./presets.js";

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
    expect(resolveDevnetOptions()).toEqual({
      workers: PRESETS.fast.workers,
      epochBlocks: 10,
      blockTime: "auto",
      taskTimeoutBlocks: 50,
      epochSeconds: 5,
      seed: "enigma",
      confirmations: 0,
      selection: "discovery",
      epochPolicy: "discovery",
    });
    const o = resolveDevnetOptions("realistic", { workers: 2, seed: undefined });
    expect(o).toEqual({
      workers: 2,
      epochBlocks: 100,
      blockTime: 1000,
      taskTimeoutBlocks: 300,
      // As long as the epoch's blocks (and confirmations) take at 1 s a block.
      epochSeconds: 102,
      seed: "enigma",
      confirmations: 2,
      selection: "discovery",
      epochPolicy: "discovery",
    });
    expect(Object.isFrozen(o)).toBe(true);
  });

  it("takes the policies by registry name, canonical, and refuses an epoch policy the contract does not implement", () => {
    expect(resolveDevnetOptions("fast", { selection: "group" }).selection).toBe("group:3");
    expect(resolveDevnetOptions("fast", { selection: "rotation:2" }).selection).toBe("rotation:2");
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        if (isEnigmaError(e)) return [e.code, e.details["path"]];
        throw e;
      }
      return undefined;
    };
    expect(code(() => resolveDevnetOptions("fast", { selection: "nope" }))?.[0]).toBe(
      ErrorCode.UnknownPolicy,
    );
    expect(code(() => resolveDevnetOptions("fast", { epochPolicy: "capped:10" }))).toEqual([
      ErrorCode.PolicyNotOnChain,
      "epochPolicy",
    ]);
  });

  it("derives the task timeout from the epoch length unless it is set", () => {
    // Refused before: "taskTimeoutBlocks (50) must exceed epochBlocks".
    expect(resolveDevnetOptions("fast", { epochBlocks: 100 }).taskTimeoutBlocks).toBe(500);
    expect(resolveDevnetOptions("realistic", { epochBlocks: 10 }).taskTimeoutBlocks).toBe(30);
    expect(
      resolveDevnetOptions("fast", { epochBlocks: 100, taskTimeoutBlocks: 120 }).taskTimeoutBlocks,
    ).toBe(120);
  });

  it("paces blocks so that an epoch (blocks plus confirmations) lasts epochSeconds", () => {
    expect(blockPaceMs(resolveDevnetOptions())).toBe(500);
    expect(blockPaceMs(resolveDevnetOptions("fast", { epochBlocks: 8, confirmations: 2 }))).toBe(
      500,
    );
    expect(blockPaceMs(resolveDevnetOptions("fast", { epochSeconds: 0 }))).toBeUndefined();
    // The realistic preset's own blocks already end its epochs in time.
    expect(blockPaceMs(resolveDevnetOptions("realistic"))).toBe(1000);
    // With automine the realistic preset paces at one block a second.
    expect(resolveDevnetOptions("realistic", { blockTime: "auto" }).epochSeconds).toBe(102);
    expect(resolveDevnetOptions("fast", { epochSeconds: 2.5 }).epochSeconds).toBe(2.5);
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
    ).toMatch(/^taskTimeoutBlocks: taskTimeoutBlocks \(50\) must be at least 102 /);
    // Confirmations delay both the epoch's end and the next epoch's start.
    expect(
      configError(() => resolveDevnetOptions("fast", { confirmations: 5, taskTimeoutBlocks: 21 })),
    ).toMatch(/^taskTimeoutBlocks: .*at least 22 /);
    expect(resolveDevnetOptions("fast", { confirmations: 5, taskTimeoutBlocks: 22 })).toMatchObject(
      { taskTimeoutBlocks: 22 },
    );
    for (const bad of [-1, 0.5, 86_401, Number.NaN]) {
      expect(configError(() => resolveDevnetOptions("fast", { epochSeconds: bad }))).toMatch(
        /^epochSeconds: epochSeconds must be 0 \(off\) or seconds from 1 to 86400/,
      );
    }
  });

  it("does not accept inherited keys as preset names", () => {
    expect(configError(() => resolveDevnetOptions("toString"))).toMatch(/unknown preset/);
  });
});
