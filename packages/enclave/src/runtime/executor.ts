// Where secret contracts run: off the node's thread, in a small pool of worker threads of this
// package (the enclave boundary holds: plaintext state crosses only into them), each task
// under a wall-clock deadline derived from its gas limit. A contract that overruns it has its
// thread terminated; the task fails with ExecutionTimeout and the whole gas limit used, as on
// out of gas. `InlineExecutor` runs on the caller's thread (tests, benchmarks).
import { randomUUID } from "node:crypto";
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { ErrorCode, bytesToHex, isEnigmaError } from "@enigma/protocol";
import { ContractState, type StateChange } from "../state/state.js";
import {
  ContractRuntime,
  failure,
  type ExecutionResult,
  type PreparedContract,
  type RuntimeOptions,
} from "./execute.js";

/** One task for an executor. */
export interface ExecutorJob {
  /** keccak256 of the code, and the code (sent to a thread only when it lacks the module). */
  codeHash: Uint8Array;
  code: Uint8Array;
  entry: "deploy" | "call";
  functionName: string;
  args: Uint8Array;
  gasLimit: number;
  taskId: Uint8Array;
  seed?: Uint8Array;
  /**
   * The contract's state: `id` names it for the executor's caches and `version` changes with
   * every change to it (the thread keeps a copy and is sent the entries only when its copy is
   * not that version).
   */
  state: { id: string; version: number; entries: () => readonly StateChange[] };
}

export interface ContractExecutor {
  run(job: ExecutorJob): Promise<ExecutionResult>;
  /** Stops the executor's threads. */
  close(): Promise<void>;
}

/** A state id for a contract's plaintext state in an executor (unique in the process). */
export function newStateId(): string {
  return randomUUID();
}

/** Runs on the calling thread, with no deadline. */
export class InlineExecutor implements ContractExecutor {
  readonly runtime: ContractRuntime;
  readonly #states = new Map<string, { version: number; state: ContractState }>();

  constructor(options: RuntimeOptions | ContractRuntime = {}) {
    this.runtime = options instanceof ContractRuntime ? options : new ContractRuntime(options);
  }

