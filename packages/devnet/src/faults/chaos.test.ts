import { describe, expect, it } from "vitest";
import { ErrorCode, isEnigmaError } from "@enigma/protocol";
import { CHAOS_KINDS, chaosSchedule, seededRandom } from "./chaos.js";

const NODES = ["principal", "worker-1", "worker-2", "worker-3"];

describe("chaos schedule", () => {
  it("is the same for the same seed, and differs for another", () => {
    const a = chaosSchedule({ seed: "s", steps: 30, nodes: NODES });
    expect(chaosSchedule({ seed: "s", steps: 30, nodes: NODES })).toEqual(a);
    expect(chaosSchedule({ seed: "t", steps: 30, nodes: NODES })).not.toEqual(a);
    expect(seededRandom(1)()).toBe(seededRandom(1)());
  });

  it("hits workers with single-node faults and splits every node in two for a partition", () => {
    for (const step of chaosSchedule({ seed: "x", steps: 200, nodes: NODES })) {
      expect(CHAOS_KINDS).toContain(step.kind);
      expect(step.holdMs).toBeGreaterThanOrEqual(1_500);
      if (step.kind === "partition") {
        const groups = step.target as string[][];
        expect(groups).toHaveLength(2);
        expect(groups.every((g) => g.length > 0)).toBe(true);
        expect(groups.flat().sort()).toEqual([...NODES].sort());
      } else {
        expect(NODES.slice(1)).toContain(step.target);
      }
    }
  });

  it("includes the kinds it must, even in a short run", () => {
    const include = [
      "kill",
      "kill-task-stored",
      "kill-receipt-in-flight",
      "partition",
      "chain-outage",
    ] as const;
    for (const seed of ["a", "b", "c", "d"]) {
      const kinds = chaosSchedule({ seed, steps: 6, nodes: NODES, include }).map((s) => s.kind);
      for (const k of include) expect(kinds, seed).toContain(k);
    }
  });

  it("refuses unknown kinds and impossible schedules", () => {
    const bad = [
      () => chaosSchedule({ seed: 1, steps: 3, nodes: NODES, kinds: ["meteor" as "kill"] }),
      () => chaosSchedule({ seed: 1, steps: 1, nodes: NODES, include: ["kill", "pause"] }),
      () => chaosSchedule({ seed: 1, steps: 3, nodes: ["principal"] }),
    ];
    for (const f of bad) {
      let e: unknown;
      try {
        f();
      } catch (x) {
        e = x;
      }
      expect(isEnigmaError(e, ErrorCode.FaultSpecInvalid)).toBe(true);
    }
  });
});
