import { describe, expect, it } from "vitest";
import { byLabel, parseMetrics, total } from "./prometheus.js";

const TEXT = `# HELP enigma_tasks_executed_total Tasks executed by this node
# TYPE enigma_tasks_executed_total counter
enigma_tasks_executed_total{status="success"} 7
enigma_tasks_executed_total{status="failed"} 2
enigma_pending_receipts 3
enigma_task_stage_seconds_sum{stage="executed"} 0.0125
enigma_task_stage_seconds_count{stage="executed"} 5
enigma_task_stage_seconds_count{stage="input-heard",x="a \\"b\\""} 1
not a sample line
`;

describe("parseMetrics", () => {
  it("reads samples with their labels and sums them", () => {
    const s = parseMetrics(TEXT);
    expect(total(s, "enigma_tasks_executed_total")).toBe(9);
    expect(total(s, "enigma_pending_receipts")).toBe(3);
    expect(total(s, "missing")).toBe(0);
    expect(byLabel(s, "enigma_task_stage_seconds_count", "stage")).toEqual(
      new Map([
        ["executed", 5],
        ["input-heard", 1],
      ]),
    );
    expect(s.find((x) => x.labels["x"] !== undefined)?.labels["x"]).toBe('a "b"');
  });
});
