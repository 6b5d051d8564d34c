// The suites must be able to fail: each broken strategy below is caught by the test named.
import { describe, expect, it } from "vitest";
import { discoverySelection } from "../policy/discovery.js";
import { discoveryEpochs } from "../policy/epochs.js";
import type { EpochPolicy, SelectionDraws, WorkerSelectionStrategy } from "../policy/types.js";
import { epochPolicySuite } from "./epoch-suite.js";
import { selectionStrategySuite, type TestApi } from "./selection-suite.js";

/** Runs a suite's tests in place; the names of those that threw. */
async function failures(register: (t: TestApi) => void): Promise<string[]> {
  const tests: { name: string; body: () => void | Promise<void> }[] = [];
  register({
    describe: (_, body) => {
      body();
    },
    it: (name, body) => tests.push({ name, body }),
  });
  const failed: string[] = [];
  for (const t of tests) {
    try {
      await t.body();
    } catch {
      failed.push(t.name);
    }
  }
  return failed;
}

const quick = { runs: 40, samples: 4000 };
const broken = (name: string, select: WorkerSelectionStrategy["select"], more = {}) =>
  ({ name, groupSize: 1, lookback: 0, select, ...more }) as WorkerSelectionStrategy;

describe("selection compliance suite", () => {
  it("passes Discovery's strategy", async () => {
    expect(
      await failures((t) => {
        selectionStrategySuite(discoverySelection, t, quick);
      }),
    ).toEqual([]);
  });

  it("catches a strategy that is not deterministic", async () => {
    let calls = 0;
    const s = broken("flaky", (d) => {
      calls++;
      const i = d.draw(calls % 2);
      return i < 0 ? [] : [i];
    });
    expect(
      await failures((t) => {
        selectionStrategySuite(s, t, quick);
      }),
    ).toContain("is deterministic: the same epochs give the same group");
  });

  it("catches one that ignores stake, in the statistical test", async () => {
    const s = broken("uniform", (d: SelectionDraws) =>
      d.count === 0 || d.draw(0) < 0 ? [] : [d.contractTag % d.count],
    );
    const failed = await failures((t) => {
      selectionStrategySuite(s, t, quick);
    });
    expect(failed).toContain(
      "selects distinct workers of the epoch that hold stake, at most groupSize",
    );
    expect(failed.some((n) => n.startsWith("is stake-proportional"))).toBe(true);
  });

  it("catches one that reads history it did not declare", async () => {
    const s = broken("peeking", (d, history) => {
      history(1);
      const i = d.draw(0);
      return i < 0 ? [] : [i];
    });
    expect(
      await failures((t) => {
        selectionStrategySuite(s, t, quick);
      }),
    ).toContain("reads no epoch beyond its lookback");
  });

  it("catches one that does not fill its group", async () => {
    const s = broken("short", (d) => (d.draw(0) < 0 ? [] : [d.draw(0)]), { groupSize: 2 });
    expect(
      await failures((t) => {
        selectionStrategySuite(s, t, quick);
      }),
    ).toContain("fills its group when enough workers hold comparable stake");
  });
});

describe("epoch policy compliance suite", () => {
  it("passes Discovery's epochs and catches a policy that breaks login order or stake", async () => {
    expect(
      await failures((t) => {
        epochPolicySuite(discoveryEpochs, t, { runs: 30 });
      }),
    ).toEqual([]);
    const reversed: EpochPolicy = {
      ...discoveryEpochs,
      name: "reversed",
      snapshot: (w, th) => {
        const s = discoveryEpochs.snapshot([...w].reverse(), th);
        return { workers: s.workers, stakes: s.stakes.map((x) => x + 1n) };
      },
      lastEpochBlock: (f, n) => f + n,
    };
    expect(
      await failures((t) => {
        epochPolicySuite(reversed, t, { runs: 30 });
      }),
    ).toEqual([
      "moves epochs forward, and its boundaries agree with each other",
      "snapshots eligible logged-in workers, in login order, never above their stake",
    ]);
  });
});
