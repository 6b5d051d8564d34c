// `enigma logs`: the devnet's node logs (`<dir>/nodes/<name>/node.log`, pino JSON lines) merged
// by time and printed as pino-pretty prints them (time, level, node, message, then the other
// fields as key=value), filtered by node, task, contract and level; `--follow` goes on printing
// what the nodes write. Lines that are not JSON (a crash's stack trace) are printed as they are.
import { open, readdir, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { styleText } from "node:util";
import type { Command } from "commander";
import { EnigmaError, ErrorCode } from "@enigma/protocol";
import { DEFAULT_DEVNET_DIR } from "./devnet.js";
import type { CliIo } from "./main.js";
import { parseBytes32 } from "./network.js";

const LEVELS = ["trace", "debug", "info", "warn", "error", "fatal"] as const;
type Level = (typeof LEVELS)[number];
const PINO_NUMBERS: Record<number, Level> = {
  10: "trace",
  20: "debug",
  30: "info",
  40: "warn",
  50: "error",
  60: "fatal",
};
const COLORS: Record<Level, Parameters<typeof styleText>[0]> = {
  trace: "gray",
  debug: "blue",
  info: "green",
  warn: "yellow",
  error: "red",
  fatal: "magenta",
};
/** Fields shown in the line's head, not repeated as key=value. */
const HEAD = new Set(["level", "time", "msg", "name", "pid", "hostname"]);

export interface LogFilter {
  node?: string;
  taskId?: string;
  contract?: string;
  /** The lowest level shown. */
  level?: Level;
}

/** A parsed line of a node log. */
export interface LogLine {
  node: string;
  /** Milliseconds (from the line's `time`), or undefined for a line that is not pino JSON. */
  time: number | undefined;
  level: Level | undefined;
  msg: string;
  fields: Record<string, unknown>;
  raw: string;
}

export function parseLine(node: string, raw: string): LogLine {
  let obj: unknown;
  try {
    obj = JSON.parse(raw);
  } catch {
    return { node, time: undefined, level: undefined, msg: raw, fields: {}, raw };
  }
  if (typeof obj !== "object" || obj === null || Array.isArray(obj)) {
    return { node, time: undefined, level: undefined, msg: raw, fields: {}, raw };
  }
  const o = obj as Record<string, unknown>;
  const t = o["time"];
  const time = typeof t === "number" ? t : typeof t === "string" ? Date.parse(t) : undefined;
  const l = o["level"];
  const level =
    typeof l === "number"
      ? PINO_NUMBERS[l]
      : typeof l === "string" && (LEVELS as readonly string[]).includes(l)
        ? (l as Level)
        : undefined;
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (!HEAD.has(k)) fields[k] = v;
  return {
    node,
    time: time !== undefined && Number.isFinite(time) ? time : undefined,
    level,
    msg: typeof o["msg"] === "string" ? o["msg"] : "",
    fields,
    raw,
  };
}

/** Whether any field of the line names `hex` (task ids and contracts appear under several names). */
function mentions(line: LogLine, hex: string): boolean {
  const want = hex.toLowerCase().replace(/^0x/, "");
  return line.raw.toLowerCase().includes(want);
}

export function matches(line: LogLine, f: LogFilter): boolean {
  if (f.node !== undefined && line.node !== f.node) return false;
  if (f.level !== undefined && line.level !== undefined) {
    if (LEVELS.indexOf(line.level) < LEVELS.indexOf(f.level)) return false;
  }
  if (f.taskId !== undefined && !mentions(line, f.taskId)) return false;
  if (f.contract !== undefined && !mentions(line, f.contract)) return false;
  return true;
}

function value(v: unknown): string {
  if (typeof v === "string") return /\s/.test(v) ? JSON.stringify(v) : v;
  // JSON.stringify gives undefined for undefined (its type says string).
  return v === undefined ? "undefined" : JSON.stringify(v);
}

/** One line as pino-pretty prints it: `[12:00:01.234] INFO (worker-1): message key=value`. */
export function formatLine(line: LogLine, color: boolean): string {
  const paint = (c: Parameters<typeof styleText>[0], t: string) =>
    color ? styleText(c, t, { validateStream: false }) : t;
  if (line.time === undefined) return `${paint("gray", `(${line.node})`)} ${line.raw}\n`;
  const time = new Date(line.time).toISOString().slice(11, 23);
  const level = (line.level ?? "info").toUpperCase().padEnd(5);
  const rest = Object.entries(line.fields)
    .map(([k, v]) => `${paint("gray", `${k}=`)}${value(v)}`)
    .join(" ");
  return `[${time}] ${paint(COLORS[line.level ?? "info"], level)} (${paint("cyan", line.node)}): ${line.msg}${rest === "" ? "" : ` ${rest}`}\n`;
}

/** The node folders of a devnet (`principal`, `worker-1`...). */
async function nodeNames(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(join(dir, "nodes"), { withFileTypes: true });
    return entries
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();
  } catch {
    throw new EnigmaError(
      ErrorCode.LogsNotFound,
      `no node logs in ${join(dir, "nodes")}: start a devnet with \`enigma devnet up\` (or pass --dir)`,
      { details: { dir } },
    );
  }
}

