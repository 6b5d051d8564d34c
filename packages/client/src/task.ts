import type { Hex } from "@enigma/protocol";

/** A task's lifecycle, in order. `executed` carries the node's status string. */
export type TaskEvent =
  | { type: "created"; taskId: Hex; worker: Hex; firstBlockNumber: bigint; attempt: number }
  | { type: "recorded"; taskId: Hex; txHash: string; blockNumber: number }
  | { type: "submitted"; taskId: Hex; worker: Hex }
  | { type: "executed"; taskId: Hex; status: string; output: Uint8Array }
  | { type: "committed"; taskId: Hex; chainStatus: number; outputHash: Hex };

export type TaskEventType = TaskEvent["type"];

/** What `TaskHandle.result()` resolves to. */
export interface TaskResult {
  taskId: Hex;
  /** Node status: `SUCCESS` (a failed task rejects `result()` instead). */
  status: string;
  /** The decrypted output bytes. */
  output: Uint8Array;
  /** ABI-decoded output, when the call gave `returnTypes`. */
  values?: unknown[];
}

/** @internal what the worker returned: node status and the encrypted output. */
export interface TaskExecution {
  taskId: Hex;
  status: string;
  output: Uint8Array;
}

/** What `TaskHandle.waitForReceipt()` resolves to: the task as committed on Ethereum. */
export interface TaskReceipt {
  taskId: Hex;
  /** 2 verified, 3 failed, 4 Ethereum callback failed, 5 fee returned. */
  chainStatus: number;
  outputHash: Hex;
}

/**
 * When each stage of a task ended, in `performance.now()` milliseconds (absent until reached):
 * `started` (handle created), `prepared` (worker selected and verified, key exchanged, call
 * encrypted), `sent` (record transaction sent), `inputAccepted` (the node took the input),
 * `recorded` (record mined), `executed` (the node reported the result), `resolved` (the result
 * decrypted). The input is sent right after `sent`, so `inputAccepted` may precede `recorded`.
 */
export interface TaskTimings {
  started: number;
  prepared?: number;
  sent?: number;
  inputAccepted?: number;
  recorded?: number;
  executed?: number;
  resolved?: number;
}

type Listener<T extends TaskEventType> = (e: Extract<TaskEvent, { type: T }>) => void;

/**
 * A running task: lifecycle events (`on`), an async iterator over them (replayed from the
 * start, ends after `committed` or a failure), and promises for each milestone.
 *
 * @example
 * const task = client.computeTask(scAddr, "add(uint256,uint256)", [1, 2], { returnTypes: ["uint256"] });
 * for await (const e of task) console.log(e.type);
 * const { values } = await task.result();
 */
export class TaskHandle implements AsyncIterable<TaskEvent> {
  readonly #events: TaskEvent[] = [];
  readonly #listeners = new Set<(e: TaskEvent) => void>();
  #error: Error | undefined;
  #done = false;
  readonly #wake = new Set<() => void>();
  readonly #submitted: Promise<Hex>;
  readonly #result: Promise<TaskResult>;
  readonly #receipt: () => Promise<TaskReceipt>;
  /** Stage times of this task (see `TaskTimings`). */
  readonly timings: TaskTimings;

  /** @internal built by EnigmaClient. */
  constructor(run: {
    submitted: (emit: (e: TaskEvent) => void) => Promise<Hex>;
    executed: (taskId: Hex, emit: (e: TaskEvent) => void) => Promise<TaskExecution>;
    result: (execution: TaskExecution) => TaskResult;
    receipt: (execution: TaskExecution, emit: (e: TaskEvent) => void) => Promise<TaskReceipt>;
    /** Filled in by the client as the stages end. */
    timings?: TaskTimings;
  }) {
    this.timings = run.timings ?? { started: performance.now() };
    const emit = (e: TaskEvent): void => {
      this.#events.push(e);
      for (const l of this.#listeners) l(e);
      this.#notify();
    };
    this.#submitted = run.submitted(emit);
    const executed = this.#submitted.then((id) => run.executed(id, emit));
    this.#result = executed.then((x) => {
      const r = run.result(x);
      this.timings.resolved = performance.now();
      return r;
    });
    let receipt: Promise<TaskReceipt> | undefined;
    this.#receipt = () => {
      if (receipt === undefined) {
        // A failed task still gets a receipt (status 3): it does not wait on result().
        receipt = executed.then((x) => run.receipt(x, emit));
        receipt.then(
          () => {
            this.#finish(undefined);
          },
          (e: unknown) => {
            this.#finish(e);
          },
        );
      }
      return receipt;
    };
    // A failure before execution ends the iteration; callers see the rejection from the
    // promise they await, so this handler only records it.
    executed.catch((e: unknown) => {
      this.#finish(e);
    });
    this.#result.catch(() => undefined);
  }

  #finish(error: unknown): void {
    if (this.#done) return;
    this.#done = true;
    this.#error =
      error === undefined || error instanceof Error
        ? error
        : new Error("task failed", { cause: error });
    this.#notify();
  }

  #notify(): void {
    for (const w of this.#wake) w();
    this.#wake.clear();
  }

  /** Calls `listener` for each future event of `type`; returns an unsubscribe function. */
  on<T extends TaskEventType>(type: T, listener: Listener<T>): () => void {
    const l = (e: TaskEvent): void => {
      if (e.type === type) listener(e as Extract<TaskEvent, { type: T }>);
    };
    this.#listeners.add(l);
    return () => this.#listeners.delete(l);
  }

  /** Events so far. */
  get events(): readonly TaskEvent[] {
    return this.#events;
  }

  /** Resolves with the task id once the node accepted the input. */
  submitted(): Promise<Hex> {
    return this.#submitted;
  }

  /** Resolves with the decrypted (and decoded) output; rejects with a typed EnigmaError. */
  result(): Promise<TaskResult> {
    return this.#result;
  }

  /**
   * Waits for the receipt on Ethereum (status 2, 3, 4 or 5) and checks its output hash
   * against keccak256 of the encrypted output received (`ResultRejected` otherwise).
   */
  waitForReceipt(): Promise<TaskReceipt> {
    return this.#receipt();
  }

  /** Iterates the lifecycle; waits for the receipt, so it ends after `committed`. */
  async *[Symbol.asyncIterator](): AsyncIterator<TaskEvent> {
    this.#receipt().catch(() => undefined);
    let i = 0;
    for (;;) {
      while (i < this.#events.length) {
        const e = this.#events[i++];
        if (e !== undefined) yield e;
      }
      if (this.#done) {
        if (this.#error !== undefined) throw this.#error;
        return;
      }
      await new Promise<void>((r) => this.#wake.add(r));
    }
  }
}
