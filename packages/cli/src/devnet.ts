// `enigma devnet config|up|status|down`: a whole network on this machine. `up` runs in the
// foreground (chain in this process, every node an `enigma node start` child), records itself
// in <dir>/devnet.json, and stops everything it started on Ctrl-C / SIGTERM; `status` and
// `down` work from that file.
import { readFile, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type Command, InvalidArgumentError } from "commander";
import type { DevnetInfo, DevnetOptions, FaultyWorkerKind, LogLevel } from "@enigma/devnet";
// The presets alone: the rest of @enigma/devnet (Hardhat, the node) loads only for `up`.
import { resolveDevnetOptions } from "@enigma/devnet/presets";
import { EnigmaError, ErrorCode } from "@enigma/protocol";
import { checkDemo, runDemo, type DemoReport } from "./demo.js";
import { registerFault } from "./fault.js";
import type { CliIo } from "./main.js";
import { startControl } from "./snapshot.js";

/**
 * What `devnet up` prints with --json and writes to <dir>/devnet.json: the devnet, the CLI
 * process's pid, and the loopback endpoints `enigma devnet snapshot` and `enigma devnet fault`
 * post to.
 */
export type DevnetRecord = DevnetInfo & {
  pid: number;
  /** Where `enigma devnet snapshot` asks this devnet's process for a snapshot (127.0.0.1). */
  controlUrl?: string;
  /** Where `enigma devnet fault` reaches this devnet's nemesis (127.0.0.1). */
  faultsUrl?: string;
};

export const DEFAULT_DEVNET_DIR = ".devnet";
export const RECORD = "devnet.json";
const LOG_LEVELS: readonly LogLevel[] = [
  "trace",
  "debug",
  "info",
  "warn",
  "error",
  "fatal",
  "silent",
];

function intArg(name: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`${name} must be a whole number`);
    return Number(value);
  };
}

interface ConfigFlags {
  preset: string;
  workers?: number;
  epochBlocks?: number;
  epochSeconds?: number;
  taskTimeout?: number;
  blockTime?: string;
  seed?: string;
  confirmations?: number;
  selection?: string;
  epochPolicy?: string;
}

/** `--epoch-seconds`: seconds, decimals allowed (0 turns pacing off). */
export function secondsArg(name: string) {
  return (value: string): number => {
    if (!/^\d+(\.\d+)?$/.test(value)) {
      throw new InvalidArgumentError(`${name} must be a number of seconds`);
    }
    return Number(value);
  };
}

/** The flags every command that resolves devnet options takes (`devnet config|up`, `chain start`). */
export function withTimingFlags(cmd: Command): Command {
  return cmd
    .option(
      "--selection <name>",
      "worker-selection strategy, deployed with Enigma and used by every node and client: discovery (default), group:k, rotation:n (`enigma sim --list`)",
    )
    .option(
      "--epoch-policy <name>",
      "epoch policy: one the Enigma contract implements (discovery, the default)",
    )
    .option("--epoch-blocks <n>", "blocks per epoch", intArg("--epoch-blocks"))
    .option(
      "--epoch-seconds <s>",
      "longest wall time of an epoch: an idle chain gets empty blocks at that pace (0: off)",
      secondsArg("--epoch-seconds"),
    )
    .option(
      "--task-timeout <blocks>",
      "blocks after which an uncommitted task is refundable (default: follows the epoch length)",
      intArg("--task-timeout"),
    );
}

function withConfigFlags(cmd: Command): Command {
  return withTimingFlags(
    cmd
      .option("--preset <name>", "fast | realistic", "fast")
      .option("--workers <n>", "number of workers", intArg("--workers")),
  )
    .option("--block-time <ms|auto>", "block interval in ms, or auto")
    .option("--seed <s>", "seed for keys and randomness")
    .option(
      "--confirmations <n>",
      "blocks a worker waits after a task's record",
      intArg("--confirmations"),
    );
}

/** `--block-time`: "auto" or whole milliseconds; InvalidConfig otherwise. */
export function parseBlockTime(flag: string): number | "auto" {
  if (flag === "auto") return "auto";
  if (/^\d+$/.test(flag)) return Number(flag);
  throw new EnigmaError(
    ErrorCode.InvalidConfig,
    `--block-time must be "auto" or milliseconds, got "${flag}"`,
    { details: { path: "blockTime" } },
  );
}

