#!/usr/bin/env node
// @ts-check
/**
 * How fast the `enigma` command answers (`pnpm bench:cli`; `.ci/run` runs it with `--runs 3`).
 * Brings up a one-worker devnet (nodes as processes, in a temporary folder), then times each
 * command below `--runs` times (default 10), the commands taking turns so that load from other
 * processes spreads over all of them, and prints the median, min and max wall time of each with
 * the targets of issue 17. Reports, never asserts: a missed target does not fail; a command that
 * fails does (exit 1).
 *
 *   node scripts/bench-cli.mjs [--runs N]
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { ROOT } from "./build-state.mjs";

const runsArg = process.argv.indexOf("--runs");
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 10;
if (!Number.isInteger(RUNS) || RUNS < 1) {
  console.error("bench-cli: --runs must be a whole number >= 1");
  process.exit(1);
}
const node = process.execPath;
const out = (/** @type {string} */ m) => process.stdout.write(`${m}\n`);

/** Runs a command to completion; its wall time in ms. Throws when it fails. */
function time(/** @type {string[]} */ [cmd = "", ...args]) {
  const started = performance.now();
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: "utf8", env: process.env });
  const ms = performance.now() - started;
  if (r.status !== 0) {
    throw new Error(
      `${[cmd, ...args].join(" ")} exited ${r.status ?? r.signal}: ${r.stderr.trim()}`,
    );
  }
  return ms;
}

// Measure the path users take when nothing changed: bring the build up to date first.
{
  const b = spawnSync(node, [join(ROOT, "scripts/build.mjs")], { cwd: ROOT, stdio: "inherit" });
  if (b.status !== 0) process.exit(1);
}

const dir = mkdtempSync(join(tmpdir(), "enigma-bench-cli-"));
const devnet = spawn(
  node,
  [
    join(ROOT, "packages/cli/bin/enigma.js"),
    "devnet",
    "up",
    "--workers",
    "1",
    "--dir",
    dir,
    "--json",
  ],
  { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] },
);
/** @type {string[]} */
const devnetErr = [];
createInterface({ input: /** @type {import("node:stream").Readable} */ (devnet.stderr) }).on(
  "line",
  (l) => devnetErr.push(l),
);
const stopDevnet = async () => {
  if (devnet.exitCode === null && devnet.signalCode === null) {
    const exited = new Promise((r) => devnet.once("exit", r));
    devnet.kill("SIGTERM");
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
};

let failed = false;
try {
  // `devnet up --json` prints one JSON line on stdout once the network is up.
  await new Promise((resolve, reject) => {
    createInterface({ input: /** @type {import("node:stream").Readable} */ (devnet.stdout) }).once(
      "line",
      resolve,
    );
    devnet.once("exit", (code) =>
      reject(new Error(`devnet up exited ${code}:\n${devnetErr.join("\n")}`)),
    );
  });

  const pnpmWrapper = join(ROOT, "scripts/pnpm");
  const enigmaOnPath = join(ROOT, ".tools/bin/enigma");
  /** @type {{ name: string; cmd: string[]; target?: number }[]} */
  const cases = [
    { name: "./scripts/pnpm enigma --help", cmd: [pnpmWrapper, "enigma", "--help"], target: 1000 },
    {
      name: "./scripts/pnpm enigma epoch",
      cmd: [pnpmWrapper, "enigma", "epoch", "--dir", dir],
      target: 1500,
    },
    { name: "enigma --help (on PATH)", cmd: [enigmaOnPath, "--help"], target: 1000 },
    { name: "enigma epoch (on PATH)", cmd: [enigmaOnPath, "epoch", "--dir", dir], target: 1500 },
    {
      name: "node packages/cli/bin/enigma.js epoch",
      cmd: [node, "packages/cli/bin/enigma.js", "epoch", "--dir", dir],
    },
    { name: "pnpm run build, nothing changed", cmd: [pnpmWrapper, "run", "build"], target: 2000 },
    {
      name: "tsc -b of the CLI's packages, nothing changed",
      cmd: [node, "node_modules/typescript/bin/tsc", "-b", "packages/cli/tsconfig.build.json"],
      target: 2000,
    },
  ];
  /** @type {Map<string, number[]>} */
  const times = new Map(cases.map((c) => [c.name, []]));
  for (const c of cases) time(c.cmd); // warm-up: file cache, V8's compile cache
  const load = loadavg()[0] ?? 0;
  for (let i = 0; i < RUNS; i++) for (const c of cases) times.get(c.name)?.push(time(c.cmd));

  const fmt = (/** @type {number} */ ms) => `${(ms / 1000).toFixed(2)} s`;
  out(
    `enigma CLI timings: ${RUNS} runs each, load average ${load.toFixed(1)} at the start (2 cores: figures above ~2 are noisy)`,
  );
  out("command                                          median    min      max      target");
  for (const c of cases) {
    const t = [...(times.get(c.name) ?? [])].sort((a, b) => a - b);
    const median =
      t.length % 2 === 1
        ? (t[(t.length - 1) / 2] ?? 0)
        : ((t[t.length / 2 - 1] ?? 0) + (t[t.length / 2] ?? 0)) / 2;
    const target =
      c.target === undefined
        ? ""
        : `<= ${fmt(c.target)}: ${median <= c.target ? "met" : "NOT met"}`;
    out(
      `${c.name.padEnd(48)} ${fmt(median).padEnd(9)} ${fmt(t[0] ?? 0).padEnd(8)} ${fmt(t.at(-1) ?? 0).padEnd(8)} ${target}`,
    );
  }
} catch (e) {
  console.error(`bench-cli: ${e instanceof Error ? e.message : String(e)}`);
  failed = true;
} finally {
  await stopDevnet();
}
process.exitCode = failed ? 1 : 0;
