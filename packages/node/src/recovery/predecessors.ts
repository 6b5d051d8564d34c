// The previous worker's deltas before a hand-over (issue 16). Receipts are committed at the end
// of an epoch, so when a contract moves to another worker the deltas its previous worker made
// in the epoch before may not be on chain yet: the new worker has them only from gossip. A
// worker that was down, paused or cut off then would run on an older state, and the chain
// would later refuse one of the two conflicting deltas (and that task's user would have been
// given an output that never counts).
//
// So before it runs the first task of a contract in an epoch, a worker asks its worker peers
// (`/enigma/pending-deltas/1`) for the results behind any delta of the contract it does not
// have; each answer is a task result signed by its worker's enclave, checked like a gossiped
// one (signature, the worker selected for the contract in the epoch of the task's record, the
// delta's hash) and stored through the same path, in index order. Within an epoch only this
// worker makes the contract's deltas, so one ask per (contract, epoch) is enough. A previous
// worker that is down and whose results nobody else heard cannot be reached: then the task
// runs on what this worker has, and the chain keeps whichever delta is committed first (the
// other task is refunded after its timeout); the chaos runs count those.
import { bytes32Schema, parseMessage, TaskResultStatus, type Hex } from "@enigma/protocol";
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
/** (contract, epoch) pairs remembered as asked. */
const MAX_ASKED = 10_000;

const requestSchema = z
  .object({ contract: bytes32Schema, from: z.number().int().nonnegative() })
  .strict();
const answerSchema = z.object({ results: z.array(z.unknown()).max(MAX_RESULTS) });

export interface PredecessorOptions {
  p2p: P2PNetwork;
  store: Pick<NodeStore, "deltaCount" | "listTasks" | "getMessage">;
  /** The epoch in force at a block. */
  epoch(blockNumber: number): Promise<EpochInfo | undefined>;
  /** Connected peers that are workers. */
  workerPeers(): string[];
  /** Verifies a result like a gossiped one and stores it (throws when it is not accepted). */
  accept(result: TaskResult): Promise<void>;
  log: Logger;
  /** How long one peer may take to answer (ms). Default 2000. */
  timeoutMs?: number;
}

export class PredecessorDeltas {
  readonly #o: PredecessorOptions;
  /** `contract@epoch` asked already. */
  readonly #asked = new Set<string>();
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
   * Before a compute task of `contract` recorded at `blockNumber` runs: the first time in that
   * epoch, fetches from worker peers the deltas of the contract this node lacks. Never throws
   * (a peer that cannot help is skipped).
   */
  async ensure(contract: Hex, blockNumber: number): Promise<void> {
    const { log } = this.#o;
    const epoch = await this.#o.epoch(blockNumber).catch(() => undefined);
    const key = `${contract.toLowerCase()}@${epoch?.index ?? blockNumber}`;
    if (this.#asked.has(key)) return;
    this.#asked.add(key);
    if (this.#asked.size > MAX_ASKED) {
      const oldest = this.#asked.values().next();
      if (oldest.done !== true) this.#asked.delete(oldest.value);
    }
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

  /** The signed results behind this node's deltas of `contract` from `from` on, in order. */
  async #resultsFrom(contract: Hex, from: number): Promise<TaskResult[]> {
    const { store } = this.#o;
    const count = await store.deltaCount(contract);
    if (count <= from) return [];
    // Only a node ahead of the asker scans its tasks (rare: a worker coming back from a fault).
    const tasks = (await store.listTasks([TaskResultStatus.Success])).filter(
      (t) =>
        t.contract.toLowerCase() === contract.toLowerCase() &&
        t.result?.delta !== undefined &&
        t.result.delta.index >= from &&
        t.result.delta.index < count,
    );
    tasks.sort((a, b) => (a.result?.delta?.index ?? 0) - (b.result?.delta?.index ?? 0));
    const out: TaskResult[] = [];
    let budget = MAX_ANSWER_BYTES;
    for (const t of tasks.slice(0, MAX_RESULTS)) {
      const r = taskResultSchema.safeParse(await store.getMessage("result", t.taskId));
      if (!r.success) continue;
      budget -= (r.data.delta?.data.length ?? 0) / 2;
      if (budget < 0 && out.length > 0) break;
      out.push(r.data);
    }
    return out;
  }
}
