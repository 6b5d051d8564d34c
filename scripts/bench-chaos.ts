/**
 * The long chaos run (issue 16), `pnpm bench:chaos`: a devnet of node processes (each in its
 * own network namespace when run as root) under a steady workload, in three phases, each ended
 * by the invariant checker:
 *
 *   kills       100 SIGKILLs of random nodes at random points: at a random moment, between a
 *               worker storing a task's input and running it, and while a receipt batch is in
 *               flight (the node down 0.5-3 s each time, then restarted)
 *   partitions  a partition in every epoch for 20 epochs (a random split, for 30-70% of it)
 *   soak        10,000 tasks with the RSS of every node sampled every 2 s: growth after the
 *               warm-up (the first 20% of the tasks) must stay under 10%
 *
 * and prints a table: faults, tasks (committed, refunded, outputs later refunded), violations
 * by invariant (0 deltas lost, 0 double commits, every task committed or refunded by its
 * timeout), RSS. Flags: --phases kills,partitions,soak --kills N --epochs N --tasks N
 * --hosts netns|local --seed S --keep (keep the devnet folders for their logs). Exits 1 on a
 * violation or RSS growth over the bound. Takes 20-30 minutes on the 2-core machine.
 */
import { readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { seededRandom, startDevnet, type Devnet } from "../packages/devnet/dist/index.js";
import { formatReport, runChecks, type CheckReport } from "../packages/checker/dist/index.js";
import { Workload } from "../packages/checker/dist/workload.js";
import { EnigmaChain } from "../packages/node/dist/chain/index.js";

const { values } = parseArgs({
  options: {
    phases: { type: "string", default: "kills,partitions,soak" },
    kills: { type: "string", default: "100" },
    epochs: { type: "string", default: "20" },
    tasks: { type: "string", default: "10000" },
    hosts: { type: "string", default: process.getuid?.() === 0 ? "netns" : "local" },
    seed: { type: "string", default: "bench:chaos" },
    keep: { type: "boolean", default: false },
  },
});
const phases = values.phases.split(",");
const hosts = values.hosts === "netns" ? "netns" : "local";
const rnd = seededRandom(values.seed);
const between = (lo: number, hi: number) => Math.round(lo + rnd() * (hi - lo));
const started = Date.now();
const say = (m: string) => {
  process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(0).padStart(5)} s] ${m}\n`);
};
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const example = (name: string) =>
  readFile(
    new URL(`../packages/secret-contract/build/examples/${name}.wasm`, import.meta.url),
  ).then((b) => new Uint8Array(b));

interface PhaseRow {
  phase: string;
  faults: string;
  seconds: number;
  report: CheckReport;
  extra?: string;
}
const rows: PhaseRow[] = [];
/** The devnet running now: Ctrl-C stops it (nodes, namespaces) before the process ends. */
let current: Devnet | undefined;
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.once(sig, () => {
    say(`${sig}: stopping the devnet`);
    void (current?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  });
}
const rssRows: {
  node: string;
  warm: number;
  end: number;
  growth: number;
  /** Median RSS over each fifth of the run after warm-up. */
  path: number[];
}[] = [];

async function withDevnet<T>(
  name: string,
  users: number,
  run: (d: Devnet, w: Workload) => Promise<T>,
  workload: { ratePerSecond?: number; tasks?: number } = {},
  timing: { epochBlocks: number; epochSeconds: number } = { epochBlocks: 20, epochSeconds: 5 },
): Promise<{ result: T; report: CheckReport; seconds: number }> {
  const dir = join(tmpdir(), `enigma-bench-chaos-${name}-${process.pid}`);
  await rm(dir, { recursive: true, force: true });
  const t0 = Date.now();
  say(`${name}: starting a devnet (${hosts} hosts, 3 workers, ${users} users)`);
  const d = await startDevnet({
    inProcess: false,
    faults: true,
    hosts,
    workers: 3,
    users,
    seed: `${values.seed}/${name}`,
    dir,
    logLevel: "info",
    // Every record is a block on this chain: epochs are counted in blocks, so they must be
    // long enough for the load (a 10-block epoch lasts a quarter of a second at 40 tasks/s).
    ...timing,
  });
  current = d;
  try {
    const w = new Workload(
      {
        rpcUrl: d.chain.rpcUrl,
        enigmaAddress: d.chain.enigmaAddress,
        tokenAddress: d.chain.tokenAddress,
        trustRoot: d.trustRoot,
        attestationPolicy: d.attestationPolicy,
        gateways: d.workers.map((x) => x.rpcUrl ?? ""),
        accounts: d.accounts,
      },
      {
        counter: await example("counter"),
        calculator: await example("calculator"),
        counters: 3,
        seed: `${values.seed}/${name}`,
        ...workload,
        onProgress: (m) => {
          say(`${name}: ${m}`);
        },
      },
    );
    await w.start();
    const result = await run(d, w);
    await w.stop();
    say(`${name}: workload ${JSON.stringify(w.stats)}`);
    const report = await runChecks(
      {
        rpcUrl: d.chain.rpcUrl,
        enigmaAddress: d.chain.enigmaAddress,
        tokenAddress: d.chain.tokenAddress,
        nodes: d.info().nodes,
      },
      {
        expectations: w.expectations,
        faults: d.faults.history,
        refundKey: d.accounts[0]?.privateKey ?? "",
        settleMs: 180_000,
        quiesceMs: 60_000,
        onProgress: (m) => {
          say(`${name}: check: ${m}`);
        },
      },
    );
    process.stderr.write(formatReport(report));
    return { result, report, seconds: (Date.now() - t0) / 1000 };
  } finally {
    await d.stop();
    current = undefined;
    if (!values.keep) await rm(dir, { recursive: true, force: true });
    else say(`${name}: logs kept in ${dir}/nodes/*/node.log`);
  }
}

/** 100 SIGKILLs of random nodes, each at a random moment or at a fault point. */
async function kills(): Promise<void> {
  const total = Number(values.kills);
  const points = { time: 0, "task-stored": 0, "receipt-in-flight": 0 };
  const { report, seconds } = await withDevnet(
    "kills",
    6,
    async (d) => {
      const names = d.faults.names;
      for (let k = 1; k <= total; k++) {
        const name = names[Math.floor(rnd() * names.length)] ?? "worker-1";
        const r = rnd();
        let point: keyof typeof points =
          r < 0.6 ? "time" : r < 0.8 ? "task-stored" : "receipt-in-flight";
        // Only workers store tasks and send receipt batches.
        if (name === "principal") point = "time";
        if (point === "time") {
          await d.faults.kill(name);
        } else {
          const { fired } = await d.faults.killAt(name, point);
          const waitMs = point === "task-stored" ? 8_000 : 20_000;
          const outcome = await Promise.race([fired, sleep(waitMs).then(() => "timeout" as const)]);
          if (outcome === "timeout" || outcome === undefined) {
            await d.faults.disarm();
            const late = await Promise.race([fired, sleep(300).then(() => undefined)]);
            if (late === undefined) {
              // Nothing reached that point in time: a kill at a random moment instead.
              point = "time";
              await d.faults.kill(name);
            }
          }
        }
        points[point]++;
        await sleep(between(500, 3_000));
        await d.faults.restart(name);
        if (k % 10 === 0) say(`kills: ${k} of ${total} (${JSON.stringify(points)})`);
        await sleep(between(500, 2_000));
      }
    },
    { ratePerSecond: 4 },
  );
  rows.push({
    phase: "kills",
    faults: `${total} SIGKILLs (${points.time} at random moments, ${points["task-stored"]} after a task was stored, ${points["receipt-in-flight"]} with receipts in flight)`,
    seconds,
    report,
  });
}

