import { Histogram, type Registry } from "prom-client";
import type { TraceStage } from "./trace.js";

// Seconds: stages take from well under a millisecond (gossip on loopback) to an epoch (receipts).
const STAGE_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120,
];

/**
 * `enigma_task_stage_seconds{stage}`: for each trace event, the time since the task's previous
 * event on this node (so `executed` is the enclave's run, `result-published` the store write
 * and gossip, `receipt-committed` the wait for the epoch's end). The explorer's latency charts
 * read it from `/metrics`.
 */
export function stageObserver(registry: Registry): (stage: TraceStage, seconds: number) => void {
  const h = new Histogram<"stage">({
    name: "enigma_task_stage_seconds",
    help: "Time from a task's previous event on this node to this stage",
    labelNames: ["stage"],
    buckets: STAGE_BUCKETS,
    registers: [registry],
  });
  return (stage, seconds) => {
    h.observe({ stage }, seconds);
  };
}
