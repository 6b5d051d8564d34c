// The ordering rule on its own: record order per contract, a deadline for missing inputs, and
// a skip only for the task whose turn passed.
import { describe, expect, it } from "vitest";
import { TaskOrdering } from "./ordering.js";

const DEADLINE = 1_000;
const ids = (ts: { taskId: string }[]) => ts.map((t) => t.taskId);

function ordering() {
  return new TaskOrdering<string>({ deadlineMs: DEADLINE });
}

describe("TaskOrdering", () => {
  it("runs the tasks of a contract in record order, whatever order their inputs came in", () => {
    const o = ordering();
    o.record("a", 1, 0);
    o.record("b", 2, 0);
    o.record("c", 3, 0);
    o.ready("c", "C1", "c");
    o.ready("b", "C1", "b");
    // a's input is missing: b and c wait for it.
    expect(o.decide(10)).toEqual({ run: [], skip: [], wakeAt: DEADLINE });
    o.ready("a", "C1", "a");
    expect(ids(o.decide(20).run)).toEqual(["a", "b", "c"]);
  });

  it("a missing input holds tasks of every contract (it may be for any of them) until its deadline", () => {
    const o = ordering();
    o.record("slow", 1, 0);
    o.record("x", 2, 0);
    o.ready("x", "C2", "x");
    expect(o.decide(DEADLINE - 1).run).toEqual([]);
    expect(ids(o.decide(DEADLINE).run)).toEqual(["x"]);
  });

  it("an input after its deadline still runs when no later task of its contract ran", () => {
    const o = ordering();
    o.record("slow", 1, 0);
    o.record("x", 2, 0);
    o.ready("x", "C2", "x");
    expect(ids(o.decide(DEADLINE).run)).toEqual(["x"]);
    o.ready("slow", "C1", "slow");
    expect(ids(o.decide(DEADLINE + 5).run)).toEqual(["slow"]);
  });

  it("skips only the task whose turn passed: a later task of its own contract ran", () => {
    const o = ordering();
    o.record("slow", 1, 0);
    o.record("b", 2, 0);
    o.record("c", 3, 0);
    o.ready("b", "C1", "b");
    o.ready("c", "C1", "c");
    expect(ids(o.decide(DEADLINE).run)).toEqual(["b", "c"]);
    expect(o.turnPassed("C1", 1)).toBe(true);
    o.ready("slow", "C1", "slow");
    const late = o.decide(DEADLINE + 10);
    expect(late.run).toEqual([]);
    expect(ids(late.skip)).toEqual(["slow"]);
  });

  it("a record known to be another worker's (or a wrong worker's) holds nothing", () => {
    const o = ordering();
    o.record("theirs", 1, 0);
    o.record("mine", 2, 0);
    o.ready("mine", "C1", "mine");
    o.elsewhere("theirs");
    expect(ids(o.decide(1).run)).toEqual(["mine"]);
  });

  it("a task held back by something outside the rule holds the later tasks of its contract only", () => {
    const o = ordering();
    o.record("a", 1, 0);
    o.record("b", 2, 0);
    o.record("c", 3, 0);
    o.ready("a", "C1", "a");
    o.ready("b", "C1", "b");
    o.ready("c", "C2", "c");
    const d = o.decide(1, (contract) => contract === "c1");
    expect(ids(d.run)).toEqual(["c"]);
    expect(ids(o.decide(2).run)).toEqual(["a", "b"]);
  });

  it("restored last runs (after a restart) skip older tasks of that contract", () => {
    const o = ordering();
    o.restoreLastRun("C1", 10);
    o.record("old", 5, 0);
    o.ready("old", "C1", "old");
    expect(ids(o.decide(1).skip)).toEqual(["old"]);
  });

  it("wakes at the earliest deadline of a waiting record", () => {
    const o = ordering();
    o.record("a", 1, 100);
    o.record("b", 2, 50);
    o.record("c", 3, 0);
    o.ready("c", "C1", "c");
    expect(o.decide(60).wakeAt).toBe(50 + DEADLINE);
  });
});