/** Validates the flags into devnet options (InvalidConfig names the field). */
export function devnetOptionsFromFlags(opts: ConfigFlags): DevnetOptions {
  const blockTime = opts.blockTime === undefined ? undefined : parseBlockTime(opts.blockTime);
  return resolveDevnetOptions(opts.preset, {
    workers: opts.workers,
    epochBlocks: opts.epochBlocks,
    epochSeconds: opts.epochSeconds,
    taskTimeoutBlocks: opts.taskTimeout,
    seed: opts.seed,
    blockTime,
    confirmations: opts.confirmations,
    selection: opts.selection,
    epochPolicy: opts.epochPolicy,
  });
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The record `devnet up` wrote in `dir`; undefined when there is none (InvalidConfig if broken). */
export async function readRecord(dir: string): Promise<DevnetRecord | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, RECORD), "utf8");
  } catch {
    return undefined;
  }
  let rec: unknown;
  try {
    rec = JSON.parse(text);
  } catch (cause) {
    throw new EnigmaError(ErrorCode.InvalidConfig, `${join(dir, RECORD)} is not valid JSON`, {
      cause,
    });
  }
  const r = rec as Partial<DevnetRecord> | null;
  if (
    r === null ||
    typeof r !== "object" ||
    !Number.isInteger(r.pid) ||
    typeof r.chain?.rpcUrl !== "string" ||
    !Array.isArray(r.nodes)
  ) {
    throw new EnigmaError(ErrorCode.InvalidConfig, `${join(dir, RECORD)} is not a devnet record`);
  }
  return r as DevnetRecord;
}

/** One JSON-RPC 2.0 call over HTTP with a short timeout (status checks of chain and nodes). */
export async function rpcCall(url: string, method: string, params: unknown): Promise<unknown> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
    signal: AbortSignal.timeout(3_000),
  });
  const body = (await res.json()) as { result?: unknown; error?: { message: string } };
  if (body.error !== undefined) throw new Error(body.error.message);
  return body.result;
}

/** The table `devnet up` prints: what is up and where. */
export function formatDevnet(r: DevnetRecord): string {
  const rows: [string, string][] = [
    ["state dir", r.dir],
    ["pid", String(r.pid)],
    [
      "epochs",
      `${r.options.epochBlocks} blocks, ${r.options.epochSeconds === 0 ? "ending only when blocks are mined" : `${r.options.epochSeconds} s at most`}; task timeout ${r.options.taskTimeoutBlocks} blocks`,
    ],
    ["policies", `selection ${r.options.selection}, epochs ${r.options.epochPolicy}`],
    ["chain", `${r.chain.rpcUrl} (chain id ${r.chain.chainId})`],
    ...(r.explorerUrl === undefined
      ? []
      : [
          [
            "explorer",
            `${r.explorerUrl}${r.enclaveDebug === true ? " (god mode on: the enclaves' debug interface is open)" : ""}`,
          ] as [string, string],
        ]),
    ["Enigma", r.chain.enigmaAddress],
    ["ENG token", r.chain.tokenAddress],
    [
      "trust root",
      `RSA modulus ${r.trustRoot.modulus.slice(0, 18)}... (attestation service ${r.attestationUrl})`,
    ],
  ];
  for (const n of r.nodes) {
    rows.push([
      n.name,
      `${n.rpcUrl ?? "(no rpc)"}  signer ${n.signer}  custodian ${n.custodian}${n.pid === undefined ? "" : `  pid ${n.pid}`}`,
    ]);
  }
  r.accounts.forEach((a, i) => {
    rows.push([`account ${i}`, `${a.address}  key ${a.privateKey}`]);
  });
  return rows.map(([k, v]) => `${k.padEnd(12)} ${v}\n`).join("");
}

/**
 * Resolves on the first SIGINT or SIGTERM. Later ones, while the devnet stops, are told to
 * `onRepeat` and otherwise ignored until `dispose`: Node.js's default for them would kill this
 * process before it has stopped its nodes.
 */
function untilSignal(onRepeat: (sig: string) => void): {
  done: Promise<string>;
  received(): string | undefined;
  dispose(): void;
} {
  let received: string | undefined;
  let resolveDone: (sig: string) => void = () => undefined;
  const done = new Promise<string>((resolve) => {
    resolveDone = resolve;
  });
  const on = (sig: string) => () => {
    if (received !== undefined) {
      onRepeat(sig);
      return;
    }
    received = sig;
    resolveDone(sig);
  };
  const onInt = on("SIGINT");
  const onTerm = on("SIGTERM");
  process.on("SIGINT", onInt);
  process.on("SIGTERM", onTerm);
  return {
    done,
    received: () => received,
    dispose: () => {
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
    },
  };
}

