// Results a worker missed (issue 16). After an epoch change a worker's task waits for the
// previous worker's earlier tasks of its contract (`worker/pipeline.ts`, up to 30 s), and
// learns they are done from their results on gossip. A worker that was down or cut off when
// those results went out would wait the whole bound and then run on an older state. So the
// tasks it has waited on for a moment are asked of its peers (`/enigma/task-result/1`, which
// every node serves from its store) and each result is checked like a gossiped one.
import { parseMessage } from "@enigma/protocol";
import { PROTOCOLS, taskResultSchema, type TaskResult } from "../messages.js";
import type { Logger } from "../observability.js";
import type { P2PNetwork } from "../p2p/network.js";

/** Ids asked per round. */
const PER_ROUND = 16;
const PEERS_PER_ID = 8;

export interface ResultRecoveryOptions {
  p2p: P2PNetwork;
  /** Other workers' tasks waited on for at least `ms` (the pipeline's). */
  waitingOn(ms: number): string[];
  /** Verifies a result like a gossiped one and stores it (throws when it is not accepted). */
  accept(result: TaskResult): Promise<void>;
  log: Logger;
  /** Ask once a task has been waited on this long (ms). Default 1000. */
  afterMs?: number;
  /** How often to look (ms). Default 500. */
  tickMs?: number;
}

export class ResultRecovery {
  readonly #o: ResultRecoveryOptions;
  /** When each id may be asked again. */
  readonly #next = new Map<string, { at: number; attempts: number }>();
  #timer: NodeJS.Timeout | undefined;
  #busy = false;
  #found = 0;

  constructor(o: ResultRecoveryOptions) {
    this.#o = o;
  }

  get found(): number {
    return this.#found;
  }

  start(): void {
    this.#timer = setInterval(() => {
      void this.#round();
    }, this.#o.tickMs ?? 500);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async #round(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      const now = Date.now();
      const ids = this.#o.waitingOn(this.#o.afterMs ?? 1_000);
      const live = new Set(ids);
      for (const id of this.#next.keys()) if (!live.has(id)) this.#next.delete(id);
      const due = ids.filter((id) => (this.#next.get(id)?.at ?? 0) <= now).slice(0, PER_ROUND);
      for (const id of due) {
        const attempts = (this.#next.get(id)?.attempts ?? 0) + 1;
        this.#next.set(id, { at: now + 1_000 * 2 ** Math.min(attempts, 4), attempts });
        await this.#ask(id);
      }
    } catch (e) {
      this.#o.log.warn({ err: String(e) }, "result recovery round failed");
    } finally {
      this.#busy = false;
    }
  }

  async #ask(taskId: string): Promise<void> {
    const { p2p, log } = this.#o;
    for (const peer of p2p.peers().slice(0, PEERS_PER_ID)) {
      let raw: unknown;
      try {
        raw = await p2p.request(peer, PROTOCOLS.taskResult, { taskId }, { timeoutMs: 2_000 });
      } catch {
        continue;
      }
      const parsed = taskResultSchema.safeParse(raw);
      if (!parsed.success) continue;
      try {
        await this.#o.accept(parseMessage(taskResultSchema, parsed.data, "task result"));
        this.#found++;
        log.info({ taskId, peer }, "missed result of another worker fetched from a peer");
        return;
      } catch (e) {
        log.debug({ taskId, peer, err: String(e) }, "fetched result not accepted");
      }
    }
  }
}
