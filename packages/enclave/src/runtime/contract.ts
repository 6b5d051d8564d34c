// One deployed secret contract inside an enclave: its prepared code, plaintext state and delta
// chain. `ContractInstance` is what a worker enclave keeps per contract (the state key stays in
// a `StateKeyHolder`); `DeployedContract` is the same with a caller-held raw key, for local
// tools such as `enigma sc exec`.
import {
  EnigmaError,
  ErrorCode,
  bytesToHex,
  equalBytes,
  keccak256,
  type BytesLike,
} from "@enigma/protocol";
import { ZERO_HASH, encryptDelta, rebuildState, type EncryptedDelta } from "../state/deltas.js";
import { ContractState, type StateChanges } from "../state/state.js";
import { withStateKey, type StateKeyHolder } from "../statekeys.js";
import { ContractRuntime, type ExecutionResult } from "./execute.js";
import { InlineExecutor, newStateId, type ContractExecutor } from "./executor.js";

/** Where a contract runs: an executor, or a runtime on the calling thread. */
export type ExecutorLike = ContractExecutor | ContractRuntime;

function executorOf(e: ExecutorLike): ContractExecutor {
  return e instanceof ContractRuntime ? new InlineExecutor(e) : e;
}

export interface TaskInput {
  functionName: string;
  args: Uint8Array;
  gasLimit: number;
  /** 32-byte task id. */
  taskId: Uint8Array;
  /** Seed of `rand` (seeded devnets); random when absent. */
  seed?: Uint8Array;
}

export interface TaskOutcome {
  result: ExecutionResult;
  /** The encrypted delta when the task succeeded and changed state; null otherwise. */
  delta: EncryptedDelta | null;
}

/**
 * Lends a contract's state key to `fn` for the duration of the call. Enclave-internal: the
 * worker enclave builds one from a `StateKeyHolder` (`holderKey`), so the raw key is never
 * stored outside the holder.
 */
export type DeltaKey = <T>(fn: (stateKey: Uint8Array) => T) => T;

/** The `DeltaKey` of `contractAddress` in `holder`; throws `StateKeyUnknown` when used without it. */
export function holderKey(holder: StateKeyHolder, contractAddress: BytesLike): DeltaKey {
  return (fn) => withStateKey(holder, contractAddress, fn);
}

/** The `DeltaKey` of a raw 32-byte key (local tools only). */
function rawKey(stateKey: Uint8Array): DeltaKey {
  if (stateKey.length !== 32) {
    throw new EnigmaError(ErrorCode.InvalidArgument, "a state key must be 32 bytes");
  }
  const key = stateKey.slice();
  return (fn) => fn(key);
}

/**
 * A contract's state and delta chain, keyed by a `DeltaKey`. Enclave-internal (not exported
 * from the package index): it shows plaintext state. State changes only when a task succeeds;
 * a failed task leaves state and chain as they were.
 */
export class ContractInstance {
  /** The code as deployed, and its keccak256. */
  readonly code: Uint8Array;
  readonly codeHash: Uint8Array;
  readonly #executor: ContractExecutor;
  readonly #key: DeltaKey;
  readonly #state: ContractState;
  // Hashes of every delta so far (32 bytes each), to recognise a delta heard twice.
  readonly #hashes: Uint8Array[];
  // The executor keeps a copy of the state under this id; the version says which one it is.
  readonly #stateId = newStateId();
  #version = 0;
  // Tasks of one contract run one at a time, in the order they were asked for.
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(
    executor: ContractExecutor,
    code: Uint8Array,
    key: DeltaKey,
    state: ContractState,
    hashes: Uint8Array[],
    codeHash?: Uint8Array,
  ) {
    this.#executor = executor;
    this.code = code;
    this.codeHash = codeHash ?? keccak256(code);
    this.#key = key;
    this.#state = state;
    this.#hashes = hashes;
  }

