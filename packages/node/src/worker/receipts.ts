// A worker's unconfirmed receipts go to Ethereum in one transaction per trigger: the start of
// the next epoch (never the block that ends the current one, see node.ts), or a task that asks
// for an Ethereum call (then everything pending, up to and including it, is committed with the
// call). The queue lives in LevelDB, so a restart loses nothing, and a receipt leaves it only
// in the same batch that marks its task committed.
//
// Each receipt names the delta its task ran on (`prevDeltaHash`, `deltaIndex`) and the chain
// accepts it only on top of the contract's last committed delta. Before a commit the batcher
// plans each contract's receipts against the chain:
// - on top of the chain's head: committed (and the head moves on for the batch's next ones);
// - built on deltas not committed yet (another worker's, from the previous epoch): held until
//   the task that wrote the first missing delta settles. Committed: they follow. Settled
//   without its delta (refunded, failed, its Ethereum call failed), or still pending after its
//   timeout (then this worker refunds it, as anyone may): the contract's history has a gap
//   that nothing can fill, so the worker drops its stored deltas from the gap on and goes on
//   from the committed state; receipts built on the dropped deltas can never commit and leave
//   the queue (their fees come back to their senders after the timeout);
// - built on state the chain has moved past or forked from: dropped the same way.
import { isEnigmaError, type ChainReceipt, type Hex } from "@enigma/protocol";
import type { WorkerEnclave } from "@enigma/enclave";
import { delay, type NodeContext } from "../context.js";

export type CommitTrigger = "epoch-end" | "ethereum-call" | "restart" | "batch-full";

/** Chain statuses: 1 pending, everything above is settled (2, 3, 4 committed; 5 refunded). */
const PENDING = 1;
const COMMITTED = 2;
const ZERO32 = /^0x0*$/;
const ZERO_HASH = `0x${"00".repeat(32)}`;
/**
 * How long a receipt waits for the earlier deltas of its contract when this node does not know
 * which task wrote them; then it is tried anyway (and dropped if the chain refuses it).
 */
export const HOLD_MAX_MS = 60_000;
/** How often held receipts are tried again. */
const HOLD_RETRY_MS = 250;

/** What a commit does with each pending receipt of a batch. */
interface Plan {
  ready: ChainReceipt[];
  held: string[];
  /** Receipts that can never commit, with why. */
  dropped: { taskId: string; why: string }[];
  /** Contracts whose stored deltas from `from` on the chain will never record. */
  gaps: { contract: Hex; from: number }[];
}

export interface ReceiptBatcherOptions {
  /** Attempts per trigger on transient failures, with exponential backoff. */
  attempts?: number;
  baseDelayMs?: number;
  /** How long a receipt waits for earlier deltas of its contract (default HOLD_MAX_MS). */
  holdMaxMs?: number;
  /** How often held receipts are tried again (default 250 ms). */
  holdRetryMs?: number;
  /**
   * Removes a contract's stored deltas from an index on (a gap in its history: see above) and
   * reloads it (`DeltaSync.truncate`). Without it, such receipts are only dropped.
   */
  truncateDeltas?: (contract: Hex, from: number) => Promise<number>;
}

