// The one check of a task input: input <-> record <-> selected group <-> epoch. The gateway,
// gossip and the worker's pipeline all ask it, and each maps its verdict to what that path does
// (an RPC answer, a gossip verdict, running the task or not).
import { EnigmaError, ErrorCode, isEnigmaError, type Hex } from "@enigma/protocol";
import type { EpochInfo } from "../chain/types.js";
import { decodePreCode, inputsHashOf, type TaskInput } from "../messages.js";
import type { KnownRecord, RecordBook } from "./record-book.js";

/**
 * What an input is, against what the chain says of its task:
 * - `malformed`: broken on its own (a deployment whose address is not its task id, pre-code
 *   that does not decode): nobody can ever run it.
 * - `unrecorded`: no record known for its task id yet (the client sent the input before its
 *   record was mined): held until the record comes.
 * - `mismatch`: the record holds another inputs hash: not this task's input.
 * - `settled`: the record is settled already (receipt or refund).
 * - `wrong-worker`: the input is the task's, but names a worker outside the group selected
 *   for its contract in the record's epoch. Accepted as Discovery did, never executed: the
 *   task is refundable after its timeout. `selected` is the group's first member.
 * - `runnable`: the task's input, naming a member of its group: `selected` is that member, the
 *   one worker that runs it (the client encrypted the input to its key alone). Under Discovery's
 *   rule the group is one worker.
 */
export type InputVerdict =
  | { kind: "malformed"; error: EnigmaError }
  | {
      kind: "unrecorded";
      /** The chain was asked and holds no record for the id. */ confirmed: boolean;
    }
  | { kind: "mismatch"; record: KnownRecord }
  | { kind: "settled"; record: KnownRecord }
  | { kind: "wrong-worker"; record: KnownRecord; selected: Hex | undefined }
  | { kind: "runnable"; record: KnownRecord; selected: Hex; preCode: Uint8Array | undefined };

export interface ValidatorPorts {
  book: RecordBook;
  /** The task's record read from the chain (undefined: none), for ids the watcher has not told. */
  readRecord(taskId: string): Promise<KnownRecord | undefined>;
  /** The epoch in force at a block. */
  epoch(blockNumber: number): Promise<EpochInfo | undefined>;
  /** The group selected for a contract in an epoch (lower-case; `NodeSelection.group`). */
  group(contract: string, epoch: EpochInfo): Promise<readonly Hex[]>;
  /**
   * How long to wait for the watcher before reading an unknown id from the chain (a couple of
   * poll intervals: an input usually arrives just before its record is heard).
   */
  watcherWaitMs: number;
}

/**
 * Chain reads a caller may spend on ids the watcher has not told (a token bucket): an input for
 * an unknown id costs at most one read, and a flood of them at most `perSecond` reads a second.
 */
export class ReadBudget {
  readonly #perSecond: number;
  readonly #burst: number;
  readonly #now: () => number;
  #tokens: number;
  #at: number;

  constructor(perSecond: number, burst = perSecond, now: () => number = Date.now) {
    this.#perSecond = perSecond;
    this.#burst = burst;
    this.#now = now;
    this.#tokens = burst;
    this.#at = now();
  }

  take(): boolean {
    const now = this.#now();
    this.#tokens = Math.min(
      this.#burst,
      this.#tokens + ((now - this.#at) / 1000) * this.#perSecond,
    );
    this.#at = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

export class TaskValidator {
  readonly #p: ValidatorPorts;
  /** Per input object: its pre-code decoded and its inputs hash (both cost real work). */
  readonly #derived = new WeakMap<TaskInput, { preCode: Uint8Array | undefined; hash: Hex }>();

  constructor(ports: ValidatorPorts) {
    this.#p = ports;
  }

  /**
   * The verdict on `input`. A record the watcher has not delivered is read from the chain only
   * when `reads` allows it (and at most once per unknown id); otherwise it is `unrecorded`.
   */
  async check(input: TaskInput, reads?: ReadBudget): Promise<InputVerdict> {
    const derived = this.#derive(input);
    if (derived instanceof EnigmaError) return { kind: "malformed", error: derived };
    const record = await this.record(input.taskId, reads);
    if (record === undefined) {
      return { kind: "unrecorded", confirmed: this.#p.book.knownUnrecorded(input.taskId) };
    }
    return this.#against(input, derived, record);
  }

  /** Whether the record of `taskId` is known here already (heard from the watcher or read). */
  knows(taskId: string): boolean {
    return this.#p.book.get(taskId) !== undefined;
  }

  /** The verdict on `input` against a record the caller holds (the pipeline's, from the watcher). */
  async checkAgainst(input: TaskInput, record: KnownRecord): Promise<InputVerdict> {
    const derived = this.#derive(input);
    if (derived instanceof EnigmaError) return { kind: "malformed", error: derived };
    return this.#against(input, derived, record);
  }

  async #against(
    input: TaskInput,
    derived: { preCode: Uint8Array | undefined; hash: Hex },
    record: KnownRecord,
  ): Promise<InputVerdict> {
    if (derived.hash !== record.inputsHash.toLowerCase()) return { kind: "mismatch", record };
    if (!record.pending) return { kind: "settled", record };
    const epoch = await this.#p.epoch(record.blockNumber);
    const group = epoch === undefined ? [] : await this.#p.group(input.contractAddress, epoch);
    const named = input.workerAddress.toLowerCase() as Hex;
    if (!group.includes(named)) return { kind: "wrong-worker", record, selected: group[0] };
    return { kind: "runnable", record, selected: named, preCode: derived.preCode };
  }

  /**
   * The record of `taskId` as every path finds it (inputs here, results in the node): the
   * watcher's; else, with `reads`, the watcher's after waiting `watcherWaitMs` for it; else
   * one chain read when `reads` allows it (an id the chain does not know is remembered, so
   * that it costs no second read until the watcher has moved on).
   */
  async record(taskId: string, reads?: ReadBudget): Promise<KnownRecord | undefined> {
    const { book } = this.#p;
    const known = book.get(taskId);
    if (known !== undefined || reads === undefined) return known;
    if (book.knownUnrecorded(taskId)) return undefined;
    const heard = await book.waitFor(taskId, this.#p.watcherWaitMs);
    if (heard !== undefined) return heard;
    if (!reads.take()) return undefined;
    const read = await this.#p.readRecord(taskId);
    if (read === undefined) {
      book.markUnrecorded(taskId);
      return undefined;
    }
    return book.add(read, read.pending, false);
  }

  #derive(input: TaskInput): { preCode: Uint8Array | undefined; hash: Hex } | EnigmaError {
    const kept = this.#derived.get(input);
    if (kept !== undefined) return kept;
    if (input.preCode !== undefined && input.contractAddress !== input.taskId) {
      return new EnigmaError(
        ErrorCode.InvalidMessage,
        "a deployment's contractAddress must equal its taskId",
        { details: { taskId: input.taskId, contractAddress: input.contractAddress } },
      );
    }
    try {
      const preCode = input.preCode === undefined ? undefined : decodePreCode(input.preCode);
      const derived = { preCode, hash: inputsHashOf(input, preCode).toLowerCase() as Hex };
      this.#derived.set(input, derived);
      return derived;
    } catch (e) {
      if (isEnigmaError(e)) return e;
      throw e;
    }
  }
}
