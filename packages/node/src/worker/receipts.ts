// A worker's unconfirmed receipts go to Ethereum in one transaction per trigger: the end of the
// epoch, or a task that asks for an Ethereum call (then everything pending, up to and including
// it, is committed with the call). The queue lives in LevelDB, so a restart loses nothing, and
// a receipt leaves it only in the same batch that marks its task committed.
import { isEnigmaError, type ChainReceipt } from "@enigma/protocol";
import type { WorkerEnclave } from "@enigma/enclave";
import { delay, type NodeContext } from "../context.js";

export type CommitTrigger = "epoch-end" | "ethereum-call" | "restart" | "batch-full";

/** Chain statuses: 1 pending, everything above is settled (2, 3, 4 committed; 5 refunded). */
const PENDING = 1;

export interface ReceiptBatcherOptions {
  /** Attempts per trigger on transient failures, with exponential backoff. */
  attempts?: number;
  baseDelayMs?: number;
}

export class ReceiptBatcher {
  readonly #ctx: NodeContext;
  readonly #enclave: WorkerEnclave;
  readonly #attempts: number;
  readonly #baseDelayMs: number;
  readonly #stopping = new AbortController();
  #running: Promise<void> = Promise.resolve();
  #queued: CommitTrigger | undefined;
  /** Called with the task ids of every committed batch and the chain's outcome per task. */
  onCommitted: ((outcome: Map<string, number>) => Promise<void> | void) | undefined;

  constructor(ctx: NodeContext, enclave: WorkerEnclave, options: ReceiptBatcherOptions = {}) {
    this.#ctx = ctx;
    this.#enclave = enclave;
    this.#attempts = options.attempts ?? 5;
    this.#baseDelayMs = options.baseDelayMs ?? 200;
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
    await this.#running;
  }

  async #commitAll(trigger: CommitTrigger): Promise<void> {
    const { store, config } = this.#ctx;
    for (;;) {
      const pending = await store.pendingReceipts();
      if (pending.length === 0 || this.#stopping.signal.aborted) return;
      const batch = pending.slice(0, config.worker.maxBatch);
      const ok = await this.#commitBatch(batch, trigger);
      if (!ok) return;
    }
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
