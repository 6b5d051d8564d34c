// The ordering stage: which of this worker's tasks may run now. The rule, in one place:
//
//   Tasks of one secret contract run in the order of their records (block, log index).
//   A record whose input this worker has not heard yet may be for any contract, so every later
//   task waits for it, but only until its deadline: `deadlineMs` after this worker heard the
//   record. After that the later tasks go on; if its input comes after a later task of its own
//   contract has run, its turn has passed and it is skipped (TaskSkipped, refundable), the only
//   task that loses. If no later task of its contract ran meanwhile, it still runs, in order.
//
// Pure bookkeeping (no I/O, the clock is passed in), so that the rule is tested on its own.

/** A task this stage may hand out, with the payload the pipeline attached to it. */
export interface OrderedTask<T> {
  taskId: string;
  contract: string;
  /** Record order: `recordOrder({ blockNumber, logIndex })`. */
  order: number;
  task: T;
}

export interface OrderingDecision<T> {
  /** Tasks to run now, in record order (at most one lane per contract runs them in turn). */
  run: OrderedTask<T>[];
  /** Tasks whose turn passed while their input was missing. */
  skip: OrderedTask<T>[];
  /** When a waiting record's deadline ends (decide again then), if one is waiting. */
  wakeAt: number | undefined;
}

interface Slot<T> {
  taskId: string;
  order: number;
  heardAt: number;
  /** Set once this worker has the record's input and it is one of its tasks. */
  ready?: { contract: string; task: T };
}

export interface OrderingOptions {
  /** How long a record without an input holds later tasks, from when it was heard (ms). */
  deadlineMs: number;
  /** Records remembered after their deadline (an input may still come); the oldest go first. */
  maxExpired?: number;
}

export class TaskOrdering<T> {
  readonly #deadlineMs: number;
  readonly #maxExpired: number;
  /** Records heard and not resolved, in record order. */
  #slots: Slot<T>[] = [];
  readonly #byId = new Map<string, Slot<T>>();
  /** Records whose deadline passed without an input: task id -> order. */
  readonly #expired = new Map<string, number>();
  /** Per contract: the record order of the last task handed out to run. */
  readonly #lastRun = new Map<string, number>();

  constructor(o: OrderingOptions) {
    this.#deadlineMs = o.deadlineMs;
    this.#maxExpired = o.maxExpired ?? 100_000;
  }

  /** Records that hold or may still hold tasks (for tests and metrics). */
  get size(): number {
    return this.#slots.length;
  }

  /** A record heard from the chain (idempotent). */
  record(taskId: string, order: number, heardAt: number): void {
    const id = taskId.toLowerCase();
    if (this.#byId.has(id) || this.#expired.has(id)) return;
    const slot: Slot<T> = { taskId: id, order, heardAt };
    this.#byId.set(id, slot);
    // The watcher delivers records in order: almost always an append.
    let at = this.#slots.length;
    while (at > 0 && (this.#slots[at - 1]?.order ?? -1) > order) at--;
    this.#slots.splice(at, 0, slot);
  }

  /** Whether the record of `taskId` was heard (so its input can be placed). */
  knows(taskId: string): boolean {
    const id = taskId.toLowerCase();
    return this.#byId.has(id) || this.#expired.has(id);
  }

  /**
   * This worker has the input of `taskId` and must run it (its record must be known).
   * Returns false when the task was ready already.
   */
  ready(taskId: string, contract: string, task: T): boolean {
    const id = taskId.toLowerCase();
    let slot = this.#byId.get(id);
    if (slot === undefined) {
      const order = this.#expired.get(id);
      if (order === undefined) {
        throw new Error(`ordering: no record heard for ${taskId}`);
      }
      // The input came after its deadline: it goes back in line at its own place.
      this.#expired.delete(id);
      this.record(id, order, -Infinity);
      slot = this.#byId.get(id);
      if (slot === undefined) return false;
    }
    if (slot.ready !== undefined) return false;
    slot.ready = { contract: contract.toLowerCase(), task };
    return true;
  }

  /** The input of `taskId` is known and this worker will not run it: it holds nothing up. */
  elsewhere(taskId: string): void {
    const id = taskId.toLowerCase();
    this.#expired.delete(id);
    const slot = this.#byId.get(id);
    if (slot === undefined || slot.ready !== undefined) return;
    this.#remove(slot);
  }

  /** Restores a contract's last run order (from the store, after a restart). */
  restoreLastRun(contract: string, order: number | undefined): void {
    const c = contract.toLowerCase();
    if (order !== undefined && !this.#lastRun.has(c)) this.#lastRun.set(c, order);
  }

  hasLastRun(contract: string): boolean {
    return this.#lastRun.has(contract.toLowerCase());
  }

  /** Whether a task of `contract` at `order` would be skipped: a later one of it ran already. */
  turnPassed(contract: string, order: number): boolean {
    const last = this.#lastRun.get(contract.toLowerCase());
    return last !== undefined && last > order;
  }

  /**
   * Hands out what may run now and what is skipped, and forgets them. `heldBack(contract,
   * order)` says that a task must wait for something outside this rule (the previous worker's
   * earlier task of its contract after an epoch change): then it and the later tasks of its
   * contract stay.
   */
  decide(now: number, heldBack: (contract: string, order: number) => boolean = () => false) {
    const out: OrderingDecision<T> = { run: [], skip: [], wakeAt: undefined };
    const held = new Set<string>();
    let waiting = false;
    for (const slot of [...this.#slots]) {
      const ready = slot.ready;
      if (ready === undefined) {
        const deadline = slot.heardAt + this.#deadlineMs;
        if (now >= deadline) {
          this.#expire(slot);
        } else {
          waiting = true;
          out.wakeAt = Math.min(out.wakeAt ?? Infinity, deadline);
        }
        continue;
      }
      const t: OrderedTask<T> = {
        taskId: slot.taskId,
        contract: ready.contract,
        order: slot.order,
        task: ready.task,
      };
      if (this.turnPassed(ready.contract, slot.order)) {
        this.#remove(slot);
        out.skip.push(t);
        continue;
      }
      if (waiting || held.has(ready.contract)) continue;
      if (heldBack(ready.contract, slot.order)) {
        held.add(ready.contract);
        continue;
      }
      this.#remove(slot);
      this.#lastRun.set(ready.contract, slot.order);
      out.run.push(t);
    }
    return out;
  }

  #expire(slot: Slot<T>): void {
    this.#remove(slot);
    this.#expired.set(slot.taskId, slot.order);
    if (this.#expired.size > this.#maxExpired) {
      const oldest = this.#expired.keys().next();
      if (oldest.done !== true) this.#expired.delete(oldest.value);
    }
  }

  #remove(slot: Slot<T>): void {
    this.#byId.delete(slot.taskId);
    const at = this.#slots.indexOf(slot);
    if (at !== -1) this.#slots.splice(at, 1);
  }
}
