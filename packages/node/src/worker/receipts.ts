// A worker's unconfirmed receipts go to Ethereum in one transaction per trigger: the end of the
// epoch, or a task that asks for an Ethereum call (then everything pending, up to and including
// it, is committed with the call). The queue lives in LevelDB, so a restart loses nothing, and
// a receipt leaves it only in the same batch that marks its task committed. A contract's deltas
// go on chain in order: a receipt whose delta would land before the deltas of earlier tasks of
// its contract (run by the previous worker of an epoch change, not committed yet) is held back
// for a while, since the chain would accept it and then refuse those (DeltaOutOfOrder).
import { isEnigmaError, type ChainReceipt } from "@enigma/protocol";
import type { WorkerEnclave } from "@enigma/enclave";
import { delay, type NodeContext } from "../context.js";

export type CommitTrigger = "epoch-end" | "ethereum-call" | "restart" | "batch-full";

/** Chain statuses: 1 pending, everything above is settled (2, 3, 4 committed; 5 refunded). */
const PENDING = 1;
const ZERO32 = /^0x0*$/;
/**
 * How long a receipt waits for the earlier deltas of its contract to be committed by another
 * worker; after that it is committed anyway (that worker may be gone for good).
 */
export const HOLD_MAX_MS = 60_000;
/** How often held receipts are tried again. */
const HOLD_RETRY_MS = 250;

export interface ReceiptBatcherOptions {
  /** Attempts per trigger on transient failures, with exponential backoff. */
  attempts?: number;
  baseDelayMs?: number;
  /** How long a receipt waits for earlier deltas of its contract (default HOLD_MAX_MS). */
  holdMaxMs?: number;
  /** How often held receipts are tried again (default 250 ms). */
  holdRetryMs?: number;
}

export class ReceiptBatcher {
  readonly #ctx: NodeContext;
  readonly #enclave: WorkerEnclave;
  readonly #attempts: number;
  readonly #baseDelayMs: number;
  readonly #holdMaxMs: number;
  readonly #holdRetryMs: number;
  readonly #stopping = new AbortController();
  /** Held receipts (task id) and since when. */
  readonly #heldSince = new Map<string, number>();
  #retry: NodeJS.Timeout | undefined;
  #running: Promise<void> = Promise.resolve();
  #queued: CommitTrigger | undefined;
  /** Called with the task ids of every committed batch and the chain's outcome per task. */
  onCommitted: ((outcome: Map<string, number>) => Promise<void> | void) | undefined;

  constructor(ctx: NodeContext, enclave: WorkerEnclave, options: ReceiptBatcherOptions = {}) {
    this.#ctx = ctx;
    this.#enclave = enclave;
    this.#attempts = options.attempts ?? 5;
    this.#baseDelayMs = options.baseDelayMs ?? 200;
    this.#holdMaxMs = options.holdMaxMs ?? HOLD_MAX_MS;
    this.#holdRetryMs = options.holdRetryMs ?? HOLD_RETRY_MS;
  }

  /** Asks for a commit; triggers arriving while one runs are merged into one follow-up. */
  trigger(trigger: CommitTrigger): Promise<void> {
    if (this.#stopping.signal.aborted) return Promise.resolve();
    if (this.#queued !== undefined) return this.#running;
    this.#queued = trigger;
    this.#running = this.#running.then(async () => {
      const t = this.#queued ?? trigger;
      this.#queued = undefined;
      try {
        await this.#commitAll(t);
      } catch (e) {
        // Never leave a rejected chain behind: the next trigger must run.
        this.#ctx.log.error({ trigger: t, err: errText(e) }, "receipt batcher failure");
      }
    });
    return this.#running;
  }

