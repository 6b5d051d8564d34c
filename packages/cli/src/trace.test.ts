import { describe, expect, it } from "vitest";
import { formatTrace, mergeTraces } from "./trace.js";

describe("enigma task trace", () => {
  it("merges the nodes' events into one timeline with the gaps on each node", () => {
    const rows = mergeTraces([
      {
        node: "worker-1",
        events: [
          { stage: "recorded", at: 1000 },
          { stage: "input-accepted", at: 1002, detail: { via: "client" } },
          { stage: "input-gossiped", at: 1002.5 },
        ],
      },
      {
        node: "worker-2",
        events: [
          { stage: "input-heard", at: 1004 },
          { stage: "executed", at: 1010, detail: { success: true, gasUsed: "10012" } },
        ],
      },
    ]);
    expect(rows.map((r) => [r.node, r.stage, r.sinceFirst, r.gap])).toEqual([
      ["worker-1", "recorded", 0, undefined],
      ["worker-1", "input-accepted", 2, 2],
      ["worker-1", "input-gossiped", 2.5, 0.5],
      ["worker-2", "input-heard", 4, undefined],
      ["worker-2", "executed", 10, 6],
    ]);
    const text = formatTrace(`0x${"ab".repeat(32)}`, rows, "status 2 (receipt verified) on chain");
    expect(text).toContain("status 2 (receipt verified) on chain");
    expect(text).toMatch(
      /\+10\.0 ms\s+worker-2\s+executed\s+\+6\.0 ms\s+success=true gasUsed=10012/,
    );
    expect(text).toContain("5 events on 2 nodes over 10.0 ms");
    expect(formatTrace("0x1", [], "no record on chain")).toContain("no node of the devnet");
  });
});
