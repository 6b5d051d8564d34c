import { ErrorCode } from "@enigma/protocol";
import { rejectedCode, thrownCode } from "@enigma/protocol/testing";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { NodeMetrics, createLogger } from "./observability.js";

/** A destination that keeps each line, parsed. */
function capture(): { lines: Record<string, unknown>[]; write(line: string): void } {
  const lines: Record<string, unknown>[] = [];
  return {
    lines,
    write(line: string) {
      lines.push(JSON.parse(line) as Record<string, unknown>);
    },
  };
}

describe("createLogger", () => {
  it("writes JSON lines with the name, the bindings and the level's name", () => {
    const out = capture();
    const log = createLogger({
      name: "worker-1",
      bindings: { role: "worker" },
      destination: out,
    });
    log.info({ taskId: "0xab", epoch: 3 }, "task executed");
    log.debug("not at info");
    expect(out.lines).toHaveLength(1);
    expect(out.lines[0]).toMatchObject({
      level: "info",
      name: "worker-1",
      role: "worker",
      taskId: "0xab",
      epoch: 3,
      msg: "task executed",
    });
    expect(typeof out.lines[0]?.["time"]).toBe("string");
  });

  it("honours the level and serializes errors with their stack", () => {
    const out = capture();
    const log = createLogger({ level: "debug", destination: out });
    log.debug("shown");
    log.child({ component: "rpc" }).error({ err: new Error("boom") }, "failed");
    expect(out.lines.map((l) => l["msg"])).toEqual(["shown", "failed"]);
    expect(out.lines[1]).toMatchObject({ component: "rpc", err: { message: "boom" } });
    expect((out.lines[1]?.["err"] as { stack: string }).stack).toContain("Error: boom");
  });

  it("writes to standard error by default, so that --json stdout stays clean", () => {
    const log = createLogger({});
    const stream = (log as unknown as Record<symbol, { fd: number }>)[pino.symbols.streamSym];
    expect(stream?.fd).toBe(2);
  });

  it("rejects an unknown level as a config error", () => {
    expect(thrownCode(() => createLogger({ level: "verbose" }))).toBe(ErrorCode.InvalidConfig);
  });
});

describe("NodeMetrics", () => {
  it("exposes every metric, named with its unit, under the prefix", async () => {
    const m = new NodeMetrics();
    const text = await m.text();
    for (const [name, type] of [
      ["tasks_received_total", "counter"],
      ["tasks_executed_total", "counter"],
      ["tasks_failed_total", "counter"],
      ["receipts_committed_total", "counter"],
      ["receipt_batches_total", "counter"],
      ["receipt_commit_failures_total", "counter"],
      ["gas_used_total", "counter"],
      ["gossip_messages_total", "counter"],
      ["rpc_requests_total", "counter"],
      ["rpc_request_seconds", "histogram"],
      ["task_latency_seconds", "histogram"],
      ["receipt_commit_seconds", "histogram"],
      ["gossip_delivery_seconds", "histogram"],
      ["epochs_total", "counter"],
      ["state_key_requests_total", "counter"],
      ["delta_sync_deltas_total", "counter"],
      ["pending_receipts", "gauge"],
      ["peers", "gauge"],
    ] as const) {
      expect(text).toContain(`# TYPE enigma_${name} ${type}`);
    }
    expect(m.contentType).toMatch(/^text\/plain/);
  });

  it("counts through typed fields, with labels and default labels", async () => {
    const m = new NodeMetrics({ defaultLabels: { node: "worker-1" } });
    m.tasksReceived.inc({ kind: "compute" });
    m.tasksReceived.inc({ kind: "compute" });
    m.gasUsed.inc(12_345);
    m.peers.set(3);
    m.taskLatency.observe(0.2);
    const text = await m.text();
    expect(text).toContain('enigma_tasks_received_total{kind="compute",node="worker-1"} 2');
    expect(text).toContain('enigma_gas_used_total{node="worker-1"} 12345');
    expect(text).toContain('enigma_peers{node="worker-1"} 3');
    expect(text).toContain('enigma_task_latency_seconds_count{node="worker-1"} 1');
  });

  it("keeps instances apart: two nodes in one process do not share counts", async () => {
    const a = new NodeMetrics({ prefix: "test_" });
    const b = new NodeMetrics({ prefix: "test_" });
    a.epochs.inc();
    expect(await a.text()).toContain("test_epochs_total 1");
    expect(await b.text()).toContain("test_epochs_total 0");
    expect(a.registry).not.toBe(b.registry);
  });

  it("rejects a prefix or label name Prometheus cannot carry", async () => {
    expect(thrownCode(() => new NodeMetrics({ prefix: "enigma-" }))).toBe(ErrorCode.InvalidConfig);
    expect(thrownCode(() => new NodeMetrics({ defaultLabels: { "a-b": "x" } }))).toBe(
      ErrorCode.InvalidConfig,
    );
    await expect(rejectedCode(new NodeMetrics({ prefix: "" }).text())).resolves.toBeUndefined();
  });
});