  /**
   * Runs the constructor on empty state. On success the instance holds delta 0 (always
   * present, possibly empty); `instance` is undefined when the deployment failed.
   */
  static async deploy(
    executor: ExecutorLike,
    code: Uint8Array,
    key: DeltaKey,
    ctor: TaskInput,
    codeHash?: Uint8Array,
  ): Promise<{ instance: ContractInstance | undefined; outcome: TaskOutcome }> {
    const instance = new ContractInstance(
      executorOf(executor),
      code.slice(),
      key,
      new ContractState(),
      [],
      codeHash,
    );
    const result = await instance.#execute("deploy", ctor);
    if (!result.ok) return { instance: undefined, outcome: { result, delta: null } };
    return { instance, outcome: { result, delta: instance.#commit(result.changes) } };
  }

  /**
   * Rebuilds a contract from its code and ordered deltas, checking the chain (and each hash
   * against `expectedHashes` when given). Throws `DeltaChainBroken`, `DeltaTampered`,
   * `MalformedDelta`, or `StateKeyUnknown` from the key. The code is compiled when it first
   * runs.
   */
  static restore(
    executor: ExecutorLike,
    code: Uint8Array,
    key: DeltaKey,
    deltas: readonly EncryptedDelta[],
    expectedHashes?: readonly Uint8Array[],
  ): ContractInstance {
    const rebuilt = key((k) =>
      rebuildState(k, deltas, expectedHashes === undefined ? {} : { expectedHashes }),
    );
    return new ContractInstance(
      executorOf(executor),
      code.slice(),
      key,
      rebuilt.state,
      deltas.map((d) => d.hash.slice()),
    );
  }

  /** Deltas in the chain (the next delta's index). */
  get deltaCount(): number {
    return this.#hashes.length;
  }

  /** Hash of the last delta (ZERO_HASH before delta 0). */
  get head(): Uint8Array {
    return this.#hashes[this.#hashes.length - 1] ?? ZERO_HASH;
  }

  /** Plaintext entries (enclave code and tests only). */
  entries(): ReturnType<ContractState["entries"]> {
    return this.#state.entries();
  }

  run(task: TaskInput): Promise<TaskOutcome> {
    const next = this.#queue.then(async (): Promise<TaskOutcome> => {
      const result = await this.#execute("call", task);
      if (!result.ok || result.changes.length === 0) return { result, delta: null };
      return { result, delta: this.#commit(result.changes) };
    });
    this.#queue = next.catch(() => undefined);
    return next;
  }

  #execute(entry: "deploy" | "call", task: TaskInput): Promise<ExecutionResult> {
    return this.#executor.run({
      codeHash: this.codeHash,
      code: this.code,
      entry,
      functionName: task.functionName,
      args: task.args,
      gasLimit: task.gasLimit,
      taskId: task.taskId,
      ...(task.seed === undefined ? {} : { seed: task.seed }),
      state: { id: this.#stateId, version: this.#version, entries: () => this.#state.entries() },
    });
  }

  /**
   * Extends the chain with a delta produced elsewhere (another worker's task): it must be the
   * next index, name the current head and decrypt under the state key. Returns false, changing
   * nothing, for a delta already in the chain (same index and hash); throws
   * `DeltaChainBroken` for a gap or a different delta at a taken index, `DeltaTampered` or
   * `MalformedDelta` for bad data.
   */
  append(delta: EncryptedDelta): boolean {
    const count = this.#hashes.length;
    if (!Number.isSafeInteger(delta.index) || delta.index < 0) {
      throw new EnigmaError(ErrorCode.InvalidArgument, "a delta index is a non-negative integer", {
        details: { index: delta.index },
      });
    }
    if (delta.index < count) {
      if (equalBytes(this.#hashes[delta.index] ?? ZERO_HASH, delta.hash)) return false;
      throw new EnigmaError(
        ErrorCode.DeltaChainBroken,
        `state delta ${delta.index} conflicts with the one already in the chain`,
        {
          details: {
            index: delta.index,
            held: bytesToHex(this.#hashes[delta.index] ?? ZERO_HASH),
            got: bytesToHex(delta.hash),
          },
        },
      );
    }
    // rebuildState checks index, hash, GCM tag and predecessor before it applies anything.
    this.#key((k) =>
      rebuildState(k, [delta], {
        from: { state: this.#state, head: this.head, nextIndex: count },
      }),
    );
    this.#hashes.push(delta.hash.slice());
    // The executor's copy is now behind: a new version makes it take the state again.
    this.#version += 2;
    return true;
  }

  #commit(changes: StateChanges): EncryptedDelta {
    const delta = this.#key((k) =>
      encryptDelta(k, { index: this.#hashes.length, prevHash: this.head, changes }),
    );
    this.#state.apply(changes);
    this.#hashes.push(delta.hash);
    // The executor applied the same changes to its copy and counted one version.
    if (changes.length > 0) this.#version++;
    return delta;
  }
}

/**
 * A deployed contract with a raw state key, its state and its delta chain: for local tools
 * (`enigma sc exec`) and tests, where the caller made the key itself. A worker enclave uses
 * `WorkerEnclave`, which keeps the network's state keys inside. State changes only when a
 * task succeeds; a failed task leaves state and chain as they were.
 *
 * @example
 * const { contract, outcome } = DeployedContract.deploy(runtime, wasm, stateKey, { functionName: "construct()", args, gasLimit, taskId });
 * const { result, delta } = contract!.run({ functionName: "add(uint256,uint256)", args, gasLimit, taskId });
 */
export class DeployedContract {
  readonly deltas: EncryptedDelta[];
  readonly #instance: ContractInstance;

  private constructor(instance: ContractInstance, deltas: EncryptedDelta[]) {
    this.#instance = instance;
    this.deltas = deltas;
  }

  /** Deploys: runs the constructor; `contract` is undefined when the deployment failed. */
  static async deploy(
    executor: ExecutorLike,
    code: Uint8Array,
    stateKey: Uint8Array,
    ctor: TaskInput,
  ): Promise<{ contract: DeployedContract | undefined; outcome: TaskOutcome }> {
    const { instance, outcome } = await ContractInstance.deploy(
      executor,
      code,
      rawKey(stateKey),
      ctor,
    );
    if (instance === undefined || outcome.delta === null) return { contract: undefined, outcome };
    return { contract: new DeployedContract(instance, [outcome.delta]), outcome };
  }

  /** Restores a contract from its code and ordered deltas (checking the chain). */
  static restore(
    executor: ExecutorLike,
    code: Uint8Array,
    stateKey: Uint8Array,
    deltas: readonly EncryptedDelta[],
  ): DeployedContract {
    const instance = ContractInstance.restore(executor, code, rawKey(stateKey), deltas);
    return new DeployedContract(instance, [...deltas]);
  }

  /** keccak256 of the code. */
  get codeHash(): Uint8Array {
    return this.#instance.codeHash;
  }

  /** Plaintext entries (for the simulation's local tools and tests). */
  entries(): ReturnType<ContractState["entries"]> {
    return this.#instance.entries();
  }

  async run(task: TaskInput): Promise<TaskOutcome> {
    const outcome = await this.#instance.run(task);
    if (outcome.delta !== null) this.deltas.push(outcome.delta);
    return outcome;
  }
}
