// Re-delivery of task inputs to a worker that missed them (issue 16). An input reaches a worker
// straight from the gateway (hand-over) and on gossip; a worker that was down, paused or cut off
// at that moment gets neither, while the chain still tells it the task's record once it is back.
// So a worker pulls: every record it heard without hearing the record's input within a moment
// is asked of its peers (`/enigma/task-inputs/1`), which answer from their stores (the gateway
// that took the input keeps it, as does the worker it names). What comes back goes through
// admission like a gateway's hand-over: checked against its record by the one validator, so a
// peer cannot slip in anything the chain does not vouch for.
//
// It also covers the restart edge: records heard before a stop whose inputs never came are
// not delivered again by the watcher (its cursor is past them). At start, `recover` reads the
// records of the last task-timeout window and hands back those still pending that the node
// has no trace of, as if heard now.
import { ErrorCode, bytes32Schema, isEnigmaError, parseMessage } from "@enigma/protocol";
import { z } from "zod";
import type { EnigmaChain } from "../chain/enigma-chain.js";
import { recordOfEvent, type RecordInfo } from "../context.js";
import { taskInputSchema, type TaskInput } from "../messages.js";
import type { Logger } from "../observability.js";
import type { P2PNetwork } from "../p2p/network.js";
import type { NodeStore } from "../store/store.js";

export const INPUTS_PROTOCOL = "/enigma/task-inputs/1";
/** Task ids in one request. */
const MAX_IDS = 64;
/** Input bytes in one answer (the requester asks again for what did not fit). */
const MAX_ANSWER_BYTES = 12 * 1024 * 1024;
/** Records followed at once (the oldest are dropped first). */
const MAX_TRACKED = 20_000;
/** Peers asked per round (connected peers, in turn). */
const PEERS_PER_ROUND = 8;

/** Admission refusals after which another copy of the input cannot be admitted either. */
const FINAL: ReadonlySet<number> = new Set([
  ErrorCode.TaskNotPending,
  ErrorCode.TaskSkipped,
  ErrorCode.InvalidMessage,
]);

const requestSchema = z.object({ taskIds: z.array(bytes32Schema).min(1).max(MAX_IDS) }).strict();
const answerSchema = z.object({ inputs: z.array(z.unknown()).max(MAX_IDS) });

export interface RedeliveryOptions {
  p2p: P2PNetwork;
  store: Pick<NodeStore, "getMessage" | "getTask">;
  chain: Pick<EnigmaChain, "getEvents" | "getTaskRecord" | "taskTimeout">;
  /** Where a pulled input goes: admission, as a hand-over (validated against its record). */
  deliver(input: TaskInput): Promise<void>;
  /** Where a record found by `recover` goes: the node's usual record path. */
  hear(record: RecordInfo): void;
  log: Logger;
  /** First ask this long after the record was heard without its input (ms). Default 1000. */
  firstAfterMs?: number;
  /** Asks of one id, the n-th `firstAfterMs * 2^n` after the record; stops after this many. */
  maxAttempts?: number;
  /** How often the due ids are looked at (ms). Default 250. */
  tickMs?: number;
}

interface Tracked {
  heardAt: number;
  attempts: number;
  nextAt: number;
}

/** Serves inputs to peers (every node) and, on a worker, pulls the inputs it missed. */
export class InputRedelivery {
  readonly #o: RedeliveryOptions;
  readonly #firstAfterMs: number;
  readonly #maxAttempts: number;
  /** Records heard whose input has not come, by task id. */
  readonly #waiting = new Map<string, Tracked>();
  /** Task ids whose input came (so that a later record does not start a wait). */
  readonly #seen = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #pulling = false;
  #pulls = 0;
  #found = 0;

  constructor(o: RedeliveryOptions) {
    this.#o = o;
    this.#firstAfterMs = o.firstAfterMs ?? 1_000;
    this.#maxAttempts = o.maxAttempts ?? 8;
  }

  /** Serves `/enigma/task-inputs/1` from the store. */
  async serve(): Promise<void> {
    await this.#o.p2p.handle(
      INPUTS_PROTOCOL,
      async (raw) => {
        const { taskIds } = parseMessage(requestSchema, raw, "task inputs request");
        const inputs: TaskInput[] = [];
        let budget = MAX_ANSWER_BYTES;
        for (const id of taskIds) {
          const parsed = taskInputSchema.safeParse(await this.#o.store.getMessage("input", id));
          if (!parsed.success) continue;
          budget -= approximateBytes(parsed.data);
          if (budget < 0 && inputs.length > 0) break;
          inputs.push(parsed.data);
        }
        return { inputs };
      },
      { maxRequestBytes: 16 * 1024 },
    );
  }

