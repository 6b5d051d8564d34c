// `enigma task trace <taskId>`: what every node of the devnet saw of a task and when, as one
// timeline (the same one the explorer shows): the record heard from the chain, the input
// accepted by the gateway, gossiped and heard, the execution, the result published and heard,
// the receipt committed; each row with its time from the first event and the gap since the
// same node's previous event.
import { resolve } from "node:path";
import type { Command } from "commander";
import { EnigmaError, ErrorCode } from "@enigma/protocol";
// Types only: the trace module is light, but the CLI loads nothing it does not need.
import type { TraceEvent } from "@enigma/node/trace";
import { DEFAULT_DEVNET_DIR, RECORD, readRecord, rpcCall } from "./devnet.js";
import type { CliIo } from "./main.js";
import { parseBytes32 } from "./network.js";

/** One row of the merged timeline. */
export interface TraceRow extends TraceEvent {
  node: string;
  /** Milliseconds since the first event of the task on any node. */
  sinceFirst: number;
  /** Milliseconds since this node's previous event of the task (undefined for its first). */
  gap: number | undefined;
}

/** Merges every node's events into one timeline ordered by time. */
export function mergeTraces(
  perNode: readonly { node: string; events: TraceEvent[] }[],
): TraceRow[] {
  const rows: TraceRow[] = [];
  for (const { node, events } of perNode) {
    let previous: number | undefined;
    for (const e of events) {
      rows.push({
        ...e,
        node,
        sinceFirst: 0,
        gap: previous === undefined ? undefined : e.at - previous,
      });
      previous = e.at;
    }
  }
  rows.sort((a, b) => a.at - b.at || a.node.localeCompare(b.node));
  const first = rows[0]?.at ?? 0;
  for (const r of rows) r.sinceFirst = r.at - first;
  return rows;
}

const ms = (n: number) => `${n.toFixed(1)} ms`;

function detailText(d: TraceEvent["detail"]): string {
  if (d === undefined) return "";
  return Object.entries(d)
    .map(
      ([k, v]) =>
        `${k}=${typeof v === "string" && /^0x[0-9a-f]{40,}$/.test(v) ? `${v.slice(0, 10)}...` : String(v)}`,
    )
    .join(" ");
}

/** The table `enigma task trace` prints. */
export function formatTrace(
  taskId: string,
  rows: readonly TraceRow[],
  chainStatus: string,
): string {
  const out = [`task ${taskId}: ${chainStatus}\n`];
  if (rows.length === 0) {
    out.push("no node of the devnet has seen this task (or it left their bounded trace logs)\n");
    return out.join("");
  }
  const start = new Date(rows[0]?.at ?? 0).toISOString();
  out.push(`first event at ${start}\n\n`);
  out.push(
    `${"time".padStart(12)}  ${"node".padEnd(12)} ${"stage".padEnd(18)} ${"gap on node".padStart(12)}  detail\n`,
  );
  for (const r of rows) {
    out.push(
      `${`+${ms(r.sinceFirst)}`.padStart(12)}  ${r.node.padEnd(12)} ${r.stage.padEnd(18)} ${(r.gap === undefined ? "" : `+${ms(r.gap)}`).padStart(12)}  ${detailText(r.detail)}\n`,
    );
  }
  const last = rows.at(-1);
  if (last !== undefined)
    out.push(
      `\n${rows.length} events on ${new Set(rows.map((r) => r.node)).size} nodes over ${ms(last.sinceFirst)}\n`,
    );
  return out.join("");
}

const STATUS = [
  "undefined",
  "record created",
  "receipt verified",
  "receipt failed",
  "Ethereum call failed",
  "fee returned",
];

async function trace(
  io: CliIo,
  taskIdText: string,
  opts: { dir: string; json?: boolean },
): Promise<void> {
  const taskId = parseBytes32("taskId", taskIdText);
  const dir = resolve(opts.dir);
  const rec = await readRecord(dir);
  if (rec === undefined) {
    throw new EnigmaError(
      ErrorCode.InvalidConfig,
      `no devnet recorded in ${dir} (no ${RECORD}): start one with \`enigma devnet up\` or pass --dir`,
    );
  }
  const nodes = rec.nodes.filter((n): n is typeof n & { rpcUrl: string } => n.rpcUrl !== undefined);
  const perNode = await Promise.all(
    nodes.map(async (n) => {
      try {
        const r = (await rpcCall(n.rpcUrl, "getTaskTrace", { taskId })) as { events: TraceEvent[] };
        return { node: n.name, events: r.events, error: undefined };
      } catch (e) {
        return { node: n.name, events: [], error: e instanceof Error ? e.message : String(e) };
      }
    }),
  );
  const rows = mergeTraces(perNode);
  const { EnigmaChain } = await import("@enigma/node/chain");
  const chain = await EnigmaChain.connect({
    rpcUrl: rec.chain.rpcUrl,
    enigmaAddress: rec.chain.enigmaAddress,
    tokenAddress: rec.chain.tokenAddress,
  });
  let record;
  try {
    record = await chain.getTaskRecord(taskId);
  } finally {
    await chain.close();
  }
  const chainStatus =
    record === undefined
      ? "no record on chain"
      : `status ${record.status} (${STATUS[record.status] ?? "?"}) on chain, recorded in block ${record.blockNumber} by ${record.sender}`;
  const unreachable = perNode.filter((p) => p.error !== undefined);
  if (opts.json === true) {
    io.out(
      `${JSON.stringify({
        taskId,
        chain:
          record === undefined
            ? null
            : {
                status: record.status,
                block: record.blockNumber,
                sender: record.sender,
                gasLimit: record.gasLimit.toString(),
                gasPx: record.gasPx.toString(),
              },
        events: rows,
        unreachable: unreachable.map((u) => ({ node: u.node, error: u.error })),
      })}\n`,
    );
    return;
  }
  io.out(formatTrace(taskId, rows, chainStatus));
  for (const u of unreachable) io.err(`enigma: ${u.node} did not answer: ${u.error}\n`);
}

/** Adds `task trace <taskId>` to the `task` command group. */
export function registerTrace(task: Command, io: CliIo): void {
  task
    .command("trace <taskId>")
    .description("what every node saw of a task and when (one timeline, with the gaps)")
    .option(
      "--dir <dir>",
      `devnet state folder (its ${RECORD} names the nodes)`,
      DEFAULT_DEVNET_DIR,
    )
    .option("--json", "print one JSON object")
    .exitOverride()
    .action(async (taskId: string, opts: { dir: string; json?: boolean }) => {
      await trace(io, taskId, opts);
    });
}
