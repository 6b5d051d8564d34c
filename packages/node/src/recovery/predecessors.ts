// The previous worker's deltas before a hand-over (issue 16). Receipts are committed at the end
// of an epoch, so when a contract moves to another worker the deltas its previous worker made
// in the epoch before may not be on chain yet: the new worker has them only from gossip. A
// worker that was down, paused or cut off then would run on an older state, and the chain
// would later refuse one of the two conflicting deltas (and that task's user would have been
// given an output that never counts).
//
// So before it runs a task of a contract, a worker asks its worker peers
// (`/enigma/pending-deltas/1`) for the results behind any delta of the contract it does not
// have; each answer is a task result signed by its worker's enclave, checked like a gossiped
// one (signature, the worker selected for the contract in the epoch of the task's record, the
// delta's hash) and stored through the same path, in index order. A peer at the same count
// answers at once with nothing (the common case: the asker made the last deltas itself), so
// asks are cheap; they are still spaced (every 250 ms per contract) under load, unless a delta
// of the contract arrived ahead of its predecessors since (`behind`). Not once per
// epoch: the previous worker may still be running its last tasks when this one first asks, and
// a task that is retried (its contract's sync failed) must ask again (`pnpm bench:chaos`'s soak
// lost a contract's 400 tasks to that). A previous worker that is down and whose results
// nobody else heard cannot be reached: then the task runs on what this worker has, and the
// chain keeps whichever delta is committed first (the other task is refunded after its
// timeout); the chaos runs count those.
import { bytes32Schema, parseMessage, type Hex } from "@enigma/protocol";
import { z } from "zod";
import type { EpochInfo } from "../chain/types.js";
import { taskResultSchema, type TaskResult } from "../messages.js";
import type { Logger } from "../observability.js";
import type { P2PNetwork } from "../p2p/network.js";
import type { NodeStore } from "../store/store.js";

export const PENDING_DELTAS_PROTOCOL = "/enigma/pending-deltas/1";
/** Results in one answer (ask again from where it stops). */
const MAX_RESULTS = 64;
/** Delta data in one answer: 6 MiB, 12 MiB of hex, under the 16 MiB response cap. */
const MAX_ANSWER_BYTES = 6 * 1024 * 1024;
/** Contracts remembered with the time of their last ask. */
const MAX_ASKED = 10_000;
/** Asks of one contract are at least this far apart (ms), unless it fell behind meanwhile. */
export const ASK_EVERY_MS = 250;

const requestSchema = z
  .object({ contract: bytes32Schema, from: z.number().int().nonnegative() })
  .strict();
const answerSchema = z.object({ results: z.array(z.unknown()).max(MAX_RESULTS) });

export interface PredecessorOptions {
  p2p: P2PNetwork;
  store: Pick<NodeStore, "deltaCount" | "deltaTask" | "getMessage">;
  /** The epoch in force at a block. */
  epoch(blockNumber: number): Promise<EpochInfo | undefined>;
  /** Connected peers that are workers. */
  workerPeers(): string[];
  /** Verifies a result like a gossiped one and stores it (throws when it is not accepted). */
  accept(result: TaskResult): Promise<void>;
  log: Logger;
  /** How long one peer may take to answer (ms). Default 2000. */
  timeoutMs?: number;
  /** Asks of one contract are at least this far apart (ms). Default ASK_EVERY_MS. */
  askEveryMs?: number;
}

export class PredecessorDeltas {
  readonly #o: PredecessorOptions;
  /** When each contract was last asked for. */
  readonly #asked = new Map<string, number>();
  /** Contracts a delta arrived ahead of its predecessors for since their last ask. */
  readonly #behind = new Set<string>();
  #fetched = 0;

  constructor(o: PredecessorOptions) {
    this.#o = o;
  }

  /** Deltas stored from peers' answers so far (tests, logs). */
  get fetched(): number {
    return this.#fetched;
  }

  /** Serves the results behind this node's deltas of a contract from index `from` on. */
  async serve(): Promise<void> {
    await this.#o.p2p.handle(
      PENDING_DELTAS_PROTOCOL,
      async (raw) => {
        const { contract, from } = parseMessage(requestSchema, raw, "pending deltas request");
        return { results: await this.#resultsFrom(contract, from) };
      },
      { maxRequestBytes: 4 * 1024 },
    );
  }

