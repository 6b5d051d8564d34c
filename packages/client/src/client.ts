import {
  ENIGMA_ABI,
  ENIGMA_TOKEN_ABI,
  EnigmaError,
  ErrorCode,
  TaskResultStatus,
  base64Encode,
  bytesToHex,
  concatBytes,
  generateKeyPair,
  hexToBytes,
  isEnigmaError,
  keccak256,
  parseAttestationPolicy,
  parseRpcResult,
  parseTrustRoot,
  selectWorker,
  taskId as taskIdOf,
  toRpcHex,
  type AttestationPolicy,
  type Hex,
  type KeyPair,
  type RpcResult,
  type RsaTrustRoot,
  type VerifiedAttestation,
} from "@enigma/protocol";
import { Contract, type ContractTransactionResponse, type Provider, type Signer } from "ethers";
import { decryptOutput, encryptCall } from "./envelope.js";
import { fromChainError } from "./errors.js";
import { defaultGzip, type Gzip } from "./gzip.js";
import { NodeRpcClient } from "./rpc.js";
import { SerialQueue, withRetries } from "./serial.js";
import { TaskHandle, type TaskEvent, type TaskExecution, type TaskReceipt } from "./task.js";
import { checkWorkerKey, verifyWorkerAttestation } from "./verify.js";

export interface EnigmaClientOptions {
  /** Any ethers v6 Signer connected to a Provider: pays fees and signs task records. */
  signer: Signer;
  enigmaAddress: string;
  tokenAddress: string;
  /** A gateway node's JSON-RPC URL. */
  nodeUrl: string;
  /** The attestation service's RSA key, as the Enigma contract was deployed with. */
  trustRoot?: RsaTrustRoot;
  /** What the client accepts of a worker's attestation (DESIGN.md section 6). */
  attestationPolicy?: AttestationPolicy;
  /** Verify the selected worker's attestation before sending it data (default true). */
  verifyWorker?: boolean;
  /**
   * Derive each task's user key pair from this seed and the task id (reproducible); without
   * it every task gets a fresh random key pair.
   */
  keySeed?: Uint8Array;
  /** gzip for the pre-code (default: CompressionStream, Node and browsers). */
  gzip?: Gzip;
  /** Poll interval for node and chain status (default 500 ms). */
  pollIntervalMs?: number;
  /** How long `result()` waits for the worker (default 120 s). */
  resultTimeoutMs?: number;
  /** How long `waitForReceipt()` waits for the commit (default 600 s). */
  receiptTimeoutMs?: number;
  /** Attempts at recording a task when the epoch changes or the nonce races (default 3). */
  maxRecordAttempts?: number;
  /** Injected fetch for the node RPC. */
  fetch?: typeof fetch;
}

export interface TaskOptions {
  /** Enclave gas limit; the fee escrowed is `gasLimit * gasPx` grains. */
  gasLimit: bigint | number;
  gasPx?: bigint | number;
  /** ABI types of the output: `result()` then carries `values`. */
  returnTypes?: readonly string[];
}

/** A task record on Ethereum. */
export interface ChainTaskStatus {
  taskId: Hex;
  sender: string;
  inputsHash: Hex;
  outputHash: Hex;
  gasLimit: bigint;
  gasPx: bigint;
  blockNumber: bigint;
  /** 0 none, 1 recorded, 2 verified, 3 failed, 4 callback failed, 5 fee returned. */
  status: number;
}

interface Epoch {
  firstBlockNumber: bigint;
  seed: bigint;
  workers: string[];
  stakes: bigint[];
}

interface Prepared {
  sender: string;
  taskId: Hex;
  nonce: bigint;
  worker: Hex;
  workerKey: Hex;
  user: KeyPair;
  epoch: Epoch;
}

