import {
  EnigmaError,
  ErrorCode,
  TaskResultStatus,
  bytesToHex,
  equalBytes,
  keccak256,
  type ChainReceipt,
  type Hex,
} from "@enigma/protocol";
import { Level } from "level";
import {
  MAX_DELTA_INDEX,
  TASK_STATUSES,
  checkMeta,
  checkReceipt,
  checkResult,
  decodeHashed,
  decodeJson,
  decodeReceipt,
  decodeTask,
  deltaKey,
  encodeHashed,
  encodeJson,
  encodeReceipt,
  encodeTask,
  fixedBytes,
  anyBytes,
  index as checkIndex,
  invalid,
  metaJson,
  readU64be,
  u64be,
  type BytesInput,
  type MetaValue,
  type StoredTask,
  type TaskResultData,
} from "./codec.js";

/** A state delta as the store keeps it (the enclave's `EncryptedDelta`). */
export interface StoredDelta {
  index: number;
  /** keccak256(data) */
  hash: Uint8Array;
  data: Uint8Array;
}

export interface StoredCode {
  code: Uint8Array;
  /** keccak256(code) */
  codeHash: Uint8Array;
}

export interface NodeStoreOptions {
  /** Directory of the LevelDB database (created when missing). */
  dir: string;
  /** Tasks kept in memory, the newest first (default TASK_CACHE). */
  taskCache?: number;
}

/** A task's messages by kind (JSON values, as `putMessage` keeps them). */
export type TaskMessages = Partial<Record<MessageKind, unknown>>;

/** What `updateTask` may write together with a status, in the same atomic batch. */
export interface TaskUpdate {
  status: TaskResultStatus;
  result?: TaskResultData;
  /** The task's state delta, appended to its contract's chain (must be the next index). */
  delta?: StoredDelta;
  /** The task's receipt, queued for the next commit. */
  receipt?: ChainReceipt;
  /** Messages of the task, replacing older ones of their kind (as `putMessage`). */
  messages?: TaskMessages;
  /** Metadata entries (as `putMeta`). */
  meta?: Readonly<Record<string, MetaValue>>;
  /**
   * The task's contract: a task this store does not know is recorded first (UNVERIFIED, as
   * `addTask`) in the same batch; one recorded for another contract is TaskConflict and nothing
   * changes. (A node storing a result it heard needs one operation, not two.)
   */
  contract?: BytesInput;
}

const FINAL: ReadonlySet<TaskResultStatus> = new Set([
  TaskResultStatus.Success,
  TaskResultStatus.Failed,
  TaskResultStatus.EthereumFailure,
]);

/**
 * Allowed status changes. Forward only: UNVERIFIED -> INPROGRESS -> a final status (a node
 * that learns a result from gossip may skip INPROGRESS). One edge leaves a final status:
 * SUCCESS -> ETHEREUMFAILURE, because a successful execution's Ethereum callback runs (and can
 * fail) only when its receipt is committed. FAILED and ETHEREUMFAILURE are terminal.
 */
export const TASK_TRANSITIONS: Readonly<Record<TaskResultStatus, readonly TaskResultStatus[]>> =
  Object.freeze({
    [TaskResultStatus.Unverified]: [
      TaskResultStatus.InProgress,
      TaskResultStatus.Success,
      TaskResultStatus.Failed,
      TaskResultStatus.EthereumFailure,
    ],
    [TaskResultStatus.InProgress]: [
      TaskResultStatus.Success,
      TaskResultStatus.Failed,
      TaskResultStatus.EthereumFailure,
    ],
    [TaskResultStatus.Success]: [TaskResultStatus.EthereumFailure],
    [TaskResultStatus.Failed]: [],
    [TaskResultStatus.EthereumFailure]: [],
  });

type Db = Level<Uint8Array, Uint8Array>;
const VIEW = { keyEncoding: "view", valueEncoding: "view" } as const;
function sublevel(db: Db, name: string) {
  return db.sublevel<Uint8Array, Uint8Array>(name, VIEW);
}
type Sub = ReturnType<typeof sublevel>;
interface Subs {
  code: Sub;
  delta: Sub;
  /** contract (32) then u64be index -> the id of the task that wrote that delta (32). */
  deltaTask: Sub;
  task: Sub;
  receipt: Sub;
  receiptIndex: Sub;
  meta: Sub;
  message: Sub;
}
/** One pending write: [sublevel, key, value] (value undefined: delete). */
type Op = readonly [Sub, Uint8Array, Uint8Array | undefined];

const utf8 = new TextEncoder();
/**
 * Tasks the store keeps in memory: a task's read-check-writes (input heard, result, receipt
 * queued, receipt committed) fall within seconds of each other, 2,000 tasks is 20 s at 100
 * tasks/s; a task older than that costs one read. Measured 1.5 KiB a task with its result
 * (heap snapshots of the principal in bench:chaos's soak, which stores every task it hears):
 * ~3 MiB here. It was 10,000 (~15 MiB), which a 10,000-task soak never filled, so every
 * node's live heap grew with every task for the whole run.
 */
