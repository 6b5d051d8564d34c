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
  readTaskRecordLog,
  deriveSharedKey,
  WORKER_SELECTION_ABI,
  taskId as taskIdOf,
  toRpcHex,
  type AttestationPolicy,
  type Hex,
  type KeyPair,
  type RpcResult,
  type RsaTrustRoot,
  type VerifiedAttestation,
  type WorkerSelectionStrategy,
} from "@enigma/protocol";
import {
  Contract,
  Interface,
  MaxUint256,
  SocketProvider,
  type Provider,
  type Signer,
} from "ethers";
import { decryptOutputWith, encryptCallWith, type EncryptedCall } from "./envelope.js";
import { EpochCache, type Epoch } from "./epoch.js";
import { fromChainError } from "./errors.js";
import { defaultGzip, type Gzip } from "./gzip.js";
import { NodeRpcClient } from "./rpc.js";
import { ClientSelection } from "./selection.js";
import { SerialQueue, withRetries } from "./serial.js";
import {
  TaskHandle,
  type TaskEvent,
  type TaskExecution,
  type TaskReceipt,
  type TaskTimings,
} from "./task.js";
import { TxSender, again, type SentTx, type Target } from "./tx.js";
import { AttestationCache, chainReportSource, checkWorkerKey } from "./verify.js";
import { TaskWatch } from "./watch.js";
import { NodeSocket, nodeWsUrl, type WebSocketFactory } from "./ws.js";

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
  /**
   * Poll interval for node and chain status when nothing is pushed (default 500 ms): the
   * node's WebSocket pushes results, a `WebSocketProvider` pushes blocks.
   */
  pollIntervalMs?: number;
  /**
   * The node's WebSocket URL for pushed task statuses (default: `nodeUrl` with `ws(s):` and
   * path `/ws`); `false`: poll over HTTP only.
   */
  nodeWsUrl?: string | false;
  /** Opens WebSockets (default: the runtime's global `WebSocket`, Node >= 22 and browsers). */
  webSocket?: WebSocketFactory;
  /**
   * How the fee allowance to `Enigma` is granted: `"exact"` (default) approves the missing
   * amount when the allowance is short, so a task is two transactions; `"max"` approves
   * `2^256 - 1` once (a standing approval: every later task is one transaction).
   */
  approve?: "exact" | "max";
  /** How long a transaction of the client may take to be mined (default 120 s). */
  txTimeoutMs?: number;
  /** How long `result()` waits for the worker (default 120 s). */
  resultTimeoutMs?: number;
  /** How long `waitForReceipt()` waits for the commit (default 600 s). */
  receiptTimeoutMs?: number;
  /**
   * Attempts at recording a task when its transaction fails in a way worth another try: the
   * nonce raced, the fees went stale, it ran out of gas (default 3). An epoch change has its
   * own budget, `maxEpochChanges`.
   */
  maxRecordAttempts?: number;
  /**
   * Epoch changes a task's record may meet before the task fails (default 20). Each one is a
   * record that reverted `WrongEpoch` because a new epoch started between reading the epoch and
   * mining the record; the task is prepared again for the new epoch's worker. Not the client's
   * fault and not lasting, so it gets more tries than other failures: on a devnet whose epochs
   * are 10 blocks of one transaction each, 32 senders start a new epoch every ~100 ms, about
   * as long as a record takes, and 3 attempts left 40% of the tasks failed.
   */
  maxEpochChanges?: number;
  /** Injected fetch for the node RPC. */
  fetch?: typeof fetch;
  /**
   * The worker-selection strategy, a registry name (`"group:3"`) or a strategy object; default
   * Discovery's. It must be the one the Enigma contract was deployed with: the first task reads
   * the contract's and refuses a mismatch (`SelectionMismatch`, 123). The client encrypts for
   * the first member of the contract's group, or the one a task's `groupMember` names.
   */
  selection?: WorkerSelectionStrategy | string;
}

