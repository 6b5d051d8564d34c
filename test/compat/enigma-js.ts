// Typed access to Discovery's original client, enigma-js@0.3.0, loaded exactly as a Node dApp
// loaded it (`require("enigma-js/node")`). The package ships no types: the interfaces below
// describe only what this suite uses, as the client's source defines it.
import { createRequire } from "node:module";
import type * as Web3Types from "web3";

/** web3 1.x's class (its types declare an ES default export; at run time it is module.exports). */
export type Web3 = Web3Types.default;

/** eventemitter3, as the client's methods return it. */
export interface Emitter {
  on(event: string, listener: (...args: never[]) => void): this;
}

/** The client's Task model (src/models/Task.js), as it fills it in along the lifecycle. */
export interface Task {
  scAddr: string;
  taskId: string;
  inputsHash: string;
  encryptedFn: string;
  encryptedAbiEncodedArgs: string;
  gasLimit: number;
  gasPx: number;
  userPubKey: string;
  firstBlockNumber: number;
  workerAddress: string;
  workerEncryptionKey: string;
  sender: string;
  nonce: number;
  preCode: string;
  preCodeHash: string;
  isContractDeploymentTask: boolean;
  creationBlockNumber: number;
  ethStatus: number;
  engStatus: string | null;
  encryptedAbiEncodedOutputs: string;
  delta: { key: number; data: string } | "";
  usedGas: number | "";
  ethereumPayload: string;
  ethereumAddress: string;
  decryptedOutput: string | null;
}

export interface Admin {
  getWorkerStatus(account: string): Promise<number>;
  getBalance(account: string): Promise<number>;
  getWorkerSignerAddr(account: string): Promise<string>;
  findBySigningAddress(signer: string): Promise<{ account: string; status: number }>;
  isDeployed(scAddr: string): Promise<boolean>;
  countSecretContracts(): Promise<number>;
  getAllSecretContractAddresses(): Promise<string[]>;
  getCodeHash(scAddr: string): Promise<string>;
  countStateDeltas(scAddr: string): Promise<number>;
  getStateDeltaHash(scAddr: string, index: number): Promise<string>;
  isValidDeltaHash(scAddr: string, hash: string): Promise<boolean>;
  deposit(account: string, amount: number): Emitter;
  login(account: string): Emitter;
  logout(account: string): Emitter;
  withdraw(account: string, amount: number): Emitter;
}

/** `[value, type]` pairs, as `computeTask` and `deploySecretContract` take arguments. */
export type TaskArgs = [unknown, string][];

export interface WorkerParams {
  firstBlockNumber: number;
  seed: { toString(radix?: number): string };
  workers: string[];
  stakes: { toString(radix?: number): string }[];
}

export interface Enigma {
  admin: Admin;
  /** The token contract the client created from its bundled ABI (web3 1.x). */
  tokenContract: {
    methods: {
      balanceOf(account: string): { call(): Promise<string> };
      transfer(to: string, amount: string): { send(opts: { from: string }): Promise<unknown> };
    };
  };
  setTaskKeyPair(seed?: string): string;
  obtainTaskKeyPair(): { publicKey: string; privateKey: string };
  deploySecretContract(
    fn: string,
    args: TaskArgs,
    gasLimit: number,
    gasPx: number,
    sender: string,
    preCode: Buffer,
    maxRetries?: number,
  ): Emitter;
  computeTask(
    fn: string,
    args: TaskArgs,
    gasLimit: number,
    gasPx: number,
    sender: string,
    scAddr: string,
    maxRetries?: number,
  ): Emitter;
  createTask(
    fn: string,
    args: TaskArgs,
    gasLimit: number,
    gasPx: number,
    sender: string,
    scAddrOrPreCode: string | Buffer,
    isContractDeploymentTask: boolean,
  ): Emitter;
  createTaskRecord(task: Task): Emitter;
  sendTaskInput(task: Task): Emitter;
  getTaskRecordStatus(task: Task): Promise<Task>;
  getTaskRecordFromTaskId(
    taskId: string,
  ): Promise<{ sender: string; status: number; outputHash: string; gasLimit: number }>;
  getTaskResult(task: Task): Emitter;
  decryptTaskResult(task: Task): Promise<Task>;
  pollTaskStatus(task: Task, withResult?: boolean): Emitter;
  verifyTaskOutput(task: Task): Promise<boolean>;
  verifyTaskStatus(task: Task): Promise<boolean>;
  returnFeesForTask(task: Task): Emitter;
  getWorkerParams(blockNumber: number): Promise<WorkerParams>;
  selectWorkerGroup(scAddr: string, params: WorkerParams, size?: number): string[];
}

export interface EnigmaConstructor {
  new (
    web3: Web3,
    enigmaAddress: string,
    tokenAddress: string,
    rpcUrl: string,
    txDefaults?: Record<string, unknown>,
    config?: { retry?: { retries?: number; factor?: number; minTimeout?: number } },
  ): Enigma;
}

export interface EnigmaUtils {
  encryptMessage(derivedKey: string, message: string | Buffer): string;
  decryptMessage(derivedKey: string, message: string): string;
  getDerivedKey(workerEncryptionKey: string, privateKey: string): string;
  hash(inputs: string[]): string;
  generateScAddr(sender: string, nonce: number): string;
}

/** Event names (src/emitterConstants.js). */
export interface EnigmaEvents {
  ERROR: string;
  CREATE_TASK: string;
  CREATE_TASK_RECORD: string;
  DEPLOY_SECRET_CONTRACT_RESULT: string;
  SEND_TASK_INPUT_RESULT: string;
  POLL_TASK_STATUS_RESULT: string;
  GET_TASK_RESULT_RESULT: string;
  RETURN_FEES_FOR_TASK: string;
  DEPOSIT_RECEIPT: string;
  LOGIN_RECEIPT: string;
  LOGOUT_RECEIPT: string;
  WITHDRAW_RECEIPT: string;
}

const require = createRequire(import.meta.url);

const loaded = require("enigma-js/node") as {
  Enigma: EnigmaConstructor;
  utils: EnigmaUtils;
  eeConstants: EnigmaEvents;
};

export const { Enigma, utils, eeConstants } = loaded;

/** web3 1.x, as enigma-js expects it. */
export const Web3Ctor = require("web3") as typeof Web3Types.default.default;

/**
 * Resolves with the first `done` event's value; rejects with the client's `error` event
 * (whatever the client passes: a string, an object or an Error).
 */
export function once<T>(emitter: Emitter, done: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    emitter.on(done, (value: T) => {
      resolve(value);
    });
    emitter.on(eeConstants.ERROR, (err: unknown) => {
      reject(err instanceof Error ? err : new ClientError(err));
    });
  });
}

/** What the client emitted as `error`, kept as is in `reported`. */
export class ClientError extends Error {
  constructor(readonly reported: unknown) {
    super(typeof reported === "string" ? reported : JSON.stringify(reported));
    this.name = "ClientError";
  }
}