export const TASK_CACHE = 2_000;
/** What the store knows of a task without reading it (see `NodeStore.#tasks`). */
interface CachedTask {
  task: StoredTask;
  /** Every message kind stored for the task, when known. */
  kinds?: Set<MessageKind>;
  /** Whether a receipt of the task is queued, when known. */
  queued?: boolean;
}
/**
 * The node's LevelDB store: secret-contract code, the ordered encrypted deltas of each contract,
 * tasks with status and result, pending (unconfirmed) receipts and node metadata. Every write
 * that touches several keys is one atomic batch, and read-check-write operations run one at a
 * time, so a crash or a concurrent caller never leaves half of an operation behind. Bad input
 * is refused with `InvalidArgument` before anything is written.
 *
 * @example
 * const store = new NodeStore({ dir: ".devnet/worker-1/db" });
 * await store.start();
 * await store.putDelta(contract, { index: 0, hash, data });
 * const deltas = await store.getDeltas(contract, 0, 100);
 * await store.stop();
 */
export class NodeStore {
  readonly #dir: string;
  #db: Db | undefined;
  #subs: Subs | undefined;
  #starting: Promise<void> | undefined;
  // Serialises read-check-write operations (LevelDB has no transactions).
  #tail: Promise<unknown> = Promise.resolve();
  // What the read-check-write operations would otherwise read on every write, known from the
  // writes of this store (the only writer of its directory): per contract (hex), the number of
  // stored deltas, once read; the next receipt queue position, once read. Both are read inside
  // exclusive operations only, so no write can slip between the read and the remembering. A
  // failed write may leave a gap in queue positions, which only order the queue.
  readonly #deltaCounts = new Map<string, number>();
  #nextReceiptSeq: number | undefined;
  // Tasks as this store last wrote or read them inside exclusive operations (hex id -> entry),
  // the newest `taskCache`: a task's read-check-write (addTask, updateTask) then reads nothing.
  // `kinds`, when known, is every message kind stored for the task (known for tasks this store
  // created: it wrote them all), so that looking for a message that is not there costs no read.
  // Entries change only after their write landed, and only inside exclusive operations.
  readonly #tasks = new Map<string, CachedTask>();
  readonly #taskCache: number;

  constructor(options: NodeStoreOptions) {
    if (
      typeof (options as unknown) !== "object" ||
      typeof options.dir !== "string" ||
      options.dir.length === 0
    ) {
      throw invalid("store dir must be a non-empty path");
    }
    this.#dir = options.dir;
    const cache = options.taskCache ?? TASK_CACHE;
    if (!Number.isSafeInteger(cache) || cache < 0) {
      throw invalid("taskCache must be a non-negative integer", { taskCache: cache });
    }
    this.#taskCache = cache;
  }

  /** Tasks held in memory now (at most `taskCache`). */
  get cachedTasks(): number {
    return this.#tasks.size;
  }

  get isStarted(): boolean {
    return this.#db !== undefined;
  }

