// The worker's task pipeline, wired from its stages:
//
//   admission  (the node's: `tasks/validator.ts` decides what an input is; here, inputs are
//              placed once the chain watcher has delivered their record)
//   ordering   (`ordering.ts`: record order per contract, the deadline for missing inputs)
//   execution  (`execution.ts`: the enclave, one lane per contract)
//   publishing (`publishing.ts`: one LevelDB batch, gossip, RPC notifications, receipt hand-off)
//
// Across an epoch change the order spans workers: a task also waits (up to FOREIGN_WAIT_MS) for
// the result of an earlier record of its contract that the previous worker still has to run.
import {
  EnigmaError,
  ErrorCode,
  TaskResultStatus,
  addressSchema,
  bytes32Schema,
  type Hex,
} from "@enigma/protocol";
import { z } from "zod";
import { recordOrder, type RecordInfo } from "../context.js";
import { taskInputSchema, type TaskInput } from "../messages.js";
import type { Logger, NodeMetrics } from "../observability.js";
import type { NodeStore } from "../store/store.js";
import type { KnownRecord } from "../tasks/record-book.js";
import type { InputVerdict } from "../tasks/validator.js";
import type { Execution, RunnableTask } from "./execution.js";
import { TaskOrdering } from "./ordering.js";
import type { Publisher } from "./publishing.js";

export { resultData } from "./publishing.js";

/** A matched record as the worker keeps it (restart recovery keeps record order). */
const recordSchema = z.object({
  inputsHash: bytes32Schema,
  gasLimit: z.coerce.bigint(),
  gasPx: z.coerce.bigint(),
  sender: addressSchema,
  blockNumber: z.number().int().nonnegative(),
  logIndex: z.number().int().nonnegative(),
});

/**
 * How long a task waits for the result of an earlier record of its contract selected to another
 * worker (the contract moved at an epoch change while that worker was behind). Running without
 * it would compute on state that misses that task's delta: both workers would write the same
 * delta index, and the chain would reject one of them (DeltaOutOfOrder). Bounded, so that a
 * previous worker that is gone does not stop the contract for good.
 */
export const FOREIGN_WAIT_MS = 30_000;
/** Tasks remembered as handed out, so that a record or input heard again is no new task. */
const TAKEN_MAX = 20_000;
/** Records remembered while they may still get an input. */
const RECORDS_MAX = 100_000;
/** Inputs whose record the node read before the watcher delivered it. */
const EARLY_MAX = 10_000;
const DONE: ReadonlySet<string> = new Set([
  TaskResultStatus.Success,
  TaskResultStatus.Failed,
  TaskResultStatus.EthereumFailure,
]);

/** The store as the pipeline uses it. */
export type PipelineStore = Pick<
  NodeStore,
  "getTask" | "addTask" | "updateTask" | "getMeta" | "listTasks" | "getMessage"
>;

export interface PipelineDeps {
  /** This worker's enclave signer. */
  signer: Hex;
  store: PipelineStore;
  /** Re-checks an input restored after a restart against its saved record. */
  validate(input: TaskInput, record: KnownRecord): Promise<InputVerdict>;
  /** A record read from the chain with its log index (restart recovery of heard inputs). */
  readRecord(taskId: Hex): Promise<RecordInfo | undefined>;
  execution: Execution;
  publisher: Publisher;
  /** How long a record without an input holds later tasks (ms): `worker.orderingDeadlineMs`. */
  deadlineMs: number;
  /** How long to wait for another worker's earlier task (default FOREIGN_WAIT_MS; tests). */
  foreignWaitMs?: number;
  /** Test fault points (`faults.ts`): `task-stored` is reached between storing and running. */
  faults?: {
    isArmed(point: "task-stored"): boolean;
    reach(point: "task-stored", context: string): void;
  };
  metrics: NodeMetrics;
  log: Logger;
}

/** A task of another worker whose result this worker has not seen yet. */
interface Foreign {
  contract: string;
  order: number;
  since: number;
}