/** A partition in every epoch for N epochs. */
async function partitions(): Promise<void> {
  const epochs = Number(values.epochs);
  let made = 0;
  const { report, seconds } = await withDevnet(
    "partitions",
    6,
    async (d) => {
      const chain = await EnigmaChain.connect({
        rpcUrl: d.chain.rpcUrl,
        enigmaAddress: d.chain.enigmaAddress,
        tokenAddress: d.chain.tokenAddress,
      });
      try {
        const epochMs = d.options.epochSeconds * 1000;
        let last = (await chain.currentEpoch())?.index ?? -1;
        while (made < epochs) {
          const now = (await chain.currentEpoch())?.index ?? -1;
          if (now === last) {
            await sleep(100);
            continue;
          }
          last = now;
          await sleep(between(0, epochMs * 0.3));
          const names = [...d.faults.names];
          for (let i = names.length - 1; i > 0; i--) {
            const j = Math.floor(rnd() * (i + 1));
            [names[i], names[j]] = [names[j] as string, names[i] as string];
          }
          const cut = 1 + Math.floor(rnd() * (names.length - 1));
          await d.faults.partition([names.slice(0, cut), names.slice(cut)]);
          made++;
          await sleep(between(epochMs * 0.3, epochMs * 0.7));
          await d.faults.heal();
          if (made % 5 === 0) say(`partitions: ${made} of ${epochs} epochs`);
        }
      } finally {
        await chain.close();
      }
    },
    { ratePerSecond: 4 },
  );
  rows.push({
    phase: "partitions",
    faults: `a partition in each of ${made} epochs (${hosts === "netns" ? "packets dropped" : "connections refused"})`,
    seconds,
    report,
  });
}

