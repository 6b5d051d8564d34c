import { ErrorCode, isEnigmaError } from "@enigma/protocol";
import { describe, expect, it } from "vitest";
import { startDevnet } from "./devnet.js";

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
    expect(
      await configPath(startDevnet({ faultyWorker: "slow" as unknown as "measurement" })),
    ).toBe("faultyWorker");
  });
});