  /** Opens (or creates) the database; StoreOpenFailed when, e.g., another process holds it. */
  async start(): Promise<void> {
    this.#starting ??= this.#open().finally(() => {
      this.#starting = undefined;
    });
    return this.#starting;
  }

  async #open(): Promise<void> {
    if (this.#db !== undefined) return;
    const db: Db = new Level<Uint8Array, Uint8Array>(this.#dir, VIEW);
    try {
      await db.open();
    } catch (cause) {
      throw new EnigmaError(
        ErrorCode.StoreOpenFailed,
        `cannot open the node store at ${this.#dir}: is another node using this data directory?`,
        { details: { dir: this.#dir }, cause },
      );
    }
    const sub = (name: string) => sublevel(db, name);
    this.#subs = {
      code: sub("code"),
      delta: sub("delta"),
      deltaTask: sub("delta-task"),
      task: sub("task"),
      receipt: sub("receipt"),
      receiptIndex: sub("receipt-index"),
      meta: sub("meta"),
      message: sub("message"),
    };
    this.#db = db;
  }

  /** Waits for writes in flight, then closes. Idempotent. */
  async stop(): Promise<void> {
    const db = this.#db;
    if (db === undefined) return;
    await this.#tail;
    this.#db = undefined;
    this.#subs = undefined;
    this.#deltaCounts.clear();
    this.#nextReceiptSeq = undefined;
    this.#tasks.clear();
    await db.close();
  }

  // ---- secret-contract code ----

  /**
   * Stores a contract's code and returns it with its keccak256 hash. Storing the same code
   * again is a no-op; different code for a stored contract is ContractCodeConflict.
   */
  async putCode(contract: BytesInput, code: BytesInput): Promise<StoredCode> {
    const addr = fixedBytes(contract, 32, "contract");
    const bytes = anyBytes(code, "code");
    if (bytes.length === 0) throw invalid("code must not be empty");
    const codeHash = keccak256(bytes);
    return this.#exclusive(async (s) => {
      const existing = s.code.getSync(addr);
      if (existing !== undefined) {
        const stored = decodeHashed(existing, "code");
        if (!equalBytes(stored.hash, codeHash)) {
          throw new EnigmaError(
            ErrorCode.ContractCodeConflict,
            `contract ${bytesToHex(addr)} already has different code`,
            { details: { contract: bytesToHex(addr), stored: bytesToHex(stored.hash) } },
          );
        }
        return { code: stored.data, codeHash };
      }
      await s.code.put(addr, encodeHashed(codeHash, bytes));
      return { code: bytes, codeHash };
    });
  }

  getCode(contract: BytesInput): Promise<StoredCode | undefined> {
    return settled(() => {
      const v = this.#s().code.getSync(fixedBytes(contract, 32, "contract"));
      if (v === undefined) return undefined;
      const { hash, data } = decodeHashed(v, "code");
      return { code: data, codeHash: hash };
    });
  }

  // ---- deltas ----

  /**
   * Appends a contract's next delta. Returns true when written, false when the identical
   * delta is already stored (a duplicate from gossip or sync). A gap is DeltaIndexGap, a
   * different delta at a stored index DeltaConflict; neither changes anything.
   */
  async putDelta(contract: BytesInput, delta: StoredDelta): Promise<boolean> {
    return (await this.putDeltas(contract, [delta])) === 1;
  }

  /**
   * Appends consecutive deltas (a peer's range answer) in one batch: all or nothing. Deltas
   * already stored identically are skipped. Returns how many were written.
   */
  async putDeltas(contract: BytesInput, deltas: readonly StoredDelta[]): Promise<number> {
    const addr = fixedBytes(contract, 32, "contract");
    if (!Array.isArray(deltas)) throw invalid("deltas must be an array");
    const checked = deltas.map((d, i) => checkDelta(d, `deltas[${i}]`));
    return this.#exclusive(async (s) => {
      const ops = await this.#deltaOps(s, addr, checked);
      await this.#write(ops);
      return ops.length;
    });
  }

  /**
   * Deltas `from <= index < to` of a contract, in index order (`to` defaults to the end).
   * Exactly the stored part of that window: fewer when the chain is shorter.
   */
  async getDeltas(contract: BytesInput, from = 0, to = MAX_DELTA_INDEX): Promise<StoredDelta[]> {
    const addr = fixedBytes(contract, 32, "contract");
    checkIndex(from, "from");
    checkIndex(to, "to");
    if (to < from) throw invalid("range end must not be before its start", { from, to });
    // A window holds at most `to - from` deltas. The limit changes no answer, but it sizes
    // classic-level's native read-ahead: without one, each iterator step reserves 1,000 entries
    // (64 KiB) on a libuv thread, kept until V8 collects the iterator object. Every node reads
    // one delta per result and per commit it hears; heaptrack on the soak's principal showed
    // up to 71 MB of such reservations waiting for a GC, and the threads' malloc arenas keep
    // that high-water mark.
    const entries = await this.#s()
      .delta.iterator({ gte: deltaKey(addr, from), lt: deltaKey(addr, to), limit: to - from })
      .all();
    return entries.map(([k, v]) => ({ index: readU64be(k, 32), ...decodeHashed(v, "delta") }));
  }

  /** Number of stored deltas of a contract (they are contiguous from 0: the next index). */
  async deltaCount(contract: BytesInput): Promise<number> {
    const addr = fixedBytes(contract, 32, "contract");
    const known = this.#deltaCounts.get(bytesToHex(addr));
    if (known !== undefined) return known;
    const last = await this.#last(this.#s(), addr);
    return last === undefined ? 0 : last.index + 1;
  }

  async lastDelta(contract: BytesInput): Promise<StoredDelta | undefined> {
    const addr = fixedBytes(contract, 32, "contract");
    return this.#last(this.#s(), addr);
  }

  /**
   * Removes a contract's last delta when it is `index` (a task whose Ethereum call failed on
   * chain: the contract records no delta for it, so neither may the node). Returns whether a
   * delta was removed; any other index is left alone.
   */
  async dropLastDelta(contract: BytesInput, index: number): Promise<boolean> {
    const addr = fixedBytes(contract, 32, "contract");
    const i = checkIndex(index, "index");
    return this.#exclusive(async (s) => {
      const last = await this.#last(s, addr);
      if (last?.index !== i) return false;
      await this.#write([
        [s.delta, deltaKey(addr, i), undefined],
        [s.deltaTask, deltaKey(addr, i), undefined],
      ]);
      return true;
    });
  }

  /**
   * Removes a contract's deltas from `from` on (with their task ids), in one batch: a delta
   * that disagrees with the hash committed on chain, or uncommitted deltas built on a delta the
   * chain will never record. Returns how many were removed.
   */
  async truncateDeltas(contract: BytesInput, from: number): Promise<number> {
    const addr = fixedBytes(contract, 32, "contract");
    const i = checkIndex(from, "from");
    return this.#exclusive(async (s) => {
      const keys = await s.delta
        .keys({ gte: deltaKey(addr, i), lte: deltaKey(addr, MAX_DELTA_INDEX) })
        .all();
      const ops: Op[] = keys.flatMap((k): Op[] => [
        [s.delta, k, undefined],
        [s.deltaTask, k, undefined],
      ]);
      await this.#write(ops);
      return keys.length;
    });
  }

  /** The task that wrote a contract's delta `index`, when this node stored it with its task. */
  deltaTask(contract: BytesInput, index: number): Promise<Hex | undefined> {
    return settled(() => {
      const addr = fixedBytes(contract, 32, "contract");
      const v = this.#s().deltaTask.getSync(deltaKey(addr, checkIndex(index, "index")));
      return v === undefined ? undefined : bytesToHex(v);
    });
  }

  // ---- tasks ----

  /**
   * Records a task (status UNVERIFIED unless given). Adding the same task for the same
   * contract again is a no-op returning the stored task; another contract is TaskConflict.
   * `messages` are kept in the same batch, each unless one of its kind is stored already (the
   * first input heard stays).
   *
   * @example
   * await store.addTask(input.taskId, input.contractAddress, "UNVERIFIED", { input });
   */
  async addTask(
    taskId: BytesInput,
    contract: BytesInput,
    status: TaskResultStatus = TaskResultStatus.Unverified,
    messages: TaskMessages = {},
  ): Promise<StoredTask> {
    const id = bytesToHex(fixedBytes(taskId, 32, "taskId"));
    const sc = bytesToHex(fixedBytes(contract, 32, "contract"));
    checkStatus(status);
    const encoded = encodeMessages(taskId, messages);
    return this.#exclusive(async (s) => {
      const existing = this.#task(s, id, true);
      const kinds = this.#tasks.get(id)?.kinds;
      // A new task has no messages yet; a cached one says which it has.
      const stored = encoded.map(([kind, key]) =>
        existing === undefined
          ? undefined
          : kinds !== undefined
            ? kinds.has(kind) || undefined
            : s.message.getSync(key),
      );
      if (existing !== undefined && existing.contract !== sc) {
        throw new EnigmaError(
          ErrorCode.TaskConflict,
          `task ${id} is already recorded for contract ${existing.contract}`,
          { details: { taskId: id, stored: existing.contract, given: sc } },
        );
      }
      const task = existing ?? { taskId: id, contract: sc, status, committed: false };
      const added = encoded.filter((_, i) => stored[i] === undefined);
      const ops: Op[] = added.map(([, key, value]) => [s.message, key, value]);
      if (existing === undefined) ops.push([s.task, keyOf(id), encodeTask(task)]);
      await this.#write(ops);
      if (existing === undefined) {
        this.#remember(id, task, new Set(added.map(([kind]) => kind)), false);
      } else if (kinds !== undefined) {
        for (const [kind] of added) kinds.add(kind);
      }
      return { ...task };
    });
  }

  getTask(taskId: BytesInput): Promise<StoredTask | undefined> {
    return settled(() => {
      const task = this.#task(this.#s(), bytesToHex(fixedBytes(taskId, 32, "taskId")), false);
      return task === undefined ? undefined : { ...task };
    });
  }

  /**
   * Moves a task to a new status, optionally with its result, its state delta (appended to
   * the task's contract), its receipt (queued), its messages and metadata, all in one atomic
   * batch: a crash leaves either all of them or none. A transition not in TASK_TRANSITIONS is
   * TaskStatusTransition; repeating the current status with the same result (and nothing else
   * to write) is a no-op (returns false).
   *
   * @example
   * await store.updateTask(taskId, { status: "SUCCESS", result: { output, usedGas }, delta, receipt });
   */
  async updateTask(taskId: BytesInput, update: TaskUpdate): Promise<boolean> {
    const id = bytesToHex(fixedBytes(taskId, 32, "taskId"));
    if (typeof update !== "object" || (update as unknown) === null) {
      throw invalid("update must be an object");
    }
    checkStatus(update.status);
    const result = update.result === undefined ? undefined : checkResult(update.result);
    if (result !== undefined && !FINAL.has(update.status)) {
      throw invalid("a result goes with a final status (SUCCESS, FAILED, ETHEREUMFAILURE)");
    }
    const delta = update.delta === undefined ? undefined : checkDelta(update.delta, "delta");
    const receipt = update.receipt === undefined ? undefined : checkReceipt(update.receipt);
    if (receipt !== undefined && receipt.taskId !== id) {
      throw invalid("receipt.taskId must be the updated task", {
        taskId: id,
        receipt: receipt.taskId,
      });
    }
    const messages = encodeMessages(taskId, update.messages ?? {});
    const meta = encodeMetas(update.meta ?? {});
    const contract =
      update.contract === undefined
        ? undefined
        : bytesToHex(fixedBytes(update.contract, 32, "contract"));
    return this.#exclusive(async (s) => {
      const known = this.#task(s, id, true);
      if (known !== undefined && contract !== undefined && known.contract !== contract) {
        throw new EnigmaError(
          ErrorCode.TaskConflict,
          `task ${id} is already recorded for contract ${known.contract}`,
          { details: { taskId: id, stored: known.contract, given: contract } },
        );
      }
      if (known === undefined && contract === undefined) throw unknownTask(id);
      // A task recorded here and now has no messages and no receipt yet.
      const created = known === undefined;
      const task: StoredTask = known ?? {
        taskId: id,
        contract: contract ?? "0x",
        status: TaskResultStatus.Unverified,
        committed: false,
      };
      const ops: Op[] = [];
      if (created) ops.push([s.task, keyOf(id), encodeTask(task)]);
      let changed = created;
      let next = task;
      if (task.status !== update.status || !sameResult(task.result, result)) {
        const same = task.status === update.status;
        if (same || !TASK_TRANSITIONS[task.status].includes(update.status)) {
          throw new EnigmaError(
            ErrorCode.TaskStatusTransition,
            same
              ? `task ${id} is already ${task.status} with a different result`
              : `task ${id} cannot go from ${task.status} to ${update.status}`,
            { details: { taskId: id, from: task.status, to: update.status } },
          );
        }
        next = { ...task, status: update.status };
        if (result !== undefined) next.result = result;
        ops.push([s.task, keyOf(id), encodeTask(next)]);
        changed = true;
      }
      if (delta !== undefined) {
        const addr = hexKey(task.contract);
        ops.push(...(await this.#deltaOps(s, addr, [delta])));
        ops.push([s.deltaTask, deltaKey(addr, delta.index), hexKey(id)]);
      }
      if (receipt !== undefined) {
        ops.push(...(await this.#receiptOps(s, task, receipt, created)));
      }
      for (const [, key, value] of messages) ops.push([s.message, key, value]);
      for (const [key, value] of meta) ops.push([s.meta, key, value]);
      await this.#write(ops);
      const kinds = created ? new Set<MessageKind>() : this.#tasks.get(id)?.kinds;
      const queued = receipt !== undefined || (created ? false : this.#tasks.get(id)?.queued);
      this.#remember(id, next, kinds, queued);
      for (const [kind] of messages) kinds?.add(kind);
      return changed || ops.length > 0;
    });
  }

  // ---- pending receipts ----

  /**
   * Queues a task's receipt for the next commit. The task must be recorded and not committed
   * (ReceiptAlreadyCommitted); queueing the identical receipt again is a no-op (false), a
   * different one for a queued task is ReceiptAlreadyQueued.
   */
  async queueReceipt(receipt: ChainReceipt): Promise<boolean> {
    const r = checkReceipt(receipt);
    return this.#exclusive(async (s) => {
      const task = this.#task(s, r.taskId, true);
      if (task === undefined) throw unknownTask(r.taskId);
      const ops = await this.#receiptOps(s, task, r);
      await this.#write(ops);
      const cached = this.#tasks.get(r.taskId);
      if (cached !== undefined) cached.queued = true;
      return ops.length > 0;
    });
  }

  /** Whether any receipt waits for a commit (one key read, for the per-block check). */
  async hasPendingReceipts(): Promise<boolean> {
    const [first] = await this.#s().receipt.keys({ limit: 1 }).all();
    return first !== undefined;
  }

  /** Pending receipts in the order they were queued. */
  async pendingReceipts(): Promise<ChainReceipt[]> {
    const values = await this.#s().receipt.values().all();
    return values.map(decodeReceipt);
  }

  /**
   * Removes committed receipts from the queue and marks their tasks committed, in one batch.
   * Every id must be pending (ReceiptNotPending otherwise, and nothing changes).
   */
  async commitReceipts(taskIds: readonly BytesInput[]): Promise<void> {
    if (!Array.isArray(taskIds)) throw invalid("taskIds must be an array");
    const ids = taskIds.map((t, i) => bytesToHex(fixedBytes(t, 32, `taskIds[${i}]`)));
    if (new Set(ids).size !== ids.length) throw invalid("taskIds must not repeat");
    await this.#exclusive(async (s) => {
      const ops: Op[] = [];
      const committed: [string, StoredTask][] = [];
      for (const id of ids) {
        const seq = s.receiptIndex.getSync(keyOf(id));
        const task = this.#task(s, id, true);
        if (seq === undefined || task === undefined) {
          throw new EnigmaError(ErrorCode.ReceiptNotPending, `no pending receipt for task ${id}`, {
            details: { taskId: id, committed: task?.committed ?? false },
          });
        }
        ops.push([s.receipt, seq, undefined]);
        ops.push([s.receiptIndex, keyOf(id), undefined]);
        const next = { ...task, committed: true };
        ops.push([s.task, keyOf(id), encodeTask(next)]);
        committed.push([id, next]);
      }
      await this.#write(ops);
      for (const [id, t] of committed) this.#remember(id, t, this.#tasks.get(id)?.kinds, false);
    });
  }

  /** Every task, optionally only those with one of `statuses` (restart recovery). */
  async listTasks(statuses?: readonly TaskResultStatus[]): Promise<StoredTask[]> {
    if (statuses !== undefined) for (const st of statuses) checkStatus(st);
    const values = await this.#s().task.values().all();
    const tasks = values.map(decodeTask);
    return statuses === undefined ? tasks : tasks.filter((t) => statuses.includes(t.status));
  }

  // ---- messages (task inputs and results as peers sent them) ----

  /**
   * Keeps a task's message of one kind (`input` or `result`) as JSON, replacing an older one.
   * The caller validated it; readers validate again (it is peer data at rest).
   */
  async putMessage(kind: MessageKind, taskId: BytesInput, value: unknown): Promise<void> {
    const key = messageKey(kind, taskId);
    const bytes = encodeJson(value);
    const id = bytesToHex(key.subarray(1));
    await this.#exclusive(async (s) => {
      await s.message.put(key, bytes);
      this.#tasks.get(id)?.kinds?.add(kind);
    });
  }

  getMessage(kind: MessageKind, taskId: BytesInput): Promise<unknown> {
    return settled(() => {
      const key = messageKey(kind, taskId);
      // A task this store created: it knows every message kind stored for it.
      const kinds = this.#tasks.get(bytesToHex(key.subarray(1)))?.kinds;
      if (kinds !== undefined && !kinds.has(kind)) return undefined;
      const v = this.#s().message.getSync(key);
      if (v === undefined) return undefined;
      try {
        return JSON.parse(new TextDecoder().decode(v)) as unknown;
      } catch (cause) {
        throw new EnigmaError(ErrorCode.StoreCorrupt, `stored ${kind} message cannot be decoded`, {
          cause,
        });
      }
    });
  }

  // ---- metadata ----

  getMeta(key: string): Promise<MetaValue | undefined> {
    return settled(() => {
      const v = this.#s().meta.getSync(metaKey(key));
      return v === undefined ? undefined : decodeJson(metaJson, v, `meta "${key}"`);
    });
  }

  async putMeta(key: string, value: MetaValue): Promise<void> {
    const k = metaKey(key);
    const bytes = encodeJson(checkMeta(value));
    await this.#exclusive((s) => s.meta.put(k, bytes));
  }

  async delMeta(key: string): Promise<void> {
    const k = metaKey(key);
    await this.#exclusive((s) => s.meta.del(k));
  }

  // ---- internals ----

  #s(): Subs {
    if (this.#subs === undefined) throw this.#notOpen();
    return this.#subs;
  }

  #exclusive<T>(fn: (s: Subs) => Promise<T>): Promise<T> {
    const run = this.#tail.then(() => fn(this.#s()));
    this.#tail = run.catch(() => undefined);
    return run;
  }

  async #write(ops: readonly Op[]): Promise<void> {
    if (ops.length === 0) return;
    const db = this.#db;
    const subs = this.#subs;
    if (db === undefined || subs === undefined) throw this.#notOpen();
    const batch = db.batch();
    for (const [sublevel, key, value] of ops) {
      if (value === undefined) batch.del(key, { sublevel });
      else batch.put(key, value, { sublevel });
    }
    await batch.write();
    // Delta counts follow every delta write (appends are the next index; any removal is
    // read again).
    for (const [sublevel, key, value] of ops) {
      if (sublevel !== subs.delta) continue;
      const contract = bytesToHex(key.subarray(0, 32));
      if (value === undefined) this.#deltaCounts.delete(contract);
      else if (this.#deltaCounts.has(contract)) {
        const count = Math.max(this.#deltaCounts.get(contract) ?? 0, readU64be(key, 32) + 1);
        this.#deltaCounts.set(contract, count);
      }
    }
  }

  #notOpen(): EnigmaError {
    return new EnigmaError(ErrorCode.StoreNotOpen, "the node store is not started", {
      details: { dir: this.#dir },
    });
  }

  async #last(s: Subs, addr: Uint8Array): Promise<StoredDelta | undefined> {
    const [entry] = await s.delta
      .iterator({
        gte: deltaKey(addr, 0),
        lte: deltaKey(addr, MAX_DELTA_INDEX),
        reverse: true,
        limit: 1,
      })
      .all();
    if (entry === undefined) return undefined;
    return { index: readU64be(entry[0], 32), ...decodeHashed(entry[1], "delta") };
  }

  /**
   * Stored deltas of a contract, for an exclusive operation: the count this store knows, or one
   * reverse seek, remembered (no write runs meanwhile, since writes are exclusive).
   */
  async #deltaCount(s: Subs, addr: Uint8Array): Promise<number> {
    const contract = bytesToHex(addr);
    const known = this.#deltaCounts.get(contract);
    if (known !== undefined) return known;
    const last = await this.#last(s, addr);
    const count = last === undefined ? 0 : last.index + 1;
    this.#deltaCounts.set(contract, count);
    return count;
  }

  /** Ops appending `deltas` after the stored chain; throws on a gap or conflict. */
  async #deltaOps(s: Subs, addr: Uint8Array, deltas: readonly StoredDelta[]): Promise<Op[]> {
    let next = await this.#deltaCount(s, addr);
    const ops: Op[] = [];
    for (const d of deltas) {
      if (d.index < next) {
        const stored = s.delta.getSync(deltaKey(addr, d.index));
        const pending = ops.find(([, k]) => readU64be(k, 32) === d.index);
        const hash =
          stored !== undefined ? decodeHashed(stored, "delta").hash : pending?.[2]?.subarray(0, 32);
        if (hash !== undefined && equalBytes(hash, d.hash)) continue;
        throw new EnigmaError(
          ErrorCode.DeltaConflict,
          `contract ${bytesToHex(addr)} already has a different delta ${d.index}`,
          { details: { contract: bytesToHex(addr), index: d.index } },
        );
      }
      if (d.index > next) {
        throw new EnigmaError(
          ErrorCode.DeltaIndexGap,
          `contract ${bytesToHex(addr)} expects delta ${next} next, got ${d.index}: fetch the missing deltas first`,
          { details: { contract: bytesToHex(addr), expected: next, got: d.index } },
        );
      }
      ops.push([s.delta, deltaKey(addr, d.index), encodeHashed(d.hash, d.data)]);
      next++;
    }
    return ops;
  }

  /** Ops queueing a receipt (none when the identical one is queued). */
  /** `fresh`: the task is recorded in this same batch (nothing of it is stored yet). */
  async #receiptOps(s: Subs, task: StoredTask, r: ChainReceipt, fresh = false): Promise<Op[]> {
    if (task.committed) {
      throw new EnigmaError(
        ErrorCode.ReceiptAlreadyCommitted,
        `the receipt of task ${task.taskId} was already committed`,
        { details: { taskId: task.taskId } },
      );
    }
    const encoded = encodeReceipt(r);
    // No read when this store knows that no receipt of the task is queued.
    const known = fresh ? false : this.#tasks.get(task.taskId)?.queued;
    const seq = known === false ? undefined : s.receiptIndex.getSync(keyOf(task.taskId));
    if (seq !== undefined) {
      const queued = s.receipt.getSync(seq);
      if (queued !== undefined && equalBytes(queued, encoded)) return [];
      throw new EnigmaError(
        ErrorCode.ReceiptAlreadyQueued,
        `a different receipt is already queued for task ${task.taskId}`,
        { details: { taskId: task.taskId } },
      );
    }
    // Sequence numbers order the queue: one past the tail, read once, then counted here.
    if (this.#nextReceiptSeq === undefined) {
      const [lastKey] = await s.receipt.keys({ reverse: true, limit: 1 }).all();
      this.#nextReceiptSeq = lastKey === undefined ? 0 : readU64be(lastKey, 0) + 1;
    }
    const nextSeq = u64be(this.#nextReceiptSeq++);
    return [
      [s.receipt, nextSeq, encoded],
      [s.receiptIndex, keyOf(task.taskId), nextSeq],
    ];
  }

  /**
   * A task, from the cache or read; `exclusive` (called inside an exclusive operation) keeps
   * what it read, since no write can land meanwhile.
   */
  #task(s: Subs, id: string, exclusive: boolean): StoredTask | undefined {
    const cached = this.#tasks.get(id);
    if (cached !== undefined) return cached.task;
    const v = s.task.getSync(keyOf(id));
    if (v === undefined) return undefined;
    const task = decodeTask(v);
    if (exclusive) this.#remember(id, task, undefined);
    return task;
  }

  /** Keeps a task as written or read (the newest `taskCache`; the oldest are dropped). */
  #remember(
    id: string,
    task: StoredTask,
    kinds: Set<MessageKind> | undefined,
    queued?: boolean,
  ): void {
    this.#tasks.delete(id);
    const entry: CachedTask = { task };
    if (kinds !== undefined) entry.kinds = kinds;
    if (queued !== undefined) entry.queued = queued;
    this.#tasks.set(id, entry);
    while (this.#tasks.size > this.#taskCache) {
      const oldest = this.#tasks.keys().next();
      if (oldest.done === true) break;
      this.#tasks.delete(oldest.value);
    }
  }
}

