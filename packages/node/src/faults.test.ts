import { describe, expect, it } from "vitest";
import { ErrorCode, isEnigmaError } from "@enigma/protocol";
import { FaultPoints, type FaultAction } from "./faults.js";

describe("fault points", () => {
  it("acts once at an armed point, after the reaches it skips, then disarms itself", () => {
    const acted: [FaultAction, string, string][] = [];
    const points = new FaultPoints((action, point, context) => {
      acted.push([action, point, context]);
    });
    points.reach("task-stored", "t0");
    expect(acted).toEqual([]);
    points.arm("task-stored", "crash", 2);
    points.reach("task-stored", "t1");
    points.reach("task-stored", "t2");
    expect(acted).toEqual([]);
    points.reach("task-stored", "t3");
    expect(acted).toEqual([["crash", "task-stored", "t3"]]);
    points.reach("task-stored", "t4");
    expect(acted).toHaveLength(1);
    expect(points.armed()).toEqual([]);
  });

  it("tells before it acts, and disarm() cancels", () => {
    const seen: string[] = [];
    const points = new FaultPoints(() => seen.push("acted"));
    points.onFire = (f, context) => seen.push(`fire ${f.point} ${context}`);
    points.arm("task-stored", "pause");
    expect(points.armed()).toEqual([{ point: "task-stored", action: "pause", skip: 0 }]);
    points.disarm();
    points.reach("task-stored", "x");
    expect(seen).toEqual([]);
    points.arm("task-stored", "pause");
    points.reach("task-stored", "y");
    expect(seen).toEqual(["fire task-stored y", "acted"]);
  });

  it("refuses unknown points, actions and skip counts with FaultSpecInvalid", () => {
    const points = new FaultPoints(() => undefined);
    for (const arm of [
      () => points.arm("nowhere", "crash"),
      () => points.arm("task-stored", "explode"),
      () => points.arm("task-stored", "crash", -1),
    ]) {
      let thrown: unknown;
      try {
        arm();
      } catch (e) {
        thrown = e;
      }
      expect(isEnigmaError(thrown, ErrorCode.FaultSpecInvalid)).toBe(true);
    }
    expect(points.armed()).toEqual([]);
  });
});