export interface TaskOptions {
  /** Enclave gas limit; the fee escrowed is `gasLimit * gasPx` grains. */
  gasLimit: bigint | number;
  gasPx?: bigint | number;
  /** ABI types of the output: `result()` then carries `values`. */
  returnTypes?: readonly string[];
  /**
   * Under a strategy with groups (`group:k`), which member of the contract's group the task
   * is encrypted for and run by: 0 (default) the first, as Discovery's client chose; another
   * one when the first does not answer. The chain accepts the receipt of any member.
   */
  groupMember?: number;
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

interface Prepared {
  sender: string;
  taskId: Hex;
  nonce: bigint;
  worker: Hex;
  workerKey: Hex;
  user: KeyPair;
  /** `deriveSharedKey(user.privateKey, workerKey)`, derived once per task. */
  sharedKey: Uint8Array;
  epoch: Epoch;
}

/** A recorded task whose input is on its way (or taken). */
interface Recorded {
  p: Prepared;
  input: Promise<void>;
  watch: TaskWatch;
}

const COMMITTED = new Set([2, 3, 4, 5]);
const noHex = (h: string): string => h.replace(/^0x/, "").toLowerCase();
const NONCE_RACE = new Set(["NONCE_EXPIRED", "REPLACEMENT_UNDERPRICED", "TRANSACTION_REPLACED"]);
// A chain that says so in words: a nonce another transaction took, fees below the base fee.
const RACE_TEXT = /nonce too (low|high)|fee per gas|base ?fee|underpriced/i;
/**
 * ethers' codes (or the chain's words) for a transaction nonce taken by another transaction of
 * the same account, or fee data gone stale: the send is retried with both read again.
 */
export function isNonceRace(e: unknown): boolean {
  for (let x = e, depth = 0; typeof x === "object" && x !== null && depth < 6; depth++) {
    const { code, cause, message, error } = x as {
      code?: unknown;
      cause?: unknown;
      message?: unknown;
      error?: unknown;
    };
    if (typeof code === "string" && NONCE_RACE.has(code)) return true;
    if (typeof message === "string" && RACE_TEXT.test(message)) return true;
    x = cause ?? error;
  }
  return false;
}
const noop = (): void => undefined;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * A failed task as a typed error: the worker encrypts the failure reason as the output, so
 * the user can read it; out of gas and traps get their own codes.
 */
export function taskFailed(x: TaskExecution, p: { sharedKey: Uint8Array }): EnigmaError {
  let reason: string | undefined;
  try {
    reason =
      x.output.length === 0
        ? undefined
        : new TextDecoder().decode(decryptOutputWith(p.sharedKey, x.output).plain);
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
  /** The node's WebSocket (pushed task statuses); undefined with `nodeWsUrl: false`. */
  readonly socket: NodeSocket | undefined;
  readonly enigmaAddress: string;
  readonly tokenAddress: string;
  readonly #provider: Provider;
  readonly #enigma: Contract;
  readonly #token: Contract;
  readonly #enigmaTarget: Target;
  readonly #tokenTarget: Target;
  readonly #tx: TxSender;
  readonly #epochs: EpochCache;
  readonly #selection: ClientSelection;
  readonly #attestations: AttestationCache | undefined;
  readonly #verify: boolean;
  readonly #keySeed: Uint8Array | undefined;
  readonly #gzip: Gzip;
  readonly #poll: number;
  readonly #resultTimeout: number;
  readonly #receiptTimeout: number;
  readonly #maxAttempts: number;
  readonly #maxEpochChanges: number;
  readonly #approve: "exact" | "max";
  // The sender's task counter (`getUserTaskDeployments`) as this client expects it after its
  // own records: read once, counted locally, read again after any failed record. Task ids are
  // known before a record is mined, so the input can go out with the record transaction.
  #taskNonce: bigint | undefined;
  // The allowance to Enigma as this client expects it (undefined: read it).
  #allowance: bigint | undefined;
  readonly #queue = new SerialQueue();

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
      this.#attestations = new AttestationCache(
        chainReportSource(provider, options.enigmaAddress),
        parseTrustRoot(options.trustRoot),
        parseAttestationPolicy(options.attestationPolicy),
      );
    }
    // Checked at run time too: JavaScript callers pass anything.
    const approve: string = options.approve ?? "exact";
    if (approve !== "exact" && approve !== "max") {
      throw new EnigmaError(ErrorCode.InvalidConfig, `approve must be "exact" or "max"`, {
        details: { approve },
      });
    }
    this.#approve = approve;
    this.#provider = provider;
    this.enigmaAddress = options.enigmaAddress;
    this.tokenAddress = options.tokenAddress;
    this.#enigma = new Contract(options.enigmaAddress, ENIGMA_ABI, options.signer);
    this.#token = new Contract(options.tokenAddress, ENIGMA_TOKEN_ABI, options.signer);
    this.#enigmaTarget = { address: options.enigmaAddress, iface: new Interface(ENIGMA_ABI) };
    this.#tokenTarget = { address: options.tokenAddress, iface: new Interface(ENIGMA_TOKEN_ABI) };
    this.rpc = new NodeRpcClient(
      options.nodeUrl,
      options.fetch === undefined ? {} : { fetch: options.fetch },
    );
    this.#keySeed = options.keySeed;
    this.#gzip = options.gzip ?? defaultGzip;
    this.#poll = options.pollIntervalMs ?? 500;
    this.#resultTimeout = options.resultTimeoutMs ?? 120_000;
    this.#receiptTimeout = options.receiptTimeoutMs ?? 600_000;
    this.#maxAttempts = attemptsOption(options, "maxRecordAttempts", 3);
    this.#maxEpochChanges = attemptsOption(options, "maxEpochChanges", 20);
    this.#tx = new TxSender(options.signer, provider, {
      pollMs: this.#poll,
      timeoutMs: options.txTimeoutMs ?? 120_000,
    });
    this.#epochs = new EpochCache({
      read: () => this.#readEpoch(),
      epochSize: () => this.#view<bigint>("getEpochSize"),
      blockNumber: () => again(() => this.#provider.getBlockNumber()),
    });
    this.#selection = new ClientSelection(options.selection, {
      deployedName: async () => {
        const address = await this.#view<string>("SELECTION");
        const strategy = new Contract(address, WORKER_SELECTION_ABI, provider);
        try {
          return (await again(() => strategy.getFunction("name").staticCall())) as string;
        } catch (e) {
          throw fromChainError(e, "name");
        }
      },
      epochAt: (block) => this.#readEpoch(block, false),
      indexOf: (first) => this.#epochIndex(first),
    });
    const wsUrl = options.nodeWsUrl ?? nodeWsUrl(options.nodeUrl);
    this.socket =
      wsUrl === false
        ? undefined
        : new NodeSocket(
            wsUrl,
            options.webSocket === undefined ? {} : { webSocket: options.webSocket },
          );
  }

  /** Closes the node WebSocket (later calls use HTTP and polling). */
  close(): void {
    this.socket?.close();
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
    const member = opts.groupMember ?? 0;
    // Refused before any chain request: a bad index would otherwise surface only after the
    // epoch and the group were read (its range is checked there, against the group's size).
    if (!Number.isSafeInteger(member) || member < 0) {
      throw new EnigmaError(
        ErrorCode.InvalidArgument,
        `groupMember must be a group index (an integer from 0), got ${String(member)}`,
        { details: { groupMember: String(member) } },
      );
    }
    const timings: TaskTimings = { started: performance.now() };
    let recorded: Recorded | undefined;
    return new TaskHandle({
      timings,
      submitted: async (emit) => {
        const preCode = wasm === undefined ? undefined : await this.#gzip(wasm);
        const r = await this.#record(
          scAddr,
          preCode,
          wasm,
          fnSig,
          args,
          gasLimit,
          gasPx,
          emit,
          timings,
          member,
        );
        recorded = r;
        try {
          await r.input;
        } catch (e) {
          r.watch.cancel();
          throw e;
        }
        emit({ type: "submitted", taskId: r.p.taskId, worker: r.p.worker });
        return r.p.taskId;
      },
      executed: async (taskId, emit) => {
        const r = recorded;
        if (r === undefined) throw new Error("unreachable: executed before submission");
        const s = await r.watch.done(this.#resultTimeout);
        timings.executed = performance.now();
        const output = s.output === undefined ? new Uint8Array() : hexToBytes(s.output);
        emit({ type: "executed", taskId, status: s.status, output });
        return { taskId, status: s.status, output };
      },
      result: (x) => {
        const p = recorded?.p;
        if (p === undefined) throw new Error("unreachable: result before submission");
        if (x.status !== TaskResultStatus.Success) throw taskFailed(x, p);
        const d = decryptOutputWith(p.sharedKey, x.output, opts.returnTypes);
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

  /**
   * Selects and verifies the worker, encrypts, grants the fee allowance, sends the record
   * transaction and, as soon as it is sent (not mined), the input: a node holds an input whose
   * record is not mined yet, so the input is on its way before the next record of the contract
   * can be mined. Resolves once the record is mined, with the input's send still pending.
   */
  async #record(
    scAddr: Hex | undefined,
    preCode: Uint8Array | undefined,
    wasm: Uint8Array | undefined,
    fnSig: string,
    args: readonly unknown[],
    gasLimit: bigint,
    gasPx: bigint,
    emit: (e: TaskEvent) => void,
    timings: TaskTimings,
    member: number,
  ): Promise<Recorded> {
    const action = scAddr === undefined ? "createDeploymentTaskRecord" : "createTaskRecord";
    // One record at a time per client, retries included: the task and transaction nonces are
    // counted locally, and a record retried after an epoch change must keep its place in line
    // (tasks of one contract run in record order, so a task created later must not be
    // recorded before it). The queue is released once the record is mined; the input's send
    // and the wait for the result go on outside it.
    let epochChanges = 0;
    let failures = 0;
    return this.#queue.run(() =>
      withRetries(
        Number.POSITIVE_INFINITY,
        async (attempt) => {
          const p = await this.#prepare(scAddr, member);
          const call = encryptCallWith(
            p.sharedKey,
            p.user.publicKey,
            fnSig,
            args,
            scAddr ?? { preCode: wasm ?? new Uint8Array() },
          );
          timings.prepared = performance.now();
          emit({
            type: "created",
            taskId: p.taskId,
            worker: p.worker,
            firstBlockNumber: p.epoch.firstBlockNumber,
            attempt,
          });
          // Subscribed before the input goes: no notification can be missed.
          const watch = this.#watch(p.taskId, p.worker, false);
          try {
            const fee = gasLimit * gasPx;
            await this.#ensureAllowance(fee);
            const sent = await this.#tx.send(
              this.#enigmaTarget,
              action,
              scAddr === undefined
                ? [call.inputsHash, gasLimit, gasPx, p.epoch.firstBlockNumber, p.nonce]
                : [call.inputsHash, gasLimit, gasPx, p.epoch.firstBlockNumber],
            );
            timings.sent = performance.now();
            await watch.ready;
            const input = this.#sendInput(p, call, scAddr, preCode).then(() => {
              timings.inputAccepted ??= performance.now();
            });
            // Settled by whoever awaits it; a superseded attempt's input is dropped here.
            input.catch(noop);
            const mined = await this.#mined(sent, fee);
            timings.recorded = performance.now();
            // A compute task's id is whatever nonce the record got (another client of this
            // account may have raced it); the inputs do not depend on the id: send them again
            // under the id the record got.
            const taskId = this.#recordedTaskId(mined.logs, p.sender) ?? p.taskId;
            this.#taskNonce = taskId === p.taskId ? p.nonce + 1n : undefined;
            emit({ type: "recorded", taskId, txHash: sent.hash, blockNumber: mined.blockNumber });
            if (taskId === p.taskId) return { p, input, watch };
            watch.cancel();
            const q = { ...p, taskId };
            const again = this.#watch(taskId, p.worker, true);
            await again.ready;
            return { p: q, input: this.#sendInput(q, call, scAddr, preCode), watch: again };
          } catch (e) {
            watch.cancel();
            throw e;
          }
        },
        (e) => {
          const err = fromChainError(e, action);
          // Retried: a new epoch started (re-select, re-encrypt: same task id), the task nonce
          // was taken by another transaction of this sender, the transaction nonce raced or
          // the fees went stale, or the record ran out of gas (estimated again).
          const wrongEpoch = err.code === ErrorCode.WrongEpoch;
          if (wrongEpoch) this.#epochs.invalidate();
          const retry = wrongEpoch
            ? ++epochChanges < this.#maxEpochChanges
            : (err.code === ErrorCode.TaskNonceMismatch ||
                (err.code === ErrorCode.TransactionReverted && err.details["outOfGas"] === true) ||
                isNonceRace(e)) &&
              ++failures < this.#maxAttempts;
          // Whatever failed, the counters may be off: read them again.
          this.#taskNonce = undefined;
          this.#allowance = undefined;
          return { retry, error: err };
        },
      ),
    );
  }

  /** Waits for a record; the allowance it used is spent. */
  async #mined(sent: SentTx, fee: bigint) {
    const receipt = await this.#tx.mined(sent);
    if (this.#allowance !== undefined && this.#allowance !== MaxUint256) this.#allowance -= fee;
    return receipt;
  }

  /** Sends the task's input to the node; `TaskSkipped` (435) and the like reject at once. */
  async #sendInput(
    p: Prepared,
    call: EncryptedCall,
    scAddr: Hex | undefined,
    preCode: Uint8Array | undefined,
  ): Promise<void> {
    const common = {
      workerAddress: noHex(p.worker),
      encryptedFn: toRpcHex(call.encryptedFn),
      encryptedArgs: toRpcHex(call.encryptedArgs),
      userDHKey: toRpcHex(p.user.publicKey),
    };
    const method = preCode !== undefined ? "deploySecretContract" : "sendTaskInput";
    const params =
      preCode !== undefined
        ? { ...common, preCode: base64Encode(preCode), contractAddress: noHex(p.taskId) }
        : { ...common, taskId: noHex(p.taskId), contractAddress: noHex(scAddr ?? "") };
    const sent = await this.#call(method, params);
    if (!parseRpcResult(method, sent).sendTaskResult) {
      throw new EnigmaError(ErrorCode.TaskInputRejected, `the node did not take task ${p.taskId}`, {
        details: { taskId: p.taskId, worker: p.worker },
      });
    }
  }

  #watch(taskId: Hex, worker: Hex, checkFirst: boolean): TaskWatch {
    return new TaskWatch(
      { call: (m, params) => this.#call(m, params), socket: this.socket, pollMs: this.#poll },
      taskId,
      worker,
      checkFirst,
    );
  }

  /**
   * A node call over the WebSocket when one is open (no HTTP request per call), else HTTP
   * (while the socket connects in the background); a socket lost during the call is retried
   * over HTTP.
   */
  async #call(method: string, params: unknown): Promise<unknown> {
    const socket = this.socket;
    if (socket !== undefined && !socket.connected) {
      // Connect in the background; this call does not wait for it.
      void socket.open();
    }
    if (socket?.connected === true) {
      try {
        return await socket.call(method, params);
      } catch (e) {
        if (!isEnigmaError(e, ErrorCode.RpcTransport)) throw e;
      }
    }
    return this.rpc.call(method, params);
  }

  #recordedTaskId(
    logs: readonly { topics: readonly string[]; data: string }[],
    sender: string,
  ): Hex | undefined {
    const from = sender.toLowerCase();
    for (const log of logs) {
      const record = readTaskRecordLog(log);
      if (record?.sender === from) return record.taskId;
    }
    return undefined;
  }

  async #prepare(scAddr: Hex | undefined, member: number): Promise<Prepared> {
    const sender = await this.#tx.address();
    // The epoch check (a chain request) runs beside the key exchange: the key is asked of the
    // worker the cached epoch selects, and asked again in the rare case the check finds a new
    // epoch that selects another worker.
    const guess = this.#epochs.cached;
    const checked = this.#epochs.current();
    checked.catch(noop);
    const nonce = await this.#nextTaskNonce(sender);
    const taskId = taskIdOf(sender, nonce);
    const user = this.#userKey(taskId);
    const selecting = this.#selection.check();
    selecting.catch(noop);
    const select = async (epoch: Epoch): Promise<Hex> => {
      const group = await this.#selection.group(scAddr ?? taskId, epoch);
      if (group.length === 0) {
        throw new EnigmaError(ErrorCode.NoEpoch, "the current epoch has no staked worker", {
          details: { firstBlockNumber: epoch.firstBlockNumber.toString() },
        });
      }
      const selected = group[member];
      if (selected === undefined) {
        throw new EnigmaError(
          ErrorCode.InvalidArgument,
          `groupMember ${member}: the contract's group has ${group.length} member(s) under ${this.#selection.strategy.name}`,
          { details: { groupMember: member, group } },
        );
      }
      return bytesToHex(hexToBytes(selected));
    };
    const askKey = (worker: Hex) => {
      const p = this.#call("getWorkerEncryptionKey", {
        workerAddress: noHex(worker),
        userPubKey: toRpcHex(user.publicKey),
      });
      p.catch(noop);
      return { worker, key: p };
    };
    let asked = guess === undefined ? undefined : askKey(await select(guess));
    const epoch = await checked;
    const worker = await select(epoch);
    if (asked?.worker !== worker) asked = askKey(worker);
    // Nothing is encrypted for a worker the chain would not accept.
    await selecting;
    // The key and the attestation (cached per worker and epoch) at once.
    const [raw] = await Promise.all([
      asked.key,
      this.#verify ? this.#verifyIn(worker, epoch.firstBlockNumber) : Promise.resolve(undefined),
    ]);
    const k = parseRpcResult("getWorkerEncryptionKey", raw).result;
    // Refuse before anything is encrypted to the key: signed by the selected worker (checked
    // for every key: each is fresh), whose enclave is attested (above) under our policy.
    checkWorkerKey(k.workerEncryptionKey, k.workerSig, worker);
    const sharedKey = deriveSharedKey(user.privateKey, k.workerEncryptionKey);
    return {
      sender,
      taskId,
      nonce,
      worker,
      workerKey: k.workerEncryptionKey,
      user,
      sharedKey,
      epoch,
    };
  }

  async #nextTaskNonce(sender: string): Promise<bigint> {
    if (this.#taskNonce !== undefined) return this.#taskNonce;
    const n = await this.#view<bigint>("getUserTaskDeployments", sender);
    this.#taskNonce = n;
    return n;
  }

  #userKey(taskId: Hex): KeyPair {
    if (this.#keySeed === undefined) return generateKeyPair();
    return generateKeyPair(keccak256(concatBytes(this.#keySeed, hexToBytes(taskId))));
  }

  /**
   * Grants the fee allowance when the expected allowance is short: `exact` approves what is
   * missing, `max` once `2^256 - 1` (OpenZeppelin's ERC20 never lowers that one).
   */
  async #ensureAllowance(fee: bigint): Promise<void> {
    const owner = await this.#tx.address();
    this.#allowance ??= await this.#tokenView<bigint>("allowance", owner, this.enigmaAddress);
    if (this.#allowance >= fee) return;
    const amount = this.#approve === "max" ? MaxUint256 : fee;
    try {
      await this.#tx.mined(
        await this.#tx.send(this.#tokenTarget, "approve", [this.enigmaAddress, amount]),
      );
    } catch (e) {
      this.#allowance = undefined;
      throw e;
    }
    this.#allowance = amount;
  }

  // ------------------------------------------------------------------ reads

  /** The epoch in force now: first block, seed, worker signers and stakes. */
  currentEpoch(): Promise<Epoch> {
    return this.#epochs.current();
  }

  /** The newest epoch on chain (`getWorkerParams` at the largest block number: one call). */
  /** The epoch in force at `block` (the newest by default); `NoEpoch` before the first one. */
  async #readEpoch(block: bigint = MaxUint256, required = true): Promise<Epoch> {
    const r = await this.#view<[bigint, bigint, string[], bigint[]]>("getWorkerParams", block);
    const [first, seed, workers, stakes] = r;
    if (first === 0n && required) {
      throw new EnigmaError(ErrorCode.NoEpoch, "no epoch has started yet: wait for the principal");
    }
    return { firstBlockNumber: first, seed, workers: [...workers], stakes: [...stakes] };
  }

  /** The index of the epoch that started at block `first`: its `WorkersParameterized` nonce. */
  async #epochIndex(first: bigint): Promise<number> {
    const event = this.#enigmaTarget.iface.getEvent("WorkersParameterized");
    if (event === null) throw new EnigmaError(ErrorCode.ChainError, "no WorkersParameterized");
    const logs = await again(() =>
      this.#provider.getLogs({
        address: this.enigmaAddress,
        topics: [event.topicHash],
        fromBlock: first,
        toBlock: first,
      }),
    );
    for (const log of logs) {
      const parsed = this.#enigmaTarget.iface.parseLog(log);
      if (parsed !== null && (parsed.args[1] as bigint) === first) {
        return Number(parsed.args[5] as bigint);
      }
    }
    throw new EnigmaError(
      ErrorCode.ChainError,
      `no WorkersParameterized log in block ${first.toString()}, where an epoch starts`,
      { details: { blockNumber: first.toString() } },
    );
  }

  /**
   * Verifies a worker's on-chain attestation report in the current epoch (cached per worker
   * and epoch, see `AttestationCache`). Throws the attestation error codes (305-312) or
   * `WorkerNotRegistered`.
   */
  async verifyWorker(signer: string): Promise<VerifiedAttestation> {
    const epoch = await this.#epochs.current();
    return this.#verifyIn(signer, epoch.firstBlockNumber);
  }

  #verifyIn(signer: string, epoch: bigint): Promise<VerifiedAttestation> {
    if (this.#attestations === undefined) {
      return Promise.reject(new EnigmaError(ErrorCode.InvalidConfig, "no trust root configured"));
    }
    return this.#attestations.verify(signer, epoch);
  }

  /**
   * Replaces the attestation policy (and trust root) the client accepts workers under: every
   * worker is verified again before the client sends it anything.
   */
  setAttestationPolicy(policy: AttestationPolicy, trustRoot?: RsaTrustRoot): void {
    if (this.#attestations === undefined) {
      throw new EnigmaError(ErrorCode.InvalidConfig, "worker verification is off");
    }
    this.#attestations.setPolicy(
      parseAttestationPolicy(policy),
      trustRoot === undefined ? undefined : parseTrustRoot(trustRoot),
    );
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
    const raw = await this.#call("getTaskResult", { taskId: noHex(taskId) });
    return parseRpcResult("getTaskResult", raw).result;
  }

  /**
   * Waits until the task's receipt is on Ethereum (status 2, 3, 4 or 5). With the encrypted
   * output received from the node, checks that the on-chain output hash is its keccak256
   * (`ResultRejected` otherwise). Checks on every block a `WebSocketProvider` pushes, else
   * every `pollIntervalMs`.
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
      await this.#nextBlock(Math.min(this.#poll, Math.max(1, until - Date.now())));
    }
  }

  /** Resolves on the provider's next pushed block (a `WebSocketProvider`), or after `ms`. */
  #nextBlock(ms: number): Promise<void> {
    const provider = this.#provider;
    if (!(provider instanceof SocketProvider)) return sleep(ms);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        void provider.off("block", done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(ms, 5_000));
      void provider.once("block", done);
    });
  }

  /** Refunds a task nobody committed within the timeout (`Enigma.returnFeesForTask`). */
  async returnFees(taskId: string): Promise<void> {
    await this.#exclusive(() =>
      this.#send(this.#enigmaTarget, "returnFeesForTask", bytesToHex(hexToBytes(taskId, "taskId"))),
    );
  }

  // ------------------------------------------------------------------ worker admin

  /** Approves and deposits `amount` grains of stake for `custodian` (default: the signer). */
  async deposit(amount: bigint, custodian?: string): Promise<void> {
    const who = custodian ?? (await this.#tx.address());
    await this.#exclusive(async () => {
      try {
        await this.#ensureAllowance(amount);
        await this.#send(this.#enigmaTarget, "deposit", who, amount);
      } finally {
        this.#allowance = undefined;
      }
    });
  }

  async login(): Promise<void> {
    await this.#exclusive(() => this.#send(this.#enigmaTarget, "login"));
  }

  async logout(): Promise<void> {
    await this.#exclusive(() => this.#send(this.#enigmaTarget, "logout"));
  }

  /** Withdraws `amount` grains of stake to the signer (only when logged out). */
  async withdraw(amount: bigint): Promise<void> {
    await this.#exclusive(() => this.#send(this.#enigmaTarget, "withdraw", amount));
  }

  /** Stake balance (grains) and status of a worker custodian (default: the signer). */
  async workerBalance(custodian?: string): Promise<{ balance: bigint; status: number }> {
    const who = custodian ?? (await this.#tx.address());
    const w = await this.#view<{ balance: bigint; status: bigint }>("getWorker", who);
    return { balance: w.balance, status: Number(w.status) };
  }

  /** ENG balance in grains (default: the signer). */
  async tokenBalance(address?: string): Promise<bigint> {
    return this.#tokenView<bigint>("balanceOf", address ?? (await this.#tx.address()));
  }

  // ------------------------------------------------------------------ plumbing

  #exclusive<T>(f: () => Promise<T>): Promise<T> {
    return this.#queue.run(f);
  }

  // Reads are repeated once after a transport failure (a loaded chain's HTTP server drops
  // keep-alive sockets); a revert is not.
  async #view<T>(fn: string, ...args: unknown[]): Promise<T> {
    try {
      return (await again(() => this.#enigma.getFunction(fn).staticCall(...args))) as T;
    } catch (e) {
      throw fromChainError(e, fn);
    }
  }

  async #tokenView<T>(fn: string, ...args: unknown[]): Promise<T> {
    try {
      return (await again(() => this.#token.getFunction(fn).staticCall(...args))) as T;
    } catch (e) {
      throw fromChainError(e, fn);
    }
  }

  /** One transaction, mined; a nonce race or stale fee data is retried once. */
  async #send(target: Target, fn: string, ...args: unknown[]): Promise<void> {
    await withRetries(
      2,
      async () => {
        await this.#tx.mined(await this.#tx.send(target, fn, args));
        return undefined;
      },
      (e) => ({ retry: isNonceRace(e), error: fromChainError(e, fn) }),
    );
  }
}

/** A count of attempts from the options: an integer from 1 (refused otherwise, naming it). */
function attemptsOption(
  options: EnigmaClientOptions,
  name: "maxRecordAttempts" | "maxEpochChanges",
  fallback: number,
): number {
  const v = options[name] ?? fallback;
  if (!Number.isSafeInteger(v) || v < 1) {
    throw new EnigmaError(
      ErrorCode.InvalidConfig,
      `${name} must be an integer from 1, got ${String(v)}`,
      {
        details: { path: name },
      },
    );
  }
  return v;
}
