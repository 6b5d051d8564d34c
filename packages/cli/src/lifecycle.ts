// Following one task: each lifecycle event printed as it happens (created, recorded,
// submitted, executed, committed), then the decrypted output or the failure, and a report
// for --json. Shared by `deploy`, `call` and the devnet demo.
import type { TaskEvent, TaskEventType, TaskHandle } from "@enigma/client";
import {
  TaskStatus,
  bytesToHex,
  errorName,
  hexToBytes,
  isEnigmaError,
  type Hex,
} from "@enigma/protocol";
import { jsonValue, printable } from "./sc.js";

/** On-chain task status names (DESIGN.md section 5 numbers them). */
export const STATUS_NAMES: Readonly<Record<number, string>> = Object.freeze({
  [TaskStatus.Undefined]: "none",
  [TaskStatus.RecordCreated]: "pending",
  [TaskStatus.ReceiptVerified]: "verified",
  [TaskStatus.ReceiptFailed]: "failed",
  [TaskStatus.ReceiptFailedEth]: "eth-call-failed",
  [TaskStatus.ReceiptFailedReturn]: "fee-returned",
});

export function statusName(status: number): string {
  return STATUS_NAMES[status] ?? `unknown (${status})`;
}

/** What `--json` prints about a task. */
export interface TaskReport {
  taskId: Hex | undefined;
  worker: Hex | undefined;
  /** The node's status: SUCCESS, FAILED, ETHEREUMFAILURE. */
  status: string | undefined;
  /** The decrypted output (hex). */
  output?: Hex;
  /** The output ABI-decoded with --returns (numbers as decimal strings). */
  values?: unknown[];
  /** Why the task failed, decrypted from the worker's output. */
  error?: { code: number; name: string; message: string; reason?: string };
  /** Once committed: the on-chain status by name and number. */
  receipt?: { status: string; chainStatus: number; outputHash: Hex };
  events: Record<string, unknown>[];
}

export interface FollowOptions {
  /** Where lifecycle lines go: stdout for people, stderr with --json. */
  line: (text: string) => void;
  /** Labels a worker signer (`0x... (worker-2)`). */
  worker: (signer: string) => string;
  /** Prefix of each line (the demo indents). */
  indent?: string;
  /** Events recorded in the report but not printed. */
  quiet?: readonly TaskEventType[];
}

/** Wires printing to a task's events; call right after creating the task. */
export function follow(handle: TaskHandle, o: FollowOptions): { report: TaskReport } {
  const t0 = performance.now();
  const report: TaskReport = {
    taskId: undefined,
    worker: undefined,
    status: undefined,
    events: [],
  };
  const say = (k: TaskEventType, v: string) => {
    if (o.quiet?.includes(k) === true) return;
    const at = ((performance.now() - t0) / 1000).toFixed(2);
    o.line(`${o.indent ?? ""}${k.padEnd(10)} ${v}  (+${at} s)\n`);
  };
  const on = (e: TaskEvent) => {
    const atMs = Math.round(performance.now() - t0);
    switch (e.type) {
      case "created":
        report.taskId = e.taskId;
        report.worker = e.worker;
        say(
          "created",
          `task ${e.taskId}, selected worker ${o.worker(e.worker)}, epoch from block ${e.firstBlockNumber}${e.attempt > 1 ? `, attempt ${e.attempt}` : ""}`,
        );
        report.events.push({
          type: e.type,
          atMs,
          taskId: e.taskId,
          worker: e.worker,
          firstBlockNumber: Number(e.firstBlockNumber),
          attempt: e.attempt,
        });
        break;
      case "recorded":
        report.taskId = e.taskId;
        say("recorded", `on chain in block ${e.blockNumber} (tx ${e.txHash})`);
        report.events.push({
          type: e.type,
          atMs,
          taskId: e.taskId,
          txHash: e.txHash,
          blockNumber: e.blockNumber,
        });
        break;
      case "submitted":
        say("submitted", "inputs sent to the gateway, encrypted for the worker");
        report.events.push({ type: e.type, atMs, taskId: e.taskId, worker: e.worker });
        break;
      case "executed":
        report.status = e.status;
        say("executed", e.status);
        report.events.push({ type: e.type, atMs, status: e.status });
        break;
      case "committed":
        report.receipt = {
          status: statusName(e.chainStatus),
          chainStatus: e.chainStatus,
          outputHash: e.outputHash,
        };
        say("committed", `${statusName(e.chainStatus)} on chain (output hash ${e.outputHash})`);
        report.events.push({
          type: e.type,
          atMs,
          chainStatus: e.chainStatus,
          status: statusName(e.chainStatus),
          outputHash: e.outputHash,
        });
        break;
    }
  };
  for (const type of ["created", "recorded", "submitted", "executed", "committed"] as const) {
    handle.on(type, on);
  }
  return { report };
}

/**
 * Awaits the decrypted output and records it in the report; a task that ran and failed is
 * recorded too (`error`), anything else (unreachable node, timeout) is thrown.
 */
export async function settle(handle: TaskHandle, report: TaskReport): Promise<void> {
  try {
    const r = await handle.result();
    report.output = bytesToHex(r.output);
    if (r.values !== undefined) report.values = jsonValue(r.values) as unknown[];
  } catch (e) {
    if (report.status === undefined || report.status === "SUCCESS" || !isEnigmaError(e)) throw e;
    const reason = e.details["reason"];
    report.error = {
      code: e.code,
      name: errorName(e.code),
      message: e.message,
      ...(typeof reason === "string" ? { reason } : {}),
    };
  }
}

/** The output as people read it: decoded values, else text or hex. */
export function formatOutput(report: TaskReport): string {
  if (report.values !== undefined) return JSON.stringify(report.values);
  if (report.output === undefined) return "(none)";
  const bytes = hexToBytes(report.output);
  return bytes.length === 0 ? "(empty)" : printable(bytes);
}
