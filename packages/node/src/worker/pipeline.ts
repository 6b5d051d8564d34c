// The worker's task pipeline: a task runs when its input has been heard, its record is on
// Ethereum (with the configured confirmations), the input matches the record's inputsHash and
// this worker is the one selected for the contract in the record's epoch. Tasks of one secret
// contract run one at a time in the order of their records (block, log index), never in arrival
// order: a ready task waits (up to the ordering window) for the inputs of earlier records, which
// may be for the same contract, and a task whose earlier-recorded sibling already ran after it
// fails instead of breaking the contract's delta order on chain. Across an epoch change the
// order spans workers: a task also waits (up to FOREIGN_WAIT_MS) for the results of earlier
// records of its contract that the previous worker still has to run.
import {
  EnigmaError,
  ErrorCode,
  TaskResultStatus,
  addressSchema,
  bytes32Schema,
  bytesToHex,
  hexToBytes,
  isEnigmaError,
  type Hex,
} from "@enigma/protocol";
import type { EnclaveTaskResult, WorkerEnclave } from "@enigma/enclave";
import type { TaskRecordInfo } from "../chain/enigma-chain.js";
import { z } from "zod";
import {
  recordOfEvent,
  recordOrder,
  selectedWorker,
  type NodeContext,
  type RecordInfo,
} from "../context.js";
import {
  TOPICS,
  decodePreCode,
  taskInputSchema,
  encodeMessage,
  inputsHashOf,
  type TaskInput,
  type TaskResult,
} from "../messages.js";
import type { DeltaSync } from "../sync.js";
import type { StateKeyClient } from "./state-keys.js";
import type { ReceiptBatcher } from "./receipts.js";

/** A matched record as the worker keeps it (restart recovery keeps record order). */
const recordSchema = z.object({
  inputsHash: bytes32Schema,
  gasLimit: z.coerce.bigint(),
  gasPx: z.coerce.bigint(),
  sender: addressSchema,
  blockNumber: z.number().int().nonnegative(),
  logIndex: z.number().int().nonnegative(),
});

/** Failures worth another try: a peer, the principal or the chain briefly unavailable. */
const TRANSIENT: ReadonlySet<number> = new Set([
  ErrorCode.ChainError,
  ErrorCode.PeerUnreachable,
  ErrorCode.PeerTimeout,
  ErrorCode.PeerRequestFailed,
  ErrorCode.WorkerUnknown,
  ErrorCode.DeltaSyncFailed,
]);

interface Pending {
  input?: TaskInput;
  record?: RecordInfo;
  /** The input matched the record (checked once; a pass may see a task many times). */
  matched?: { preCode: Uint8Array | undefined };
  receivedAt: number;
}

/** A task of another worker whose result this worker has not seen yet. */
interface Foreign {
  contract: string;
  order: number;
  since: number;
}

/**
 * How long a task waits for the result of an earlier record of its contract selected to another
 * worker (the contract moved at an epoch change while that worker was behind). Running without
 * it would compute on state that misses that task's delta: both workers would write the same
 * delta index, and the chain would reject one of them (DeltaOutOfOrder). Bounded, so that a
 * previous worker that is gone does not stop the contract for good.
 */
export const FOREIGN_WAIT_MS = 30_000;
/**
 * Most blocks an input's record fetch reads past the watcher's position (more means the watcher
 * is catching up after a start, and the task waits for it instead).
 */
const MAX_CATCH_UP_BLOCKS = 64;
/** Tasks remembered as handed to their lane, so that a record heard again is not a new task. */
const TAKEN_MAX = 10_000;
/** How often a task held for another worker's result checks for it. */
const FOREIGN_POLL_MS = 50;
const DONE: ReadonlySet<string> = new Set([
  TaskResultStatus.Success,
  TaskResultStatus.Failed,
  TaskResultStatus.EthereumFailure,
]);

export interface PipelineDeps {
  enclave: WorkerEnclave;
  batcher: ReceiptBatcher;
  stateKeys: StateKeyClient;
  sync: DeltaSync;
  /** Told about every result this worker produced (RPC notifications). */
  onResult?: (result: TaskResult) => void;
  /** How long to wait for another worker's earlier task (default FOREIGN_WAIT_MS; tests). */
  foreignWaitMs?: number;
}