async function up(
  io: CliIo,
  opts: ConfigFlags & {
    dir: string;
    json?: boolean;
    chainPort?: number;
    logLevel?: string;
    demo?: boolean;
    exit?: boolean;
    faultyWorker?: string;
    users?: number;
    explorer?: boolean;
    explorerPort?: number;
    enclaveDebug?: boolean;
    restore?: string;
    faults?: boolean;
    netns?: boolean;
  },
): Promise<void> {
  const options = devnetOptionsFromFlags(opts);
  if (opts.demo === true && opts.users !== undefined && opts.users < 2) {
    throw new EnigmaError(
      ErrorCode.InvalidConfig,
      `--demo runs tasks from two accounts: --users must be at least 2, got ${opts.users}`,
      { details: { path: "users" } },
    );
  }
  if (opts.demo === true) await checkDemo();
  if (opts.logLevel !== undefined && !LOG_LEVELS.includes(opts.logLevel as LogLevel)) {
    throw new EnigmaError(
      ErrorCode.InvalidConfig,
      `--log-level must be one of ${LOG_LEVELS.join(", ")}, got "${opts.logLevel}"`,
      { details: { path: "logLevel" } },
    );
  }
  const dir = resolve(opts.dir);
  const existing = await readRecord(dir).catch(() => undefined);
  if (existing !== undefined && isAlive(existing.pid) && existing.pid !== process.pid) {
    throw new EnigmaError(
      ErrorCode.InvalidConfig,
      `a devnet is already running from ${dir} (pid ${existing.pid}): run \`enigma devnet down --dir ${opts.dir}\` first`,
    );
  }
  // Signals that arrive during bring-up stop the devnet as soon as it is up.
  const started = performance.now();
  const { NODE_PROCESS_FLAGS, startDevnet } = await import("@enigma/devnet");
  let up = false;
  const signal = untilSignal((sig) => {
    io.err(
      up
        ? `devnet: ${sig} again; already stopping, wait for "devnet: stopped"\n`
        : `devnet: ${sig} again; the bring-up cannot be cut short, it stops once it ends\n`,
    );
  });
  const devnet = await startDevnet({
    ...options,
    inProcess: false,
    dir,
    ...(opts.chainPort === undefined ? {} : { chainPort: opts.chainPort }),
    // startDevnet refuses a count out of range (InvalidConfig, path "users") before it starts.
    ...(opts.users === undefined ? {} : { users: opts.users }),
    ...(opts.logLevel === undefined ? {} : { logLevel: opts.logLevel as LogLevel }),
    // startDevnet refuses an unknown kind, naming the field, before it starts anything.
    ...(opts.faultyWorker === undefined
      ? {}
      : { faultyWorker: opts.faultyWorker as FaultyWorkerKind }),
    // The explorer's page (on unless --no-explorer) and, this being a devnet, the enclaves'
    // debug interface behind its god mode (on unless --no-enclave-debug).
    explorer: opts.explorer === false ? false : { port: opts.explorerPort ?? 0 },
    enclaveDebug: opts.enclaveDebug !== false,
    ...(opts.restore === undefined ? {} : { restore: opts.restore }),
    ...(opts.faults === true ? { faults: true } : {}),
    ...(opts.netns === true ? { hosts: "netns" as const } : {}),
    // Same depth from src/ and dist/: packages/cli/<src|dist>/ -> packages/cli/bin/enigma.js.
    nodeCommand: [
      process.execPath,
      ...NODE_PROCESS_FLAGS,
      fileURLToPath(new URL("../bin/enigma.js", import.meta.url)),
    ],
    onProgress: (m) => {
      io.err(`devnet: ${m}\n`);
    },
    onNodeExit: (node, how) => {
      io.err(
        `devnet: ${node.name} stopped on its own (${how}); see ${join(dir, "nodes", node.name, "node.log")}\n`,
      );
    },
  }).catch((e: unknown) => {
    signal.dispose();
    // Ctrl-C reaches the node processes too, so a bring-up interrupted by a signal fails:
    // that is the stop the user asked for, not an error.
    const sig = signal.received();
    if (sig !== undefined) return sig;
    throw e;
  });
  if (typeof devnet === "string") {
    io.err(`devnet: ${devnet} during bring-up; stopped everything it had started\n`);
    return;
  }
  up = true;
  let control: Awaited<ReturnType<typeof startControl>> | undefined;
  let faults: { stop(): Promise<void> } | undefined;
  try {
    control = await startControl(devnet);
    // `enigma devnet fault` reaches this process's nemesis here (loopback only).
    const { FaultControlServer } = await import("@enigma/devnet/faults");
    const server = new FaultControlServer(devnet.faults);
    faults = server;
    await server.start();
    const record: DevnetRecord = {
      ...devnet.info(),
      pid: process.pid,
      controlUrl: control.url,
      faultsUrl: server.url,
    };
    await writeFile(join(dir, RECORD), `${JSON.stringify(record, null, 2)}\n`);
    io.err(
      `devnet: up in ${((performance.now() - started) / 1000).toFixed(1)} s; Ctrl-C or \`enigma devnet down\` stops it\n`,
    );
    let demo: DemoReport | undefined;
    if (opts.demo === true) {
      const running = runDemo(devnet, io, { json: opts.json === true });
      const first = await Promise.race([running, signal.done]);
      if (typeof first === "string") {
        // Stopped mid-demo: its tasks fail as the devnet goes down; nobody waits for them.
        running.catch(() => undefined);
        io.err(`devnet: ${first}, stopping\n`);
        return;
      }
      demo = first;
    }
    if (opts.json === true) {
      io.out(`${JSON.stringify(demo === undefined ? record : { ...record, demo })}\n`);
    } else if (opts.exit !== true) {
      io.out(`${demo === undefined ? "" : "\ndevnet up, still running:\n"}${formatDevnet(record)}`);
    }
    if (opts.exit === true) {
      io.err("devnet: --exit, stopping\n");
    } else {
      const sig = await signal.done;
      io.err(`devnet: ${sig}, stopping\n`);
    }
  } finally {
    try {
      await faults?.stop();
      await control?.stop();
      await devnet.stop();
      await rm(join(dir, RECORD), { force: true });
      io.err("devnet: stopped\n");
    } finally {
      signal.dispose();
    }
  }
}