/** Reads a log from `offset`; returns its whole lines and the offset after the last one. */
async function readFrom(
  file: string,
  offset: number,
): Promise<{ lines: string[]; offset: number }> {
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch {
    return { lines: [], offset };
  }
  // A log that shrank was replaced (a new devnet in the same folder): read it from the start.
  const from = size < offset ? 0 : offset;
  if (size === from) return { lines: [], offset: from };
  const fh = await open(file, "r");
  try {
    const buf = Buffer.alloc(size - from);
    await fh.read(buf, 0, buf.length, from);
    const text = buf.toString("utf8");
    const end = text.lastIndexOf("\n");
    if (end < 0) return { lines: [], offset: from };
    return {
      lines: text
        .slice(0, end)
        .split("\n")
        .filter((l) => l.trim() !== ""),
      offset: from + Buffer.byteLength(text.slice(0, end + 1)),
    };
  } finally {
    await fh.close();
  }
}

interface LogsFlags {
  dir: string;
  node?: string;
  task?: string;
  contract?: string;
  level?: string;
  follow?: boolean;
  json?: boolean;
  color?: boolean;
}

/** Prints the logs; with `follow`, polls until `signal` aborts. */
export async function logs(io: CliIo, f: LogsFlags, signal?: AbortSignal): Promise<void> {
  const dir = resolve(f.dir);
  const names = await nodeNames(dir);
  if (f.node !== undefined && !names.includes(f.node)) {
    throw new EnigmaError(
      ErrorCode.LogsNotFound,
      `no node "${f.node}" in ${join(dir, "nodes")} (nodes: ${names.join(", ") || "none"})`,
      { details: { node: f.node } },
    );
  }
  if (f.level !== undefined && !(LEVELS as readonly string[]).includes(f.level)) {
    throw new EnigmaError(
      ErrorCode.InvalidArgument,
      `--level must be one of ${LEVELS.join(", ")}, got "${f.level}"`,
    );
  }
  const filter: LogFilter = {
    ...(f.node === undefined ? {} : { node: f.node }),
    ...(f.task === undefined ? {} : { taskId: parseBytes32("--task", f.task) }),
    ...(f.contract === undefined ? {} : { contract: parseBytes32("--contract", f.contract) }),
    ...(f.level === undefined ? {} : { level: f.level as Level }),
  };
  const color = f.color ?? false;
  const print = (l: LogLine) => {
    if (f.json !== true) io.out(formatLine(l, color));
    else if (l.time === undefined) io.out(`${JSON.stringify({ node: l.node, line: l.raw })}\n`);
    else io.out(`${JSON.stringify({ node: l.node, ...(JSON.parse(l.raw) as object) })}\n`);
  };
  const offsets = new Map<string, number>();
  const pass = async (nodes: readonly string[]) => {
    const batch: LogLine[] = [];
    for (const node of nodes) {
      if (filter.node !== undefined && node !== filter.node) continue;
      const file = join(dir, "nodes", node, "node.log");
      const r = await readFrom(file, offsets.get(node) ?? 0);
      offsets.set(node, r.offset);
      for (const raw of r.lines) {
        const line = parseLine(node, raw);
        if (matches(line, filter)) batch.push(line);
      }
    }
    // Merged by time across nodes (a line without a time keeps its place after the previous).
    batch.sort((a, b) => (a.time ?? 0) - (b.time ?? 0));
    for (const l of batch) print(l);
  };
  await pass(names);
  if (f.follow !== true) return;
  while (signal?.aborted !== true) {
    await new Promise((r) => setTimeout(r, 250));
    // Nodes that appear later (a devnet started after `logs --follow`) are picked up.
    await pass(await nodeNames(dir).catch(() => names));
  }
}

/** Adds `logs`. */
export function registerLogs(program: Command, io: CliIo): void {
  program
    .command("logs")
    .description("the devnet's node logs, merged by time, pino-pretty style, filtered")
    .option("--dir <dir>", "devnet state folder", DEFAULT_DEVNET_DIR)
    .option("--node <name>", "one node (principal, worker-1, ...)")
    .option("--task <id>", "lines that name this task id")
    .option("--contract <address>", "lines that name this secret contract")
    .option("--level <level>", `lowest level shown (${LEVELS.join(", ")})`)
    .option("-f, --follow", "go on printing what the nodes write (Ctrl-C stops)")
    .option("--json", "the JSON lines themselves, with the node's name")
    .exitOverride()
    .action(async (f: LogsFlags) => {
      const ac = new AbortController();
      const stop = () => {
        ac.abort();
      };
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
      try {
        await logs(io, { ...f, color: process.stdout.isTTY }, ac.signal);
      } finally {
        process.off("SIGINT", stop);
        process.off("SIGTERM", stop);
      }
    });
}