export class TaskPipeline {
  readonly #d: PipelineDeps;
  readonly #ordering: TaskOrdering<RunnableTask>;
  /** Records heard from the watcher and not resolved yet. */
  readonly #records = new Map<string, RecordInfo>();
  /** Inputs whose record the watcher has not delivered yet. */
  readonly #early = new Map<string, { input: TaskInput; verdict: InputVerdict }>();
  /** Per contract: the promise chain that runs its tasks one at a time. */
  readonly #lanes = new Map<string, Promise<void>>();
  readonly #foreign = new Map<string, Foreign>();
  /** Per contract: the number of foreign tasks (most contracts have none: no scan). */
  readonly #foreignPerContract = new Map<string, number>();
  /** Tasks whose result or settlement was heard lately (a result may come before its input). */
  readonly #done = new Set<string>();
  /** Contracts whose tasks wait for a foreign one (logged once). */
  readonly #held = new Set<string>();
  /** Tasks handed to a lane or skipped lately (the newest TAKEN_MAX). */
  readonly #taken = new Map<string, "run" | "skipped">();
  /** Placements in flight (a contract's last run is read from the store first). */
  readonly #placing = new Set<Promise<void>>();
  /** Per contract: its newest task outcome being written and published (lanes do not wait). */
  readonly #publishing = new Map<string, Promise<void>>();
  /** Every outcome being written and published (`stop()` waits for them). */
  readonly #inFlight = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Infinity;
  #stopped = false;

  constructor(deps: PipelineDeps) {
    this.#d = deps;
    this.#ordering = new TaskOrdering({ deadlineMs: deps.deadlineMs });
  }