async function status(io: CliIo, opts: { dir: string; json?: boolean }): Promise<number> {
  const dir = resolve(opts.dir);
  const rec = await readRecord(dir);
  if (rec === undefined) {
    throw new EnigmaError(
      ErrorCode.InvalidConfig,
      `no devnet recorded in ${dir} (no ${RECORD}): start one with \`enigma devnet up\``,
    );
  }
  const check = async (url: string, method: string, params: unknown) => {
    try {
      return { ok: true, result: await rpcCall(url, method, params) };
    } catch (e) {
      return { ok: false, error: e instanceof Error ? e.message : String(e) };
    }
  };
  const chain = await check(rec.chain.rpcUrl, "eth_blockNumber", []);
  const nodes = await Promise.all(
    rec.nodes.map(async (n) => ({
      name: n.name,
      rpcUrl: n.rpcUrl,
      alive: n.pid === undefined ? undefined : isAlive(n.pid),
      ...(n.rpcUrl === undefined
        ? { ok: n.pid === undefined ? true : isAlive(n.pid) }
        : await check(n.rpcUrl, "getInfo", {})),
    })),
  );
  const report = {
    dir,
    pid: rec.pid,
    running: isAlive(rec.pid),
    chain: {
      rpcUrl: rec.chain.rpcUrl,
      ok: chain.ok,
      ...(chain.ok ? { blockNumber: Number(chain.result) } : {}),
    },
    nodes: nodes.map((n) => ({ name: n.name, rpcUrl: n.rpcUrl, ok: n.ok })),
  };
  const healthy = report.running && report.chain.ok && report.nodes.every((n) => n.ok);
  if (opts.json === true) {
    io.out(`${JSON.stringify({ ...report, healthy })}\n`);
  } else {
    const mark = (ok: boolean) => (ok ? "up  " : "DOWN");
    io.out(`${"devnet".padEnd(12)} ${mark(report.running)} pid ${rec.pid}\n`);
    io.out(
      `${"chain".padEnd(12)} ${mark(report.chain.ok)} ${rec.chain.rpcUrl}${report.chain.blockNumber === undefined ? "" : ` block ${report.chain.blockNumber}`}\n`,
    );
    for (const n of report.nodes) {
      io.out(`${n.name.padEnd(12)} ${mark(n.ok)} ${n.rpcUrl ?? "(no rpc)"}\n`);
    }
  }
  return healthy ? 0 : 1;
}

