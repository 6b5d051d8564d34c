// Task traces: what this node saw of each task and when. Every stage of the task path calls one
// `TaskTracer.event(...)`; the node keeps the events in a bounded log (the newest tasks, a
// bounded number of events each) that its JSON-RPC serves (`getTaskTrace`, `getTraceEvents`),
// and observes the time since the task's previous event here into a Prometheus histogram per
// stage. Nothing here is heavy: `enigma task trace` and the explorer import the types alone
// (`@enigma/node/trace`).

/**
 * The stages of a task as one node sees them, in the order they usually come. A node sees a
 * subset: the gateway the client spoke to sees `input-accepted` and `input-gossiped`, the other
 * nodes `input-heard`; only the selected worker executes; every node hears the record and the
 * receipt from the chain.
 */
export const TRACE_STAGES = [
  /** The chain watcher delivered the task's record (`TaskRecordCreated`). */
  "recorded",
  /** A client's input (or one a gateway handed over) was accepted at admission. */
  "input-accepted",
  /** The input went out on gossip. */
  "input-gossiped",
  /** The input arrived on gossip. */
  "input-heard",
  /** The worker handed the task to its enclave (its turn in record order came). */
  "execution-started",
  /** The enclave returned: `success`, `gasUsed`. */
  "executed",
  /** The task did not run and has nothing to settle (`code`: skipped, ...). */
  "not-run",
  /** The worker stored its result and published it on gossip. */
  "result-published",
  /** Another worker's result arrived (gossip or fetched) and was stored. */
  "result-heard",
  /** The worker's receipt batch with this task was mined (`status` on chain). */
  "receipt-sent",
  /** The chain watcher delivered the task's receipt event (`status`: 2, 3, 4). */
  "receipt-committed",
  /** The chain watcher delivered `TaskFeeReturned` (the fee went back to the sender). */
  "fee-returned",
] as const;

export type TraceStage = (typeof TRACE_STAGES)[number];

/** One event of a task on one node. `at` is wall-clock milliseconds (fractional). */
export interface TraceEvent {
  stage: TraceStage;
  at: number;
  /** Small facts of the stage (contract, block, success, gas, status...). */
  detail?: Record<string, string | number | boolean>;
}

/** An event in the node's log, with its position (`seq`) and task. */
export interface SequencedTraceEvent extends TraceEvent {
  seq: number;
  taskId: string;
}

/** What the stages call: one line per event. */
export interface TaskTracer {
  event(taskId: string, stage: TraceStage, detail?: TraceEvent["detail"]): void;
}

/** A tracer that records nothing. */
export const noTrace: TaskTracer = { event: () => undefined };

export interface TaskTraceLogOptions {
  /** Tasks kept (the oldest is dropped first); `DEFAULT_TRACE_TASKS` (2,000) by default. */
  maxTasks?: number;
  /** Events kept per task (later ones are dropped); 32 by default. */
  maxEventsPerTask?: number;
  /** Told the seconds since the task's previous event on this node, per stage (metrics). */
  observe?: (stage: TraceStage, seconds: number) => void;
  /** The clock (tests); `performance.timeOrigin + performance.now()` by default. */
  now?: () => number;
}

/**
 * Tasks a node keeps traces of by default. Measured about 330 bytes of heap an event and 6-8
 * events a task on a worker (about 2.3 KB a task), so 2,000 tasks hold about 5 MB: the newest
 * minute of a 35 tasks/s soak, hours of a realistic devnet. A reader (the explorer, `enigma
 * task trace`) asks about tasks just run, or follows `since` every few seconds. It was 10,000
 * (about 23 MB): a 10,000-task soak never filled it, so every node's heap grew with every task
 * and V8 sized the old generation after it (RSS +31-40% after warm-up, see the node README).
 */
export const DEFAULT_TRACE_TASKS = 2_000;

/** A task's events, oldest first. */
interface TaskEntry {
  events: SequencedTraceEvent[];
}

/**
 * The node's bounded log of task events: at most `maxTasks` tasks (least recently started
 * dropped first) of at most `maxEventsPerTask` events each, so a node under any load keeps
 * bounded memory (about 330 bytes an event: about 5 MB at the defaults), whether or not anyone
 * reads it.
 *
 * @example
 * const log = new TaskTraceLog();
 * log.event(taskId, "recorded", { block: 12 });
 * log.trace(taskId); // [{ stage: "recorded", at: 1733300000000.25, detail: { block: 12 }, seq: 1, taskId }]
 */