export class ReceiptBatcher {
  readonly #ctx: NodeContext;
  readonly #enclave: WorkerEnclave;
  readonly #attempts: number;
  readonly #baseDelayMs: number;
  readonly #holdMaxMs: number;
  readonly #holdRetryMs: number;
  readonly #truncateDeltas: ((contract: Hex, from: number) => Promise<number>) | undefined;
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
    this.#truncateDeltas = options.truncateDeltas;
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
    /** Held since this round last committed: skipped, so that the round gets past them. */
    const held = new Set<string>();
    /** Held at any point of this round (their hold timers stay). */
    const heldInRound = new Set<string>();
    for (;;) {
      const pending = (await store.pendingReceipts()).filter((r) => !held.has(r.taskId));
      if (pending.length === 0 || this.#stopping.signal.aborted) break;
      const plan = await this.#plan(pending.slice(0, config.worker.maxBatch));
      for (const id of plan.held) {
        held.add(id);
        heldInRound.add(id);
      }
      await this.#settlePlan(plan);
      if (plan.ready.length === 0) continue;
      const ok = await this.#commitBatch(plan.ready, trigger);
      if (!ok) return;
      // Time has passed and the chain moved (other workers commit too): what was held may be
      // ready now. A round lasts as long as receipts keep coming, so a held receipt skipped to
      // its end could wait past its predecessor's timeout, and this worker would then refund
      // its own task as a delta that never came.
      held.clear();
    }
    for (const id of this.#heldSince.keys()) {
      if (!heldInRound.has(id)) this.#heldSince.delete(id);
    }
    if (held.size > 0 && !this.#stopping.signal.aborted && this.#retry === undefined) {
      this.#retry = setTimeout(() => {
        this.#retry = undefined;
        void this.trigger(trigger);
      }, this.#holdRetryMs);
      this.#retry.unref();
    }
  }

  /**
   * Sorts a batch's receipts, contract by contract in queue order, against the chain's delta
   * head (see the file's comment): ready, held, or never committable (and where that leaves a
   * gap in the contract's history).
   */
  async #plan(batch: readonly ChainReceipt[]): Promise<Plan> {
    const plan: Plan = { ready: [], held: [], dropped: [], gaps: [] };
    const byContract = new Map<string, ChainReceipt[]>();
    for (const r of batch) {
      const key = r.scAddr.toLowerCase();
      const list = byContract.get(key) ?? [];
      list.push(r);
      byContract.set(key, list);
    }
    const readySet = new Set<string>();
    for (const [contract, rs] of byContract) {
      let head = await this.#head(contract);
      let blocked = false;
      let gapAt: number | undefined;
      for (const r of rs) {
        if (gapAt !== undefined && r.success && r.deltaIndex > gapAt) {
          plan.dropped.push({ taskId: r.taskId, why: `built on delta ${gapAt}, never committed` });
          continue;
        }
        if (blocked) {
          plan.held.push(r.taskId);
          continue;
        }
        // A failure is settled whatever the state (the chain does not check its base).
        if (!r.success) {
          readySet.add(r.taskId);
          continue;
        }
        if (r.deltaIndex === head.count && r.prevDeltaHash.toLowerCase() === head.last) {
          readySet.add(r.taskId);
          if (!ZERO32.test(r.stateDeltaHash)) {
            head = { count: head.count + 1, last: r.stateDeltaHash.toLowerCase() };
            // Whether the call lets the delta stand is known after the commit only.
            if (!/^0x0*$/.test(r.ethAddress)) blocked = true;
          }
          continue;
        }
        if (r.deltaIndex <= head.count) {
          // Run on state the chain has moved past, or on another delta than the committed one:
          // what this node stores from there on is not the chain's.
          plan.dropped.push({ taskId: r.taskId, why: "built on state the chain does not have" });
          const from = r.deltaIndex === head.count ? r.deltaIndex - 1 : r.deltaIndex;
          if (r.deltaIndex === head.count || !ZERO32.test(r.stateDeltaHash)) {
            gapAt = Math.min(gapAt ?? from, from);
          }
          continue;
        }
        const wait = await this.#waitFor(contract as Hex, head.count, r.taskId);
        if (wait === "hold") {
          plan.held.push(r.taskId);
          blocked = true;
        } else {
          gapAt = head.count;
          plan.dropped.push({ taskId: r.taskId, why: `built on delta ${gapAt}, never committed` });
        }
      }
      if (gapAt !== undefined) plan.gaps.push({ contract: contract as Hex, from: gapAt });
    }
    plan.ready = batch.filter((r) => readySet.has(r.taskId));
    return plan;
  }

  /** A contract's committed delta count and last delta hash (zero hash for none). */
  async #head(contract: string): Promise<{ count: number; last: string }> {
    const { chain } = this.#ctx;
    const count = await chain.countStateDeltas(contract);
    if (count === 0) return { count, last: ZERO_HASH };
    const [last] = await chain.getStateDeltaHashes(contract, count - 1, count);
    return { count, last: (last ?? ZERO_HASH).toLowerCase() };
  }

  /**
   * Whether a receipt built on a contract's uncommitted delta `index` can wait for it: "hold"
   * while the task that wrote it may still commit it, "gap" once it cannot (settled without
   * it, or timed out: then refunded here, as anyone may).
   */
  async #waitFor(contract: Hex, index: number, taskId: string): Promise<"hold" | "gap"> {
    const { store, chain, log } = this.#ctx;
    const writer = await store.deltaTask(contract, index);
    const record = writer === undefined ? undefined : await chain.getTaskRecord(writer);
    if (record === undefined) {
      // Nobody this node heard of wrote it: wait a while, then let the chain decide.
      const since = this.#heldSince.get(taskId) ?? Date.now();
      this.#heldSince.set(taskId, since);
      return Date.now() - since > this.#holdMaxMs ? "gap" : "hold";
    }
    if (record.status === COMMITTED) return "hold"; // committed meanwhile: the head moves on
    if (record.status !== PENDING) return "gap";
    const head = await chain.blockNumber();
    if (head <= record.blockNumber + chain.taskTimeout) {
      if (!this.#heldSince.has(taskId)) {
        log.info(
          { taskId, contract, index, writer },
          "receipt held until the earlier delta of its contract is committed",
        );
        this.#heldSince.set(taskId, Date.now());
      }
      return "hold";
    }
    // The writer's receipt never came and its fee may be returned: settle it, so that the gap
    // is final on chain too, and go on from the committed state.
    try {
      await chain.returnFeesForTask(writer ?? "");
      log.warn({ contract, index, writer }, "refunded a timed-out task whose delta never came");
    } catch (e) {
      if (!isEnigmaError(e)) throw e;
      const now = await chain.getTaskRecord(writer ?? "");
      if (now?.status === COMMITTED) return "hold";
    }
    return "gap";
  }

  /** Drops what can never commit and the stored deltas of the gaps it leaves. */
  async #settlePlan(plan: Plan): Promise<void> {
    const { store, log } = this.#ctx;
    if (plan.dropped.length > 0) {
      await store.commitReceipts(plan.dropped.map((d) => d.taskId));
      for (const d of plan.dropped) {
        this.#heldSince.delete(d.taskId);
        log.error(
          { taskId: d.taskId, why: d.why },
          "receipt can never be committed: dropped (the fee is refundable after the timeout)",
        );
      }
    }
    for (const g of plan.gaps) {
      const removed = (await this.#truncateDeltas?.(g.contract, g.from)) ?? 0;
      log.warn(
        { contract: g.contract, from: g.from, removed },
        "the contract's history has a gap here: going on from its committed state",
      );
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