async function down(io: CliIo, opts: { dir: string; timeout: number }): Promise<void> {
  const dir = resolve(opts.dir);
  const rec = await readRecord(dir);
  if (rec === undefined) {
    throw new EnigmaError(ErrorCode.InvalidConfig, `no devnet recorded in ${dir} (no ${RECORD})`);
  }
  if (!isAlive(rec.pid)) {
    await rm(join(dir, RECORD), { force: true });
    io.err(`devnet: pid ${rec.pid} is not running; removed the stale ${RECORD}\n`);
    return;
  }
  process.kill(rec.pid, "SIGTERM");
  io.err(`devnet: sent SIGTERM to pid ${rec.pid}, waiting for it to stop\n`);
  const until = Date.now() + opts.timeout * 1000;
  while (isAlive(rec.pid)) {
    if (Date.now() > until) {
      throw new EnigmaError(
        ErrorCode.NodeNotReady,
        `pid ${rec.pid} is still running after ${opts.timeout} s`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  io.err("devnet: stopped\n");
}

/** Adds `devnet config|up|status|down`; `setExit` records a non-zero exit code. */
export function registerDevnet(program: Command, io: CliIo, setExit: (code: number) => void): void {
  const devnet = program
    .command("devnet")
    .description("a whole network on this machine")
    .exitOverride();

  withConfigFlags(
    devnet
      .command("config")
      .description("print the devnet configuration a preset and flags resolve to"),
  )
    .option("--json", "print JSON only")
    .exitOverride()
    .action((opts: ConfigFlags & { json?: boolean }) => {
      const resolved = devnetOptionsFromFlags(opts);
      if (opts.json === true) {
        io.out(`${JSON.stringify(resolved)}\n`);
      } else {
        for (const [k, v] of Object.entries(resolved)) io.out(`${k.padEnd(18)} ${String(v)}\n`);
      }
    });

  withConfigFlags(
    devnet
      .command("up")
      .description(
        "start chain, contracts, principal and workers (one process each) in the foreground; Ctrl-C stops them",
      ),
  )
    .option("--dir <dir>", "state folder (node data, logs, devnet.json)", DEFAULT_DEVNET_DIR)
    .option(
      "--chain-port <port>",
      "chain JSON-RPC port (default: any free port)",
      intArg("--chain-port"),
    )
    .option("--log-level <level>", "node log level (in <dir>/nodes/*/node.log)")
    .option(
      "--users <n>",
      "funded user accounts, 0 to 100 (default 3), from the seed; listed in devnet.json",
      intArg("--users"),
    )
    .option("--json", "print one JSON object on stdout (progress goes to stderr)")
    .option(
      "--demo",
      "once up, deploy the calculator and millionaires examples and run tasks end to end",
    )
    .option("--exit", "stop once up (after the demo with --demo) instead of running on")
    .option(
      "--faulty-worker <kind>",
      "test fault: the last worker is faulty (measurement | key-signer); clients refuse it",
    )
    .option("--no-explorer", "do not serve the explorer's web page")
    .option(
      "--explorer-port <port>",
      "port of the explorer's page on 127.0.0.1 (default: any free port)",
      intArg("--explorer-port"),
    )
    .option(
      "--no-enclave-debug",
      "keep the enclaves' debug interface closed (the explorer's god mode is then off)",
    )
    .option(
      "--restore <name>",
      "start from a snapshot (`devnet snapshot`): its name in <dir>/snapshots/ or its folder; its seed, workers and timing are used",
    )
    .option(
      "--faults",
      "faults on demand beyond signals: per-node chain proxies (chain-outage, slow-chain, kill-at receipt-in-flight) and the nodes' fault hooks (partition, kill-at task-stored); see `enigma devnet fault`",
    )
    .option(
      "--netns",
      "run every node in its own network namespace with its own address (root; partitions drop packets)",
    )
    .exitOverride()
    .action(async (opts: Parameters<typeof up>[1]) => {
      await up(io, opts);
    });

  registerFault(devnet, io);

  devnet
    .command("status")
    .description("check that the recorded devnet's chain and nodes answer")
    .option("--dir <dir>", "state folder", DEFAULT_DEVNET_DIR)
    .option("--json", "print JSON only")
    .exitOverride()
    .action(async (opts: { dir: string; json?: boolean }) => {
      setExit(await status(io, opts));
    });

  devnet
    .command("down")
    .description("stop the devnet started by `enigma devnet up` (SIGTERM to its process)")
    .option("--dir <dir>", "state folder", DEFAULT_DEVNET_DIR)
    .option("--timeout <s>", "seconds to wait for it to stop", intArg("--timeout"), 60)
    .exitOverride()
    .action(async (opts: { dir: string; timeout: number }) => {
      await down(io, opts);
    });
}
