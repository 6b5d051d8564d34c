import { describe, expect, it } from "vitest";
import { ErrorCode, isEnigmaError } from "@enigma/protocol";
import { parseScenario } from "./scenario.js";

function issuesOf(input: unknown): { path: string; message: string }[] {
  try {
    parseScenario(input);
  } catch (e) {
    if (isEnigmaError(e, ErrorCode.InvalidScenario)) {
      return e.details.issues as { path: string; message: string }[];
    }
    throw e;
  }
  throw new Error("expected the scenario to be refused");
}

const ok = { workers: { count: 10 }, contracts: 100, epochs: 5 };

describe("scenario", () => {
  it("fills in the defaults: equal stakes of 1000 ENG, Discovery's policies, no churn, no coalition", () => {
    const s = parseScenario(ok);
    expect(s.workers.stake).toEqual({ distribution: "equal", mean: 1000n * 10n ** 8n });
    expect(s.selection).toBe("discovery");
    expect(s.epochPolicy).toBe("discovery");
    expect(s.churn).toEqual({ joins: 0, leaves: 0 });
    expect(s.adversary.stakeShare).toBe(0);
    expect(s.stakingThreshold).toBe(10n ** 8n);
    expect(s.seed).toBe("0");
  });

  it("reads ENG amounts as numbers or decimal strings, and explicit lists", () => {
    const s = parseScenario({
      workers: {
        list: [{ signer: `0x${"AB".repeat(20)}`, stake: "1.5" }],
        stake: { distribution: "zipf", mean: 2 },
      },
      contracts: [`0x${"01".repeat(32)}`],
      epochs: 2,
      seeds: [`0x${"00".repeat(32)}`, `0x${"ff".repeat(32)}`],
      seed: 42,
    });
    expect(s.workers.count).toBe(1);
    expect(s.workers.list?.[0]).toEqual({ signer: `0x${"ab".repeat(20)}`, stake: 150_000_000n });
    expect(s.seed).toBe("42");
  });

  it("refuses bad input with every problem and its path", () => {
    expect(issuesOf({ ...ok, workers: { count: 0 } })).toEqual([
      { path: "workers.count", message: "workers.count must be at least 1" },
    ]);
    expect(issuesOf({ ...ok, selection: "lottery" })[0]?.path).toBe("selection");
    expect(issuesOf({ ...ok, selection: "lottery" })[0]?.message).toMatch(
      /unknown selection strategy "lottery"/,
    );
    expect(issuesOf({ ...ok, epochPolicy: "capped:0" })[0]?.path).toBe("epochPolicy");
    expect(issuesOf({ ...ok, seeds: [] })[0]?.path).toBe("seeds");
    expect(issuesOf({ ...ok, firstEpochIndex: -1 })[0]?.path).toBe("firstEpochIndex");
    expect(issuesOf({ ...ok, firstEpochIndex: 1.5 })[0]?.path).toBe("firstEpochIndex");
    expect(issuesOf({ ...ok, adversary: { stakeShare: 1.5 } })[0]?.path).toBe(
      "adversary.stakeShare",
    );
    expect(
      issuesOf({ ...ok, workers: { count: 3, stake: { distribution: "pareto" } } })[0]?.path,
    ).toBe("workers.stake.distribution");
    expect(issuesOf({ ...ok, contracts: 100_000, epochs: 100_000 })[0]?.path).toBe("contracts");
    expect(issuesOf({ ...ok, colour: "blue" })[0]?.message).toMatch(/colour/);
    expect(issuesOf({ ...ok, workers: {} })[0]?.path).toBe("workers.count");
    expect(issuesOf({ ...ok, stakingThreshold: "1.123456789" })[0]?.path).toBe("stakingThreshold");
    const many = issuesOf({ workers: { count: -1 }, contracts: "x", epochs: 0 });
    expect(many.map((i) => i.path)).toEqual(["workers.count", "contracts", "epochs"]);
  });

  it("says what is wrong in the message, paths first", () => {
    let message = "";
    try {
      parseScenario({ ...ok, epochs: 0 });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toBe("invalid scenario: epochs: epochs must be at least 1");
  });
});
