// The HTML report: one self-contained file (uPlot's script and style inlined from the npm
// package, the results as JSON in the page), readable from disk in any browser, no server.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { SimulationResult } from "./engine.js";

const require = createRequire(import.meta.url);

function asset(path: string): string {
  return readFileSync(require.resolve(`uplot/dist/${path}`), "utf8");
}

/** JSON safe inside a `<script>` element (no `</script>`, no HTML comment openers). */
function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/>/g, "\\u003e")
    .replace(/&/g, "\\u0026");
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** What a run is called in the report: its policies, and its seed when runs differ in it. */
export function runLabel(r: SimulationResult): string {
  return r.epochPolicy === "discovery" ? r.selection : `${r.selection} / ${r.epochPolicy}`;
}

const STYLE = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1240px; color: #222; padding: 0 16px; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; margin-top: 28px; }
.sub { color: #666; margin-top: 0; }
table { border-collapse: collapse; margin: 8px 0 16px; }
th, td { border-bottom: 1px solid #ddd; padding: 4px 12px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.charts { display: flex; flex-wrap: wrap; gap: 16px 24px; }
.chart { width: 590px; }
.note { color: #555; font-size: 13px; max-width: 900px; }
`;

// Runs in the browser: builds the tables' charts from the embedded results with uPlot.
const CLIENT = `
const runs = JSON.parse(document.getElementById("results").textContent);
const colors = ["#1f6fb4", "#d2452b", "#2a9d4b", "#8a4fbf"];
const box = document.getElementById("charts");
function plot(title, xs, ys, opts = {}) {
  const div = document.createElement("div");
  div.className = "chart";
  box.appendChild(div);
  const series = [{ label: opts.xLabel || "epoch" }].concat(runs.map((r, i) => ({
    label: r.label, stroke: colors[i % colors.length], width: 1.5,
    fill: opts.bars ? colors[i % colors.length] + "99" : undefined,
    // Bars of several runs side by side: the first left of the tick, the second right of it.
    paths: opts.bars ? uPlot.paths.bars({ size: [0.8 / runs.length, 40], align: runs.length === 1 ? 0 : i === 0 ? -1 : 1 }) : undefined,
    points: { show: false },
  })));
  const yAxis = { label: opts.yLabel || "", size: 64 };
  if (opts.log) yAxis.values = (u, vals) => vals.map((v) => (v == null ? "" : v >= 0.01 ? String(v) : v.toExponential(0)));
  new uPlot({
    title, width: 590, height: 270,
    scales: {
      // Bars sit beside their tick: leave half a step on each side.
      x: opts.bars ? { time: false, range: (u, min, max) => [min - 0.6, max + 0.6] } : { time: false },
      y: opts.log ? { distr: 3 } : {},
    },
    axes: [{ label: opts.xLabel || "epoch" }, yAxis],
    series,
  }, [xs].concat(ys), div);
}
const longest = Math.max.apply(null, runs.map((r) => r.perEpoch.gini.length));
const epochs = Array.from({ length: longest }, (_, i) => i);
const perEpoch = (key) => runs.map((r) => r.perEpoch[key]);
plot("Load spread: Gini of contracts per worker", epochs, perEpoch("gini"), { yLabel: "Gini" });
plot("Busiest worker's share of contracts", epochs, perEpoch("maxShare"), { yLabel: "share" });
plot("Hand-overs per epoch (new group members)", epochs, perEpoch("handOvers"), { yLabel: "hand-overs" });
plot("Stake-proportionality error (total variation)", epochs, perEpoch("proportionalityError"), { yLabel: "error" });
plot("Workers in the epoch", epochs, perEpoch("workers"), { yLabel: "workers" });
if (runs.some((r) => r.coalition)) {
  plot("Contracts the coalition holds (share)", epochs, perEpoch("coalitionHeld"), { yLabel: "share" });
  const reach = (r) => (r.coalition ? r.coalition.windowProbability.filter((p) => p > 0).length : 0);
  const maxK = Math.max(2, Math.max.apply(null, runs.map(reach)));
  const ks = Array.from({ length: maxK }, (_, i) => i + 1);
  plot("P(coalition holds a contract k epochs in a row)", ks,
    runs.map((r) => ks.map((k) => { const p = r.coalition ? r.coalition.windowProbability[k - 1] : null; return p > 0 ? p : null; })),
    { xLabel: "k (epochs)", yLabel: "probability", log: true });
  const maxL = Math.max.apply(null, runs.map((r) => (r.coalition && r.coalition.runLengths.length ? r.coalition.runLengths[r.coalition.runLengths.length - 1][0] : 0)));
  const ls = Array.from({ length: maxL }, (_, i) => i + 1);
  plot("Coalition runs by length (epochs held in a row)", ls,
    runs.map((r) => { const m = new Map(r.coalition ? r.coalition.runLengths : []); return ls.map((l) => m.get(l) || 0); }),
    { xLabel: "run length (epochs)", yLabel: "runs", bars: true });
}
`;

type Row = [string, (r: SimulationResult) => string];

const fmt = (x: number) => (Number.isInteger(x) ? x.toLocaleString("en-US") : x.toFixed(4));

const ROWS: Row[] = [
  ["workers at the end", (r) => fmt(r.totals.finalWorkers)],
  ["hand-overs per epoch", (r) => fmt(r.totals.handOversPerEpoch)],
  ["contracts changing hands per epoch", (r) => fmt(r.totals.contractsChangedPerEpoch)],
  ["hand-overs in total", (r) => fmt(r.totals.handOvers)],
  ["Gini (mean / max)", (r) => `${fmt(r.totals.meanGini)} / ${fmt(r.totals.maxGini)}`],
  [
    "busiest worker's share (mean / max)",
    (r) => `${fmt(r.totals.meanMaxShare)} / ${fmt(r.totals.maxMaxShare)}`,
  ],
  ["proportionality error per epoch (mean)", (r) => fmt(r.totals.meanProportionalityError)],
  ["proportionality error, all epochs together", (r) => fmt(r.totals.longRunProportionalityError)],
  ["coalition stake share", (r) => (r.coalition === null ? "-" : fmt(r.coalition.stakeShare))],
  [
    "contracts the coalition holds (mean share)",
    (r) => (r.coalition === null ? "-" : fmt(r.coalition.meanHeld)),
  ],
  [
    "coalition runs: count / mean / longest",
    (r) =>
      r.coalition === null
        ? "-"
        : `${fmt(r.coalition.runs)} / ${fmt(r.coalition.meanRun)} / ${fmt(r.coalition.maxRun)}`,
  ],
];

/**
 * A self-contained HTML page with the summary of `results` side by side and their charts. No
 * network access when opened: uPlot is inlined.
 *
 * @example
 * writeFileSync("report.html", renderReport([runSimulation(a), runSimulation(b)]));
 */
export function renderReport(results: readonly SimulationResult[]): string {
  const first = results[0];
  if (first === undefined) throw new RangeError("nothing to report");
  const labels = results.map(runLabel);
  const s = first.scenario as {
    seed: string;
    workers: { count: number; stake: { distribution: string } };
    epochs: number;
    churn: { joins: number; leaves: number };
    adversary: { stakeShare: number };
  };
  const header = `${s.workers.count.toLocaleString("en-US")} workers (${s.workers.stake.distribution} stake), ${first.totals.contracts.toLocaleString("en-US")} contracts, ${s.epochs.toLocaleString("en-US")} epochs, churn +${s.churn.joins}/-${s.churn.leaves} per epoch, coalition ${s.adversary.stakeShare}, seed ${s.seed}`;
  const table = [
    `<tr><th></th>${labels.map((l) => `<th>${escapeHtml(l)}</th>`).join("")}</tr>`,
    ...ROWS.map(
      ([name, cell]) =>
        `<tr><td>${escapeHtml(name)}</td>${results.map((r) => `<td>${escapeHtml(cell(r))}</td>`).join("")}</tr>`,
    ),
  ].join("\n");
  const data = results.map((r, i) => ({ ...r, label: labels[i], selections: undefined }));
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>enigma sim: ${escapeHtml(labels.join(" vs "))}</title>
<style>${asset("uPlot.min.css")}</style>
<style>${STYLE}</style>
</head>
<body>
<h1>enigma sim: ${escapeHtml(labels.join(" vs "))}</h1>
<p class="sub">${escapeHtml(header)}</p>
<table>
${table}
</table>
<p class="note">A hand-over is a new member of a contract's group: it fetches the contract's state key
from the principal and rebuilds the state from its deltas. The proportionality error is the total
variation distance between each worker's share of contracts and its share of stake (one epoch is
noisy; all epochs together show the rule's bias). A coalition holds a contract when one of its
workers is in the contract's group.</p>
<h2>Per epoch</h2>
<div class="charts" id="charts"></div>
<script>${asset("uPlot.iife.min.js")}</script>
<script type="application/json" id="results">${scriptJson(data)}</script>
<script>${CLIENT}</script>
</body>
</html>
`;
}
