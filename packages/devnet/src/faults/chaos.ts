// A seeded chaos schedule (issue 16): faults of every kind at random moments against a devnet
// under load. The schedule is a pure function of the seed and the node names (the same seed,
// the same faults in the same order), and the runner applies each step, holds it, undoes it
// and waits a gap before the next, so at most one fault stands at a time and every one ends.
import { createHash } from "node:crypto";
import { EnigmaError, ErrorCode } from "@enigma/protocol";
import type { FaultEvent, Nemesis } from "./nemesis.js";

export type ChaosKind =
  | "kill"
  | "pause"
  | "partition"
  | "isolate"
  | "chain-outage"
  | "chain-hang"
  | "slow-chain"
  | "kill-task-stored"
  | "kill-receipt-in-flight";

export const CHAOS_KINDS: readonly ChaosKind[] = [
  "kill",
  "pause",
  "partition",
  "isolate",
  "chain-outage",
  "chain-hang",
  "slow-chain",
  "kill-task-stored",
  "kill-receipt-in-flight",
];

export interface ChaosStep {
  index: number;
  kind: ChaosKind;
  /** The node (or, for a partition, the groups). */
  target: string | string[][];
  /** How long the fault stands (a kill: how long the node stays down), ms. */
  holdMs: number;
  /** Wait after the step is undone, ms. */
  gapMs: number;
  /** `slow-chain`: added latency, ms. */
  latencyMs?: number;
}

export interface ChaosScheduleOptions {
  seed: string | number;
  /** Number of steps. */
  steps: number;
  /** Node names (principal first). */
  nodes: readonly string[];
  /** Nodes that single-node faults hit. Default: every node but the first (the workers). */
  targets?: readonly string[];
  /** Kinds to draw from (each equally likely). Default all. */
  kinds?: readonly ChaosKind[];
  /**
   * Kinds that must each come at least once (placed at seeded positions among the steps):
   * a short run still covers what it must.
   */
  include?: readonly ChaosKind[];
  /** How long a fault stands, ms. Default [1500, 5000]. */
  holdMs?: readonly [number, number];
  /** Gap between steps, ms. Default [500, 2500]. */
  gapMs?: readonly [number, number];
}

/** A deterministic stream of numbers in [0, 1) from a seed (SHA-256 in counter mode). */
export function seededRandom(seed: string | number): () => number {
  let counter = 0;
  let pool: number[] = [];
  return () => {
    if (pool.length === 0) {
      const h = createHash("sha256")
        .update(`${String(seed)}/${counter++}`)
        .digest();
      pool = Array.from({ length: 8 }, (_, i) => h.readUInt32BE(i * 4) / 2 ** 32);
    }
    return pool.shift() ?? 0;
  };
}

