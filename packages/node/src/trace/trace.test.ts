import { describe, expect, it } from "vitest";
import { DEFAULT_TRACE_TASKS, TaskTraceLog, type TraceStage } from "./trace.js";

const id = (n: number) => `0x${n.toString(16).padStart(64, "0")}`;

describe("TaskTraceLog", () => {
  it("keeps each task's events in order with their time and facts, and the gap per stage", () => {
    let now = 1_000;
    const gaps: [TraceStage, number][] = [];
    const log = new TaskTraceLog({ now: () => now, observe: (s, sec) => gaps.push([s, sec]) });
    log.event(id(1), "recorded", { block: 7 });
    now += 12.5;
    log.event(id(1).toUpperCase().replace("0X", "0x"), "input-accepted", { via: "client" });
    now += 3;
    log.event(id(1).slice(2), "executed", { success: true });
    expect(log.trace(id(1))).toEqual([
      { seq: 1, taskId: id(1), stage: "recorded", at: 1000, detail: { block: 7 } },
      { seq: 2, taskId: id(1), stage: "input-accepted", at: 1012.5, detail: { via: "client" } },
      { seq: 3, taskId: id(1), stage: "executed", at: 1015.5, detail: { success: true } },
    ]);
    expect(gaps).toEqual([
      ["input-accepted", 0.0125],
      ["executed", 0.003],
    ]);
    expect(log.trace(id(2))).toEqual([]);
    // Not a task id: nothing recorded, nothing thrown.
    log.event("0x1234", "recorded");
    expect(log.size).toBe(1);
  });

  it("holds at most maxTasks tasks (oldest dropped) and maxEventsPerTask events each", () => {
    const log = new TaskTraceLog({ maxTasks: 3, maxEventsPerTask: 2 });
    for (let i = 1; i <= 5; i++) {
      log.event(id(i), "recorded");
      log.event(id(i), "input-heard");
      log.event(id(i), "executed"); // past the per-task bound
    }
    expect(log.size).toBe(3);
    expect(log.trace(id(1))).toEqual([]);
    expect(log.trace(id(5)).map((e) => e.stage)).toEqual(["recorded", "input-heard"]);
  });

  it("serves the events after a cursor, in order, bounded by limit, without dropped tasks", () => {
    const log = new TaskTraceLog({ maxTasks: 2 });
    for (let i = 1; i <= 6; i++) log.event(id(i), "recorded");
    const all = log.since(0);
    expect(all.events.map((e) => e.taskId)).toEqual([id(5), id(6)]);
    expect(all.next).toBe(6);
    log.event(id(6), "executed");
    expect(log.since(all.next)).toMatchObject({ events: [{ seq: 7, stage: "executed" }], next: 7 });
    expect(log.since(7)).toEqual({ events: [], next: 7 });
    expect(log.since(0, 1).events).toHaveLength(1);
  });

  it("stays bounded with no reader: the events of dropped tasks go too", () => {
    const log = new TaskTraceLog({ maxTasks: 100, maxEventsPerTask: 4 });
    for (let i = 1; i <= 10_000; i++) {
      log.event(id(i), "recorded", { block: i });
      log.event(id(i), "input-heard", { via: "gossip" });
      log.event(id(i), "executed", { success: true });
    }
    expect(log.size).toBe(100);
    // 300 events kept; at most a third more of dropped ones await compaction (not 30,000).
    expect(log.heldEvents).toBeLessThanOrEqual(400);
    expect(log.since(0).events).toHaveLength(300);
  });

  it("keeps 2,000 tasks by default", () => {
    const log = new TaskTraceLog();
    for (let i = 1; i <= 2_500; i++) log.event(id(i), "recorded");
    expect(log.size).toBe(DEFAULT_TRACE_TASKS);
    expect(log.trace(id(500))).toEqual([]);
    expect(log.trace(id(501))).toHaveLength(1);
  });
});
