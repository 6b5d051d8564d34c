/**
 * End-to-end benchmark of the path users take (not a test), `pnpm bench:e2e`. A devnet of OS
 * processes, started as users start one: `enigma devnet up --json` in its own process, which
 * runs the chain (Hardhat's EDR) and the attestation service, and starts the principal and each
 * worker+gateway as their own processes. This harness only reads the devnet's record, deploys
 * the calculator C times, and runs K senders in one more process
 * (scripts/bench-e2e-senders.ts), each with its own account and its own `EnigmaClient` from
 * the built `@enigma/client`: verify the worker, grant the fee allowance, record, submit, wait
 * for the pushed result, decrypt, in a loop for a fixed time. Senders are spread over the
 * workers' gateways. The devnet runs in a temporary state folder, in its own process group:
 * the harness stops it (SIGTERM to the devnet process, which stops its nodes) when it ends, on
 * an error, and on Ctrl-C / SIGTERM, then removes the folder.
 *
 * Printed per (K, C), medians of BENCH_RUNS runs: tasks/s, p50/p95/p99 from creating the
 * task to its decrypted result, failed and lost tasks (lost: no result within 60 s), and the
 * stages of a task (medians): select+verify (nonce, epoch, worker key, attestation check,
 * encryption), record (allowance, send, mined), hand-over (input sent with the record
 * transaction until the node took it), execute (record mined and input taken until the node
 * pushed the result), result delivered (push until decrypted). Also the client's chain and
 * node requests per task and its CPU per task, and each run's CPU of the chain (the devnet
 * process), each node and the senders (Linux /proc), per second and per task, with the blocks
 * the run mined and whether an epoch started.
 *
 *   pnpm bench:e2e
 *   BENCH_K=1,8 BENCH_C=1 BENCH_RUNS=1 BENCH_SECONDS=10 pnpm bench:e2e
 *   BENCH_PROFILE=.bench-profiles pnpm bench:e2e      # a .cpuprofile of each sender process
 *   BENCH_NODE_PROFILE=.bench-profiles pnpm bench:e2e # ... and of each devnet process
 *
 * BENCH_NODE_PROFILE profiles every process of the devnet: the devnet process (the chain) as
 * devnet-<pid>.cpuprofile and each node as <name>-<pid>.cpuprofile. `enigma devnet up` has no
 * flag for it and Node.js refuses --cpu-prof in NODE_OPTIONS, so the devnet process gets
 * NODE_OPTIONS=--import=<a module in the temporary folder> that starts V8's profiler through
 * `node:inspector` and writes the profile when the process exits (after a clean stop, as
 * --cpu-prof does); its node processes inherit it.
 *
 * Epochs: 200,000 blocks (BENCH_EPOCH_BLOCKS) and no block pacing (BENCH_EPOCH_SECONDS, 0):
 * no epoch ends during the benchmark (every task mines a block, and a whole default run mines
 * about 60,000), so the figures are the steady state between epoch ends. At 5,000 blocks, the
 * default until the nodes passed 120 tasks/s, an epoch ended in a third of the runs, and such
 * a run was 25-60% slower (the chain verifies the epoch's receipts, in batches of 100, while
 * the senders run). (With the devnet's default pacing, an idle moment of the chain gets empty
 * blocks at the pace that ends an epoch in 5 s: 4,400 of a run's 5,000 blocks were the
 * pacer's, and every run crossed an epoch change. With BENCH_EPOCH_SECONDS > 0 the blocks a
 * run reports include the pacer's; the devnet's record does not count them apart.)
 * Other knobs: BENCH_WORKERS (3), BENCH_APPROVE (max | exact), BENCH_BATCH (ethers
 * batchMaxCount for the senders' and the deployer's providers, 1), BENCH_PUSH (1; 0 polls the
 * node over HTTP), BENCH_GATEWAYS (all | first), BENCH_SAVE=dir (each run's task timings as
 * JSON), BENCH_NODE_ARGS (Node.js flags added to the devnet process's NODE_OPTIONS, so the
 * chain's process and every node get them; only flags NODE_OPTIONS allows, and the nodes'
 * command line, the devnet's NODE_PROCESS_FLAGS, wins over them: "--max-semi-space-size=64"
 * no longer overrides its 16).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Contract, JsonRpcProvider, MaxUint256, Wallet } from "ethers";
import type { DevnetRecord } from "../packages/cli/dist/devnet.js";
import { EnigmaClient } from "../packages/client/dist/index.js";
import { ENIGMA_ABI } from "../packages/protocol/dist/index.js";
import type { SenderConfig, SenderOutput } from "./bench-e2e-senders.ts";

const envInt = (name: string, fallback: number): number => {
  const v = process.env[name];
  return v === undefined || v === "" ? fallback : Number.parseInt(v, 10);
};
const envList = (name: string, fallback: string): number[] =>
  (process.env[name] ?? fallback).split(",").map(Number);

const S = {
  ks: envList("BENCH_K", "1,8,32,64"),
  cs: envList("BENCH_C", "1,8"),
  runs: envInt("BENCH_RUNS", 3),
  seconds: envInt("BENCH_SECONDS", 20),
  workers: envInt("BENCH_WORKERS", 3),
  epochBlocks: envInt("BENCH_EPOCH_BLOCKS", 200_000),
  epochSeconds: envInt("BENCH_EPOCH_SECONDS", 0),
  nodeProfile: process.env["BENCH_NODE_PROFILE"],
  /** Extra Node.js flags for the node processes (BENCH_NODE_ARGS, space-separated). */
  nodeArgs: (process.env["BENCH_NODE_ARGS"] ?? "").split(" ").filter((a) => a !== ""),
  approve: (process.env["BENCH_APPROVE"] ?? "max") as "max" | "exact",
  batchMaxCount: envInt("BENCH_BATCH", 1),
  push: process.env["BENCH_PUSH"] !== "0",
  gateways: process.env["BENCH_GATEWAYS"] ?? "all",
  profile: process.env["BENCH_PROFILE"],
  save: process.env["BENCH_SAVE"],
};
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SENDERS = fileURLToPath(new URL("./bench-e2e-senders.ts", import.meta.url));
const CLI = join(ROOT, "packages/cli/bin/enigma.js");
/** Longest bring-up of the devnet (about 7 s here) and stop, after SIGTERM, before SIGKILL. */
const UP_TIMEOUT_S = 180;
const STOP_TIMEOUT_S = 60;
/** The running sender process (stopped on Ctrl-C). */
let sender: ReturnType<typeof spawn> | undefined;

