// One deployed secret contract inside an enclave: its prepared code, plaintext state, state key
// and delta chain. What a worker keeps per contract, and what `enigma sc exec` drives.
import { EnigmaError, ErrorCode } from "@enigma/protocol";
import { ZERO_HASH, encryptDelta, rebuildState, type EncryptedDelta } from "../state/deltas.js";
import { ContractState, type StateChanges } from "../state/state.js";
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
 * A deployed contract with its state and delta chain. State changes only when a task
 * succeeds; a failed task leaves state and chain as they were.
 *
 * @example
 * const { contract, outcome } = DeployedContract.deploy(runtime, wasm, stateKey, { functionName: "construct()", args, gasLimit, taskId });
 * const { result, delta } = contract!.run({ functionName: "add(uint256,uint256)", args, gasLimit, taskId });
 */
export class DeployedContract {
  readonly code: PreparedContract;
  readonly deltas: EncryptedDelta[] = [];
  private readonly runtime: ContractRuntime;
  private readonly stateKey: Uint8Array;
  private state: ContractState;
  private head: Uint8Array = ZERO_HASH;

  private constructor(
    runtime: ContractRuntime,
    code: PreparedContract,
    stateKey: Uint8Array,
    state: ContractState,
  ) {
    this.runtime = runtime;
    this.code = code;
    this.stateKey = stateKey;
    this.state = state;
  }

  /** Deploys: runs the constructor; `contract` is undefined when the deployment failed. */
  static deploy(
    runtime: ContractRuntime,
    code: Uint8Array,
    stateKey: Uint8Array,
    ctor: TaskInput,
  ): { contract: DeployedContract | undefined; outcome: TaskOutcome } {
    checkKey(stateKey);
    const state = new ContractState();
    const result = runtime.deploy(code, { ...ctor, state });
    if (!result.ok || result.contract === undefined) {
      return { contract: undefined, outcome: { result, delta: null } };
    }
    const contract = new DeployedContract(runtime, result.contract, stateKey, state);
    // Delta 0 always exists for a deployment, even when the constructor wrote nothing.
    const delta = contract.commit(result.changes, true);
    return { contract, outcome: { result, delta } };
  }

  /** Restores a contract from its code and ordered deltas (checking the chain). */
  static restore(
    runtime: ContractRuntime,
    code: Uint8Array,
    stateKey: Uint8Array,
    deltas: readonly EncryptedDelta[],
  ): DeployedContract {
    checkKey(stateKey);
    const rebuilt = rebuildState(stateKey, deltas);
    const contract = new DeployedContract(runtime, runtime.prepare(code), stateKey, rebuilt.state);
    contract.head = rebuilt.head;
    contract.deltas.push(...deltas);
    return contract;
  }

  /** Plaintext entries (for the simulation's local tools and tests). */
  entries(): ReturnType<ContractState["entries"]> {
    return this.state.entries();
  }

  run(task: TaskInput): TaskOutcome {
    const result = this.runtime.execute(this.code, { ...task, entry: "call", state: this.state });
    if (!result.ok || result.changes.length === 0) return { result, delta: null };
    return { result, delta: this.commit(result.changes, false) };
  }

  private commit(changes: StateChanges, force: boolean): EncryptedDelta | null {
    if (changes.length === 0 && !force) return null;
    const delta = encryptDelta(this.stateKey, {
      index: this.deltas.length,
      prevHash: this.head,
      changes,
    });
    this.state.apply(changes);
    this.head = delta.hash;
    this.deltas.push(delta);
    return delta;
  }
}

function checkKey(key: Uint8Array): void {
  if (key.length !== 32)
    throw new EnigmaError(ErrorCode.InvalidArgument, "a state key must be 32 bytes");
}
