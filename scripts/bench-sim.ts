/**
 * Speed of `enigma sim` (a benchmark, not a timed test): 1,000 workers x 10,000 contracts x
 * 1,000 epochs (10^7 draws), target under 60 s, through the built CLI exactly as a user runs it
 * (`--json`, output captured). Several runs; the median is the figure; every run's output must be
 * the same bytes (determinism). Run with `pnpm bench:sim [--runs N] [--workers N] [--contracts N]
 * [--epochs N] [--selection NAME]`.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "3" },
    workers: { type: "string", default: "1000" },
    contracts: { type: "string", default: "10000" },
    epochs: { type: "string", default: "1000" },
    selection: { type: "string", default: "discovery" },
  },
});
const args = [
  "packages/cli/bin/enigma.js",
  "sim",
  "--workers",
  values.workers,
  "--contracts",
  values.contracts,
  "--epochs",
  values.epochs,
  "--selection",
  values.selection,
  "--adversary",
  "0.2",
  "--seed",
  "bench",
  "--json",
];
const draws = Number(values.contracts) * Number(values.epochs);
const seconds: number[] = [];
const digests = new Set<string>();
for (let run = 0; run < Number(values.runs); run++) {
  const started = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { maxBuffer: 1 << 30, encoding: "utf8" });
  const s = Number(process.hrtime.bigint() - started) / 1e9;
  if (r.status !== 0) throw new Error(`enigma sim failed: ${r.stderr}`);
  seconds.push(s);
  digests.add(createHash("sha256").update(r.stdout).digest("hex").slice(0, 16));
  process.stdout.write(
    `run ${run + 1}: ${s.toFixed(1)} s (${((s * 1e9) / draws).toFixed(0)} ns per contract-epoch)\n`,
  );
}
const sorted = [...seconds].sort((a, b) => a - b);
const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
process.stdout.write(
  `${values.selection}, ${values.workers} workers x ${values.contracts} contracts x ${values.epochs} epochs: ` +
    `median ${median.toFixed(1)} s of ${seconds.length} runs (${sorted.map((x) => x.toFixed(1)).join(", ")}); ` +
    `target < 60 s: ${median < 60 ? "met" : "NOT met"}; output identical across runs: ${digests.size === 1 ? "yes" : "NO"}\n`,
);
if (digests.size !== 1) process.exitCode = 1;