/**
 * `input` and `result` as peers sent them; `record` the chain record a worker matched;
 * `outcome` why a task this worker did not run failed (`{code, message}`, e.g. TaskSkipped).
 */
export type MessageKind = "input" | "result" | "record" | "outcome";
const MESSAGE_KINDS: Record<MessageKind, number> = { input: 1, result: 2, record: 3, outcome: 4 };

function messageKey(kind: MessageKind, taskId: BytesInput): Uint8Array {
  const tag = MESSAGE_KINDS[kind] as number | undefined;
  if (tag === undefined)
    throw invalid('message kind must be "input", "result", "record" or "outcome"');
  const key = new Uint8Array(33);
  key[0] = tag;
  key.set(fixedBytes(taskId, 32, "taskId"), 1);
  return key;
}

/** `messages` as message-sublevel entries (validated before anything is read or written). */
function encodeMessages(
  taskId: BytesInput,
  messages: TaskMessages,
): [MessageKind, Uint8Array, Uint8Array][] {
  if (typeof messages !== "object" || (messages as unknown) === null) {
    throw invalid("messages must be an object of kind -> message");
  }
  return Object.entries(messages)
    .filter(([, value]) => value !== undefined)
    .map(([kind, value]) => [
      kind as MessageKind,
      messageKey(kind as MessageKind, taskId),
      encodeJson(value),
    ]);
}