/** 10,000 tasks with every node's RSS sampled. */
async function soak(): Promise<void> {
  const tasks = Number(values.tasks);
  const samples = new Map<string, { task: number; rss: number }[]>();
  const { report, seconds } = await withDevnet(
    "soak",
    16,
    async (d, w) => {
      const readRss = async (pid: number) => {
        const text = await readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
        return Number(/VmRSS:\s+(\d+)/.exec(text)?.[1] ?? 0) * 1024;
      };
      let reported = 0;
      for (;;) {
        const started = w.stats.started;
        for (const n of d.nodes) {
          if (n.pid === undefined) continue;
          const list = samples.get(n.name) ?? [];
          list.push({ task: started, rss: await readRss(n.pid) });
          samples.set(n.name, list);
        }
        if (started >= tasks) break;
        if (started >= reported + 1000) {
          reported = started - (started % 1000);
          say(`soak: ${started} of ${tasks} tasks`);
        }
        await sleep(2_000);
      }
      await w.done();
    },
    { tasks },
    { epochBlocks: 300, epochSeconds: 10 },
  );
  const warmUp = tasks * 0.2;
  let worst = 0;
  for (const [node, list] of samples) {
    const after = list.filter((s) => s.task >= warmUp);
    const window = Math.max(1, Math.floor(after.length * 0.1));
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
    const warm = median(after.slice(0, window).map((s) => s.rss));
    const end = median(after.slice(-window).map((s) => s.rss));
    const growth = warm === 0 ? 0 : (end - warm) / warm;
    worst = Math.max(worst, growth);
    const fifth = Math.max(1, Math.floor(after.length / 5));
    const path = [0, 1, 2, 3, 4].map((k) =>
      median(after.slice(k * fifth, (k + 1) * fifth).map((s) => s.rss)),
    );
    rssRows.push({ node, warm, end, growth, path });
  }
  rows.push({
    phase: "soak",
    faults: `none; ${tasks} tasks, RSS sampled every 2 s`,
    seconds,
    report,
    extra: `RSS growth after warm-up, worst node: ${(worst * 100).toFixed(1)}%`,
  });
}

const run: Record<string, () => Promise<void>> = { kills, partitions, soak };
for (const p of phases) {
  const f = run[p];
  if (f === undefined) throw new Error(`unknown phase ${p} (kills, partitions, soak)`);
  await f();
}

// The table.
const count = (r: CheckReport, name: string) =>
  r.invariants.find((i) => i.name === name)?.violations.length ?? 0;
const out: string[] = [];
out.push(
  `\nbench:chaos (${hosts} hosts, seed ${values.seed}), ${((Date.now() - started) / 60_000).toFixed(1)} min\n`,
);
out.push(
  "| phase | faults | tasks recorded | committed | refunded | outputs refunded | deltas lost | double commits | not settled by timeout | other violations | time |",
);
out.push("|---|---|---|---|---|---|---|---|---|---|---|");
let failed = false;
for (const r of rows) {
  const t = r.report.tasks;
  const lost =
    count(r.report, "deltas-match") +
    count(r.report, "outputs-correct") +
    count(r.report, "state-rebuilds");
  const doubles = count(r.report, "settled-once");
  const unsettled = count(r.report, "tasks-settled");
  const other = count(r.report, "no-stale-receipts") + count(r.report, "eng-conserved");
  if (!r.report.ok) failed = true;
  out.push(
    `| ${r.phase} | ${r.faults} | ${t.recorded} | ${t.committed + t.failed + t.ethFailed} | ${t.refunded} | ${t.outputsNotCommitted} | ${lost} | ${doubles} | ${unsettled} | ${other} | ${(r.seconds / 60).toFixed(1)} min |`,
  );
}
if (rssRows.length > 0) {
  out.push(
    "\n| node | RSS after warm-up | RSS at the end | growth | medians of each fifth after warm-up |",
  );
  out.push("|---|---|---|---|---|");
  for (const r of rssRows) {
    if (r.growth >= 0.1) failed = true;
    out.push(
      `| ${r.node} | ${(r.warm / 2 ** 20).toFixed(0)} MiB | ${(r.end / 2 ** 20).toFixed(0)} MiB | ${(r.growth * 100).toFixed(1)}% | ${r.path.map((b) => (b / 2 ** 20).toFixed(0)).join(", ")} MiB |`,
    );
  }
}
for (const r of rows) if (r.extra !== undefined) out.push(`\n${r.phase}: ${r.extra}`);
out.push(failed ? "\nFAILED: see the violations above" : "\n0 violations");
process.stdout.write(`${out.join("\n")}\n`);
process.exitCode = failed ? 1 : 0;
