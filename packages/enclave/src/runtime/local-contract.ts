// A secret contract on this machine alone (`enigma sc exec`): deployed, run and, with a
// directory, kept across runs. Its state key is made here and never leaves this package: in a
// directory it is sealed to the platform (`platform.key`, like a worker's enclave directory)
// together with the encrypted deltas, so the directory holds no plaintext key or state.
import { randomBytes } from "node:crypto";
import { readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  EnigmaError,
  ErrorCode,
  bytesToHex,
  concatBytes,
  equalBytes,
  hexToBytes,
  keccak256,
  u64be,
} from "@enigma/protocol";
import { loadOrCreatePlatformKey } from "../identity.js";
import { Sealer } from "../sealing.js";
import type { EncryptedDelta } from "../state/deltas.js";
import {
  ContractInstance,
  type ExecutorLike,
  type TaskInput,
  type TaskOutcome,
} from "./contract.js";

/** The sealed file of a local contract inside its directory. */
export const LOCAL_CONTRACT_FILE = "contract.sealed";
const PLATFORM_FILE = "platform.key";
const LABEL = "enigma.local-contract.v1";

interface Persisted {
  stateKey: string;
  codeHash: string;
  tasks: number;
  deltas: { index: number; hash: string; data: string }[];
}

/**
 * @example
 * const local = await LocalContract.open(code, executor, { dir: ".sc-state" });
 * if (!local.deployed) await local.deploy({ functionName: "construct()", args, gasLimit });
 * const { result } = await local.run({ functionName: "add(uint256,uint256)", args, gasLimit });
 * await local.save();
 */
export class LocalContract {
  readonly code: Uint8Array;
  readonly codeHash: Uint8Array;
  readonly #executor: ExecutorLike;
  readonly #stateKey: Uint8Array;
  readonly #dir: string | undefined;
  readonly #sealer: Sealer | undefined;
  #instance: ContractInstance | undefined;
  #deltas: EncryptedDelta[];
  #tasks: number;

  private constructor(
    code: Uint8Array,
    executor: ExecutorLike,
    stateKey: Uint8Array,
    dir: string | undefined,
    sealer: Sealer | undefined,
    persisted: { tasks: number; deltas: EncryptedDelta[] } | undefined,
  ) {
    this.code = code.slice();
    this.codeHash = keccak256(code);
    this.#executor = executor;
    this.#stateKey = stateKey;
    this.#dir = dir;
    this.#sealer = sealer;
    this.#tasks = persisted?.tasks ?? 0;
    this.#deltas = persisted?.deltas ?? [];
    if (persisted !== undefined) {
      this.#instance = ContractInstance.restore(executor, code, (fn) => fn(stateKey), this.#deltas);
    }
  }

  /**
   * Opens the contract kept in `dir` (or a fresh one there; without `dir`, one in memory).
   * Throws InvalidArgument when `dir` holds another contract, SealedDataRejected when its file
   * was sealed on another platform or changed.
   */
  static async open(
    code: Uint8Array,
    executor: ExecutorLike,
    options: { dir?: string } = {},
  ): Promise<LocalContract> {
    const dir = options.dir;
    if (dir === undefined) {
      return new LocalContract(code, executor, randomBytes(32), undefined, undefined, undefined);
    }
    const sealer = new Sealer(await loadOrCreatePlatformKey(join(dir, PLATFORM_FILE)));
    let blob: Uint8Array | undefined;
    try {
      blob = new Uint8Array(await readFile(join(dir, LOCAL_CONTRACT_FILE)));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
    if (blob === undefined) {
      return new LocalContract(code, executor, randomBytes(32), dir, sealer, undefined);
    }
    const p = JSON.parse(new TextDecoder().decode(sealer.unseal(LABEL, blob))) as Persisted;
    if (!equalBytes(hexToBytes(p.codeHash), keccak256(code))) {
      throw new EnigmaError(
        ErrorCode.InvalidArgument,
        `${dir} holds another contract (code hash ${p.codeHash})`,
        { details: { dir, codeHash: p.codeHash } },
      );
    }
    return new LocalContract(code, executor, hexToBytes(p.stateKey), dir, sealer, {
      tasks: p.tasks,
      deltas: p.deltas.map((d) => ({
        index: d.index,
        hash: hexToBytes(d.hash),
        data: hexToBytes(d.data),
      })),
    });
  }

  /** True once the constructor has run successfully. */
  get deployed(): boolean {
    return this.#instance !== undefined;
  }

  /** The encrypted deltas so far. */
  get deltas(): readonly EncryptedDelta[] {
    return this.#deltas;
  }

  /** Plaintext entries (this is a simulation: showing them is the point of the local tool). */
  entries(): ReturnType<ContractInstance["entries"]> {
    return this.#instance?.entries() ?? [];
  }

  /** The next task's id: keccak256(codeHash || u64 task number). */
  #taskId(): Uint8Array {
    return keccak256(concatBytes(this.codeHash, u64be(this.#tasks++)));
  }

  /** Runs the constructor (once; InvalidArgument when the contract is deployed). */
  async deploy(ctor: Omit<TaskInput, "taskId">): Promise<TaskOutcome> {
    if (this.#instance !== undefined) {
      throw new EnigmaError(ErrorCode.InvalidArgument, "the contract is already deployed");
    }
    const { instance, outcome } = await ContractInstance.deploy(
      this.#executor,
      this.code,
      (fn) => fn(this.#stateKey),
      { ...ctor, taskId: this.#taskId() },
    );
    this.#instance = instance;
    if (outcome.delta !== null) this.#deltas.push(outcome.delta);
    return outcome;
  }

  /** Runs a task of the deployed contract. */
  async run(task: Omit<TaskInput, "taskId">): Promise<TaskOutcome> {
    const instance = this.#instance;
    if (instance === undefined) {
      throw new EnigmaError(ErrorCode.SecretContractNotDeployed, "the contract is not deployed");
    }
    const outcome = await instance.run({ ...task, taskId: this.#taskId() });
    if (outcome.delta !== null) this.#deltas.push(outcome.delta);
    return outcome;
  }

  /** Seals the key, the code hash and the deltas to the directory (atomically). */
  async save(): Promise<void> {
    if (this.#dir === undefined || this.#sealer === undefined) return;
    const p: Persisted = {
      stateKey: bytesToHex(this.#stateKey),
      codeHash: bytesToHex(this.codeHash),
      tasks: this.#tasks,
      deltas: this.#deltas.map((d) => ({
        index: d.index,
        hash: bytesToHex(d.hash),
        data: bytesToHex(d.data),
      })),
    };
    const file = join(this.#dir, LOCAL_CONTRACT_FILE);
    const tmp = `${file}.${bytesToHex(randomBytes(4)).slice(2)}.tmp`;
    await writeFile(tmp, this.#sealer.seal(LABEL, new TextEncoder().encode(JSON.stringify(p))), {
      mode: 0o600,
    });
    await rename(tmp, file);
  }
}
