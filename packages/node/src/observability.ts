import { EnigmaError, ErrorCode } from "@enigma/protocol";
import pino from "pino";
import { Counter, Gauge, Histogram, Registry } from "prom-client";

/** The node's structured logger (pino): one JSON object per line. */
export type Logger = pino.Logger;

export interface LoggerOptions {
  /** `fatal`, `error`, `warn`, `info` (default), `debug`, `trace` or `silent`. */
  level?: string;
  /** Written as `name` on every line (for example `worker-1`). */
  name?: string;
  /** Context written on every line (for example `{ role: "worker", node: "0xab..." }`). */
  bindings?: Record<string, unknown>;
  /** Where lines go; standard error (fd 2) by default. */
  destination?: pino.DestinationStream;
}

const LEVELS: readonly string[] = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

/**
 * A JSON-lines logger. Lines go to standard error by default, so that a CLI's `--json` output
 * on standard out stays machine-readable. Each call builds its own logger (no shared global
 * one): several nodes in one process each log with their own bindings.
 *
 * @example
 * const log = createLogger({ name: "worker-1", level: "debug", bindings: { role: "worker" } });
 * log.info({ taskId, epoch }, "task executed");
 * // {"level":"info","time":"2025-01-01T00:00:00.000Z","name":"worker-1","role":"worker","taskId":"0x...","epoch":3,"msg":"task executed"}
 */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? "info";
  if (!LEVELS.includes(level)) {
    throw new EnigmaError(ErrorCode.InvalidConfig, `unknown log level "${level}"`, {
      details: { level, known: LEVELS },
    });
  }
  // Synchronous writes: a node that exits on a fatal error still gets its last lines out.
  const destination = opts.destination ?? pino.destination({ dest: 2, sync: true });
  return pino(
    {
      level,
      ...(opts.name === undefined ? {} : { name: opts.name }),
      // No pid/hostname: every node of a devnet shares them; the bindings say which node.
      base: { ...opts.bindings },
      timestamp: pino.stdTimeFunctions.isoTime,
      // Level names rather than numbers, so that `grep '"level":"warn"'` works.
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}

/** A logger that writes nothing: the default of components given no logger. */
export function silentLogger(): Logger {
  return pino({ level: "silent" }, { write: () => undefined });
}

export interface NodeMetricsOptions {
  /** Prepended to every metric name; `enigma_` by default. */
  prefix?: string;
  /** Labels added to every series (for example `{ node: "worker-1" }`). */
  defaultLabels?: Record<string, string>;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

// Seconds. The simulation runs tasks in milliseconds on a laptop and in tens of seconds on a
// slow chain, so the buckets cover both.
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
const GOSSIP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const RPC_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * A node's Prometheus metrics, in a registry of its own (never prom-client's global one), so
 * that several nodes in one process keep separate counts. Names end in their unit.
 *
 * @example
 * const metrics = new NodeMetrics({ defaultLabels: { node: "worker-1" } });
 * metrics.tasksReceived.inc({ kind: "compute" });
 * const end = metrics.taskLatency.startTimer();
 * // ... result published
 * end();
 * res.setHeader("Content-Type", metrics.contentType).end(await metrics.text());
 */
export class NodeMetrics {
  readonly registry: Registry;
  readonly contentType: string;

  /** Task inputs accepted from clients or gossip; `kind`: `compute` or `deploy`. */
  readonly tasksReceived: Counter<"kind">;
  /** Tasks this node executed; `status`: the result status (`SUCCESS`, `FAILED`...). */
  readonly tasksExecuted: Counter<"status">;
  /** Tasks that failed; `reason`: a short stable word (`out_of_gas`, `trap`, `timeout`...). */
  readonly tasksFailed: Counter<"reason">;
  /**
   * Inputs accepted and deliberately not executed; `reason`: `wrong-worker` (the input names a
   * worker that is not selected for its contract; Discovery accepted such inputs too).
   */
  readonly tasksNotExecuted: Counter<"reason">;
  /**
   * Task inputs held or refused at admission; `outcome`: `held` (record not mined yet),
   * `hold-full`, `mismatch`, `settled`, `skipped`, `read-budget` (a gossiped input with an id
   * this node does not know arrived when its budget of chain reads was spent).
   */
  readonly admission: Counter<"outcome">;
  readonly receiptsCommitted: Counter;
  /** Receipt batches sent; `trigger`: `epoch`, `ethereum_call`, `full`... */
  readonly receiptBatches: Counter<"trigger">;
  readonly receiptCommitFailures: Counter;
  readonly gasUsed: Counter;
  /** `verdict`: the gossip validation result (`accept`, `reject`, `ignore`). */
  readonly gossipMessages: Counter<"topic" | "verdict">;
  /** `outcome`: see the RPC server (`success`, `invalid_params`, `error`...). */
  readonly rpcRequests: Counter<"method" | "outcome">;
  /** Time to answer one RPC call (a batch entry counts on its own). */
  readonly rpcRequestDuration: Histogram<"method">;
  /** From a client's task input to its result being published. */
  readonly taskLatency: Histogram;
  readonly receiptCommitDuration: Histogram;
  /** From a gossip message's publication to its delivery here. */
  readonly gossipDelivery: Histogram;
  readonly epochs: Counter;
  /** `outcome`: `granted`, `refused`, `failed`. */
  readonly stateKeyRequests: Counter<"outcome">;
  readonly deltaSyncDeltas: Counter;
  readonly pendingReceipts: Gauge;
  readonly peers: Gauge;

  constructor(opts: NodeMetricsOptions = {}) {
    const prefix = opts.prefix ?? "enigma_";
    // prom-client would throw a plain Error on the first bad name; say which option is wrong.
    if (prefix !== "" && !METRIC_NAME.test(prefix)) {
      throw new EnigmaError(ErrorCode.InvalidConfig, `invalid metrics prefix "${prefix}"`, {
        details: { prefix, expected: METRIC_NAME.source },
      });
    }
    const badLabel = Object.keys(opts.defaultLabels ?? {}).find((l) => !LABEL_NAME.test(l));
    if (badLabel !== undefined) {
      throw new EnigmaError(ErrorCode.InvalidConfig, `invalid metrics label name "${badLabel}"`, {
        details: { label: badLabel, expected: LABEL_NAME.source },
      });
    }
    const registry = new Registry();
    if (opts.defaultLabels) registry.setDefaultLabels({ ...opts.defaultLabels });
    this.registry = registry;
    this.contentType = registry.contentType;

    const counter = <L extends string>(name: string, help: string, labelNames: L[] = []) =>
      new Counter<L>({ name: prefix + name, help, labelNames, registers: [registry] });
    const histogram = <L extends string>(
      name: string,
      help: string,
      buckets: number[],
      labelNames: L[] = [],
    ) =>
      new Histogram<L>({ name: prefix + name, help, buckets, labelNames, registers: [registry] });
    const gauge = (name: string, help: string) =>
      new Gauge({ name: prefix + name, help, registers: [registry] });

    this.tasksReceived = counter("tasks_received_total", "Task inputs received", ["kind"]);
    this.tasksExecuted = counter("tasks_executed_total", "Tasks executed by this node", ["status"]);
    this.tasksFailed = counter("tasks_failed_total", "Tasks that failed", ["reason"]);
    this.tasksNotExecuted = counter(
      "tasks_not_executed_total",
      "Task inputs accepted and not executed",
      ["reason"],
    );
    this.admission = counter("task_admission_total", "Task inputs held or refused at admission", [
      "outcome",
    ]);
    this.receiptsCommitted = counter("receipts_committed_total", "Receipts committed on chain");
    this.receiptBatches = counter("receipt_batches_total", "Receipt batches sent", ["trigger"]);
    this.receiptCommitFailures = counter(
      "receipt_commit_failures_total",
      "Receipt batches that failed to commit",
    );
    this.gasUsed = counter("gas_used_total", "Enigma gas used by executed tasks");
    this.gossipMessages = counter("gossip_messages_total", "Gossip messages received", [
      "topic",
      "verdict",
    ]);
    this.rpcRequests = counter("rpc_requests_total", "JSON-RPC calls answered", [
      "method",
      "outcome",
    ]);
    this.rpcRequestDuration = histogram(
      "rpc_request_seconds",
      "Time to answer a JSON-RPC call",
      RPC_BUCKETS,
      ["method"],
    );
    this.taskLatency = histogram(
      "task_latency_seconds",
      "From task input to published result",
      LATENCY_BUCKETS,
    );
    this.receiptCommitDuration = histogram(
      "receipt_commit_seconds",
      "Time to commit a receipt batch",
      LATENCY_BUCKETS,
    );
    this.gossipDelivery = histogram(
      "gossip_delivery_seconds",
      "From gossip publication to delivery",
      GOSSIP_BUCKETS,
    );
    this.epochs = counter("epochs_total", "Epochs seen");
    this.stateKeyRequests = counter("state_key_requests_total", "State-key requests", ["outcome"]);
    this.deltaSyncDeltas = counter("delta_sync_deltas_total", "State deltas fetched by sync");
    this.pendingReceipts = gauge("pending_receipts", "Receipts queued and not yet committed");
    this.peers = gauge("peers", "Connected libp2p peers");
  }

  /** The Prometheus text exposition of every metric (serve it with `contentType`). */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}