  /**
   * A delta of `contract` arrived (on gossip) ahead of the ones this node has: the next
   * `ensure` asks at once, and so does one now, in the background (this node may be the
   * contract's next worker).
   */
  behind(contract: Hex): void {
    this.#behind.add(contract.toLowerCase());
    if (this.#behind.size > MAX_ASKED) this.#behind.clear();
    void this.ensure(contract);
  }

  /**
   * Before a compute task of `contract` (recorded at `blockNumber`) runs: fetches from worker
   * peers the deltas of the contract this node lacks (at most every 250 ms per contract, unless
   * it fell behind since). Never throws (a peer that cannot help is skipped).
   */
  async ensure(contract: Hex, blockNumber?: number): Promise<void> {
    const { log } = this.#o;
    const key = contract.toLowerCase();
    const now = Date.now();
    const last = this.#asked.get(key);
    const spaced = last !== undefined && now - last < (this.#o.askEveryMs ?? ASK_EVERY_MS);
    if (spaced && !this.#behind.has(key)) return;
    this.#behind.delete(key);
    this.#asked.delete(key);
    this.#asked.set(key, now);
    if (this.#asked.size > MAX_ASKED) {
      const oldest = this.#asked.keys().next();
      if (oldest.done !== true) this.#asked.delete(oldest.value);
    }
    const epoch =
      blockNumber === undefined
        ? undefined
        : await this.#o.epoch(blockNumber).catch(() => undefined);
    try {
      const before = await this.#o.store.deltaCount(contract);
      const peers = this.#o.workerPeers().length;
      const got = await this.#fetch(contract);
      log.debug(
        { contract, epoch: epoch?.index, before, peers, got },
        "asked worker peers for deltas",
      );
      if (got > 0) {
        log.info({ contract, deltas: got }, "deltas of the previous worker fetched before running");
      }
    } catch (e) {
      log.warn({ contract, err: String(e) }, "fetching the previous worker's deltas failed");
    }
  }

  async #fetch(contract: Hex): Promise<number> {
    const { p2p, store, log } = this.#o;
    const timeoutMs = this.#o.timeoutMs ?? 2_000;
    let stored = 0;
    // Ask every worker peer at once; then apply what they sent, lowest index first, each index
    // from the first answer whose result is accepted there.
    for (let round = 0; round < 64; round++) {
      const from = await store.deltaCount(contract);
      const answers = await Promise.all(
        this.#o.workerPeers().map(async (peer) => {
          try {
            const raw = await p2p.request(
              peer,
              PENDING_DELTAS_PROTOCOL,
              { contract, from },
              { timeoutMs },
            );
            return parseMessage(answerSchema, raw, "pending deltas answer").results;
          } catch (e) {
            log.debug({ peer, contract, err: String(e) }, "pending deltas request failed");
            return [];
          }
        }),
      );
      const byIndex = new Map<number, TaskResult[]>();
      for (const raw of answers.flat()) {
        const r = taskResultSchema.safeParse(raw);
        if (!r.success || r.data.delta === null) continue;
        if (r.data.contractAddress.toLowerCase() !== contract.toLowerCase()) continue;
        const list = byIndex.get(r.data.delta.index) ?? [];
        list.push(r.data);
        byIndex.set(r.data.delta.index, list);
      }
      let next = from;
      for (;;) {
        const candidates = byIndex.get(next);
        if (candidates === undefined) break;
        let applied = false;
        for (const r of candidates) {
          try {
            await this.#o.accept(r);
          } catch (e) {
            log.debug({ taskId: r.taskId, err: String(e) }, "fetched result not accepted");
            continue;
          }
          if ((await store.deltaCount(contract)) > next) {
            applied = true;
            break;
          }
        }
        if (!applied) break;
        next++;
      }
      stored += next - from;
      this.#fetched += next - from;
      // Another round only when an answer was cut short and this one made progress.
      const full = answers.some((a) => a.length === MAX_RESULTS);
      if (next === from || !full) break;
    }
    return stored;
  }

  /**
   * The signed results behind this node's deltas of `contract` from `from` on, in order, as
   * far as it stored them with their tasks (deltas it synced from peers carry no result: the
   * asker gets those from the chain's sync too). A node at or behind `from` answers nothing.
   */
  async #resultsFrom(contract: Hex, from: number): Promise<TaskResult[]> {
    const { store } = this.#o;
    const count = await store.deltaCount(contract);
    const out: TaskResult[] = [];
    let budget = MAX_ANSWER_BYTES;
    for (let i = from; i < count && out.length < MAX_RESULTS; i++) {
      const taskId = await store.deltaTask(contract, i);
      if (taskId === undefined) break;
      const r = taskResultSchema.safeParse(await store.getMessage("result", taskId));
      if (!r.success || r.data.delta?.index !== i) break;
      budget -= r.data.delta.data.length / 2;
      if (budget < 0 && out.length > 0) break;
      out.push(r.data);
    }
    return out;
  }
}