  /** Waits for the commit in flight; later triggers are ignored. */
  async stop(): Promise<void> {
    this.#stopping.abort();
    clearTimeout(this.#retry);
    await this.#running;
  }

  async #commitAll(trigger: CommitTrigger): Promise<void> {
    const { store, config } = this.#ctx;
    const held = new Set<string>();
    for (;;) {
      const pending = (await store.pendingReceipts()).filter((r) => !held.has(r.taskId));
      if (pending.length === 0 || this.#stopping.signal.aborted) break;
      const batch = pending.slice(0, config.worker.maxBatch);
      for (const id of await this.#behindChain(batch)) held.add(id);
      const ready = batch.filter((r) => !held.has(r.taskId));
      if (ready.length === 0) continue;
      const ok = await this.#commitBatch(ready, trigger);
      if (!ok) return;
    }
    for (const id of this.#heldSince.keys()) if (!held.has(id)) this.#heldSince.delete(id);
    if (held.size > 0 && !this.#stopping.signal.aborted && this.#retry === undefined) {
      this.#retry = setTimeout(() => {
        this.#retry = undefined;
        void this.trigger(trigger);
      }, this.#holdRetryMs);
      this.#retry.unref();
    }
  }

  /**
   * Receipts of `batch` to hold back: per contract, from its first receipt with a delta whose
   * index is past the deltas committed on chain (earlier tasks of the contract, run by another
   * worker, are not committed yet), unless it has waited longer than the hold limit.
   */
  async #behindChain(batch: readonly ChainReceipt[]): Promise<string[]> {
    const { store, chain, log } = this.#ctx;
    const hold: string[] = [];
    const blocked = new Set<string>();
    const checked = new Set<string>();
    const now = Date.now();
    for (const r of batch) {
      const contract = r.scAddr.toLowerCase();
      if (blocked.has(contract)) {
        hold.push(r.taskId);
        continue;
      }
      if (checked.has(contract) || ZERO32.test(r.stateDeltaHash)) continue;
      checked.add(contract);
      const index = (await store.getTask(r.taskId))?.result?.delta?.index;
      if (index === undefined || index === 0) continue;
      const committed = await chain.countStateDeltas(contract);
      if (index <= committed) continue;
      const since = this.#heldSince.get(r.taskId) ?? now;
      if (now - since > this.#holdMaxMs) {
        log.warn(
          { taskId: r.taskId, contract, index, committed },
          "earlier deltas of the contract are still not committed: committing anyway",
        );
        continue;
      }
      if (!this.#heldSince.has(r.taskId)) {
        log.info(
          { taskId: r.taskId, contract, index, committed },
          "receipt held until the earlier deltas of its contract are committed",
        );
      }
      this.#heldSince.set(r.taskId, since);
      blocked.add(contract);
      hold.push(r.taskId);
    }
    return hold;
  }

  /** One batch, with retries; false when it gave up (the receipts stay pending). */
  async #commitBatch(batch: ChainReceipt[], trigger: CommitTrigger): Promise<boolean> {
    const { chain, store, metrics, log } = this.#ctx;
    for (let attempt = 1; attempt <= this.#attempts; attempt++) {
      const started = performance.now();
      try {
        const sig = this.#enclave.signReceipts(batch);
        const { transactionHash, events } = await chain.commitReceipts(batch, sig);
        await store.commitReceipts(batch.map((r) => r.taskId));
        const outcome = new Map<string, number>(batch.map((r) => [r.taskId, r.success ? 2 : 3]));
        for (const e of events) if (e.type === "ReceiptFailedETH") outcome.set(e.taskId, 4);
        metrics.receiptsCommitted.inc(batch.length);
        metrics.receiptBatches.inc({ trigger });
        metrics.receiptCommitDuration.observe((performance.now() - started) / 1000);
        metrics.pendingReceipts.set(0);
        log.info({ trigger, receipts: batch.length, tx: transactionHash }, "receipts committed");
        try {
          await this.onCommitted?.(outcome);
        } catch (err) {
          log.warn({ err: errText(err) }, "after-commit handler failed");
        }
        return true;
      } catch (e) {
        metrics.receiptCommitFailures.inc();
        const verdict = await this.#onRevert(e, batch);
        if (verdict === "retry-rest") return true;
        if (verdict === "give-up") return false;
        log.warn({ trigger, attempt, err: errText(e) }, "receipt commit failed");
        if (attempt === this.#attempts) return false;
        await delay(this.#baseDelayMs * 2 ** (attempt - 1), this.#stopping.signal);
        if (this.#stopping.signal.aborted) return false;
      }
    }
    return false;
  }

  /**
   * What a failed commit means: a revert naming a task that is already settled on chain
   * (committed before a crash, or refunded) or that can never be accepted (out of delta order,
   * not selected...) removes that receipt from the queue and the rest is retried at once;
   * a revert about the worker itself (not logged in) waits for the next trigger; anything
   * else (the chain unreachable) is retried with backoff.
   */
  async #onRevert(
    e: unknown,
    batch: readonly ChainReceipt[],
  ): Promise<"retry-rest" | "give-up" | "backoff"> {
    const { store, log } = this.#ctx;
    if (!isEnigmaError(e) || e.code < 201 || e.code > 249) return "backoff";
    const settled = await this.#settled(batch);
    const named =
      typeof e.details["taskId"] === "string" ? e.details["taskId"].toLowerCase() : undefined;
    const culprit = batch.find((r) => r.taskId.toLowerCase() === named);
    const drop = new Set(settled);
    if (culprit !== undefined) drop.add(culprit.taskId);
    if (drop.size === 0) return "give-up";
    await store.commitReceipts([...drop]);
    for (const id of drop) {
      if (!settled.includes(id)) {
        log.error(
          { taskId: id, code: e.code, err: e.message },
          "receipt can never be committed: dropped (the fee is refundable after the timeout)",
        );
      }
    }
    if (settled.length > 0)
      log.warn({ settled }, "dropped receipts of tasks already settled on chain");
    return "retry-rest";
  }

  async #settled(batch: readonly ChainReceipt[]): Promise<string[]> {
    const out: string[] = [];
    for (const r of batch) {
      const record = await this.#ctx.chain.getTaskRecord(r.taskId);
      if (record !== undefined && record.status !== PENDING) out.push(r.taskId);
    }
    return out;
  }
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
