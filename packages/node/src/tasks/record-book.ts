// Task records as this node heard them from the chain watcher (and the few it read itself),
// so that checking an input against its record costs no Ethereum call in the common case.
import type { RecordInfo } from "../context.js";

/** A record with what the node knows of its settlement. */
export interface KnownRecord extends RecordInfo {
  /** False once a receipt or a refund settled the task on chain. */
  pending: boolean;
  /** Heard from the watcher (a read record has no log index: it is replaced when heard). */
  exact: boolean;
}

/**
 * Most records kept: the oldest go first (a task older than the timeout is refundable anyway).
 * A record costs about 0.9 KB of heap: 50,000 pending ones (far more than a chain mines within a
 * task timeout at the node's throughput) hold at most about 45 MB.
 */
const MAX_RECORDS = 50_000;
/**
 * Settled records kept (the newest), so that a late or repeated input for a settled task is
 * answered without a chain read; an older one costs one read (`ReadBudget`), whose answer
 * comes back here. About 2 MB. Keeping every settled record up to MAX_RECORDS (it was 200,000,
 * about 180 MB) made every node's heap grow with every task of a 10,000-task soak.
 */
const MAX_SETTLED = 2_000;
/** Most callers waiting for records at once (`waitFor`). */
const MAX_WAITERS = 2_000;
/** Most task ids remembered as "no record" (see `markUnrecorded`). */
const MAX_UNRECORDED = 20_000;

/**
 * Records by task id, bounded. Fed in chain order by the watcher (`add`, `settle`, `heard`);
 * `markUnrecorded` remembers that a chain read found no record at a block, so that an input
 * for the same unknown id does not cost another read until the watcher has moved past it.
 */
export class RecordBook {
  readonly #records = new Map<string, KnownRecord>();
  /** Settled task ids, oldest first (at most `MAX_SETTLED`: their records go beyond it). */
  readonly #settled = new Set<string>();
  /** taskId -> the block through which the watcher had scanned when a read found nothing. */
  readonly #unrecorded = new Map<string, number>();
  readonly #max: number;
  /** Callers waiting for a record the watcher has not delivered yet (bounded). */
  readonly #waiting = new Map<string, (() => void)[]>();
  #waiters = 0;
  #heardThrough = -1;

  readonly #maxSettled: number;

  constructor(max = MAX_RECORDS, maxSettled = MAX_SETTLED) {
    this.#max = max;
    this.#maxSettled = maxSettled;
  }

  /** The newest block whose records the watcher has delivered. */
  get heardThrough(): number {
    return this.#heardThrough;
  }

  get size(): number {
    return this.#records.size;
  }

  get(taskId: string): KnownRecord | undefined {
    return this.#records.get(taskId.toLowerCase());
  }

  /** A record heard from the watcher (`exact`) or read from the chain. */
  add(record: RecordInfo, pending = true, exact = true): KnownRecord {
    const id = record.taskId.toLowerCase();
    const known = this.#records.get(id);
    if (known !== undefined && (known.exact || !exact)) return known;
    const kept: KnownRecord = { ...record, pending: pending && (known?.pending ?? true), exact };
    if (known !== undefined) this.#records.delete(id);
    this.#records.set(id, kept);
    this.#unrecorded.delete(id);
    const waiting = this.#waiting.get(id);
    if (waiting !== undefined) {
      this.#waiting.delete(id);
      for (const wake of waiting) wake();
    }
    if (!kept.pending) this.#keepSettled(id);
    if (this.#records.size > this.#max) {
      const oldest = this.#records.keys().next();
      if (oldest.done !== true) {
        this.#records.delete(oldest.value);
        this.#settled.delete(oldest.value);
      }
    }
    return kept;
  }

  /**
   * Waits up to `ms` for the watcher to deliver `taskId`'s record (an input often arrives a
   * poll interval before its record is heard); resolves the record or undefined. Without a
   * free waiting place (a flood of unknown ids) it answers at once.
   */
  async waitFor(taskId: string, ms: number): Promise<KnownRecord | undefined> {
    const id = taskId.toLowerCase();
    const known = this.#records.get(id);
    if (known !== undefined || ms <= 0 || this.#waiters >= MAX_WAITERS) return known;
    this.#waiters++;
    let wake: (() => void) | undefined;
    try {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
        const list = this.#waiting.get(id) ?? [];
        list.push(wake);
        this.#waiting.set(id, list);
      });
    } finally {
      this.#waiters--;
      const rest = (this.#waiting.get(id) ?? []).filter((w) => w !== wake);
      if (rest.length === 0) this.#waiting.delete(id);
      else this.#waiting.set(id, rest);
    }
    return this.#records.get(id);
  }

  /**
   * A receipt or refund settled the task. Its record stays among the newest `maxSettled`
   * settled ones, so that late inputs are answered without a chain read.
   */
  settle(taskId: string): void {
    const id = taskId.toLowerCase();
    const r = this.#records.get(id);
    if (r === undefined) return;
    r.pending = false;
    this.#keepSettled(id);
  }

  /** Settled records held now (at most `maxSettled`). */
  get settledSize(): number {
    return this.#settled.size;
  }

  /** Counts `id` among the newest settled records, dropping the oldest settled record beyond. */
  #keepSettled(id: string): void {
    this.#settled.delete(id);
    this.#settled.add(id);
    if (this.#settled.size > this.#maxSettled) {
      const oldest = this.#settled.values().next();
      if (oldest.done !== true) {
        this.#settled.delete(oldest.value);
        this.#records.delete(oldest.value);
      }
    }
  }

  /** The watcher delivered every record through `block`. */
  heard(block: number): void {
    this.#heardThrough = Math.max(this.#heardThrough, block);
  }

  /** A chain read found no record for `taskId` (the watcher was at `heardThrough`). */
  markUnrecorded(taskId: string): void {
    const id = taskId.toLowerCase();
    this.#unrecorded.delete(id);
    this.#unrecorded.set(id, this.#heardThrough);
    if (this.#unrecorded.size > MAX_UNRECORDED) {
      const oldest = this.#unrecorded.keys().next();
      if (oldest.done !== true) this.#unrecorded.delete(oldest.value);
    }
  }

  /**
   * Whether a read for `taskId` would tell nothing new: it found no record already, and any
   * record mined since would have come through the watcher (which fills the book).
   */
  knownUnrecorded(taskId: string): boolean {
    return this.#unrecorded.has(taskId.toLowerCase());
  }
}