const DONE = new Set<string>([
  TaskResultStatus.Success,
  TaskResultStatus.Failed,
  TaskResultStatus.EthereumFailure,
]);
const COMMITTED = new Set([2, 3, 4, 5]);
const noHex = (h: string): string => h.replace(/^0x/, "").toLowerCase();
const NONCE_RACE = new Set(["NONCE_EXPIRED", "REPLACEMENT_UNDERPRICED", "TRANSACTION_REPLACED"]);
/** ethers' codes for a transaction nonce taken by another transaction of the same account. */
function isNonceRace(e: unknown): boolean {
  for (let x = e, depth = 0; typeof x === "object" && x !== null && depth < 5; depth++) {
    const { code, cause } = x as { code?: unknown; cause?: unknown };
    if (typeof code === "string" && NONCE_RACE.has(code)) return true;
    x = cause;
  }
  return false;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A failed task as a typed error: the worker encrypts the failure reason as the output, so
 * the user can read it; out of gas and traps get their own codes.
 */
export function taskFailed(x: TaskExecution, p: { user: KeyPair; workerKey: Hex }): EnigmaError {
  let reason: string | undefined;
  try {
    reason = new TextDecoder().decode(decryptOutput(p.user, p.workerKey, x.output).plain);
  } catch {
    reason = undefined;
  }
  const code = /out of gas/i.test(reason ?? "")
    ? ErrorCode.OutOfGas
    : /trap/i.test(reason ?? "")
      ? ErrorCode.ContractTrap
      : x.status === TaskResultStatus.EthereumFailure
        ? ErrorCode.HostCallFailed
        : ErrorCode.TaskInputRejected;
  return new EnigmaError(code, `task ${x.taskId} ended ${x.status}${reason ? `: ${reason}` : ""}`, {
    details: { taskId: x.taskId, status: x.status, ...(reason === undefined ? {} : { reason }) },
  });
}

/**
 * The Enigma client SDK (successor of enigma-js): encrypts inputs for the selected worker
 * after verifying it, records tasks on Ethereum, submits them through a node, and returns
 * decrypted outputs checked against the on-chain receipt.
 *
 * @example
 * const client = new EnigmaClient({ signer, enigmaAddress, tokenAddress, nodeUrl, trustRoot, attestationPolicy });
 * const deploy = client.deploySecretContract(wasm, "construct()", [], { gasLimit: 5_000_000n });
 * const scAddr = await deploy.submitted();
 * const { values } = await client
 *   .computeTask(scAddr, "add(uint256,uint256)", [1, 2], { gasLimit: 1_000_000n, returnTypes: ["uint256"] })
 *   .result();
 */
export class EnigmaClient {
  readonly rpc: NodeRpcClient;
  readonly enigmaAddress: string;
  readonly tokenAddress: string;
  readonly #signer: Signer;
  readonly #provider: Provider;
  readonly #enigma: Contract;
  readonly #token: Contract;
  readonly #verify: boolean;
  readonly #trustRoot: RsaTrustRoot | undefined;
  readonly #policy: AttestationPolicy | undefined;
  readonly #keySeed: Uint8Array | undefined;
  readonly #gzip: Gzip;
  readonly #poll: number;
  readonly #resultTimeout: number;
  readonly #receiptTimeout: number;
  readonly #maxAttempts: number;
  // Workers whose attestation passed, by enclave signer, for the client's lifetime: a signer
  // is one enclave key, and its report only changes if the custodian re-registers it.
  readonly #attested = new Map<string, VerifiedAttestation>();

  constructor(options: EnigmaClientOptions) {
    const provider = options.signer.provider;
    if (provider === null) {
      throw new EnigmaError(ErrorCode.InvalidConfig, "the signer must be connected to a provider");
    }
    this.#verify = options.verifyWorker ?? true;
    if (this.#verify) {
      if (options.trustRoot === undefined || options.attestationPolicy === undefined) {
        throw new EnigmaError(
          ErrorCode.InvalidConfig,
          "worker verification needs trustRoot and attestationPolicy (or verifyWorker: false)",
        );
      }
      this.#trustRoot = parseTrustRoot(options.trustRoot);
      this.#policy = parseAttestationPolicy(options.attestationPolicy);
    }
    this.#signer = options.signer;
    this.#provider = provider;
    this.enigmaAddress = options.enigmaAddress;
    this.tokenAddress = options.tokenAddress;
    this.#enigma = new Contract(options.enigmaAddress, ENIGMA_ABI, options.signer);
    this.#token = new Contract(options.tokenAddress, ENIGMA_TOKEN_ABI, options.signer);
    this.rpc = new NodeRpcClient(
      options.nodeUrl,
      options.fetch === undefined ? {} : { fetch: options.fetch },
    );
    this.#keySeed = options.keySeed;
    this.#gzip = options.gzip ?? defaultGzip;
    this.#poll = options.pollIntervalMs ?? 500;
    this.#resultTimeout = options.resultTimeoutMs ?? 120_000;
    this.#receiptTimeout = options.receiptTimeoutMs ?? 600_000;
    this.#maxAttempts = options.maxRecordAttempts ?? 3;
  }

  // ------------------------------------------------------------------ tasks

  /**
   * Deploys a secret contract: records a deployment task and sends the gzipped pre-code and
   * the encrypted constructor call. The task id (`submitted()`) is the contract's address.
   */
  deploySecretContract(
    wasm: Uint8Array,
    ctorSig: string,
    ctorArgs: readonly unknown[],
    opts: TaskOptions,
  ): TaskHandle {
    return this.#task(undefined, wasm, ctorSig, ctorArgs, opts);
  }

  /** Runs `fnSig(args)` on the secret contract at `scAddr`. */
  computeTask(
    scAddr: string,
    fnSig: string,
    args: readonly unknown[],
    opts: TaskOptions,
  ): TaskHandle {
    return this.#task(bytesToHex(hexToBytes(scAddr, "scAddr")), undefined, fnSig, args, opts);
  }

  #task(
    scAddr: Hex | undefined,
    wasm: Uint8Array | undefined,
    fnSig: string,
    args: readonly unknown[],
    opts: TaskOptions,
  ): TaskHandle {
    const gasLimit = BigInt(opts.gasLimit);
    const gasPx = BigInt(opts.gasPx ?? 1n);
    let prepared: Prepared | undefined;
    return new TaskHandle({
      submitted: async (emit) => {
        const preCode = wasm === undefined ? undefined : await this.#gzip(wasm);
        const { p, call } = await this.#record(scAddr, wasm, fnSig, args, gasLimit, gasPx, emit);
        prepared = p;
        const common = {
          workerAddress: noHex(p.worker),
          encryptedFn: toRpcHex(call.encryptedFn),
          encryptedArgs: toRpcHex(call.encryptedArgs),
          userDHKey: toRpcHex(p.user.publicKey),
        };
        const method = preCode !== undefined ? "deploySecretContract" : "sendTaskInput";
        const sent =
          preCode !== undefined
            ? await this.rpc.call("deploySecretContract", {
                ...common,
                preCode: base64Encode(preCode),
                contractAddress: noHex(p.taskId),
              })
            : await this.rpc.call("sendTaskInput", {
                ...common,
                taskId: noHex(p.taskId),
                contractAddress: noHex(scAddr ?? ""),
              });
        if (!parseRpcResult(method, sent).sendTaskResult) {
          throw new EnigmaError(
            ErrorCode.TaskInputRejected,
            `the node did not take task ${p.taskId}`,
            {
              details: { taskId: p.taskId, worker: p.worker },
            },
          );
        }
        emit({ type: "submitted", taskId: p.taskId, worker: p.worker });
        return p.taskId;
      },
      executed: async (taskId, emit) => {
        const p = prepared;
        if (p === undefined) throw new Error("unreachable: executed before submission");
        const s = await this.#pollStatus(taskId, p.worker);
        const output = s.output === undefined ? new Uint8Array() : hexToBytes(s.output);
        emit({ type: "executed", taskId, status: s.status, output });
        return { taskId, status: s.status, output };
      },
      result: (x) => {
        const p = prepared;
        if (p === undefined) throw new Error("unreachable: result before submission");
        if (x.status !== TaskResultStatus.Success) throw taskFailed(x, p);
        const d = decryptOutput(p.user, p.workerKey, x.output, opts.returnTypes);
        return {
          taskId: x.taskId,
          status: x.status,
          output: d.plain,
          ...(d.values === undefined ? {} : { values: d.values }),
        };
      },
      receipt: async (r, emit) => {
        const receipt = await this.waitForReceipt(r.taskId, r.output);
        emit({
          type: "committed",
          taskId: r.taskId,
          chainStatus: receipt.chainStatus,
          outputHash: receipt.outputHash,
        });
        return receipt;
      },
    });
  }

  /** Reads nonce, epoch and worker; verifies the worker; encrypts; approves; records. */
  async #record(
    scAddr: Hex | undefined,
    wasm: Uint8Array | undefined,
    fnSig: string,
    args: readonly unknown[],
    gasLimit: bigint,
    gasPx: bigint,
    emit: (e: TaskEvent) => void,
  ) {
    // One record at a time per client, retries included: concurrent tasks would otherwise read
    // the same task nonce and race for the signer's transaction nonce, and a record retried
    // after an epoch change must keep its place in line: tasks of one contract run in record
    // order, so a task created later must not be recorded before it.
    return this.#exclusive(() =>
      withRetries(
        this.#maxAttempts,
        async (attempt) => {
          const p = await this.#prepare(scAddr);
          const call = encryptCall(
            p.user,
            p.workerKey,
            fnSig,
            args,
            scAddr ?? { preCode: wasm ?? new Uint8Array() },
          );
          emit({
            type: "created",
            taskId: p.taskId,
            worker: p.worker,
            firstBlockNumber: p.epoch.firstBlockNumber,
            attempt,
          });
          await this.#ensureAllowance(gasLimit * gasPx);
          const tx = (await (scAddr === undefined
            ? this.#enigma.getFunction("createDeploymentTaskRecord")(
                call.inputsHash,
                gasLimit,
                gasPx,
                p.epoch.firstBlockNumber,
                p.nonce,
              )
            : this.#enigma.getFunction("createTaskRecord")(
                call.inputsHash,
                gasLimit,
                gasPx,
                p.epoch.firstBlockNumber,
              ))) as ContractTransactionResponse;
          const mined = await tx.wait();
          // A compute task's id is whatever nonce the record got (another transaction of this
          // sender may have raced it); the inputs do not depend on the id, so adopt it.
          const taskId = this.#recordedTaskId(mined?.logs ?? [], p.sender) ?? p.taskId;
          emit({
            type: "recorded",
            taskId,
            txHash: tx.hash,
            blockNumber: mined?.blockNumber ?? 0,
          });
          return { p: { ...p, taskId }, call };
        },
        (e) => {
          const err = fromChainError(
            e,
            scAddr === undefined ? "createDeploymentTaskRecord" : "createTaskRecord",
          );
          // Retried: a new epoch started (re-select, re-encrypt), the task nonce was taken by
          // another transaction of this sender, or the signer's transaction nonce raced.
          const retry =
            isEnigmaError(err, ErrorCode.WrongEpoch) ||
            isEnigmaError(err, ErrorCode.TaskNonceMismatch) ||
            isNonceRace(e);
          return { retry, error: err };
        },
      ),
    );
  }

  #exclusive<T>(f: () => Promise<T>): Promise<T> {
    return this.#queue.run(f);
  }

  readonly #queue = new SerialQueue();

  #recordedTaskId(
    logs: readonly { topics: readonly string[]; data: string }[],
    sender: string,
  ): Hex | undefined {
    for (const log of logs) {
      const parsed = this.#enigma.interface.parseLog(log);
      if (parsed?.name === "TaskRecordCreated") {
        if (String(parsed.args[4]).toLowerCase() === sender.toLowerCase()) {
          return bytesToHex(hexToBytes(String(parsed.args[0])));
        }
      }
    }
    return undefined;
  }

  async #prepare(scAddr: Hex | undefined): Promise<Prepared> {
    const sender = await this.#signer.getAddress();
    const nonce = await this.#view<bigint>("getUserTaskDeployments", sender);
    const taskId = taskIdOf(sender, nonce);
    const epoch = await this.currentEpoch();
    const selected = selectWorker(scAddr ?? taskId, epoch);
    if (selected === undefined) {
      throw new EnigmaError(ErrorCode.NoEpoch, "the current epoch has no staked worker", {
        details: { firstBlockNumber: epoch.firstBlockNumber.toString() },
      });
    }
    const worker = bytesToHex(hexToBytes(selected));
    const user = this.#userKey(taskId);
    const raw = await this.rpc.call("getWorkerEncryptionKey", {
      workerAddress: noHex(worker),
      userPubKey: toRpcHex(user.publicKey),
    });
    const k = parseRpcResult("getWorkerEncryptionKey", raw).result;
    // Refuse before anything is encrypted to the key: signed by the selected worker...
    checkWorkerKey(k.workerEncryptionKey, k.workerSig, worker);
    // ...whose enclave is attested by the trust root under our policy.
    if (this.#verify) await this.verifyWorker(worker);
    return { sender, taskId, nonce, worker, workerKey: k.workerEncryptionKey, user, epoch };
  }

  #userKey(taskId: Hex): KeyPair {
    if (this.#keySeed === undefined) return generateKeyPair();
    return generateKeyPair(keccak256(concatBytes(this.#keySeed, hexToBytes(taskId))));
  }

  async #ensureAllowance(fee: bigint): Promise<void> {
    const owner = await this.#signer.getAddress();
    const allowance = await this.#tokenView<bigint>("allowance", owner, this.enigmaAddress);
    if (allowance >= fee) return;
    await this.#send(this.#token, "approve", this.enigmaAddress, fee);
  }

  async #pollStatus(taskId: Hex, worker: Hex): Promise<RpcResult<"getTaskStatus">["result"]> {
    const until = Date.now() + this.#resultTimeout;
    for (;;) {
      const raw = await this.rpc.call("getTaskStatus", {
        taskId: noHex(taskId),
        workerAddress: noHex(worker),
        withResult: true,
      });
      const s = parseRpcResult("getTaskStatus", raw).result;
      if (DONE.has(s.status)) return s;
      if (Date.now() > until) {
        throw new EnigmaError(ErrorCode.PeerTimeout, `task ${taskId} has no result yet`, {
          details: { taskId, status: s.status },
        });
      }
      await sleep(this.#poll);
    }
  }

  // ------------------------------------------------------------------ reads

  /** The epoch in force now: first block, seed, worker signers and stakes. */
  async currentEpoch(): Promise<Epoch> {
    const head = await this.#provider.getBlockNumber();
    const r = await this.#view<[bigint, bigint, string[], bigint[]]>("getWorkerParams", head);
    const [first, seed, workers, stakes] = r;
    if (first === 0n) {
      throw new EnigmaError(ErrorCode.NoEpoch, "no epoch has started yet: wait for the principal");
    }
    return { firstBlockNumber: first, seed, workers: [...workers], stakes: [...stakes] };
  }

  /**
   * Verifies a worker's on-chain attestation report (cached once it passes). Throws the
   * attestation error codes (305-312) or `WorkerNotRegistered`.
   */
  async verifyWorker(signer: string): Promise<VerifiedAttestation> {
    const key = signer.toLowerCase();
    const cached = this.#attested.get(key);
    if (cached !== undefined) return cached;
    if (this.#trustRoot === undefined || this.#policy === undefined) {
      throw new EnigmaError(ErrorCode.InvalidConfig, "no trust root configured");
    }
    const v = await verifyWorkerAttestation(
      this.#provider,
      this.enigmaAddress,
      signer,
      this.#trustRoot,
      this.#policy,
    );
    this.#attested.set(key, v);
    return v;
  }

  /** The task's record on Ethereum (status 0 when there is none). */
  async getTaskStatus(taskId: string): Promise<ChainTaskStatus> {
    const id = bytesToHex(hexToBytes(taskId, "taskId"));
    const r = await this.#view<{
      sender: string;
      inputsHash: string;
      outputHash: string;
      gasLimit: bigint;
      gasPx: bigint;
      blockNumber: bigint;
      status: bigint;
    }>("getTaskRecord", id);
    return {
      taskId: id,
      sender: r.sender,
      inputsHash: r.inputsHash as Hex,
      outputHash: r.outputHash as Hex,
      gasLimit: r.gasLimit,
      gasPx: r.gasPx,
      blockNumber: r.blockNumber,
      status: Number(r.status),
    };
  }

  /** The node's copy of a task's result (encrypted output, delta, gas), or null. */
  async getTaskResult(taskId: string): Promise<RpcResult<"getTaskResult">["result"]> {
    const raw = await this.rpc.call("getTaskResult", { taskId: noHex(taskId) });
    return parseRpcResult("getTaskResult", raw).result;
  }

  /**
   * Waits until the task's receipt is on Ethereum (status 2, 3, 4 or 5). With the encrypted
   * output received from the node, checks that the on-chain output hash is its keccak256
   * (`ResultRejected` otherwise).
   */
  async waitForReceipt(taskId: string, encryptedOutput?: Uint8Array): Promise<TaskReceipt> {
    const until = Date.now() + this.#receiptTimeout;
    for (;;) {
      const s = await this.getTaskStatus(taskId);
      if (COMMITTED.has(s.status)) {
        if (encryptedOutput !== undefined && (s.status === 2 || s.status === 3)) {
          const expected = bytesToHex(keccak256(encryptedOutput));
          if (expected !== s.outputHash.toLowerCase()) {
            throw new EnigmaError(
              ErrorCode.ResultRejected,
              "the output hash on chain does not match the output the node returned",
              { details: { taskId: s.taskId, onChain: s.outputHash, received: expected } },
            );
          }
        }
        return { taskId: s.taskId, chainStatus: s.status, outputHash: s.outputHash };
      }
      if (Date.now() > until) {
        throw new EnigmaError(ErrorCode.PeerTimeout, `task ${taskId} is not committed yet`, {
          details: { taskId, status: s.status },
        });
      }
      await sleep(this.#poll);
    }
  }

  /** Refunds a task nobody committed within the timeout (`Enigma.returnFeesForTask`). */
  async returnFees(taskId: string): Promise<void> {
    await this.#exclusive(() =>
      this.#send(this.#enigma, "returnFeesForTask", bytesToHex(hexToBytes(taskId, "taskId"))),
    );
  }

  // ------------------------------------------------------------------ worker admin

  /** Approves and deposits `amount` grains of stake for `custodian` (default: the signer). */
  async deposit(amount: bigint, custodian?: string): Promise<void> {
    const who = custodian ?? (await this.#signer.getAddress());
    await this.#exclusive(async () => {
      await this.#ensureAllowance(amount);
      await this.#send(this.#enigma, "deposit", who, amount);
    });
  }

  async login(): Promise<void> {
    await this.#exclusive(() => this.#send(this.#enigma, "login"));
  }

  async logout(): Promise<void> {
    await this.#exclusive(() => this.#send(this.#enigma, "logout"));
  }

  /** Withdraws `amount` grains of stake to the signer (only when logged out). */
  async withdraw(amount: bigint): Promise<void> {
    await this.#exclusive(() => this.#send(this.#enigma, "withdraw", amount));
  }

  /** Stake balance (grains) and status of a worker custodian (default: the signer). */
  async workerBalance(custodian?: string): Promise<{ balance: bigint; status: number }> {
    const who = custodian ?? (await this.#signer.getAddress());
    const w = await this.#view<{ balance: bigint; status: bigint }>("getWorker", who);
    return { balance: w.balance, status: Number(w.status) };
  }

  /** ENG balance in grains (default: the signer). */
  async tokenBalance(address?: string): Promise<bigint> {
    return this.#tokenView<bigint>("balanceOf", address ?? (await this.#signer.getAddress()));
  }

  // ------------------------------------------------------------------ plumbing

  async #view<T>(fn: string, ...args: unknown[]): Promise<T> {
    try {
      return (await this.#enigma.getFunction(fn).staticCall(...args)) as T;
    } catch (e) {
      throw fromChainError(e, fn);
    }
  }

  async #tokenView<T>(fn: string, ...args: unknown[]): Promise<T> {
    try {
      return (await this.#token.getFunction(fn).staticCall(...args)) as T;
    } catch (e) {
      throw fromChainError(e, fn);
    }
  }

  async #send(c: Contract, fn: string, ...args: unknown[]): Promise<void> {
    try {
      const tx = (await c.getFunction(fn)(...args)) as ContractTransactionResponse;
      await tx.wait();
    } catch (e) {
      throw fromChainError(e, fn);
    }
  }
}