export class TaskTraceLog implements TaskTracer {
  readonly #maxTasks: number;
  readonly #maxEvents: number;
  readonly #observe: TaskTraceLogOptions["observe"];
  readonly #now: () => number;
  readonly #tasks = new Map<string, TaskEntry>();
  /** Every kept event in `seq` order, for `since` reads (pruned with its task). */
  #recent: SequencedTraceEvent[] = [];
  #dropped = 0;
  #seq = 0;

  constructor(o: TaskTraceLogOptions = {}) {
    this.#maxTasks = positive("maxTasks", o.maxTasks ?? DEFAULT_TRACE_TASKS);
    this.#maxEvents = positive("maxEventsPerTask", o.maxEventsPerTask ?? 32);
    this.#observe = o.observe;
    this.#now = o.now ?? (() => performance.timeOrigin + performance.now());
  }

  event(taskId: string, stage: TraceStage, detail?: TraceEvent["detail"]): void {
    const id = normalizeId(taskId);
    if (id === undefined) return;
    let entry = this.#tasks.get(id);
    if (entry === undefined) {
      entry = { events: [] };
      this.#tasks.set(id, entry);
      if (this.#tasks.size > this.#maxTasks) {
        this.#dropOldest();
        // Here too, not only in `since`: with no reader, `#recent` would keep every event ever
        // recorded (a leak the task bound did not cover).
        this.#compact();
      }
    }
    if (entry.events.length >= this.#maxEvents) return;
    const at = Math.round(this.#now() * 100) / 100;
    const previous = entry.events.at(-1);
    const e: SequencedTraceEvent = {
      seq: ++this.#seq,
      taskId: id,
      stage,
      at,
      ...(detail === undefined ? {} : { detail: { ...detail } }),
    };
    entry.events.push(e);
    this.#recent.push(e);
    if (previous !== undefined) this.#observe?.(stage, Math.max(0, at - previous.at) / 1000);
  }

  /** The events of `taskId` on this node, oldest first (empty when unknown or dropped). */
  trace(taskId: string): SequencedTraceEvent[] {
    const id = normalizeId(taskId);
    return id === undefined ? [] : [...(this.#tasks.get(id)?.events ?? [])];
  }

  /**
   * Events after `after` (a `seq`), oldest first, at most `limit`; `next` is the cursor to
   * pass next time. A reader that fell behind the bounds gets what is left.
   */
  since(after: number, limit = 1_000): { events: SequencedTraceEvent[]; next: number } {
    this.#compact();
    // Binary search: `#recent` is in seq order.
    let lo = 0;
    let hi = this.#recent.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.#recent[mid]?.seq ?? 0) <= after) lo = mid + 1;
      else hi = mid;
    }
    const events = this.#recent.slice(lo, lo + Math.max(0, limit));
    return { events, next: events.at(-1)?.seq ?? Math.max(after, 0) };
  }

  /** Tasks held now. */
  get size(): number {
    return this.#tasks.size;
  }

  /**
   * Events held now, counting those of dropped tasks not compacted away yet: at most 4/3 of
   * `maxTasks * maxEventsPerTask` (compaction runs once a quarter of them are dropped ones).
   */
  get heldEvents(): number {
    return this.#recent.length;
  }

  #dropOldest(): void {
    const oldest = this.#tasks.keys().next();
    if (oldest.done === true) return;
    const entry = this.#tasks.get(oldest.value);
    this.#tasks.delete(oldest.value);
    this.#dropped += entry?.events.length ?? 0;
  }

  /** Drops the events of dropped tasks from `#recent` once they are a good part of it. */
  #compact(): void {
    if (this.#dropped === 0 || this.#dropped * 4 < this.#recent.length) return;
    this.#recent = this.#recent.filter((e) => this.#tasks.get(e.taskId)?.events.includes(e));
    this.#dropped = 0;
  }
}

function positive(name: string, n: number): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${name} must be a positive integer`);
  return n;
}

/** Lower-case `0x` + 64 hex digits, or undefined for anything else. */
function normalizeId(taskId: string): string | undefined {
  const hex = taskId.toLowerCase().replace(/^0x/, "");
  return /^[0-9a-f]{64}$/.test(hex) ? `0x${hex}` : undefined;
}
