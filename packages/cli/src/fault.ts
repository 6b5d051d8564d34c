// `enigma devnet fault <kind> <target> [--for DURATION]`: a fault in the running devnet of
// <dir>/devnet.json, applied by the `enigma devnet up` process (it owns the node processes,
// their chain proxies and namespaces) through the control endpoint it records as `faultsUrl`.
// With --for, that process undoes the fault when the time is up.
import { resolve } from "node:path";
import { type Command, InvalidArgumentError } from "commander";
import { EnigmaError, ErrorCode } from "@enigma/protocol";
import type { CliIo } from "./main.js";
import { DEFAULT_DEVNET_DIR, readRecord } from "./devnet.js";
import { FAULT_REQUEST_KINDS } from "@enigma/devnet/fault-kinds";

const KINDS: readonly string[] = FAULT_REQUEST_KINDS;

/** `500ms`, `5s`, `2m`, or a plain number of seconds, as milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (m === null) {
    throw new InvalidArgumentError(
      `a duration is a number with ms, s or m (e.g. 5s), got "${text}"`,
    );
  }
  const n = Number(m[1]);
  const unit = m[2] ?? "s";
  const ms = unit === "ms" ? n : unit === "m" ? n * 60_000 : n * 1000;
  if (ms <= 0 || ms > 86_400_000) throw new InvalidArgumentError("a duration is from 1 ms to 24 h");
  return Math.round(ms);
}

interface FaultFlags {
  dir: string;
  for?: number;
  mode?: string;
  latency?: number;
  json?: boolean;
  steps?: number;
}

async function fault(io: CliIo, kind: string, target: string, f: FaultFlags): Promise<void> {
  if (!KINDS.includes(kind)) {
    throw new EnigmaError(
      ErrorCode.FaultSpecInvalid,
      `unknown fault kind "${kind}" (kinds: ${KINDS.join(", ")})`,
    );
  }
  const dir = resolve(f.dir);
  const rec = await readRecord(dir);
  if (rec === undefined) {
    throw new EnigmaError(
      ErrorCode.InvalidConfig,
      `no devnet recorded in ${dir}: start one with \`enigma devnet up\``,
    );
  }
  const url = (rec as { faultsUrl?: string }).faultsUrl;
  if (url === undefined) {
    throw new EnigmaError(
      ErrorCode.FaultUnsupported,
      `the devnet in ${dir} serves no fault endpoint (it was started by an older enigma)`,
    );
  }
  const { sendFault } = await import("@enigma/devnet/faults");
  const request =
    kind === "kill-at"
      ? { kind, target, point: f.mode ?? "task-stored" }
      : kind === "chaos"
        ? { kind, target, ...(f.steps === undefined ? {} : { steps: f.steps }) }
        : { kind, target };
  const answer = await sendFault(url, {
    ...(request as Parameters<typeof sendFault>[1]),
    ...(f.for === undefined ? {} : { forMs: f.for }),
    ...(kind === "chain-outage" && f.mode !== undefined
      ? { mode: f.mode as "refuse" | "hang" }
      : {}),
    ...(kind === "slow-chain" ? { latencyMs: f.latency ?? 200 } : {}),
  });
  if (f.json === true) {
    io.out(`${JSON.stringify(answer)}\n`);
    return;
  }
  const e = answer.event;
  io.out(
    `${new Date(e.at).toISOString()}  ${e.kind} ${e.target}${e.detail === undefined ? "" : ` (${e.detail})`}${answer.undoAt === undefined ? "" : `; undone at ${new Date(answer.undoAt).toISOString()}`}\n`,
  );
}

/** Adds `fault` under the `devnet` command. */
export function registerFault(devnet: Command, io: CliIo): void {
  devnet
    .command("fault")
    .description(
      "inject a fault into the running devnet: kill|restart|pause|resume <node>, partition <a,b|c,d>, isolate <node>, heal all, chain-outage|slow-chain|restore-chain <node>, kill-at <node> --mode task-stored|receipt-in-flight, chaos <seed>",
    )
    .argument("<kind>", KINDS.join(" | "))
    .argument(
      "<target>",
      "a node name (principal, worker-1...), groups for a partition (a,b|c,d), a seed for chaos",
    )
    .option("--dir <dir>", "state folder of the devnet", DEFAULT_DEVNET_DIR)
    .option("--for <duration>", "undo the fault after this long (5s, 500ms, 2m)", parseDuration)
    .option(
      "--mode <mode>",
      "chain-outage: refuse (default) | hang; kill-at: task-stored (default) | receipt-in-flight",
    )
    .option("--latency <ms>", "slow-chain: added latency each way", (v) => parseDuration(`${v}ms`))
    .option("--steps <n>", "chaos: number of faults (default 10)", (v) => {
      if (!/^\d+$/.test(v)) throw new InvalidArgumentError("--steps must be a whole number");
      return Number(v);
    })
    .option("--json", "print the fault event as JSON")
    .exitOverride()
    .action(async (kind: string, target: string, f: FaultFlags) => {
      await fault(io, kind, target, f);
    });
}
