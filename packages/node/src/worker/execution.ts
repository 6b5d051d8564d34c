// The execution stage: one task through the enclave. Deployments get their state key and run
// the constructor; compute tasks load their contract from the store (catching up from peers
// first); a compute task of a contract that does not exist ends as a signed failure (as on
// Discovery, where such a task settled as status 3). Transient trouble is retried.
import {
  EnigmaError,
  ErrorCode,
  TaskResultStatus,
  hexToBytes,
  isEnigmaError,
  type Hex,
} from "@enigma/protocol";
import type { EnclaveTaskInput, EnclaveTaskResult } from "@enigma/enclave";
import type { RecordInfo } from "../context.js";
import type { TaskInput } from "../messages.js";

/** What the execution stage needs of the enclave (`WorkerEnclave` is one). */
export interface EnclavePort {
  readonly signer: Hex;
  deploy(
    task: EnclaveTaskInput & { preCode: Uint8Array },
  ): EnclaveTaskResult | Promise<EnclaveTaskResult>;
  compute(task: EnclaveTaskInput): EnclaveTaskResult | Promise<EnclaveTaskResult>;
  failNotDeployed(task: EnclaveTaskInput): EnclaveTaskResult;
  hasContract(contract: string): boolean;
  deltaCount(contract: string): number;
  loadContract(
    contract: string,
    code: Uint8Array,
    deltas: readonly { index: number; hash: Uint8Array; data: Uint8Array }[],
  ): void;
}

/** Where a contract's code, deltas and keys come from (store, peers, principal, chain). */
export interface ContractSource {
  code(contract: Hex): Promise<Uint8Array | undefined>;
  putCode(contract: Hex, code: Uint8Array): Promise<void>;
  deltaCount(contract: Hex): Promise<number>;
  deltas(contract: Hex): Promise<{ index: number; hash: Uint8Array; data: Uint8Array }[]>;
  /** Fetches missing code and committed deltas from peers. */
  catchUp(contract: Hex): Promise<void>;
  /** Gets the state keys of `contracts` from the principal (when not held yet). */
  ensureStateKeys(contracts: readonly Hex[]): Promise<void>;
  /**
   * Whether `contract` is deployed on chain, can still be (its deployment task is pending and
   * not known here as failed), or never will be.
   */
  deployment(contract: Hex): Promise<"deployed" | "pending" | "absent">;
  /**
   * Before a compute task runs: fetches deltas of the contract that another worker made and
   * this one lacks (after a hand-over, `recovery/predecessors.ts`). Optional.
   */
  beforeCompute?(contract: Hex, record: RecordInfo): Promise<void>;
}

/** A task this worker runs: its input, its record, and its pre-code when a deployment. */
export interface RunnableTask {
  input: TaskInput;
  record: RecordInfo;
  preCode: Uint8Array | undefined;
}

/** Failures worth another try: a peer, the principal or the chain briefly unavailable. */
export const TRANSIENT: ReadonlySet<number> = new Set([
  ErrorCode.ChainError,
  ErrorCode.PeerUnreachable,
  ErrorCode.PeerTimeout,
  ErrorCode.PeerRequestFailed,
  ErrorCode.WorkerUnknown,
  ErrorCode.DeltaSyncFailed,
]);

export interface ExecutionOptions {
  attempts?: number;
  /** Backoff before attempt n+1: `backoffMs * 2^n` (tests make it small). */
  backoffMs?: number;
  /** Told before each retry (logs). */
  onRetry?: (attempt: number, error: EnigmaError) => void;
}

export type ExecutionOutcome =
  | { result: EnclaveTaskResult }
  | { failure: EnigmaError /* nothing the chain can settle: refundable */ };

export class Execution {
  readonly #enclave: EnclavePort;
  readonly #source: ContractSource;
  readonly #o: Required<Omit<ExecutionOptions, "onRetry">> & Pick<ExecutionOptions, "onRetry">;
  /** Contracts whose enclave copy may be behind the store (a delta came from elsewhere). */
  readonly #stale = new Set<string>();

