// Inputs whose task record is not mined yet. A client sends its input as soon as it has sent
// the record's transaction, so the input usually arrives first; it waits here until the chain
// watcher delivers the record, then the one input that matches the record is used.
import { EnigmaError, ErrorCode } from "@enigma/protocol";
import type { TaskInput } from "../messages.js";

export interface HeldInputsLimits {
  /** Inputs kept per task id (a client that retries its record re-encrypts: same id, new input). */
  perTask: number;
  /** Task ids held at once. */
  tasks: number;
  /** Bytes held at once (inputs carry up to 12 MiB of pre-code). */
  bytes: number;
  /** How long an input waits for its record, in ms. */
  ttlMs: number;
}

/**
 * Chosen so that an honest burst fits (a record is mined within a few blocks of its input) and
 * a flood of made-up task ids costs bounded memory: 4 inputs per id, 4,096 ids, 64 MiB, two
 * minutes (a transaction that waits longer than that for a block is resent by its client).
 */
export const HELD_INPUT_LIMITS: HeldInputsLimits = Object.freeze({
  perTask: 4,
  tasks: 4_096,
  bytes: 64 * 1024 * 1024,
  ttlMs: 120_000,
});

interface Held {
  inputs: TaskInput[];
  bytes: number;
  since: number;
}

/** Approximate size of an input (its hex and base64 strings dominate). */
export function inputBytes(input: TaskInput): number {
  return (
    input.encryptedFn.length +
    input.encryptedArgs.length +
    input.userDHKey.length +
    (input.preCode?.length ?? 0) +
    200
  );
}

export class HeldInputs {
  readonly #held = new Map<string, Held>();
  readonly #limits: HeldInputsLimits;
  readonly #now: () => number;
  #bytes = 0;

  constructor(limits: Partial<HeldInputsLimits> = {}, now: () => number = Date.now) {
    this.#limits = { ...HELD_INPUT_LIMITS, ...limits };
    this.#now = now;
  }

  get size(): number {
    return this.#held.size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  has(taskId: string): boolean {
    return this.#held.has(taskId.toLowerCase());
  }

  /**
   * Keeps `input` until its record is known. The same input again is a no-op; InputHoldFull
   * when a bound is reached (nothing is evicted: an input held already keeps its place).
   */
  hold(input: TaskInput): void {
    this.expire();
    const id = input.taskId.toLowerCase();
    const size = inputBytes(input);
    const entry = this.#held.get(id);
    if (entry?.inputs.some((i) => sameInput(i, input)) === true) return;
    const full = (what: string, limit: number) =>
      new EnigmaError(
        ErrorCode.InputHoldFull,
        `this gateway holds ${what} whose task records are not mined yet (limit ${limit}): send the input again once the record is mined`,
        { details: { taskId: input.taskId, limit } },
      );
    if (entry !== undefined && entry.inputs.length >= this.#limits.perTask) {
      throw full("too many inputs for this task id", this.#limits.perTask);
    }
    if (entry === undefined && this.#held.size >= this.#limits.tasks) {
      throw full("too many task ids", this.#limits.tasks);
    }
    if (this.#bytes + size > this.#limits.bytes) throw full("too many bytes", this.#limits.bytes);
    if (entry === undefined) {
      this.#held.set(id, { inputs: [input], bytes: size, since: this.#now() });
    } else {
      entry.inputs.push(input);
      entry.bytes += size;
    }
    this.#bytes += size;
  }

  /** The inputs held for `taskId`, removed. */
  take(taskId: string): TaskInput[] {
    const id = taskId.toLowerCase();
    const entry = this.#held.get(id);
    if (entry === undefined) return [];
    this.#held.delete(id);
    this.#bytes -= entry.bytes;
    return entry.inputs;
  }

  /** Task ids held longer than `ms` (oldest first), for a fallback look-up of their record. */
  olderThan(ms: number): string[] {
    const before = this.#now() - ms;
    const out: string[] = [];
    for (const [id, e] of this.#held) {
      if (e.since > before) break; // insertion order is age order
      out.push(id);
    }
    return out;
  }

  /** Drops what waited longer than the TTL; returns how many inputs were dropped. */
  expire(): number {
    const before = this.#now() - this.#limits.ttlMs;
    let dropped = 0;
    for (const [id, e] of this.#held) {
      if (e.since > before) break;
      this.#held.delete(id);
      this.#bytes -= e.bytes;
      dropped += e.inputs.length;
    }
    return dropped;
  }
}

function sameInput(a: TaskInput, b: TaskInput): boolean {
  return (
    a.workerAddress.toLowerCase() === b.workerAddress.toLowerCase() &&
    a.contractAddress === b.contractAddress &&
    a.encryptedFn === b.encryptedFn &&
    a.encryptedArgs === b.encryptedArgs &&
    a.userDHKey === b.userDHKey &&
    a.preCode === b.preCode
  );
}
