import { ErrorCode, isEnigmaError } from "@enigma/protocol";
import { describe, expect, it } from "vitest";
import { accountKey, baseSeed, nodeSeed, startDevnet } from "./devnet.js";

async function configPath(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (isEnigmaError(e, ErrorCode.InvalidConfig)) return String(e.details["path"]);
    throw e;
  }
  throw new Error("expected InvalidConfig");
}

describe("startDevnet options", () => {
  it("refuses bad options before it starts anything, naming the field", async () => {
    expect(await configPath(startDevnet({ workers: 0 }))).toBe("workers");
    expect(await configPath(startDevnet({ preset: "slow" }))).toBe("preset");
    expect(await configPath(startDevnet({ epochBlocks: 1 }))).toBe("epochBlocks");
    expect(await configPath(startDevnet({ seed: "" }))).toBe("seed");
    expect(await configPath(startDevnet({ users: -1 }))).toBe("users");
    expect(await configPath(startDevnet({ chainPort: 70_000 }))).toBe("chainPort");
  });
});

describe("seed derivation", () => {
  it("takes a 32-byte hex seed as is and hashes any other text", () => {
    const hex = `0x${"42".repeat(32)}` as const;
    expect(baseSeed(hex)).toEqual(new Uint8Array(32).fill(0x42));
    expect(baseSeed("demo")).toEqual(baseSeed("demo"));
    expect(baseSeed("demo")).not.toEqual(baseSeed("demo2"));
  });

  it("derives node seeds as the node fixture does, and distinct account keys", () => {
    const base = new Uint8Array(32).fill(0x42);
    expect(nodeSeed(base, 0)).toBe(`0x${"42".repeat(32)}`);
    expect(nodeSeed(base, 3)).toBe(`0x${"42".repeat(31)}45`);
    const keys = new Set(
      ["custodian", "user"].flatMap((p) => [0, 1, 2].map((i) => accountKey(base, p, i))),
    );
    expect(keys.size).toBe(6);
    expect(accountKey(base, "user", 1)).toBe(accountKey(new Uint8Array(base), "user", 1));
  });
});