  run(job: ExecutorJob): Promise<ExecutionResult> {
    return Promise.resolve(runJob(this.runtime, this.#states, job, job.state.entries));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** States a thread keeps copies of (the least recently used are dropped, then re-sent). */
const STATE_CACHE = 64;

/**
 * Runs a job on a runtime with a cache of state copies: the thread's side of the executor,
 * and the inline executor's whole work. `entries` is the state when the cache does not hold
 * the job's version (undefined: it must).
 */
export function runJob(
  runtime: ContractRuntime,
  states: Map<string, { version: number; state: ContractState }>,
  job: Omit<ExecutorJob, "state"> & { state: { id: string; version: number } },
  entries: readonly StateChange[] | (() => readonly StateChange[]) | undefined,
): ExecutionResult & { stateMiss?: true } {
  let cached = states.get(job.state.id);
  if (cached === undefined || cached.version !== job.state.version) {
    if (entries === undefined) {
      return { ...failure(ErrorCode.ContractTrap, "state not held", 0, []), stateMiss: true };
    }
    const state = new ContractState();
    state.apply(typeof entries === "function" ? entries() : entries);
    cached = { version: job.state.version, state };
  }
  states.delete(job.state.id);
  states.set(job.state.id, cached);
  if (states.size > STATE_CACHE) {
    const oldest = states.keys().next().value;
    if (oldest !== undefined) states.delete(oldest);
  }
  const request = {
    entry: job.entry,
    functionName: job.functionName,
    args: job.args,
    state: cached.state,
    gasLimit: job.gasLimit,
    taskId: job.taskId,
    ...(job.seed === undefined ? {} : { seed: job.seed }),
  };
  const refused = runtime.checkRequest(request);
  if (refused !== undefined) return refused;
  let prepared: PreparedContract;
  try {
    prepared = runtime.cached(job.codeHash) ?? runtime.prepare(job.code, job.codeHash);
  } catch (e) {
    // Refused at preparation: nothing ran, no gas (Discovery's module creation errors).
    if (isEnigmaError(e)) return failure(e.code, e.message, 0, [], { ...e.details });
    return failure(ErrorCode.MalformedModule, "malformed secret contract", 0, []);
  }
  const result = runtime.execute(prepared, request);
  // The copy follows the contract: its owner applies the same changes and bumps the version.
  if (result.ok && result.changes.length > 0) {
    cached.state.apply(result.changes);
    cached.version = job.state.version + 1;
  }
  return result;
}

/** How long a task may run: a fixed allowance plus time in proportion to its gas limit. */
export interface Deadline {
  /** Fixed part, ms (module compilation, instantiation, thread hand-off, a loaded machine). */
  baseMs: number;
  /** Per million gas of the task's limit, ms. */
  msPerMgas: number;
}

/**
 * The default deadline: twice the bound the hostile corpus is held to (see the README,
 * "Metering without escapes"), so that only a contract that escapes metering, or a machine
 * stalled for seconds, ever meets it. A task at MAX_TASK_GAS_LIMIT gets 106 s.
 */
export const DEFAULT_DEADLINE: Readonly<Deadline> = Object.freeze({ baseMs: 6000, msPerMgas: 10 });

export interface ThreadExecutorOptions {
  runtime?: RuntimeOptions;
  /** Threads at most (default: 2, or 1 on a single core). */
  threads?: number;
  deadline?: Partial<Deadline>;
}

interface Slot {
  worker: Worker;
  ready: Promise<void>;
  busy: boolean;
  modules: Set<string>;
  states: Map<string, number>;
}

interface Pending {
  job: ExecutorJob;
  resolve: (r: ExecutionResult) => void;
}

/** The message a thread gets for a job. */
export interface ThreadRequest {
  id: number;
  job: Omit<ExecutorJob, "state" | "code"> & {
    code?: Uint8Array;
    state: { id: string; version: number };
  };
  module?: PreparedContract;
  entries?: readonly StateChange[];
}

/** A thread's answer. */
export interface ThreadReply {
  id: number;
  result: ExecutionResult & { stateMiss?: true; codeMiss?: true };
  module?: PreparedContract;
}

const here = import.meta.url;
// Under the test runner the package runs from its TypeScript sources: the thread then loads
// them through a resolve hook (`.js` specifiers to `.ts`, the workspace's source condition).
const fromSource = here.endsWith(".ts");
const WORKER_URL = new URL(fromSource ? "./executor-worker.ts" : "./executor-worker.js", here);
const SOURCE_ARGV = [
  "--experimental-transform-types",
  "--disable-warning=ExperimentalWarning",
  "--import",
  new URL("./source-loader.mjs", here).href,
];

/** Compiled modules the executor keeps to give a new thread without compiling again. */
const MODULE_CACHE = 64;

/**
 * A pool of worker threads running contracts with a deadline each.
 *
 * @example
 * const executor = new ThreadExecutor();
 * const result = await executor.run({ codeHash, code, entry: "call", functionName: "add(uint256,uint256)", args, gasLimit, taskId, state });
 * await executor.close();
 */
export class ThreadExecutor implements ContractExecutor {
  readonly deadline: Readonly<Deadline>;
  readonly #options: RuntimeOptions;
  readonly #max: number;
  readonly #slots: Slot[] = [];
  readonly #queue: Pending[] = [];
  readonly #modules = new Map<string, PreparedContract>();
  #next = 0;
  #closed = false;

  constructor(options: ThreadExecutorOptions = {}) {
    this.#options = options.runtime ?? {};
    this.#max = Math.max(1, options.threads ?? Math.min(2, availableParallelism()));
    this.deadline = Object.freeze({ ...DEFAULT_DEADLINE, ...options.deadline });
  }

  /** The deadline of a task with `gasLimit`, ms. */
  deadlineMs(gasLimit: number): number {
    return this.deadline.baseMs + (gasLimit / 1e6) * this.deadline.msPerMgas;
  }

  run(job: ExecutorJob): Promise<ExecutionResult> {
    if (this.#closed) {
      return Promise.resolve(failure(ErrorCode.ContractTrap, "the executor is closed", 0, []));
    }
    return new Promise((resolve) => {
      this.#queue.push({ job, resolve });
      this.#pump();
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    const slots = this.#slots.splice(0);
    await Promise.all(slots.map((s) => s.worker.terminate()));
    for (const p of this.#queue.splice(0)) {
      p.resolve(failure(ErrorCode.ContractTrap, "the executor is closed", 0, []));
    }
  }

  #spawn(): Slot {
    const worker = new Worker(WORKER_URL, {
      workerData: { runtime: this.#options },
      execArgv: fromSource ? SOURCE_ARGV : [],
      // The contract's memory is bounded by the runtime; this bounds the thread's own heap.
      resourceLimits: { maxOldGenerationSizeMb: 512 },
    });
    worker.unref();
    const ready = new Promise<void>((resolve, reject) => {
      worker.once("message", () => {
        resolve();
      });
      worker.once("error", reject);
    });
    ready.catch(() => undefined);
    const slot: Slot = { worker, ready, busy: false, modules: new Set(), states: new Map() };
    this.#slots.push(slot);
    return slot;
  }

  #drop(slot: Slot): void {
    const i = this.#slots.indexOf(slot);
    if (i >= 0) this.#slots.splice(i, 1);
    void slot.worker.terminate();
  }

  #pump(): void {
    while (this.#queue.length > 0 && !this.#closed) {
      const head = this.#queue[0] as Pending;
      const idle = this.#slots.filter((s) => !s.busy);
      let slot =
        idle.find((s) => s.states.get(head.job.state.id) === head.job.state.version) ?? idle[0];
      if (slot === undefined && this.#slots.length < this.#max) slot = this.#spawn();
      if (slot === undefined) return;
      this.#queue.shift();
      slot.busy = true;
      void this.#dispatch(slot, head);
    }
  }

  async #dispatch(slot: Slot, pending: Pending, retry = false): Promise<void> {
    const { job } = pending;
    const finish = (result: ExecutionResult) => {
      slot.busy = false;
      pending.resolve(result);
      this.#pump();
    };
    try {
      await slot.ready;
    } catch (e) {
      this.#drop(slot);
      finish(
        failure(
          ErrorCode.ContractTrap,
          `the execution thread did not start: ${e instanceof Error ? e.message : String(e)}`,
          0,
          [],
        ),
      );
      return;
    }
    const hash = bytesToHex(job.codeHash);
    const request: ThreadRequest = {
      id: this.#next++,
      job: {
        codeHash: job.codeHash,
        entry: job.entry,
        functionName: job.functionName,
        args: job.args,
        gasLimit: job.gasLimit,
        taskId: job.taskId,
        ...(job.seed === undefined ? {} : { seed: job.seed }),
        state: { id: job.state.id, version: job.state.version },
      },
    };
    if (!slot.modules.has(hash)) {
      const module = this.#modules.get(hash);
      if (module !== undefined) request.module = module;
      else request.job.code = job.code;
    }
    if (retry || slot.states.get(job.state.id) !== job.state.version) {
      request.entries = job.state.entries();
    }
    const reply = await this.#exchange(slot, request, this.deadlineMs(job.gasLimit));
    if (reply === "timeout" || reply instanceof Error) {
      this.#drop(slot);
      const result =
        reply === "timeout"
          ? failure(
              ErrorCode.ExecutionTimeout,
              `the contract ran past its deadline of ${String(Math.round(this.deadlineMs(job.gasLimit)))} ms and was stopped`,
              job.gasLimit,
              [],
              { deadlineMs: this.deadlineMs(job.gasLimit) },
            )
          : failure(
              ErrorCode.ContractTrap,
              `the execution thread failed: ${reply.message}`,
              job.gasLimit,
              [],
            );
      slot.busy = false;
      pending.resolve(result);
      this.#pump();
      return;
    }
    const { result, module } = reply;
    if (module !== undefined) {
      this.#modules.delete(hash);
      this.#modules.set(hash, module);
      if (this.#modules.size > MODULE_CACHE) {
        const oldest = this.#modules.keys().next().value;
        if (oldest !== undefined) this.#modules.delete(oldest);
      }
    }
    if (result.codeMiss === true || result.stateMiss === true) {
      // The thread dropped what it was thought to hold: send it again, once.
      slot.modules.delete(hash);
      slot.states.delete(job.state.id);
      if (!retry) {
        await this.#dispatch(slot, pending, true);
        return;
      }
    }
    slot.modules.add(hash);
    slot.states.set(
      job.state.id,
      result.ok && result.changes.length > 0 ? job.state.version + 1 : job.state.version,
    );
    const { stateMiss: _s, codeMiss: _c, ...clean } = result;
    finish(clean);
  }

  #exchange(
    slot: Slot,
    request: ThreadRequest,
    ms: number,
  ): Promise<ThreadReply | "timeout" | Error> {
    return new Promise((resolve) => {
      const { worker } = slot;
      const timer = setTimeout(() => {
        cleanup();
        resolve("timeout");
      }, ms);
      const onMessage = (reply: ThreadReply) => {
        if (reply.id !== request.id) return;
        cleanup();
        resolve(reply);
      };
      const onError = (e: Error) => {
        cleanup();
        resolve(e);
      };
      const onExit = (code: number) => {
        cleanup();
        resolve(new Error(`the thread exited with code ${String(code)}`));
      };
      const cleanup = () => {
        clearTimeout(timer);
        worker.off("message", onMessage);
        worker.off("error", onError);
        worker.off("exit", onExit);
      };
      worker.on("message", onMessage);
      worker.on("error", onError);
      worker.on("exit", onExit);
      worker.postMessage(request);
    });
  }
}