  /** Starts pulling (a worker). */
  start(): void {
    const tick = this.#o.tickMs ?? 250;
    this.#timer = setInterval(() => {
      void this.#pull();
    }, tick);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#waiting.clear();
  }

  /** Counters for logs and tests: pull rounds made, inputs found. */
  get stats(): { waiting: number; pulls: number; found: number } {
    return { waiting: this.#waiting.size, pulls: this.#pulls, found: this.#found };
  }

  /** The watcher (or `recover`) delivered a record. */
  onRecord(record: Pick<RecordInfo, "taskId" | "seenAt">): void {
    const id = record.taskId.toLowerCase();
    if (this.#seen.has(id) || this.#waiting.has(id)) return;
    this.#waiting.set(id, {
      heardAt: record.seenAt,
      attempts: 0,
      nextAt: record.seenAt + this.#firstAfterMs,
    });
    if (this.#waiting.size > MAX_TRACKED) {
      const oldest = this.#waiting.keys().next();
      if (oldest.done !== true) this.#waiting.delete(oldest.value);
    }
  }

  /** An input of `taskId` reached this node (any path). */
  onInput(taskId: string): void {
    const id = taskId.toLowerCase();
    this.#waiting.delete(id);
    this.#seen.add(id);
    if (this.#seen.size > MAX_TRACKED) {
      const oldest = this.#seen.values().next();
      if (oldest.done !== true) this.#seen.delete(oldest.value);
    }
  }

  /** The task was settled on chain (or its result heard): nothing to pull any more. */
  onSettled(taskId: string): void {
    this.onInput(taskId);
  }

  /**
   * Hands back the pending records of the last task timeout up to `cursor` (the last block
   * the watcher delivered before this start) that this node has no trace of: heard before a
   * stop, their inputs never came, and the watcher will not deliver them again.
   */
  async recover(cursor: number): Promise<number> {
    const { chain, store, log } = this.#o;
    const from = Math.max(0, cursor - chain.taskTimeout);
    if (cursor < 0 || from > cursor) return 0;
    const events = await chain.getEvents(from, cursor);
    let found = 0;
    for (const e of events) {
      if (e.type !== "TaskRecordCreated") continue;
      if ((await store.getTask(e.taskId)) !== undefined) continue;
      const record = await chain.getTaskRecord(e.taskId);
      if (record?.status !== 1) continue;
      this.#o.hear(recordOfEvent(e));
      found++;
    }
    if (found > 0)
      log.info({ records: found, from, to: cursor }, "records heard again after a restart");
    return found;
  }

  async #pull(): Promise<void> {
    if (this.#pulling || this.#waiting.size === 0) return;
    this.#pulling = true;
    try {
      const now = Date.now();
      const due: string[] = [];
      for (const [id, t] of this.#waiting) {
        if (t.nextAt > now) continue;
        if (t.attempts >= this.#maxAttempts) {
          this.#waiting.delete(id);
          continue;
        }
        t.attempts++;
        t.nextAt = t.heardAt + this.#firstAfterMs * 2 ** t.attempts;
        due.push(id);
        if (due.length === MAX_IDS) break;
      }
      if (due.length > 0) await this.#ask(due);
    } catch (e) {
      this.#o.log.warn({ err: String(e) }, "input re-delivery round failed");
    } finally {
      this.#pulling = false;
    }
  }

  /**
   * Asks peers for the input of `taskId` until `use` takes one (true), for a node that needs
   * it outside admission: a deployment's pre-code, checked by `use` against the deployment's
   * verified result. False when no peer had one that `use` took.
   */
  async fetchInput(taskId: string, use: (input: TaskInput) => Promise<boolean>): Promise<boolean> {
    let taken = false;
    await this.#query([taskId.toLowerCase()], async (input) => {
      taken = await use(input);
      return taken;
    });
    return taken;
  }

  async #ask(ids: readonly string[]): Promise<void> {
    const { log } = this.#o;
    this.#pulls++;
    await this.#query(ids, async (input, peer) => {
      const id = input.taskId.toLowerCase();
      try {
        await this.#o.deliver(input);
        this.#found++;
        this.onInput(id);
        log.info({ taskId: id, peer }, "task input re-delivered by a peer");
      } catch (e) {
        // A settled or skipped task, or no input of this task: asking again cannot help.
        // Anything else (the chain unreachable) leaves it for the next attempt.
        log.info({ taskId: id, peer, err: String(e) }, "re-delivered task input not admitted");
        if (isEnigmaError(e) && FINAL.has(e.code)) this.onInput(id);
      }
      return true;
    });
  }

  /**
   * Asks up to PEERS_PER_ROUND connected peers, in random order, for the inputs of `ids`;
   * each answered input goes to `got`, and its id is asked no more once `got` says so.
   */
  async #query(
    ids: readonly string[],
    got: (input: TaskInput, peer: string) => Promise<boolean>,
  ): Promise<void> {
    const { p2p, log } = this.#o;
    const missing = new Set(ids);
    const peers = shuffled(p2p.peers()).slice(0, PEERS_PER_ROUND);
    for (const peer of peers) {
      if (missing.size === 0) break;
      let answer: z.output<typeof answerSchema>;
      try {
        const raw = await p2p.request(
          peer,
          INPUTS_PROTOCOL,
          { taskIds: [...missing] },
          { timeoutMs: 3_000 },
        );
        answer = parseMessage(answerSchema, raw, "task inputs answer");
      } catch (e) {
        log.debug({ peer, err: String(e) }, "task inputs request failed");
        continue;
      }
      for (const raw of answer.inputs) {
        const parsed = taskInputSchema.safeParse(raw);
        if (!parsed.success) continue;
        const id = parsed.data.taskId.toLowerCase();
        if (!missing.has(id)) continue;
        if (await got(parsed.data, peer)) missing.delete(id);
      }
    }
  }
}

/** Roughly what an input weighs on the wire (its hex and base64 fields). */
function approximateBytes(input: TaskInput): number {
  return (
    input.encryptedFn.length +
    input.encryptedArgs.length +
    input.userDHKey.length +
    (input.preCode?.length ?? 0) +
    256
  );
}

function shuffled<T>(xs: readonly T[]): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}