/** The steps a seed gives. */
export function chaosSchedule(o: ChaosScheduleOptions): ChaosStep[] {
  const kinds = o.kinds ?? CHAOS_KINDS;
  const targets = o.targets ?? o.nodes.slice(1);
  if (kinds.length === 0 || targets.length === 0 || o.nodes.length < 2) {
    throw new EnigmaError(
      ErrorCode.FaultSpecInvalid,
      "a chaos schedule needs at least one kind, one target and two nodes",
    );
  }
  const include = o.include ?? [];
  if (include.length > o.steps) {
    throw new EnigmaError(ErrorCode.FaultSpecInvalid, "more kinds to include than steps");
  }
  for (const k of [...kinds, ...include]) {
    if (!CHAOS_KINDS.includes(k)) {
      throw new EnigmaError(ErrorCode.FaultSpecInvalid, `unknown chaos kind "${k}"`, {
        details: { kind: k, known: CHAOS_KINDS },
      });
    }
  }
  const rnd = seededRandom(o.seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const between = ([lo, hi]: readonly [number, number]) => Math.round(lo + rnd() * (hi - lo));
  // The kinds that must come, at seeded positions; the other steps draw from `kinds`.
  const forced = new Map<number, ChaosKind>();
  const positions = Array.from({ length: o.steps }, (_, i) => i);
  for (const k of include) {
    const at = positions.splice(Math.floor(rnd() * positions.length), 1)[0];
    if (at !== undefined) forced.set(at, k);
  }
  const steps: ChaosStep[] = [];
  for (let index = 0; index < o.steps; index++) {
    const kind = forced.get(index) ?? pick(kinds);
    const holdMs = between(o.holdMs ?? [1_500, 5_000]);
    const gapMs = between(o.gapMs ?? [500, 2_500]);
    let target: ChaosStep["target"];
    if (kind === "partition") {
      // A random split of every node into two non-empty groups.
      const shuffled = [...o.nodes];
      for (let i = shuffled.length - 1; i > 0; i--) {
        const j = Math.floor(rnd() * (i + 1));
        [shuffled[i], shuffled[j]] = [shuffled[j] as string, shuffled[i] as string];
      }
      const cut = 1 + Math.floor(rnd() * (shuffled.length - 1));
      target = [shuffled.slice(0, cut), shuffled.slice(cut)];
    } else {
      target = pick(targets);
    }
    steps.push({
      index,
      kind,
      target,
      holdMs,
      gapMs,
      ...(kind === "slow-chain" ? { latencyMs: between([100, 800]) } : {}),
    });
  }
  return steps;
}

export interface ChaosRunOptions {
  /** Stops between steps (the standing fault is undone first). */
  signal?: AbortSignal;
  /** Told before each step. */
  onStep?: (step: ChaosStep) => void;
  /** How long a `kill-receipt-in-flight` waits for a receipt batch, ms. Default 20000. */
  receiptWaitMs?: number;
}

export interface ChaosReport {
  steps: number;
  /** Steps per kind. */
  byKind: Partial<Record<ChaosKind, number>>;
  /** Kills at a point that fired (the others expired unfired and were disarmed). */
  fired: number;
  events: FaultEvent[];
}

/** Runs `steps` against the devnet's nemesis; every fault is undone before it returns. */
export async function runChaos(
  nemesis: Nemesis,
  steps: readonly ChaosStep[],
  o: ChaosRunOptions = {},
): Promise<ChaosReport> {
  const report: ChaosReport = { steps: 0, byKind: {}, fired: 0, events: [] };
  const from = nemesis.history.length;
  const wait = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        o.signal?.removeEventListener("abort", done);
        resolve();
      }
      o.signal?.addEventListener("abort", done, { once: true });
    });
  try {
    for (const step of steps) {
      if (o.signal?.aborted === true) break;
      o.onStep?.(step);
      report.steps++;
      report.byKind[step.kind] = (report.byKind[step.kind] ?? 0) + 1;
      const t = step.target;
      const name = typeof t === "string" ? t : "";
      switch (step.kind) {
        case "kill":
          await nemesis.kill(name);
          await wait(step.holdMs);
          await nemesis.restart(name);
          break;
        case "pause":
          await nemesis.pause(name);
          await wait(step.holdMs);
          await nemesis.resume(name);
          break;
        case "partition":
          await nemesis.partition(typeof t === "string" ? [[t]] : t);
          await wait(step.holdMs);
          await nemesis.heal();
          break;
        case "isolate":
          await nemesis.isolate(name);
          await wait(step.holdMs);
          await nemesis.heal();
          break;
        case "chain-outage":
        case "chain-hang":
          await nemesis.chainOutage(name, step.kind === "chain-hang" ? "hang" : "refuse");
          await wait(step.holdMs);
          await nemesis.restoreChain(name);
          break;
        case "slow-chain":
          await nemesis.slowChain(name, step.latencyMs ?? 200);
          await wait(step.holdMs);
          await nemesis.restoreChain(name);
          break;
        case "kill-task-stored":
        case "kill-receipt-in-flight": {
          const point = step.kind === "kill-task-stored" ? "task-stored" : "receipt-in-flight";
          const { fired } = await nemesis.killAt(name, point);
          // A worker stores a task only when it has one; a batch goes out once an epoch.
          const window = point === "task-stored" ? step.holdMs * 3 : (o.receiptWaitMs ?? 20_000);
          const outcome = await Promise.race([fired, wait(window).then(() => "timeout" as const)]);
          if (outcome === "timeout") {
            await nemesis.disarm();
            // It may have fired while being disarmed.
            const late = await Promise.race([fired, wait(200).then(() => undefined)]);
            if (late !== undefined) {
              report.fired++;
              await wait(step.holdMs);
              await nemesis.restart(name);
            }
          } else if (outcome !== undefined) {
            report.fired++;
            await wait(step.holdMs);
            await nemesis.restart(name);
          }
          break;
        }
      }
      await wait(step.gapMs);
    }
  } finally {
    await nemesis.undoAll();
    // Every node runs again at the end (a step interrupted by the signal may have left one down).
    for (const n of nemesis.names) {
      if (!nemesis.node(n).running) await nemesis.restart(n).catch(() => undefined);
    }
  }
  report.events = nemesis.history.slice(from);
  return report;
}