function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
}
const median = (xs: readonly number[]) => quantile(xs, 0.5);

interface RunResult {
  tps: number;
  p50: number;
  p95: number;
  p99: number;
  ok: number;
  failed: number;
  lost: number;
  stages: Record<string, number>;
  chainPerTask: number;
  nodePerTask: number;
  cpuMsPerTask: number;
  /** CPU of every process (chain, nodes, senders) per task, ms. */
  cpuAllMsPerTask?: number;
  errors: Record<string, number>;
  calls: string;
}

const STAGES = ["select+verify", "record", "hand-over", "execute", "delivered"] as const;

function summarize(o: SenderOutput): RunResult {
  const ok = o.tasks.filter((t) => t.ok);
  const lost = o.tasks.filter((t) => !t.ok && t.code === 410).length;
  const failed = o.tasks.length - ok.length - lost;
  const lat = ok.map((t) => t.latency ?? NaN);
  const stage = (f: (t: NonNullable<(typeof ok)[number]["timings"]>) => number | undefined) =>
    median(
      ok
        .map((t) => (t.timings === undefined ? undefined : f(t.timings)))
        .filter((x): x is number => x !== undefined && Number.isFinite(x)),
    );
  const stages: Record<string, number> = {
    "select+verify": stage((t) => (t.prepared ?? NaN) - t.started),
    record: stage((t) => (t.recorded ?? NaN) - (t.prepared ?? NaN)),
    "hand-over": stage((t) => (t.inputAccepted ?? NaN) - (t.sent ?? NaN)),
    execute: stage(
      (t) => (t.executed ?? NaN) - Math.max(t.recorded ?? NaN, t.inputAccepted ?? NaN),
    ),
    delivered: stage((t) => (t.resolved ?? NaN) - (t.executed ?? NaN)),
  };
  const errors: Record<string, number> = {};
  for (const t of o.tasks) {
    if (t.ok) continue;
    const k = `${t.code ?? "?"} ${t.message?.slice(0, 80) ?? ""}`;
    errors[k] = (errors[k] ?? 0) + 1;
  }
  const n = Math.max(1, o.tasks.length);
  const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
  const fmt = (r: Record<string, number>) =>
    Object.entries(r)
      .sort((a, b) => b[1] - a[1])
      .map(([m, c]) => `${m} ${(c / n).toFixed(2)}`)
      .join(", ");
  return {
    // Results delivered within the fixed window (a task lost to a 60 s timeout must not
    // stretch it).
    tps: ok.filter((t) => t.end <= o.until).length / ((o.until - o.t0) / 1000),
    p50: quantile(lat, 0.5),
    p95: quantile(lat, 0.95),
    p99: quantile(lat, 0.99),
    ok: ok.length,
    failed,
    lost,
    stages,
    chainPerTask: sum(o.chainCalls) / n,
    nodePerTask: sum(o.nodeCalls) / n,
    cpuMsPerTask: ((o.cpu.user + o.cpu.system) * 1000) / n,
    errors,
    calls: `chain: ${fmt(o.chainCalls)}; node: ${fmt(o.nodeCalls)}`,
  };
}