/** Metadata entries as meta-sublevel entries (validated before anything is written). */
function encodeMetas(meta: Readonly<Record<string, MetaValue>>): [Uint8Array, Uint8Array][] {
  if (typeof meta !== "object" || (meta as unknown) === null) {
    throw invalid("meta must be an object of key -> value");
  }
  return Object.entries(meta).map(([key, value]) => [metaKey(key), encodeJson(checkMeta(value))]);
}

function keyOf(id: string): Uint8Array {
  return fixedBytes(id, 32, "taskId");
}

function hexKey(h: Hex): Uint8Array {
  return fixedBytes(h, 32, "contract");
}

function metaKey(key: unknown): Uint8Array {
  if (typeof key !== "string" || key.length === 0 || key.length > 256) {
    throw invalid("metadata key must be a string of 1 to 256 characters");
  }
  return utf8.encode(key);
}

function checkStatus(status: unknown): asserts status is TaskResultStatus {
  if (!TASK_STATUSES.includes(status as TaskResultStatus)) {
    throw invalid(`status must be one of ${TASK_STATUSES.join(", ")}`, { status: String(status) });
  }
}

function checkDelta(value: unknown, what: string): StoredDelta {
  if (typeof value !== "object" || value === null)
    throw invalid(`${what} must be {index, hash, data}`);
  const d = value as Record<string, unknown>;
  const checked = {
    index: checkIndex(d["index"], `${what}.index`),
    hash: fixedBytes(d["hash"], 32, `${what}.hash`),
    data: anyBytes(d["data"], `${what}.data`),
  };
  if (!equalBytes(keccak256(checked.data), checked.hash)) {
    throw new EnigmaError(ErrorCode.DeltaTampered, `${what}: hash is not keccak256 of its data`, {
      details: { index: checked.index },
    });
  }
  return checked;
}

function unknownTask(id: string): EnigmaError {
  return new EnigmaError(ErrorCode.TaskUnknown, `task ${id} is not recorded by this node`, {
    details: { taskId: id },
  });
}

function sameResult(a: TaskResultData | undefined, b: TaskResultData | undefined): boolean {
  if (b === undefined) return true; // no result given: the stored one stays
  if (a === undefined) return false;
  return equalBytes(
    encodeTask({ taskId: "0x", contract: "0x", status: "UNVERIFIED", committed: false, result: a }),
    encodeTask({ taskId: "0x", contract: "0x", status: "UNVERIFIED", committed: false, result: b }),
  );
}

/**
 * A synchronous read as the store's API gives it: a promise, rejected on a throw. Reads are
 * synchronous (`getSync`): LevelDB answers them from its memtable and caches in a few
 * microseconds, where an async `get` costs ~25 us of the main thread in thread-pool dispatch
 * and promise plumbing (measured with classic-level 3: 2-4 us against 21-30 us); a node reads
 * a few records per task, on every node, for every task.
 */
function settled<T>(read: () => T): Promise<T> {
  return new Promise((resolve) => {
    resolve(read());
  });
}
