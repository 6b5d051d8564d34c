import { describe, expect, it } from "vitest";
import { runSimulation } from "./engine.js";
import { renderReport } from "./report.js";
import { parseScenario } from "./scenario.js";

describe("HTML report", () => {
  const base = {
    workers: { count: 20 },
    contracts: 50,
    epochs: 12,
    adversary: { stakeShare: 0.3 },
    seed: 1,
  };
  const a = runSimulation(parseScenario(base));
  const b = runSimulation(
    parseScenario({ ...base, selection: "rotation:3", epochPolicy: "capped:20" }),
  );
  const html = renderReport([a, b]);

  it("is one self-contained page: uPlot inlined, nothing fetched", () => {
    expect(html.startsWith("<!doctype html>")).toBe(true);
    expect(html).toContain("uPlot");
    expect(html).not.toMatch(/<script[^>]+src=/);
    expect(html).not.toMatch(/<link[^>]+href=/);
    expect(html).not.toMatch(/https?:\/\/[^"'\s]*\.(js|css)/);
  });

  it("carries both runs' results, side by side", () => {
    const json =
      /<script type="application\/json" id="results">(.*?)<\/script>/s.exec(html)?.[1] ?? "";
    const runs = JSON.parse(json) as { label: string; perEpoch: { gini: number[] } }[];
    expect(runs.map((r) => r.label)).toEqual(["discovery", "rotation:3 / capped:20"]);
    expect(runs[1]?.perEpoch.gini).toEqual(b.perEpoch.gini);
    expect(html).toContain("<th>discovery</th><th>rotation:3 / capped:20</th>");
    expect(html).toContain("hand-overs per epoch");
  });

  it("keeps the page's script safe from text in the data", () => {
    const evil = { ...a, selection: "</script><script>alert(1)</script>" };
    const page = renderReport([evil]);
    expect(page).not.toContain("</script><script>alert(1)");
  });
});