export class TaskPipeline {
  readonly #ctx: NodeContext;
  readonly #d: PipelineDeps;
  readonly #pending = new Map<string, Pending>();
  /** Per contract: the promise chain that runs its tasks one at a time. */
  readonly #lanes = new Map<string, Promise<void>>();
  /** Per contract: record order of the last task that ran. */
  readonly #lastRun = new Map<string, number>();
  /** Contracts whose enclave copy may be behind the store (a delta came from elsewhere). */
  readonly #stale = new Set<string>();
  /** Tasks selected to other workers, by task id, until their result is seen (or too old). */
  readonly #foreign = new Map<string, Foreign>();
  /** Tasks held for a foreign one (logged once). */
  readonly #held = new Set<string>();
  /** Tasks handed to their lane lately (the newest TAKEN_MAX). */
  readonly #taken = new Set<string>();
  /** Record look-ups in flight (inputs that arrived before the watcher saw their record). */
  readonly #fetching = new Map<string, Promise<void>>();
  #head = 0;
  #timer: NodeJS.Timeout | undefined;
  #pumping = false;
  #again = false;
  #stopped = false;

  constructor(ctx: NodeContext, deps: PipelineDeps) {
    this.#ctx = ctx;
    this.#d = deps;
  }

  /**
   * Re-queues tasks that were heard but not finished before a restart. `scannedThrough` is the
   * newest block whose records this node has heard (the chain watcher's cursor).
   */
  async start(scannedThrough: number): Promise<void> {
    this.#head = scannedThrough;
    const { store } = this.#ctx;
    const open = await store.listTasks([TaskResultStatus.Unverified, TaskResultStatus.InProgress]);
    for (const t of open) {
      const input = taskInputSchema.safeParse(await store.getMessage("input", t.taskId));
      if (!input.success) continue;
      const saved = recordSchema.safeParse(await store.getMessage("record", t.taskId));
      if (saved.success) this.onRecord({ ...saved.data, taskId: t.taskId, seenAt: Date.now() });
      this.onInput(input.data);
    }
    this.#schedule(0);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    // Lanes can grow while earlier ones finish: wait until none is left.
    while (this.#lanes.size > 0 || this.#fetching.size > 0) {
      await Promise.allSettled([...this.#lanes.values(), ...this.#fetching.values()]);
    }
  }

  /**
   * A task input (verified against its record by the caller), heard on gossip, handed over
   * directly, or taken by this node's RPC. When the record is not known yet (the watcher has
   * not reached it, or this node restarted), it is fetched from the chain; `chainRecord` is
   * the record as the caller has just read it, if it did.
   */
  onInput(input: TaskInput, chainRecord?: TaskRecordInfo): void {
    if (this.#stopped || this.#taken.has(input.taskId)) return;
    const p = this.#entry(input.taskId);
    if (p.input !== undefined) return;
    p.input = input;
    p.matched = undefined;
    if (p.record === undefined) this.#fetchRecord(input.taskId, chainRecord);
    this.#schedule(0);
  }

  /** A task record seen on chain (delivered in chain order by the watcher). */
  onRecord(record: RecordInfo): void {
    // A record heard again for a task that ran already (the watcher and a fetch both found it)
    // is no new task: without an input it would hold later tasks for the ordering window.
    if (this.#stopped || this.#taken.has(record.taskId)) return;
    const p = this.#entry(record.taskId);
    p.record = record;
    p.matched = undefined;
    this.#schedule(0);
  }

  #fetchRecord(taskId: Hex, known?: TaskRecordInfo): void {
    if (this.#fetching.has(taskId)) return;
    const { chain, log } = this.#ctx;
    const job = (async () => {
      const r = known ?? (await chain.getTaskRecord(taskId));
      if (r === undefined || r.status !== 1) {
        // Settled (or unknown): nothing to run; forget the input.
        const p = this.#pending.get(taskId);
        if (p?.record === undefined) this.#pending.delete(taskId);
        return;
      }
      if (this.#pending.get(taskId)?.record !== undefined) return; // the watcher was faster
      // Without confirmations to wait for, the task need not wait for the watcher's next poll:
      // read every record from where the watcher is to this one's block, so that no earlier
      // record is unknown when the task's turn is decided, and count those blocks as heard.
      const from = this.#head + 1;
      const catchUp =
        this.#ctx.config.ethereum.confirmations === 0 &&
        r.blockNumber >= from &&
        r.blockNumber - from < MAX_CATCH_UP_BLOCKS;
      const events = await chain.getEvents(catchUp ? from : r.blockNumber, r.blockNumber);
      if (catchUp) {
        for (const x of events) {
          if (x.type !== "TaskRecordCreated" || x.taskId === taskId) continue;
          if (this.#pending.get(x.taskId)?.record !== undefined) continue;
          this.onRecord(recordOfEvent(x));
        }
      }
      const e = events.find((x) => x.type === "TaskRecordCreated" && x.taskId === taskId);
      if (this.#pending.get(taskId)?.record === undefined) {
        this.onRecord({
          taskId,
          inputsHash: r.inputsHash as Hex,
          gasLimit: r.gasLimit,
          gasPx: r.gasPx,
          sender: r.sender as Hex,
          blockNumber: r.blockNumber,
          logIndex: e?.logIndex ?? 0,
          seenAt: Date.now(),
        });
      }
      if (catchUp) this.onBlock(r.blockNumber);
    })()
      .catch((e: unknown) => {
        log.warn({ taskId, err: String(e) }, "cannot read the task record");
        if (!this.#stopped) {
          setTimeout(() => {
            this.#fetchRecord(taskId);
          }, 1_000).unref();
        }
      })
      .finally(() => this.#fetching.delete(taskId));
    this.#fetching.set(taskId, job);
  }

  /**
   * Every record up to block `head` has been heard (and has the configured confirmations): the
   * chain watcher calls it after delivering a scan's records.
   */
  onBlock(head: number): void {
    this.#head = Math.max(this.#head, head);
    if (this.#pending.size > 0) this.#schedule(0);
  }

  /** A delta of `contract` was stored from elsewhere: reload the enclave copy before next use. */
  markStale(contract: string): void {
    this.#stale.add(contract.toLowerCase());
  }

  /** Tasks waiting (for an input, a record, confirmations or their turn). */
  get waiting(): number {
    return this.#pending.size;
  }

  #entry(taskId: string): Pending {
    let p = this.#pending.get(taskId);
    if (p === undefined) {
      p = { receivedAt: Date.now() };
      this.#pending.set(taskId, p);
    }
    return p;
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    if (ms === 0) {
      void this.#pump();
      return;
    }
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#pump();
    }, ms);
  }

  async #pump(): Promise<void> {
    if (this.#pumping) {
      this.#again = true;
      return;
    }
    this.#pumping = true;
    try {
      do {
        this.#again = false;
        await this.#pumpOnce();
        // #again is set by a pump() call made while this one awaited.
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- set concurrently
      } while (this.#again && !this.#stopped);
    } catch (e) {
      this.#ctx.log.error({ err: String(e) }, "task pipeline error");
    } finally {
      this.#pumping = false;
    }
  }

  async #pumpOnce(): Promise<void> {
    const { config, chain, log } = this.#ctx;
    const now = Date.now();
    const window = config.worker.orderingWindowMs;
    // #head is the newest block with the configured confirmations on top already.
    const confirmed = (r: RecordInfo) => r.blockNumber <= this.#head;
    const foreignWait = this.#d.foreignWaitMs ?? FOREIGN_WAIT_MS;
    for (const [id, f] of this.#foreign) {
      if (now - f.since > foreignWait) this.#foreign.delete(id);
    }
    const entries = [...this.#pending.entries()]
      .filter((e): e is [string, Pending & { record: RecordInfo }] => e[1].record !== undefined)
      .sort((a, b) => recordOrder(a[1].record) - recordOrder(b[1].record));
    // Who had an input when this pass began: an input arriving during the awaits below must
    // not let later tasks overtake it (the next pass takes it, in order).
    const hadInput = new Set(entries.filter(([, p]) => p.input !== undefined).map(([id]) => id));
    let wakeAt = Infinity;
    for (const [taskId, p] of entries) {
      const record = p.record;
      if (p.input === undefined || !hadInput.has(taskId)) {
        // A record without an input: forget it once it can no longer hold anything up.
        if (p.input === undefined && now - record.seenAt > window) this.#pending.delete(taskId);
        continue;
      }
      if (!confirmed(record)) continue;
      const input = p.input;
      if (p.matched === undefined) {
        try {
          const preCode = input.preCode === undefined ? undefined : decodePreCode(input.preCode);
          if (inputsHashOf(input, preCode) !== record.inputsHash) {
            log.warn({ taskId }, "task input does not match its record's inputsHash: dropped");
            p.input = undefined;
            continue;
          }
          p.matched = { preCode };
        } catch (e) {
          log.warn({ taskId, err: String(e) }, "task input rejected");
          p.input = undefined;
          continue;
        }
      }
      const preCode = p.matched.preCode;
      const epoch = await chain.getEpoch(record.blockNumber);
      const selected =
        epoch === undefined ? undefined : selectedWorker(input.contractAddress, epoch);
      if (selected !== this.#d.enclave.signer.toLowerCase()) {
        this.#pending.delete(taskId);
        // Another worker's task: a later task of its contract on this worker waits for its result.
        this.#foreign.set(taskId, {
          contract: input.contractAddress.toLowerCase(),
          order: recordOrder(record),
          since: now,
        });
        continue;
      }
      // Hold while an earlier record (maybe for the same contract) still lacks its input.
      const blocker = entries.find(
        ([id, q]) =>
          !hadInput.has(id) &&
          recordOrder(q.record) < recordOrder(record) &&
          now - q.record.seenAt <= window,
      );
      if (blocker !== undefined) {
        wakeAt = Math.min(wakeAt, blocker[1].record.seenAt + window + 1);
        continue;
      }
      if (await this.#behindForeign(input.contractAddress, recordOrder(record), now)) {
        if (!this.#held.has(taskId)) {
          this.#held.add(taskId);
          log.info(
            { taskId, contract: input.contractAddress },
            "task held for an earlier task of its contract on the previous worker",
          );
        }
        wakeAt = Math.min(wakeAt, now + FOREIGN_POLL_MS);
        continue;
      }
      this.#held.delete(taskId);
      this.#pending.delete(taskId);
      this.#enqueue(input, record, preCode);
    }
    if (wakeAt !== Infinity) this.#schedule(Math.max(1, wakeAt - Date.now()));
  }

  /**
   * Whether an earlier record of `contract`, selected to another worker, has no result here yet
   * (and is not older than FOREIGN_WAIT_MS). Forgets the ones that are done or too old.
   */
  async #behindForeign(contract: string, order: number, now: number): Promise<boolean> {
    const c = contract.toLowerCase();
    const foreignWait = this.#d.foreignWaitMs ?? FOREIGN_WAIT_MS;
    let behind = false;
    for (const [taskId, f] of [...this.#foreign]) {
      if (now - f.since > foreignWait) {
        this.#foreign.delete(taskId);
        continue;
      }
      if (f.contract !== c || f.order >= order) continue;
      const task = await this.#ctx.store.getTask(taskId);
      if (task !== undefined && DONE.has(task.status)) {
        this.#foreign.delete(taskId);
        continue;
      }
      // Settled on chain without a result here (refunded, or committed while this node missed
      // the gossip): nothing left to wait for.
      const record = await this.#ctx.chain.getTaskRecord(taskId);
      if (record !== undefined && record.status !== 1) {
        this.#foreign.delete(taskId);
        continue;
      }
      behind = true;
    }
    return behind;
  }

  #enqueue(input: TaskInput, record: RecordInfo, preCode: Uint8Array | undefined): void {
    this.#taken.add(input.taskId);
    if (this.#taken.size > TAKEN_MAX) {
      const oldest = this.#taken.values().next();
      if (oldest.done !== true) this.#taken.delete(oldest.value);
    }
    const lane = input.contractAddress;
    const prev = this.#lanes.get(lane) ?? Promise.resolve();
    const next = prev.then(() => this.#run(input, record, preCode));
    this.#lanes.set(lane, next);
    void next.finally(() => {
      if (this.#lanes.get(lane) === next) this.#lanes.delete(lane);
    });
  }

  async #run(input: TaskInput, record: RecordInfo, preCode: Uint8Array | undefined): Promise<void> {
    const { store, metrics, log } = this.#ctx;
    const { taskId, contractAddress } = input;
    const started = performance.now();
    const tlog = log.child({ taskId, contract: contractAddress, block: record.blockNumber });
    try {
      // The node stored the task with its input when it heard it (a plain read, no queueing
      // behind the store's writes).
      const task = (await store.getTask(taskId)) ?? (await store.addTask(taskId, contractAddress));
      if (task.contract !== contractAddress) {
        throw new EnigmaError(
          ErrorCode.TaskConflict,
          `task ${taskId} is recorded for contract ${task.contract}`,
          { details: { taskId, stored: task.contract, given: contractAddress } },
        );
      }
      if (
        task.status !== TaskResultStatus.Unverified &&
        task.status !== TaskResultStatus.InProgress
      )
        return; // done before a restart
      // One batch before the run (input and record kept for a restart) and one after it.
      await store.updateTask(taskId, {
        status: TaskResultStatus.InProgress,
        messages: {
          input,
          record: {
            inputsHash: record.inputsHash,
            gasLimit: record.gasLimit.toString(),
            gasPx: record.gasPx.toString(),
            sender: record.sender,
            blockNumber: record.blockNumber,
            logIndex: record.logIndex,
          },
        },
      });
      const order = recordOrder(record);
      const last = await this.#lastRunOf(contractAddress);
      let result: EnclaveTaskResult | undefined;
      let failure: EnigmaError | undefined;
      if (last !== undefined && order < last) {
        failure = new EnigmaError(
          ErrorCode.TaskOutOfOrder,
          "the task's input arrived after a later task of the same contract had run",
          { details: { taskId } },
        );
      } else {
        for (let attempt = 1; ; attempt++) {
          try {
            result = await this.#execute(input, record, preCode);
            failure = undefined;
            break;
          } catch (e) {
            failure = isEnigmaError(e)
              ? e
              : new EnigmaError(ErrorCode.TaskInputRejected, String(e), { cause: e });
            // The principal or a peer briefly unreachable, the chain busy: try again.
            if (!TRANSIENT.has(failure.code) || attempt >= 5 || this.#stopped) break;
            tlog.warn({ attempt, err: failure.message }, "task deferred");
            await new Promise((r) => setTimeout(r, 200 * 2 ** attempt));
          }
        }
      }
      const next = Math.max(order, last ?? order);
      this.#lastRun.set(contractAddress, next);
      // Written with the task's outcome: a crash before that runs the task again, in order.
      const meta = { [lastRunKey(contractAddress)]: next };
      if (result === undefined) {
        // Nothing the chain can settle (unknown contract, no state key): the fee comes back
        // through returnFeesForTask after the timeout.
        const message = failure?.message ?? "task could not run";
        await store.updateTask(taskId, { status: TaskResultStatus.Failed, meta });
        metrics.tasksFailed.inc({
          reason: failure === undefined ? "unknown" : String(failure.code),
        });
        tlog.warn({ err: message, code: failure?.code }, "task not executed");
        return;
      }
      await this.#record(result, meta, tlog);
      metrics.taskLatency.observe((performance.now() - started) / 1000);
    } catch (e) {
      tlog.error({ err: String(e) }, "task pipeline failure");
    }
  }

  async #lastRunOf(contract: Hex): Promise<number | undefined> {
    const cached = this.#lastRun.get(contract);
    if (cached !== undefined) return cached;
    const stored = await this.#ctx.store.getMeta(lastRunKey(contract));
    return typeof stored === "number" ? stored : undefined;
  }

  async #execute(
    input: TaskInput,
    record: RecordInfo,
    preCode: Uint8Array | undefined,
  ): Promise<EnclaveTaskResult> {
    const { enclave, stateKeys } = this.#d;
    const { store } = this.#ctx;
    const task = {
      taskId: input.taskId,
      contractAddress: input.contractAddress,
      encryptedFn: hexToBytes(input.encryptedFn),
      encryptedArgs: hexToBytes(input.encryptedArgs),
      userPubKey: hexToBytes(input.userDHKey),
      gasLimit: record.gasLimit,
    };
    if (preCode !== undefined) {
      await stateKeys.ensure([input.contractAddress]);
      const result = enclave.deploy({ ...task, preCode });
      if (result.success) await store.putCode(input.contractAddress, preCode);
      return result;
    }
    await this.#ensureLoaded(input.contractAddress);
    return enclave.compute(task);
  }

  /** Loads a contract into the enclave from the store (catching up from peers first). */
  async #ensureLoaded(contract: Hex): Promise<void> {
    const { enclave, stateKeys, sync } = this.#d;
    const { store } = this.#ctx;
    // The enclave copy is current unless a delta came from elsewhere (then it is marked
    // stale); missing committed deltas trigger a catch-up when their receipt is seen.
    if (enclave.hasContract(contract) && !this.#stale.has(contract)) return;
    await sync.catchUp(contract);
    const count = await store.deltaCount(contract);
    const loaded = enclave.hasContract(contract) && !this.#stale.has(contract);
    if (loaded && enclave.deltaCount(contract) === count) return;
    const code = await store.getCode(contract);
    if (code === undefined) {
      throw new EnigmaError(
        ErrorCode.SecretContractNotDeployed,
        `secret contract ${contract} is not deployed (no code on this node or its peers)`,
        { details: { contract } },
      );
    }
    await stateKeys.ensure([contract]);
    const deltas = await store.getDeltas(contract);
    enclave.loadContract(contract, code.code, deltas);
    this.#stale.delete(contract);
  }

  /**
   * Stores a result with its delta, queued receipt, result message and `meta` (one batch),
   * then publishes it.
   */
  async #record(
    result: EnclaveTaskResult,
    meta: Record<string, number>,
    tlog: NodeContext["log"],
  ): Promise<void> {
    const { store, p2p, metrics } = this.#ctx;
    const message: TaskResult = {
      taskId: result.taskId,
      contractAddress: result.contractAddress,
      workerAddress: this.#d.enclave.signer,
      // Signed with the receipt (chain helper): what the result binds it to.
      inputsHash: result.receipt.inputsHash as Hex,
      prevDeltaHash: result.receipt.prevDeltaHash as Hex,
      deltaIndex: result.receipt.deltaIndex,
      success: result.success,
      output: bytesToHex(result.output),
      delta:
        result.delta === null
          ? null
          : {
              index: result.delta.index,
              hash: result.delta.hash,
              data: bytesToHex(result.delta.data),
            },
      gasUsed: result.gasUsed.toString(),
      ethCall:
        result.ethCall === null
          ? null
          : { address: result.ethCall.address, payload: bytesToHex(result.ethCall.payload) },
      preCodeHash: isZero(result.receipt.preCodeHash) ? null : (result.receipt.preCodeHash as Hex),
      codeHash: isZero(result.receipt.codeHash) ? null : (result.receipt.codeHash as Hex),
      error:
        result.error === undefined
          ? null
          : { code: result.error.code, message: result.error.message },
      signature: result.signature,
    };
    await store.updateTask(result.taskId, {
      status: result.success ? TaskResultStatus.Success : TaskResultStatus.Failed,
      result: resultData(message),
      ...(result.delta === null
        ? {}
        : {
            delta: {
              index: result.delta.index,
              hash: hexToBytes(result.delta.hash),
              data: result.delta.data,
            },
          }),
      receipt: result.receipt,
      messages: { result: message },
      meta,
    });
    metrics.tasksExecuted.inc({ status: result.success ? "success" : "failed" });
    metrics.gasUsed.inc(Number(result.gasUsed));
    metrics.pendingReceipts.inc();
    tlog.info(
      {
        success: result.success,
        gasUsed: message.gasUsed,
        delta: message.delta?.index,
        code: result.error?.code,
      },
      "task executed",
    );
    this.#d.onResult?.(message);
    try {
      await p2p.publish(TOPICS.results, encodeMessage(message), { minPeers: 1, timeoutMs: 2_000 });
    } catch (e) {
      // Peers that miss it ask for it (task-result protocol); the receipt is queued anyway.
      tlog.warn({ err: String(e) }, "result not gossiped");
    }
    if (result.ethCall !== null) await this.#d.batcher.trigger("ethereum-call");
  }
}

/** The metadata key of a contract's last run record order. */
function lastRunKey(contract: string): string {
  return `lastRun:${contract}`;
}

function isZero(h: string): boolean {
  return /^0x0*$/.test(h);
}

/** The stored task result (what getTaskResult serves) of a result message. */
export function resultData(m: TaskResult) {
  return {
    output: hexToBytes(m.output),
    ...(m.delta === null
      ? {}
      : { delta: { index: m.delta.index, hash: hexToBytes(m.delta.hash) } }),
    usedGas: Number(m.gasUsed),
    ...(m.ethCall === null
      ? {}
      : {
          ethereumPayload: hexToBytes(m.ethCall.payload),
          ethereumAddress: hexToBytes(m.ethCall.address),
        }),
    signature: hexToBytes(m.signature),
    ...(m.preCodeHash === null ? {} : { preCodeHash: hexToBytes(m.preCodeHash) }),
  };
}
