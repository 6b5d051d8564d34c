// One deployed secret contract inside an enclave: its prepared code, plaintext state and delta
// chain. `ContractInstance` is what a worker enclave keeps per contract (the state key stays in
// a `StateKeyHolder`); `DeployedContract` is the same with a caller-held raw key, for local
// tools such as `enigma sc exec`.
import { EnigmaError, ErrorCode, bytesToHex, equalBytes, type BytesLike } from "@enigma/protocol";
import { ZERO_HASH, encryptDelta, rebuildState, type EncryptedDelta } from "../state/deltas.js";
import { ContractState, type StateChanges } from "../state/state.js";
import { withStateKey, type StateKeyHolder } from "../statekeys.js";
import type { ContractRuntime, ExecutionResult, PreparedContract } from "./execute.js";

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
  readonly code: PreparedContract;
  readonly #runtime: ContractRuntime;
  readonly #key: DeltaKey;
  readonly #state: ContractState;
  // Hashes of every delta so far (32 bytes each), to recognise a delta heard twice.
  readonly #hashes: Uint8Array[];

  private constructor(
    runtime: ContractRuntime,
    code: PreparedContract,
    key: DeltaKey,
    state: ContractState,
    hashes: Uint8Array[],
  ) {
    this.#runtime = runtime;
    this.code = code;
    this.#key = key;
    this.#state = state;
    this.#hashes = hashes;
  }

  /**
   * Runs the constructor on empty state. On success the instance holds delta 0 (always
   * present, possibly empty); `instance` is undefined when the deployment failed.
   */
  static deploy(
    runtime: ContractRuntime,
    code: Uint8Array,
    key: DeltaKey,
    ctor: TaskInput,
  ): { instance: ContractInstance | undefined; outcome: TaskOutcome } {
    const state = new ContractState();
    const result = runtime.deploy(code, { ...ctor, state });
    if (!result.ok || result.contract === undefined) {
      return { instance: undefined, outcome: { result, delta: null } };
    }
    const instance = new ContractInstance(runtime, result.contract, key, state, []);
    return { instance, outcome: { result, delta: instance.#commit(result.changes) } };
  }

  /**
   * Rebuilds a contract from its code and ordered deltas, checking the chain (and each hash
   * against `expectedHashes` when given). Throws `DeltaChainBroken`, `DeltaTampered`,
   * `MalformedDelta`, `MalformedModule`, or `StateKeyUnknown` from the key.
   */
  static restore(
    runtime: ContractRuntime,
    code: Uint8Array,
    key: DeltaKey,
    deltas: readonly EncryptedDelta[],
    expectedHashes?: readonly Uint8Array[],
  ): ContractInstance {
    const rebuilt = key((k) =>
      rebuildState(k, deltas, expectedHashes === undefined ? {} : { expectedHashes }),
    );
    return new ContractInstance(
      runtime,
      runtime.prepare(code),
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

  run(task: TaskInput): TaskOutcome {
    const result = this.#runtime.execute(this.code, {
      ...task,
      entry: "call",
      state: this.#state,
    });
    if (!result.ok || result.changes.length === 0) return { result, delta: null };
    return { result, delta: this.#commit(result.changes) };
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
    return true;
  }

  #commit(changes: StateChanges): EncryptedDelta {
    const delta = this.#key((k) =>
      encryptDelta(k, { index: this.#hashes.length, prevHash: this.head, changes }),
    );
    this.#state.apply(changes);
    this.#hashes.push(delta.hash);
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
  static deploy(
    runtime: ContractRuntime,
    code: Uint8Array,
    stateKey: Uint8Array,
    ctor: TaskInput,
  ): { contract: DeployedContract | undefined; outcome: TaskOutcome } {
    const { instance, outcome } = ContractInstance.deploy(runtime, code, rawKey(stateKey), ctor);
    if (instance === undefined || outcome.delta === null) return { contract: undefined, outcome };
    return { contract: new DeployedContract(instance, [outcome.delta]), outcome };
  }

  /** Restores a contract from its code and ordered deltas (checking the chain). */
  static restore(
    runtime: ContractRuntime,
    code: Uint8Array,
    stateKey: Uint8Array,
    deltas: readonly EncryptedDelta[],
  ): DeployedContract {
    const instance = ContractInstance.restore(runtime, code, rawKey(stateKey), deltas);
    return new DeployedContract(instance, [...deltas]);
  }

  get code(): PreparedContract {
    return this.#instance.code;
  }

  /** Plaintext entries (for the simulation's local tools and tests). */
  entries(): ReturnType<ContractState["entries"]> {
    return this.#instance.entries();
  }

  run(task: TaskInput): TaskOutcome {
    const outcome = this.#instance.run(task);
    if (outcome.delta !== null) this.deltas.push(outcome.delta);
    return outcome;
  }
}