  /** Re-queues tasks that were heard but not finished before a restart. */
  async start(): Promise<void> {
    const { store, log } = this.#d;
    const open = await store.listTasks([TaskResultStatus.Unverified, TaskResultStatus.InProgress]);
    for (const t of open) {
      const input = taskInputSchema.safeParse(await store.getMessage("input", t.taskId));
      if (!input.success) continue;
      const saved = recordSchema.safeParse(await store.getMessage("record", t.taskId));
      let record: RecordInfo | undefined = saved.success
        ? { ...saved.data, taskId: t.taskId, seenAt: Date.now() }
        : undefined;
      try {
        record ??= await this.#d.readRecord(t.taskId);
      } catch (e) {
        log.warn({ taskId: t.taskId, err: String(e) }, "cannot read the record of a stored task");
      }
      if (record === undefined) continue;
      this.onRecord(record);
      const verdict = await this.#d.validate(input.data, { ...record, pending: true, exact: true });
      this.onInput(input.data, verdict);
    }
    this.#pump();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    // Lanes can grow while earlier ones finish: wait until none is left.
    while (this.#lanes.size > 0 || this.#placing.size > 0 || this.#inFlight.size > 0) {
      await Promise.allSettled([...this.#lanes.values(), ...this.#placing, ...this.#inFlight]);
    }
  }

  /** A task record, delivered in chain order (with its confirmations) by the watcher. */
  onRecord(record: RecordInfo): void {
    const id = record.taskId.toLowerCase();
    if (this.#stopped || this.#taken.has(id) || this.#records.has(id)) return;
    this.#records.set(id, record);
    if (this.#records.size > RECORDS_MAX) {
      const oldest = this.#records.keys().next();
      if (oldest.done !== true) this.#records.delete(oldest.value);
    }
    this.#ordering.record(id, recordOrder(record), record.seenAt);
    const early = this.#early.get(id);
    if (early !== undefined) {
      this.#early.delete(id);
      this.#place(early.input, early.verdict);
    }
    this.#pump();
  }

  /**
   * An input the node's validator judged `runnable` or `wrong-worker` against its record. It
   * is placed once the watcher has delivered that record (so that every earlier record is
   * known when its turn is decided).
   */
  onInput(input: TaskInput, verdict: InputVerdict): void {
    const id = input.taskId.toLowerCase();
    if (this.#stopped || this.#taken.has(id)) return;
    if (verdict.kind !== "runnable" && verdict.kind !== "wrong-worker") return;
    if (!this.#records.has(id)) {
      if (this.#early.size < EARLY_MAX && !this.#early.has(id)) {
        this.#early.set(id, { input, verdict });
      }
      return;
    }
    this.#place(input, verdict);
  }

  /**
   * Whether an input of `taskId` would come too late: a later task of its contract ran already.
   * (The gateway answers TaskSkipped at once then.)
   */
  async skipped(taskId: string, contract?: string): Promise<boolean> {
    const id = taskId.toLowerCase();
    const taken = this.#taken.get(id);
    if (taken !== undefined) return taken === "skipped";
    const record = this.#records.get(id);
    if (record !== undefined && contract !== undefined) {
      // Heard since this start and not taken: its outcome, if any, is decided here.
      return this.#ordering.turnPassed(contract, recordOrder(record));
    }
    // Skipped before a restart (or long ago): what the store kept.
    const outcome = await this.#d.store.getMessage("outcome", id);
    return (outcome as { code?: number } | undefined)?.code === ErrorCode.TaskSkipped;
  }

  /**
   * A result of `taskId` was stored (heard from its worker): nothing waits for it any more.
   * Unless its delta could not be stored yet (`held`: it came ahead of the delta before it):
   * then the later tasks of its contract wait for it as for another worker's task still
   * running, until `onResult` without `held` (or FOREIGN_WAIT_MS).
   */
  onResult(taskId: string, held?: { contract: string }): void {
    const id = taskId.toLowerCase();
    if (held !== undefined) {
      this.#holdFor(id, held.contract.toLowerCase());
      return;
    }
    // Its record holds later tasks no longer (its input may never come here: a restart).
    if (!this.#taken.has(id)) {
      this.#ordering.elsewhere(id);
      this.#records.delete(id);
      this.#early.delete(id);
    }
    this.#done.add(id);
    if (this.#done.size > TAKEN_MAX) {
      const oldest = this.#done.values().next();
      if (oldest.done !== true) this.#done.delete(oldest.value);
    }
    this.#dropForeign(id);
    this.#pump();
  }

  /** A task of another worker whose delta this worker lacks: later tasks of `contract` wait. */
  #holdFor(id: string, contract: string): void {
    if (this.#stopped || this.#taken.has(id) || this.#done.has(id) || this.#foreign.has(id)) return;
    const record = this.#records.get(id);
    // Without its record its place is unknown: its input or its record places it later.
    if (record === undefined) return;
    this.#ordering.elsewhere(id);
    this.#addForeign(id, contract, recordOrder(record));
    this.#pump();
  }

  #addForeign(id: string, contract: string, order: number): void {
    this.#foreign.set(id, { contract, order, since: Date.now() });
    this.#foreignPerContract.set(contract, (this.#foreignPerContract.get(contract) ?? 0) + 1);
  }

  #dropForeign(id: string): boolean {
    const f = this.#foreign.get(id);
    if (f === undefined) return false;
    this.#foreign.delete(id);
    const n = (this.#foreignPerContract.get(f.contract) ?? 1) - 1;
    if (n <= 0) this.#foreignPerContract.delete(f.contract);
    else this.#foreignPerContract.set(f.contract, n);
    return true;
  }

  /** `taskId` was settled on chain (receipt or refund). */
  onSettled(taskId: string): void {
    this.onResult(taskId);
  }

  /**
   * Other workers' tasks that tasks of this worker wait for, waited on for at least `ms`: their
   * results may have been missed (this worker was down or cut off), so recovery asks peers.
   */
  foreignWaits(ms: number): string[] {
    const now = Date.now();
    const out: string[] = [];
    for (const [id, f] of this.#foreign) if (now - f.since >= ms) out.push(id);
    return out;
  }

  /** Tasks waiting (for an input or their turn). */
  get waiting(): number {
    return this.#ordering.size + this.#early.size;
  }

  #place(input: TaskInput, verdict: InputVerdict): void {
    const job = this.#placeNow(input, verdict)
      .catch((e: unknown) => {
        this.#d.log.error({ taskId: input.taskId, err: String(e) }, "task not placed");
      })
      .finally(() => {
        this.#placing.delete(job);
        this.#pump();
      });
    this.#placing.add(job);
  }

  async #placeNow(input: TaskInput, verdict: InputVerdict): Promise<void> {
    const id = input.taskId.toLowerCase();
    const record = this.#records.get(id);
    if (record === undefined || this.#taken.has(id)) return;
    const me = this.#d.signer.toLowerCase();
    const contract = input.contractAddress.toLowerCase();
    if (verdict.kind === "runnable" && verdict.selected === me) {
      if (!this.#ordering.hasLastRun(contract)) {
        const stored = await this.#d.store.getMeta(lastRunKey(input.contractAddress));
        this.#ordering.restoreLastRun(contract, typeof stored === "number" ? stored : undefined);
      }
      this.#ordering.ready(id, contract, { input, record, preCode: verdict.preCode });
      return;
    }
    this.#ordering.elsewhere(id);
    this.#records.delete(id);
    if (verdict.kind === "wrong-worker") {
      if (input.workerAddress.toLowerCase() === me) {
        this.#d.metrics.tasksNotExecuted.inc({ reason: "wrong-worker" });
        this.#d.log.info(
          { taskId: id, contract, selected: verdict.selected ?? null },
          "input names this worker, which is not selected for its contract: accepted, not executed",
        );
      }
      return;
    }
    // Another worker's task: a later task of its contract on this worker waits for its result.
    if (this.#done.has(id) || this.#foreign.has(id)) return;
    this.#addForeign(id, contract, recordOrder(record));
  }

  #pump(): void {
    if (this.#stopped) return;
    const now = Date.now();
    const foreignWait = this.#d.foreignWaitMs ?? FOREIGN_WAIT_MS;
    let foreignWake = Infinity;
    // Oldest first (insertion order): stop at the first one still in time.
    for (const [id, f] of this.#foreign) {
      if (now - f.since <= foreignWait) {
        foreignWake = f.since + foreignWait + 1;
        break;
      }
      this.#dropForeign(id);
    }
    const decision = this.#ordering.decide(now, (contract, order) => {
      if (!this.#foreignPerContract.has(contract)) return false;
      for (const f of this.#foreign.values()) {
        if (f.contract === contract && f.order < order) {
          if (!this.#held.has(contract)) {
            this.#held.add(contract);
            this.#d.log.info(
              { contract },
              "tasks of this contract wait for an earlier task on the previous worker",
            );
          }
          return true;
        }
      }
      this.#held.delete(contract);
      return false;
    });
    for (const t of decision.skip) {
      this.#take(t.taskId, "skipped");
      this.#records.delete(t.taskId);
      this.#enqueue(t.contract, () => this.#skip(t.task));
    }
    for (const t of decision.run) {
      this.#take(t.taskId, "run");
      this.#records.delete(t.taskId);
      this.#enqueue(t.contract, () => this.#run(t.task, t.order));
    }
    const wakeAt = Math.min(decision.wakeAt ?? Infinity, foreignWake);
    if (wakeAt !== Infinity) this.#wakeAt(wakeAt);
  }

  #wakeAt(at: number): void {
    if (this.#timer !== undefined && this.#timerAt <= at) return;
    clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        this.#timerAt = Infinity;
        this.#pump();
      },
      Math.max(1, at - Date.now()),
    );
  }

  #take(taskId: string, how: "run" | "skipped"): void {
    this.#taken.set(taskId, how);
    if (this.#taken.size > TAKEN_MAX) {
      const oldest = this.#taken.keys().next();
      if (oldest.done !== true) this.#taken.delete(oldest.value);
    }
  }

  #enqueue(contract: string, job: () => Promise<void>): void {
    const prev = this.#lanes.get(contract) ?? Promise.resolve();
    const next = prev.then(job).catch((e: unknown) => {
      this.#d.log.error({ contract, err: String(e) }, "task pipeline failure");
    });
    this.#lanes.set(contract, next);
    void next.finally(() => {
      if (this.#lanes.get(contract) === next) this.#lanes.delete(contract);
    });
  }

  /** The task's row in the store (the node stored it with its input; a restart may not have). */
  async #stored(t: RunnableTask) {
    const { store } = this.#d;
    const { taskId, contractAddress } = t.input;
    const task =
      (await store.getTask(taskId)) ??
      (await store.addTask(taskId, contractAddress, TaskResultStatus.Unverified, {
        input: t.input,
      }));
    if (task.contract !== contractAddress) {
      throw new EnigmaError(
        ErrorCode.TaskConflict,
        `task ${taskId} is recorded for contract ${task.contract}`,
        { details: { taskId, stored: task.contract, given: contractAddress } },
      );
    }
    return task;
  }

  async #skip(t: RunnableTask): Promise<void> {
    const task = await this.#stored(t);
    if (DONE.has(task.status)) return;
    await this.#d.publisher.notRun(
      t.input.taskId,
      new EnigmaError(
        ErrorCode.TaskSkipped,
        "the task's turn passed while its input was missing: a later task of its contract ran; its fee is refundable after the task timeout",
        { details: { taskId: t.input.taskId } },
      ),
    );
  }

  async #run(t: RunnableTask, order: number): Promise<void> {
    const { store, log } = this.#d;
    const { input, record } = t;
    const contract = input.contractAddress.toLowerCase();
    const started = performance.now();
    const task = await this.#stored(t);
    if (DONE.has(task.status)) return; // done before a restart
    // One batch before the run (input and record kept for a restart) and one after it. The
    // store applies its writes one at a time in the order they are issued, so the lane does not
    // wait for them: the next task of the contract runs as soon as this one's outcome is known
    // (the enclave holds the state it runs on), while this one's batches are written and its
    // result published. A crash before the outcome's batch lands runs the task again, in order.
    const inProgress = store.updateTask(input.taskId, {
      status: TaskResultStatus.InProgress,
      messages: {
        input,
        record: {
          inputsHash: record.inputsHash,
          gasLimit: record.gasLimit.toString(),
          gasPx: record.gasPx.toString(),
          sender: record.sender,
          blockNumber: record.blockNumber,
          logIndex: record.logIndex,
        },
      },
    });
    inProgress.catch((e: unknown) => {
      log.warn({ taskId: input.taskId, err: String(e) }, "task not marked in progress");
    });
    // A contract (re)loaded from the store must see every delta this lane produced.
    if (this.#d.execution.loadsFromStore(contract)) await this.#publishing.get(contract);
    // A kill at this fault point must find the task stored: a node armed for it waits for the
    // write (an unarmed point costs a lookup).
    if (this.#d.faults?.isArmed("task-stored") === true) await inProgress;
    this.#d.faults?.reach("task-stored", input.taskId);
    const outcome = await this.#d.execution.run(t, () => this.#stopped);
    // Written with the task's outcome: a crash before that runs the task again, in order.
    const meta = { [lastRunKey(input.contractAddress)]: order };
    // Called now, so that the outcome's batch is queued in the store before the next task's.
    const publishing = (
      "result" in outcome
        ? this.#d.publisher.result(outcome.result, meta, started)
        : this.#d.publisher.notRun(input.taskId, outcome.failure, meta)
    ).catch((e: unknown) => {
      // The enclave ran the task but its outcome is not stored: the enclave's copy of the
      // contract is ahead of the store, so it is reloaded before the contract's next task.
      this.#d.execution.markStale(contract);
      throw e;
    });
    this.#track(contract, publishing);
    // A task that calls Ethereum holds its lane until its receipt is committed: if the call
    // fails on chain, its delta is dropped before the next task of the contract runs.
    if ("result" in outcome && outcome.result.ethCall !== null) await publishing;
  }

  /** Keeps a contract's outcome being written and published, until it is done. */
  #track(contract: string, publishing: Promise<void>): void {
    const done = publishing
      .catch((e: unknown) => {
        this.#d.log.error({ contract, err: String(e) }, "task outcome not stored");
      })
      .finally(() => {
        this.#inFlight.delete(done);
        if (this.#publishing.get(contract) === done) this.#publishing.delete(contract);
      });
    this.#inFlight.add(done);
    this.#publishing.set(contract, done);
  }
}

/** The metadata key of a contract's last run record order. */
export function lastRunKey(contract: string): string {
  return `lastRun:${contract}`;
}
