// `enigma check`: the invariant checker against the devnet of <dir>/devnet.json (or a chain and
// nodes named by flags) after a workload. Prints the report (passed invariants, violations with
// task ids and the faults around them) and exits 1 on a violation.
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { Command } from "commander";
import { EnigmaError, ErrorCode } from "@enigma/protocol";
import type { CliIo } from "./main.js";
import { DEFAULT_DEVNET_DIR, readRecord } from "./devnet.js";

interface CheckFlags {
  dir: string;
  expect?: string;
  refund?: boolean;
  settle: string;
  quiesce: string;
  json?: boolean;
}

async function check(io: CliIo, f: CheckFlags): Promise<number> {
  const dir = resolve(f.dir);
  const rec = await readRecord(dir);
  if (rec === undefined) {
    throw new EnigmaError(
      ErrorCode.InvalidConfig,
      `no devnet recorded in ${dir}: start one with \`enigma devnet up\`, or pass --dir`,
    );
  }
  const seconds = (v: string, name: string) => {
    if (!/^\d+(\.\d+)?$/.test(v)) {
      throw new EnigmaError(ErrorCode.InvalidConfig, `${name} must be a number of seconds`);
    }
    return Number(v) * 1000;
  };
  const settleMs = seconds(f.settle, "--settle");
  const quiesceMs = seconds(f.quiesce, "--quiesce");
  let expectations: unknown;
  if (f.expect !== undefined) {
    try {
      expectations = JSON.parse(await readFile(resolve(f.expect), "utf8"));
    } catch (cause) {
      throw new EnigmaError(
        ErrorCode.InvalidConfig,
        `--expect ${f.expect}: not a readable JSON list of task expectations`,
        { cause },
      );
    }
    if (!Array.isArray(expectations)) {
      throw new EnigmaError(ErrorCode.InvalidConfig, `--expect ${f.expect}: not a JSON list`);
    }
  }
  // The faults the devnet's nemesis applied, when it serves them.
  let faults: unknown[] = [];
  const faultsUrl = (rec as { faultsUrl?: string }).faultsUrl;
  if (faultsUrl !== undefined) {
    try {
      const r = await fetch(`${faultsUrl}/history`, { signal: AbortSignal.timeout(3_000) });
      faults = ((await r.json()) as { history?: unknown[] }).history ?? [];
    } catch {
      faults = [];
    }
  }
  const refundKey = f.refund === true ? rec.accounts[0]?.privateKey : undefined;
  if (f.refund === true && refundKey === undefined) {
    throw new EnigmaError(
      ErrorCode.InvalidConfig,
      "--refund needs a funded account in devnet.json",
    );
  }
  const { runChecks, formatReport } = await import("@enigma/checker");
  type Options = NonNullable<Parameters<typeof runChecks>[1]>;
  const report = await runChecks(
    {
      rpcUrl: rec.chain.rpcUrl,
      enigmaAddress: rec.chain.enigmaAddress,
      tokenAddress: rec.chain.tokenAddress,
      nodes: rec.nodes,
    },
    {
      ...(expectations === undefined
        ? {}
        : { expectations: expectations as NonNullable<Options["expectations"]> }),
      faults: faults as NonNullable<Options["faults"]>,
      ...(refundKey === undefined ? {} : { refundKey }),
      settleMs,
      quiesceMs,
      onProgress: (m) => {
        io.err(`check: ${m}\n`);
      },
    },
  );
  io.out(f.json === true ? `${JSON.stringify(report)}\n` : formatReport(report));
  return report.ok ? 0 : 1;
}

/** Adds `check`; `setExit` records exit 1 when an invariant is violated. */
export function registerCheck(program: Command, io: CliIo, setExit: (code: number) => void): void {
  program
    .command("check")
    .description(
      "check a devnet's invariants after a workload: every task committed or refunded after its timeout, none settled twice, no stale receipts, every node's code and deltas equal the chain's and rebuild, ENG conserved, outputs right; exits 1 on a violation",
    )
    .option("--dir <dir>", "state folder of the devnet", DEFAULT_DEVNET_DIR)
    .option("--expect <file>", "the workload's task expectations (JSON list)")
    .option("--refund", "refund tasks pending past their timeout first (from account 0)")
    .option("--settle <s>", "wait this long for pending tasks inside their timeout", "120")
    .option("--quiesce <s>", "wait this long for nodes to drop settled receipts and sync", "30")
    .option("--json", "print the report as JSON")
    .exitOverride()
    .action(async (f: CheckFlags) => {
      setExit(await check(io, f));
    });
}
