// `enigma sim`: a worker-selection strategy and an epoch policy over virtual epochs, no chain
// and no network, with the policy code the nodes run (@enigma/sim). Flags build a scenario, or
// override a scenario file's fields; the result goes to stdout (a table, or JSON), the HTML
// report to a file, progress to stderr.
import { readFile, writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { Command } from "commander";
import {
  EnigmaError,
  ErrorCode,
  getEpochPolicy,
  getSelectionStrategy,
  isEnigmaError,
  listEpochPolicies,
  listSelectionStrategies,
  type PolicyDescriptor,
  type ValidationIssue,
} from "@enigma/protocol";
import {
  parseScenario,
  renderReport,
  runSimulation,
  scenarioError,
  type SimulationResult,
} from "@enigma/sim";
import type { CliIo } from "./main.js";

interface SimFlags {
  workers?: string;
  contracts?: string;
  epochs?: string;
  seed?: string;
  selection?: string;
  epochPolicy?: string;
  stake?: string;
  meanStake?: string;
  joins?: string;
  leaves?: string;
  adversary?: string;
  threshold?: string;
  scenario?: string;
  json?: boolean;
  report?: string;
  compare?: string[];
  selections?: boolean;
  list?: boolean;
}

/** Without a scenario file, what an unset flag means. */
const DEFAULTS = { workers: 100, contracts: 1000, epochs: 100 };

/** Which flag sets which scenario field (errors name the flag the user typed). */
const FLAG_OF: Readonly<Record<string, string>> = {
  "workers.count": "--workers",
  contracts: "--contracts",
  epochs: "--epochs",
  seed: "--seed",
  selection: "--selection",
  epochPolicy: "--epoch-policy",
  "workers.stake.distribution": "--stake",
  "workers.stake.exponent": "--stake",
  "workers.stake.share": "--stake",
  "workers.stake.mean": "--mean-stake",
  "churn.joins": "--joins",
  "churn.leaves": "--leaves",
  "adversary.stakeShare": "--adversary",
  stakingThreshold: "--threshold",
};

function bad(message: string, details: Record<string, unknown> = {}): EnigmaError {
  return new EnigmaError(ErrorCode.InvalidArgument, message, { details });
}

/** A flag's number; anything that is not one is left for the schema to refuse (NaN). */
function num(v: string): number {
  return /^\s*$/.test(v) ? Number.NaN : Number(v);
}

function stakeFlag(v: string): Record<string, unknown> {
  const m = /^(equal|zipf|whale)(?::(.+))?$/.exec(v);
  if (m === null || (m[1] === "equal" && m[2] !== undefined)) {
    throw bad(`--stake: expected equal, zipf[:EXPONENT] or whale[:SHARE], got "${v}"`);
  }
  const param =
    m[2] === undefined ? {} : m[1] === "zipf" ? { exponent: num(m[2]) } : { share: num(m[2]) };
  return { distribution: m[1], ...param };
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** The scenario file's object (or {}), then the flags over it, field by field. */
async function scenarioInput(f: SimFlags): Promise<Obj> {
  let base: Obj;
  if (f.scenario !== undefined) {
    let text: string;
    try {
      text = await readFile(f.scenario, "utf8");
    } catch (e) {
      throw bad(`cannot read the scenario file ${f.scenario}: ${(e as Error).message}`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      throw scenarioError([
        { path: "", message: `${f.scenario} is not JSON: ${(e as Error).message}` },
      ]);
    }
    if (!isObj(parsed))
      throw scenarioError([{ path: "", message: `${f.scenario} must hold a JSON object` }]);
    base = parsed;
  } else {
    base = {
      workers: { count: DEFAULTS.workers },
      contracts: DEFAULTS.contracts,
      epochs: DEFAULTS.epochs,
    };
  }
  const workers: Obj = isObj(base.workers) ? { ...base.workers } : {};
  if (f.workers !== undefined) workers.count = num(f.workers);
  if (f.stake !== undefined || f.meanStake !== undefined) {
    const previous = isObj(workers.stake) ? workers.stake : {};
    const next = f.stake === undefined ? { ...previous } : stakeFlag(f.stake);
    if (f.stake !== undefined && previous.mean !== undefined) next.mean = previous.mean;
    if (f.meanStake !== undefined) next.mean = f.meanStake;
    next.distribution ??= "equal";
    workers.stake = next;
  }
  const out: Obj = { ...base, workers };
  if (f.contracts !== undefined) out.contracts = num(f.contracts);
  if (f.epochs !== undefined) out.epochs = num(f.epochs);
  if (f.seed !== undefined) out.seed = f.seed;
  if (f.selection !== undefined) out.selection = f.selection;
  if (f.epochPolicy !== undefined) out.epochPolicy = f.epochPolicy;
  if (f.threshold !== undefined) out.stakingThreshold = f.threshold;
  if (f.joins !== undefined || f.leaves !== undefined) {
    const churn = isObj(base.churn) ? { ...base.churn } : {};
    if (f.joins !== undefined) churn.joins = num(f.joins);
    if (f.leaves !== undefined) churn.leaves = num(f.leaves);
    out.churn = churn;
  }
  if (f.adversary !== undefined) out.adversary = { stakeShare: num(f.adversary) };
  return out;
}

/** Validates, naming the flag behind a field when a flag set it, else the file. */
function parseWithFlags(input: Obj, f: SimFlags, given: ReadonlySet<string>) {
  try {
    return parseScenario(input);
  } catch (e) {
    if (!isEnigmaError(e, ErrorCode.InvalidScenario)) throw e;
    const issues = (e.details.issues as ValidationIssue[]).map((i) => {
      const flag = FLAG_OF[i.path];
      if (flag !== undefined && given.has(flag)) return { path: flag, message: i.message };
      return f.scenario === undefined
        ? i
        : { path: `${f.scenario}: ${i.path}`, message: i.message };
    });
    throw scenarioError(issues);
  }
}

function givenFlags(f: SimFlags): Set<string> {
  const given = new Set<string>();
  const names: [keyof SimFlags, string][] = [
    ["workers", "--workers"],
    ["contracts", "--contracts"],
    ["epochs", "--epochs"],
    ["seed", "--seed"],
    ["selection", "--selection"],
    ["epochPolicy", "--epoch-policy"],
    ["stake", "--stake"],
    ["meanStake", "--mean-stake"],
    ["joins", "--joins"],
    ["leaves", "--leaves"],
    ["adversary", "--adversary"],
    ["threshold", "--threshold"],
  ];
  for (const [key, flag] of names) if (f[key] !== undefined) given.add(flag);
  return given;
}

const fmt = (x: number) => (Number.isInteger(x) ? x.toLocaleString("en-US") : x.toFixed(4));

/** The human summary: one row per measure, one column per run. */
function table(results: readonly SimulationResult[]): string {
  const rows: [string, (r: SimulationResult) => string][] = [
    ["selection / epoch policy", (r) => `${r.selection} / ${r.epochPolicy}`],
    ["workers at the end", (r) => fmt(r.totals.finalWorkers)],
    ["hand-overs per epoch", (r) => fmt(r.totals.handOversPerEpoch)],
    ["contracts changing hands per epoch", (r) => fmt(r.totals.contractsChangedPerEpoch)],
    ["Gini of contracts per worker (mean)", (r) => fmt(r.totals.meanGini)],
    ["busiest worker's share (max)", (r) => fmt(r.totals.maxMaxShare)],
    ["proportionality error per epoch (mean)", (r) => fmt(r.totals.meanProportionalityError)],
    ["proportionality error, all epochs", (r) => fmt(r.totals.longRunProportionalityError)],
    ["coalition stake share", (r) => (r.coalition === null ? "-" : fmt(r.coalition.stakeShare))],
    [
      "coalition holds (mean share)",
      (r) => (r.coalition === null ? "-" : fmt(r.coalition.meanHeld)),
    ],
    [
      "coalition's longest run (epochs)",
      (r) => (r.coalition === null ? "-" : fmt(r.coalition.maxRun)),
    ],
  ];
  const cells = rows.map(([name, cell]) => [name, ...results.map(cell)]);
  const widths = (cells[0] ?? []).map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  return cells
    .map((r) =>
      r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join("  "),
    )
    .join("\n");
}

function listing(): string {
  const line = <T>(d: PolicyDescriptor<T>) =>
    `  ${(d.parameter === undefined ? d.name : `${d.name}[:${d.parameter.name}]`).padEnd(22)} ${d.summary}${
      d.parameter === undefined
        ? ""
        : ` (${d.parameter.name} ${d.parameter.min}-${d.parameter.max}, default ${d.parameter.default})`
    }`;
  return [
    "selection strategies (--selection):",
    ...listSelectionStrategies().map(line),
    "epoch policies (--epoch-policy):",
    ...listEpochPolicies().map(line),
  ].join("\n");
}

async function sim(io: CliIo, f: SimFlags): Promise<void> {
  if (f.list === true) {
    io.out(`${listing()}\n`);
    return;
  }
  if (f.compare !== undefined && f.compare.length !== 2) {
    throw bad(
      `--compare takes two policies (SELECTION[/EPOCH-POLICY] each), got ${f.compare.length}`,
    );
  }
  if (f.compare !== undefined && (f.selection !== undefined || f.epochPolicy !== undefined)) {
    throw bad("--compare names both runs' policies: leave out --selection and --epoch-policy");
  }
  if (f.selections === true && f.json !== true)
    throw bad("--selections lists groups in the JSON output: add --json");
  for (const spec of f.compare ?? []) {
    const [selection = "", epochPolicy] = spec.split("/");
    try {
      getSelectionStrategy(selection);
      if (epochPolicy !== undefined) getEpochPolicy(epochPolicy);
    } catch (e) {
      if (!isEnigmaError(e)) throw e;
      throw new EnigmaError(e.code, `--compare ${spec}: ${e.message}`, { details: e.details });
    }
  }
  const given = givenFlags(f);
  const input = await scenarioInput(f);
  const runs: Obj[] =
    f.compare === undefined
      ? [input]
      : f.compare.map((spec) => {
          const [selection, epochPolicy] = spec.split("/");
          return { ...input, selection, ...(epochPolicy === undefined ? {} : { epochPolicy }) };
        });
  const scenarios = runs.map((r) => parseWithFlags(r, f, given));
  const results: SimulationResult[] = [];
  for (const s of scenarios) {
    const started = Date.now();
    let said = started;
    results.push(
      runSimulation(s, {
        selections: f.selections === true,
        onEpoch: (e, total) => {
          const now = Date.now();
          if (now - said < 2000 && e + 1 < total) return;
          said = now;
          io.err(
            `${s.selection} / ${s.epochPolicy}: epoch ${e + 1}/${total} (${((now - started) / 1000).toFixed(1)} s)\n`,
          );
        },
      }),
    );
  }
  if (f.report !== undefined) {
    const file = resolve(f.report);
    await writeFile(file, renderReport(results));
    io.err(`report written to ${file}\n`);
  }
  if (f.json === true) {
    io.out(`${JSON.stringify(results.length === 1 ? results[0] : { compare: results })}\n`);
    return;
  }
  io.out(`${table(results)}\n`);
}

/** Adds `sim`. */
export function registerSim(program: Command, io: CliIo): void {
  program
    .command("sim")
    .description(
      "simulate a worker-selection strategy and an epoch policy over virtual epochs (no chain, no network)",
    )
    .option("--workers <n>", `workers at the start (default ${DEFAULTS.workers})`)
    .option("--contracts <n>", `secret contracts (default ${DEFAULTS.contracts})`)
    .option("--epochs <n>", `epochs (default ${DEFAULTS.epochs})`)
    .option("--seed <s>", "the run's seed: the same seed gives the same output, byte for byte")
    .option(
      "--selection <name>",
      "selection strategy, e.g. discovery, group:3, rotation:4 (see --list)",
    )
    .option("--epoch-policy <name>", "epoch policy, e.g. discovery, capped:10 (see --list)")
    .option("--stake <dist>", "stake distribution: equal, zipf[:EXPONENT] or whale[:SHARE]")
    .option("--mean-stake <eng>", "mean stake per worker in ENG (default 1000)")
    .option("--joins <n>", "workers joining each epoch")
    .option("--leaves <n>", "workers leaving each epoch")
    .option("--adversary <share>", "a coalition holding this share of the stake (0 to 1)")
    .option("--threshold <eng>", "minimum stake to be in an epoch, in ENG (default 1)")
    .option("--scenario <file>", "a scenario JSON file (flags override its fields)")
    .option(
      "--compare <policies...>",
      "run two policies, SELECTION[/EPOCH-POLICY] each, on the same scenario",
    )
    .option("--json", "print the result as one JSON object on stdout")
    .option("--selections", "with --json: list every epoch's group per contract (small runs)")
    .option("--report <file>", "write a self-contained HTML report with charts")
    .option("--list", "list the registered selection strategies and epoch policies")
    .exitOverride()
    .action(async (f: SimFlags) => {
      await sim(io, f);
    });
}