async function runSenders(cfg: SenderConfig, profileName: string): Promise<SenderOutput> {
  const dir = await mkdtemp(join(tmpdir(), "enigma-bench-e2e-"));
  const file = join(dir, "config.json");
  await writeFile(file, JSON.stringify(cfg));
  const args = [
    ...(S.profile === undefined
      ? []
      : ["--cpu-prof", `--cpu-prof-dir=${S.profile}`, `--cpu-prof-name=${profileName}.cpuprofile`]),
    SENDERS,
    file,
  ];
  try {
    return await new Promise<SenderOutput>((resolve, reject) => {
      const child = spawn(process.execPath, args, {
        cwd: ROOT,
        stdio: ["ignore", "pipe", "inherit"],
      });
      let out = "";
      sender = child;
      child.stdout.on("data", (d: Buffer) => (out += d.toString()));
      child.on("error", reject);
      child.on("exit", (code) => {
        const line = out.trim().split("\n").pop() ?? "";
        if (code !== 0) reject(new Error(`sender process exited ${String(code)}`));
        else resolve(JSON.parse(line) as SenderOutput);
      });
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** CPU seconds a process has used (Linux `/proc/<pid>/stat`; undefined elsewhere). */
async function cpuSeconds(pid: number): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    // Fields after the command (which may hold spaces) start after the last ')'.
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in clock ticks (100/s)
  } catch {
    return undefined;
  }
}

/** CPU seconds of the devnet process (the chain) and of each node process, by name. */
async function cpuByProcess(rec: DevnetRecord) {
  const out: Record<string, number> = {};
  const chain = await cpuSeconds(rec.pid);
  if (chain !== undefined) out["chain (devnet process)"] = chain;
  for (const n of rec.nodes) {
    const c = n.pid === undefined ? undefined : await cpuSeconds(n.pid);
    if (c !== undefined) out[n.name] = c;
  }
  return out;
}

/**
 * Written next to the devnet's state folder with BENCH_NODE_PROFILE and loaded into every
 * devnet process by NODE_OPTIONS=--import (which refuses --cpu-prof): V8's profiler from the
 * start, the profile written when the process exits. Named after the node (its config file is
 * <dir>/nodes/<name>/config.json) or "devnet" for the devnet process itself.
 */
const PROFILER_MODULE = `import { writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import { basename, dirname, join } from "node:path";
const dir = process.env.ENIGMA_BENCH_PROFILE_DIR;
const config = process.argv.indexOf("--config");
const name = config < 0 ? "devnet" : basename(dirname(process.argv[config + 1] ?? ""));
const session = new Session();
session.connect();
session.post("Profiler.enable");
session.post("Profiler.setSamplingInterval", { interval: 1000 });
session.post("Profiler.start");
process.on("exit", () => {
  // A session of this thread answers synchronously: the profile is written before the exit.
  session.post("Profiler.stop", (err, res) => {
    if (err === null) writeFileSync(join(dir, name + "-" + process.pid + ".cpuprofile"), JSON.stringify(res.profile));
  });
});
`;

/**
 * `enigma devnet up --json` in its own process (and process group): resolves with its record
 * once it is up. `stop` (idempotent) sends it SIGTERM, waits for it to stop its nodes and exit,
 * kills whatever is left of its process group after that, and removes the temporary folder.
 */
function startDevnetProcess(work: string, users: number) {
  const dir = join(work, "devnet");
  const tail: string[] = [];
  let child: ChildProcess | undefined;
  let exited: Promise<string> = Promise.resolve("not started");
  let stopping: Promise<void> | undefined;

  const groupAlive = (pid: number) => {
    try {
      process.kill(-pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const sleep = (ms: number) => new Promise<undefined>((r) => setTimeout(r, ms));

  const up = (async (): Promise<DevnetRecord> => {
    const nodeOptions = [...S.nodeArgs];
    if (S.nodeProfile !== undefined) {
      const module = join(work, "cpu-profile.mjs");
      await writeFile(module, PROFILER_MODULE);
      await mkdir(resolve(S.nodeProfile), { recursive: true });
      nodeOptions.push(`--import=${pathToFileURL(module).href}`);
    }
    const env: NodeJS.ProcessEnv = { ...process.env };
    if (nodeOptions.length > 0) {
      env["NODE_OPTIONS"] = [env["NODE_OPTIONS"], ...nodeOptions]
        .filter((o) => o !== undefined && o !== "")
        .join(" ");
    }
    if (S.nodeProfile !== undefined) env["ENIGMA_BENCH_PROFILE_DIR"] = resolve(S.nodeProfile);
    // Stopped (Ctrl-C) while the lines above waited: start nothing.
    if (stopping !== undefined) throw new Error("stopped before the devnet was started");
    const args = [
      CLI,
      "devnet",
      "up",
      "--json",
      "--dir",
      dir,
      "--workers",
      String(S.workers),
      "--users",
      String(users),
      "--epoch-blocks",
      String(S.epochBlocks),
      "--epoch-seconds",
      String(S.epochSeconds),
      "--task-timeout",
      String(S.epochBlocks * 4),
      "--no-explorer",
      // As startDevnet's default (the harness ran with it off): no decrypting debug interface.
      "--no-enclave-debug",
      "--log-level",
      "warn",
    ];
    // Its own process group: a Ctrl-C at the terminal reaches this harness only, which stops
    // the devnet once (a second signal to the devnet process, mid-stop, would kill it before
    // it has stopped its nodes); and whatever it leaves behind can be found by group.
    const c = spawn(process.execPath, args, {
      cwd: ROOT,
      env,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    child = c;
    exited = new Promise<string>((r) => {
      c.once("exit", (code, signal) => {
        r(signal === null ? `exit code ${String(code)}` : `signal ${signal}`);
      });
      c.once("error", (e) => {
        r(`error ${e.message}`);
      });
    });
    // Its progress (already "devnet: ..." lines) and errors, to this stderr.
    createInterface({ input: c.stderr }).on("line", (line) => {
      process.stderr.write(`${line.startsWith("devnet: ") ? "" : "devnet: "}${line}\n`);
      tail.push(line);
      if (tail.length > 20) tail.shift();
    });
    // A bring-up that hangs (a node that died while another was starting has left it waiting
    // for that one) ends here; `stop` then ends the process.
    let timer: NodeJS.Timeout | undefined;
    const line = await new Promise<string | undefined>((resolveLine, reject) => {
      const rl = createInterface({ input: c.stdout });
      rl.on("line", (l) => {
        if (l.startsWith("{")) resolveLine(l);
      });
      void exited.then(() => {
        resolveLine(undefined);
      });
      timer = setTimeout(() => {
        reject(new Error(`enigma devnet up not up after ${UP_TIMEOUT_S} s`));
      }, UP_TIMEOUT_S * 1000);
    }).finally(() => {
      clearTimeout(timer);
    });
    if (line === undefined) {
      throw new Error(
        `enigma devnet up stopped before it was up (${await exited}); it said:\n${tail.join("\n")}`,
      );
    }
    return JSON.parse(line) as DevnetRecord;
  })();

  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      const c = child;
      if (c?.pid !== undefined) {
        if (c.exitCode === null && c.signalCode === null) {
          c.kill("SIGTERM");
          // Stopped during its bring-up, it finishes that first (a few seconds).
          let timer: NodeJS.Timeout | undefined;
          const late = new Promise<undefined>((r) => {
            timer = setTimeout(() => {
              r(undefined);
            }, STOP_TIMEOUT_S * 1000);
          });
          const how = await Promise.race([exited, late]);
          clearTimeout(timer);
          if (how === undefined) {
            process.stderr.write(
              `devnet: still running ${STOP_TIMEOUT_S} s after SIGTERM; killing its group\n`,
            );
            if (groupAlive(c.pid)) process.kill(-c.pid, "SIGKILL");
            await exited;
          }
        }
        // It stops its nodes before it exits: anything left in its group is a leak.
        for (let i = 0; i < 50 && groupAlive(c.pid); i++) await sleep(100);
        if (groupAlive(c.pid)) {
          process.stderr.write("devnet: processes left after it exited; killing its group\n");
          process.kill(-c.pid, "SIGKILL");
        }
      }
      await rm(work, { recursive: true, force: true });
    })());
  // A bring-up that fails is awaited by the caller, who stops what is left.
  up.catch(() => undefined);
  return { up, stop };
}

const f0 = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : "-");
const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : "-");

const maxK = Math.max(...S.ks);
console.log(
  `bench:e2e: ${S.workers} workers as processes, the chain in the devnet's process, K senders in ` +
    `one process, ${S.seconds} s per run, ${S.runs} runs, approve=${S.approve}, ` +
    `push=${String(S.push)}, epoch ${S.epochBlocks} blocks` +
    (S.epochSeconds > 0
      ? `, pacing on (epochs of ${S.epochSeconds} s at most: an idle chain gets empty blocks)`
      : ""),
);
const started = performance.now();
const devnet = startDevnetProcess(
  await mkdtemp(join(tmpdir(), "enigma-bench-e2e-devnet-")),
  maxK + 1,
);
/** Set by Ctrl-C / SIGTERM: the devnet is being stopped and this process exits with 130. */
const interrupted: { by?: string } = {};
// Ctrl-C / SIGTERM: stop the sender process and the devnet before leaving (once: a second
// signal while they stop changes nothing).
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    if (interrupted.by !== undefined) return;
    interrupted.by = sig;
    process.stderr.write(`bench:e2e: ${sig}, stopping the senders and the devnet\n`);
    sender?.kill("SIGTERM");
    void devnet.stop().finally(() => process.exit(130));
  });
}
try {
  const info = await devnet.up;
  if (interrupted.by !== undefined) throw new Error(interrupted.by);
  const workers = info.nodes.filter((n) => n.role === "worker");
  console.log(
    `devnet up in ${((performance.now() - started) / 1000).toFixed(1)} s ` +
      `(devnet process ${info.pid}, nodes ${info.nodes.map((n) => `${n.name} ${String(n.pid)}`).join(", ")})`,
  );
  const wasm = new Uint8Array(
    await readFile(join(ROOT, "packages/secret-contract/build/examples/calculator.wasm")),
  );
  // Account 0 through the first worker's gateway, built as the senders build theirs.
  const deployerProvider = new JsonRpcProvider(info.chain.rpcUrl, info.chain.chainId, {
    staticNetwork: true,
    cacheTimeout: -1,
    batchMaxCount: S.batchMaxCount,
  });
  const deployerKey = info.accounts[0]?.privateKey;
  const firstGateway = workers[0]?.rpcUrl;
  if (deployerKey === undefined || firstGateway === undefined) {
    throw new Error("the devnet has no account 0 or no worker gateway");
  }
  const deployer = new EnigmaClient({
    signer: new Wallet(deployerKey, deployerProvider),
    enigmaAddress: info.chain.enigmaAddress,
    tokenAddress: info.chain.tokenAddress,
    nodeUrl: firstGateway,
    trustRoot: info.trustRoot,
    attestationPolicy: info.attestationPolicy,
    approve: "max",
    pollIntervalMs: 50,
    resultTimeoutMs: 60_000,
  });
  const contracts: string[] = [];
  for (let i = 0; i < Math.max(...S.cs); i++) {
    const d = deployer.deploySecretContract(wasm, "construct()", [], { gasLimit: 5_000_000n });
    const sc = await d.submitted();
    await d.result();
    contracts.push(sc);
  }
  deployer.close();
  deployerProvider.destroy();
  const gateways = workers
    .map((w) => w.rpcUrl)
    .filter((u): u is string => u !== undefined)
    .slice(0, S.gateways === "first" ? 1 : undefined);

  const probe = new JsonRpcProvider(info.chain.rpcUrl, info.chain.chainId, { staticNetwork: true });
  const enigma = new Contract(info.chain.enigmaAddress, ENIGMA_ABI, probe);
  /** The chain's head and the current epoch's first block. */
  const chainState = async () => {
    const [first] = (await enigma.getFunction("getWorkerParams")(MaxUint256)) as [bigint];
    return { block: await probe.getBlockNumber(), epoch: Number(first) };
  };
  const rows: { k: number; c: number; runs: RunResult[] }[] = [];
  for (const c of S.cs) {
    for (const k of S.ks) {
      const runs: RunResult[] = [];
      for (let r = 0; r < S.runs; r++) {
        const cfg: SenderConfig = {
          rpcUrl: info.chain.rpcUrl,
          chainId: info.chain.chainId,
          enigmaAddress: info.chain.enigmaAddress,
          tokenAddress: info.chain.tokenAddress,
          gateways,
          trustRoot: info.trustRoot,
          attestationPolicy: info.attestationPolicy,
          keys: info.accounts.slice(1, k + 1).map((a) => a.privateKey),
          contracts: contracts.slice(0, c),
          seconds: S.seconds,
          approve: S.approve,
          batchMaxCount: S.batchMaxCount,
          push: S.push,
        };
        const cpu0 = await cpuByProcess(info);
        const chain0 = await chainState();
        const out = await runSenders(cfg, `k${k}-c${c}-run${r + 1}`);
        const cpu1 = await cpuByProcess(info);
        const chain1 = await chainState();
        const res = summarize(out);
        if (S.save !== undefined) {
          await writeFile(
            join(S.save, `senders-k${k}-c${c}-run${r + 1}.json`),
            JSON.stringify(out),
          );
        }
        runs.push(res);
        console.log(
          `K=${k} C=${c} run ${r + 1}: ${f1(res.tps)} tasks/s, p50 ${f0(res.p50)} ms, p95 ${f0(res.p95)} ms, ` +
            `p99 ${f0(res.p99)} ms, ok ${res.ok}, failed ${res.failed}, lost ${res.lost}` +
            (out.warmupFailures > 0 ? `, warm-up failures ${out.warmupFailures}` : "") +
            `; stages ${STAGES.map((s) => `${s} ${f0(res.stages[s] ?? NaN)}`).join(", ")} ms; ` +
            `client CPU ${f1(res.cpuMsPerTask)} ms/task`,
        );
        if (Object.keys(res.errors).length > 0)
          console.log(`  errors: ${JSON.stringify(res.errors)}`);
        console.log(`  per task: ${res.calls}`);
        // Where the machine's CPU went during the run (2 cores: 2 s per second at most).
        const shares = Object.entries(cpu1)
          .map(([name, v]) => `${name} ${((v - (cpu0[name] ?? 0)) / out.wall).toFixed(2)}`)
          .concat(`senders ${((out.cpu.user + out.cpu.system) / out.wall).toFixed(2)}`);
        console.log(`  CPU seconds per second: ${shares.join(", ")}`);
        // Nodes and chain also served the K warm-up tasks; the senders' figure is the window's.
        const done = Math.max(1, res.ok + res.failed + res.lost);
        const nodeMs = Object.entries(cpu1).map(
          ([name, v]) => [name, ((v - (cpu0[name] ?? 0)) * 1000) / (done + k)] as const,
        );
        const senderMs = ((out.cpu.user + out.cpu.system) * 1000) / done;
        const all = nodeMs.reduce((a, [, v]) => a + v, senderMs);
        res.cpuAllMsPerTask = all;
        console.log(
          `  CPU ms per task: ${nodeMs.map(([n, v]) => `${n} ${v.toFixed(1)}`).join(", ")}, ` +
            `senders ${senderMs.toFixed(1)}; all ${all.toFixed(1)}`,
        );
        console.log(
          `  chain: ${chain1.block - chain0.block} blocks, ` +
            (chain1.epoch === chain0.epoch
              ? "no new epoch"
              : `epoch started at block ${chain1.epoch}`),
        );
      }
      rows.push({ k, c, runs });
    }
  }

  console.log(`\nMedians of ${S.runs} runs (${S.seconds} s each):\n`);
  const header = [
    "K",
    "C",
    "tasks/s",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "failed",
    "lost",
    ...STAGES.map((s) => `${s} ms`),
    "chain req/task",
    "node req/task",
    "client CPU ms/task",
    "all CPU ms/task",
  ];
  console.log(`| ${header.join(" | ")} |`);
  console.log(`|${header.map(() => "---").join("|")}|`);
  for (const { k, c, runs } of rows) {
    const m = (f: (r: RunResult) => number) => median(runs.map(f));
    console.log(
      `| ${[
        k,
        c,
        f1(m((r) => r.tps)),
        f0(m((r) => r.p50)),
        f0(m((r) => r.p95)),
        f0(m((r) => r.p99)),
        runs.map((r) => r.failed).join("/"),
        runs.map((r) => r.lost).join("/"),
        ...STAGES.map((s) => f0(m((r) => r.stages[s] ?? NaN))),
        f1(m((r) => r.chainPerTask)),
        f1(m((r) => r.nodePerTask)),
        f1(m((r) => r.cpuMsPerTask)),
        f1(m((r) => r.cpuAllMsPerTask ?? NaN)),
      ].join(" | ")} |`,
    );
  }
  probe.destroy();
} catch (e) {
  // Interrupted: the signal's handler stops everything and exits with 130.
  if (interrupted.by === undefined) throw e;
} finally {
  await devnet.stop();
}