  constructor(enclave: EnclavePort, source: ContractSource, o: ExecutionOptions = {}) {
    this.#enclave = enclave;
    this.#source = source;
    this.#o = { attempts: o.attempts ?? 5, backoffMs: o.backoffMs ?? 200, onRetry: o.onRetry };
  }

  /** A delta of `contract` was stored from elsewhere: reload the enclave copy before next use. */
  markStale(contract: string): void {
    this.#stale.add(contract.toLowerCase());
  }

  /**
   * Whether the next task of `contract` loads it from the store (not in the enclave yet, or
   * stale): the pipeline then lets the contract's writes in flight land first.
   */
  loadsFromStore(contract: string): boolean {
    return !this.#enclave.hasContract(contract) || this.#stale.has(contract.toLowerCase());
  }

  /** Runs `task`, retrying transient failures; `stopped()` ends the retries early. */
  async run(task: RunnableTask, stopped: () => boolean = () => false): Promise<ExecutionOutcome> {
    for (let attempt = 1; ; attempt++) {
      try {
        return { result: await this.#execute(task) };
      } catch (e) {
        const failure = isEnigmaError(e)
          ? e
          : new EnigmaError(ErrorCode.TaskInputRejected, String(e), { cause: e });
        if (!TRANSIENT.has(failure.code) || attempt >= this.#o.attempts || stopped()) {
          return { failure };
        }
        this.#o.onRetry?.(attempt, failure);
        await new Promise((r) => setTimeout(r, this.#o.backoffMs * 2 ** attempt));
      }
    }
  }

  async #execute(t: RunnableTask): Promise<EnclaveTaskResult> {
    const { input, record, preCode } = t;
    const enclaveTask: EnclaveTaskInput = {
      taskId: input.taskId,
      contractAddress: input.contractAddress,
      encryptedFn: hexToBytes(input.encryptedFn),
      encryptedArgs: hexToBytes(input.encryptedArgs),
      userPubKey: hexToBytes(input.userDHKey),
      gasLimit: record.gasLimit,
    };
    if (preCode !== undefined) {
      await this.#source.ensureStateKeys([input.contractAddress]);
      const result = await this.#enclave.deploy({ ...enclaveTask, preCode });
      if (result.success) await this.#source.putCode(input.contractAddress, preCode);
      return result;
    }
    await this.#source.beforeCompute?.(input.contractAddress, record);
    if (!(await this.#ensureLoaded(input.contractAddress))) {
      return this.#enclave.failNotDeployed(enclaveTask);
    }
    return this.#enclave.compute(enclaveTask);
  }

  /**
   * Loads a contract into the enclave from the store (catching up from peers first). False
   * when the contract does not exist and never will (a failure receipt settles its tasks).
   */
  async #ensureLoaded(contract: Hex): Promise<boolean> {
    const enclave = this.#enclave;
    const key = contract.toLowerCase();
    // The enclave copy is current unless a delta came from elsewhere (then it is marked stale).
    if (enclave.hasContract(contract) && !this.#stale.has(key)) return true;
    await this.#source.catchUp(contract);
    const count = await this.#source.deltaCount(contract);
    const loaded = enclave.hasContract(contract) && !this.#stale.has(key);
    if (loaded && enclave.deltaCount(contract) === count) return true;
    const code = await this.#source.code(contract);
    if (code === undefined) {
      const status = await this.#source.deployment(contract);
      if (status === "absent") return false;
      // Deployed (or about to be) but its code is not here yet: worth another try.
      throw new EnigmaError(
        ErrorCode.DeltaSyncFailed,
        `secret contract ${contract} is ${status === "deployed" ? "deployed" : "being deployed"} but its code is not on this node or its peers yet`,
        { details: { contract, status } },
      );
    }
    await this.#source.ensureStateKeys([contract]);
    enclave.loadContract(contract, code, await this.#source.deltas(contract));
    this.#stale.delete(key);
    return true;
  }
}

/** Task statuses after which a deployment will never have run successfully. */
export const FAILED_STATUSES: ReadonlySet<string> = new Set([
  TaskResultStatus.Failed,
  TaskResultStatus.EthereumFailure,
]);
