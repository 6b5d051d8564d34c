// The worker node's enclave as one object: everything the node needs to run secret contracts
// while private keys, state keys and plaintext state stay inside this package.
import { randomBytes } from "node:crypto";
import { readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  EnigmaError,
  ErrorCode,
  receiptBatchDigestOf,
  receiptHash,
  bytesToHex,
  concatBytes,
  deploymentInputsHash,
  equalBytes,
  hexToBytes,
  inputsHash,
  isEnigmaError,
  keccak256,
  toBytes,
  toChecksumAddress,
  type BytesLike,
  type ChainReceipt,
  type Hex,
  type SignedAttestationReport,
  type StateKeyRequest,
  type StateKeyResponse,
} from "@enigma/protocol";
import {
  Eip712,
  openPlatform,
  peerIdentityDigest,
  subSeed,
  type EnclaveAttester,
} from "./enclave-base.js";
import { EnclaveDebug, debugDisabled } from "./debug.js";
import type { EnclaveIdentity, EnclaveMeasurement } from "./identity.js";
import { UserKeyExchange, loadOrCreateUserKeySecret } from "./keyexchange.js";
import { ReceiptLog } from "./receipt-log.js";
import { ContractInstance, holderKey, type TaskOutcome } from "./runtime/contract.js";
import type { RuntimeOptions } from "./runtime/execute.js";
import {
  InlineExecutor,
  ThreadExecutor,
  type ContractExecutor,
  type Deadline,
} from "./runtime/executor.js";
import type { EncryptedDelta } from "./state/deltas.js";
import type { Sealer } from "./sealing.js";
import { StateKeyStore } from "./statekeys.js";

/** File name of a worker's sealed state keys inside its enclave directory. */
export const STATE_KEYS_FILE = "statekeys.sealed";
/** File name of the sealed log of receipts the worker enclave produced. */
export const RECEIPTS_FILE = "receipts.sealed";
/** File name of the worker enclave's sealed secret from which user encryption keys derive. */
export const USER_KEY_SECRET_FILE = "userkey-secret.sealed";

const ZERO32: Hex = `0x${"00".repeat(32)}`;
const ZERO_ADDRESS: Hex = `0x${"00".repeat(20)}`;
const utf8 = new TextEncoder();

export interface WorkerEnclaveOptions {
  /** Sealed identity, platform key, sealed state keys and the receipt log live here. */
  dir: string;
  /** Deterministic identity, user-key exchange and task `rand` seeds (devnet `--seed`). */
  seed?: Uint8Array;
  attest: EnclaveAttester;
  /** Default `SIMULATED_ENCLAVE_MEASUREMENT`. */
  measurement?: EnclaveMeasurement;
  /** EIP-712 domain of receipt signatures. */
  chainId: bigint;
  enigmaAddress: string;
  /** The account that registers this enclave on `Enigma` (named in its attestation). */
  custodian?: string;
  runtime?: RuntimeOptions;
  /**
   * Where contracts run: `"thread"` (default) in a pool of worker threads with a deadline per
   * task, `"inline"` on the caller's thread with none (tests), or an executor to share.
   */
  executor?: "thread" | "inline" | ContractExecutor;
  /** Threads of the default executor (default 2, 1 on a single core). */
  threads?: number;
  /** The default executor's deadline (see `DEFAULT_DEADLINE`). */
  deadline?: Partial<Deadline>;
  /**
   * DEVNET ONLY: open the debug interface (`debug`: decrypted inputs, outputs and state).
   * Off by default; a real deployment never turns it on.
   */
  debug?: boolean;
}

export interface EnclaveTaskInput {
  taskId: Hex;
  /** For a deployment, equal to `taskId`. */
  contractAddress: Hex;
  /** Wire `ciphertext || tag || iv` under sha256(ECDH(user, worker encryption key)). */
  encryptedFn: Uint8Array;
  encryptedArgs: Uint8Array;
  /** The user's 64-byte public key (`userDHKey`). */
  userPubKey: Uint8Array;
  gasLimit: bigint;
}

export interface EnclaveDelta {
  index: number;
  hash: Hex;
  data: Uint8Array;
}

export interface EnclaveTaskResult {
  taskId: Hex;
  contractAddress: Hex;
  success: boolean;
  /**
   * Encrypted to the user: the return data on success; on failure the UTF-8 error message,
   * or empty when the user key is unknown (nothing can be encrypted).
   */
  output: Uint8Array;
  /** The encrypted state delta (its index in the contract's chain), or null. */
  delta: EnclaveDelta | null;
  /** `gasLimit` when out of gas; 0 when nothing ran. */
  gasUsed: bigint;
  ethCall: { address: Hex; payload: Uint8Array } | null;
  error?: { code: ErrorCode; message: string };
  /** Exactly what `Enigma.commitReceipts` takes for this task. */
  receipt: ChainReceipt;
  /** The enclave's EIP-712 signature over `ReceiptBatch { receipts: [receipt] }`. */
  signature: Hex;
}

/**
 * A worker's enclave: identity and attestation, user key exchange, state keys (requested from
 * the principal, sealed to the directory), contracts with their plaintext state, and receipts
 * signed for `commitReceipts`. Nothing it returns is a key or plaintext state: outputs are
 * encrypted to the user, deltas under the contract's state key.
 *
 * Failures of a task (undecryptable input, unknown function, trap, out of gas, malformed
 * module, failing constructor) are results with `success: false`; it throws only for
 * misuse and state errors (contract not loaded, state key unknown, invalid arguments).
 *
 * @example
 * const enclave = await WorkerEnclave.open({ dir, attest: (q) => ias.attest(q), chainId, enigmaAddress });
 * const { workerEncryptionKey, workerSig } = enclave.workerEncryptionKey(userPubKey); // RPC
 * await enclave.acceptStateKeys(await askPrincipal(enclave.createStateKeyRequest([taskId])), principal);
 * const r = enclave.deploy({ taskId, contractAddress: taskId, preCode, encryptedFn, encryptedArgs, userPubKey, gasLimit });
 * await enigma.commitReceipts([r.receipt], r.signature);
 */
export class WorkerEnclave {
  /** The enclave signing key's address: the worker's `signer` on Ethereum. */
  readonly signer: Hex;
  readonly attestation: SignedAttestationReport;
  readonly #dir: string;
  readonly #seed: Uint8Array | undefined;
  readonly #identity: EnclaveIdentity;
  readonly #sealer: Sealer;
  readonly #keys: StateKeyStore;
  readonly #kx: UserKeyExchange;
  readonly #executor: ContractExecutor;
  readonly #ownsExecutor: boolean;
  readonly #eip712: Eip712;
  readonly #receipts: ReceiptLog;
  readonly #contracts = new Map<Hex, ContractInstance>();
  readonly #debug: EnclaveDebug | undefined;
  #sealing: Promise<void> = Promise.resolve();

  private constructor(
    o: WorkerEnclaveOptions,
    identity: EnclaveIdentity,
    sealer: Sealer,
    attestation: SignedAttestationReport,
    keys: StateKeyStore,
    receipts: ReceiptLog,
    eip712: Eip712,
    userKeySecret: Uint8Array,
  ) {
    this.#dir = o.dir;
    this.#seed = o.seed?.slice();
    this.#identity = identity;
    this.#sealer = sealer;
    this.signer = identity.signer;
    this.attestation = attestation;
    this.#keys = keys;
    this.#receipts = receipts;
    this.#eip712 = eip712;
    // Worker encryption keys are derived from this secret and the user's key: nothing to
    // hold per user, so no request can evict a user's key (see keyexchange.ts).
    this.#kx = new UserKeyExchange(identity, { secret: userKeySecret });
    this.#debug = o.debug === true ? new EnclaveDebug(this.#kx, keys) : undefined;
    const choice = o.executor ?? "thread";
    this.#ownsExecutor = typeof choice === "string";
    this.#executor =
      choice === "inline"
        ? new InlineExecutor(o.runtime ?? {})
        : choice === "thread"
          ? new ThreadExecutor({
              ...(o.runtime === undefined ? {} : { runtime: o.runtime }),
              ...(o.threads === undefined ? {} : { threads: o.threads }),
              ...(o.deadline === undefined ? {} : { deadline: o.deadline }),
            })
          : choice;
  }

  /**
   * Opens (or creates) the enclave kept in `o.dir`: unseals the identity, the state keys and
   * the receipt log, and obtains an attestation (report_data = `signer`). A restart gets the
   * same signer and keys back; contracts are loaded again with `loadContract`.
   */
  static async open(o: WorkerEnclaveOptions): Promise<WorkerEnclave> {
    const eip712 = new Eip712(o.chainId, o.enigmaAddress);
    const { identity, sealer, attestation } = await openPlatform(o);
    let keys: StateKeyStore;
    try {
      keys = StateKeyStore.unseal(
        identity,
        sealer,
        new Uint8Array(await readFile(join(o.dir, STATE_KEYS_FILE))),
      );
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
      keys = new StateKeyStore(identity);
    }
    const receipts = ReceiptLog.open(join(o.dir, RECEIPTS_FILE), sealer);
    // Seeded devnets reproduce the keys from the seed; otherwise a sealed random secret, the
    // same after a restart (an input taken before a crash still decrypts).
    const userKeySecret =
      o.seed === undefined
        ? loadOrCreateUserKeySecret(join(o.dir, USER_KEY_SECRET_FILE), sealer)
        : subSeed(o.seed, "/enigma/user-key-exchange");
    return new WorkerEnclave(
      o,
      identity,
      sealer,
      attestation,
      keys,
      receipts,
      eip712,
      userKeySecret,
    );
  }

  /**
   * The enclave's encryption key for a user, signed by the enclave (RPC
   * `getWorkerEncryptionKey`): derived from the enclave's secret and `userPubKey`, so the same
   * on every request and never evicted by anyone's requests.
   */
  workerEncryptionKey(userPubKey: BytesLike): { workerEncryptionKey: Uint8Array; workerSig: Hex } {
    const { workerEncryptionKey, workerSig } = this.#kx.newKey(userPubKey);
    return { workerEncryptionKey, workerSig };
  }

  /** A request to the principal for the state keys of `contracts`, signed and attested. */
  createStateKeyRequest(contracts: readonly BytesLike[]): StateKeyRequest {
    return this.#keys.createRequest(this.attestation, contracts);
  }

  /**
   * Takes in the principal's answer (signed by `principal`, addressed to this enclave) and
   * seals all held keys to the directory. Returns the contract addresses received.
   */
  async acceptStateKeys(response: StateKeyResponse, principal: BytesLike): Promise<Hex[]> {
    const got = this.#keys.accept(response, principal);
    await this.#sealKeys();
    return got;
  }

  hasStateKey(contract: BytesLike): boolean {
    return this.#keys.has(contract);
  }

  /** True when `contract` is deployed here or loaded with `loadContract`. */
  hasContract(contract: BytesLike): boolean {
    return this.#contracts.has(addressHex(contract));
  }

  /** Deltas in the loaded contract's chain (0 when not loaded). */
  deltaCount(contract: BytesLike): number {
    return this.#contracts.get(addressHex(contract))?.deltaCount ?? 0;
  }

  /**
   * Rebuilds a contract from its code and all its encrypted deltas (delta 0 first), checking
   * the chain, and replaces any earlier copy. Throws `StateKeyUnknown` without the state key,
   * `DeltaChainBroken` / `DeltaTampered` / `MalformedDelta` for bad deltas, `MalformedModule`.
   */
  loadContract(
    contract: BytesLike,
    code: Uint8Array,
    deltas: readonly { index: number; hash: BytesLike; data: Uint8Array }[],
  ): void {
    const address = addressHex(contract);
    this.#requireKey(address);
    if (deltas.length === 0) {
      throw new EnigmaError(
        ErrorCode.DeltaChainBroken,
        "a deployed contract has at least its constructor's delta 0",
        { details: { contractAddress: address } },
      );
    }
    const instance = ContractInstance.restore(
      this.#executor,
      code,
      holderKey(this.#keys, address),
      deltas.map(checkDelta),
    );
    this.#contracts.set(address, instance);
  }

  /**
   * Rebuilds `contract` from its code and all its encrypted deltas in a scratch copy (a copy
   * held here is untouched) and returns how many deltas it applied and the chain's head hash:
   * the proof that every delta decrypts under the state key and applies in order, optionally
   * against the hashes recorded on chain (`expectedHashes`, index for index). Throws like
   * `loadContract` (`StateKeyUnknown` without the key).
   */
  rebuildCheck(
    contract: BytesLike,
    code: Uint8Array,
    deltas: readonly { index: number; hash: BytesLike; data: Uint8Array }[],
    expectedHashes?: readonly BytesLike[],
  ): { deltas: number; head: Hex } {
    const address = addressHex(contract);
    this.#requireKey(address);
    const instance = ContractInstance.restore(
      this.#executor,
      code,
      holderKey(this.#keys, address),
      deltas.map(checkDelta),
      expectedHashes?.map((h, i) => toBytes(h, `expectedHashes[${i}]`, 32)),
    );
    return { deltas: instance.deltaCount, head: bytesToHex(instance.head) };
  }

  /**
   * Extends a loaded contract with a delta produced by another worker (heard on gossip): the
   * next index, naming the current head, decrypting under the state key. Returns false for a
   * delta already in the chain (nothing changes); throws `DeltaChainBroken` for a gap or a
   * conflicting delta, `DeltaTampered`, `MalformedDelta`.
   */
  appendDelta(
    contract: BytesLike,
    delta: { index: number; hash: BytesLike; data: Uint8Array },
  ): boolean {
    return this.#loaded(addressHex(contract)).append(checkDelta(delta));
  }

  /**
   * Deploys a secret contract: decrypts the constructor call, runs it on empty state under
   * `gasLimit`, and on success holds the contract with its delta 0. Needs the state key of
   * `contractAddress` (which must equal `taskId`). The receipt names `preCodeHash = codeHash =
   * keccak256(preCode)` on success (the pre-code itself is what runs), zeros on failure.
   */
  async deploy(task: EnclaveTaskInput & { preCode: Uint8Array }): Promise<EnclaveTaskResult> {
    const t = this.#checkTask(task);
    if (!equalBytes(t.taskId, t.contract)) {
      throw new EnigmaError(
        ErrorCode.InvalidArgument,
        "a deployment's contractAddress must equal its taskId",
        { details: { taskId: task.taskId, contractAddress: task.contractAddress } },
      );
    }
    if (!(task.preCode instanceof Uint8Array)) {
      throw new EnigmaError(ErrorCode.InvalidArgument, "preCode must be bytes");
    }
    const address = bytesToHex(t.contract);
    this.#requireKey(address);
    if (this.#contracts.has(address)) {
      throw new EnigmaError(
        ErrorCode.InvalidArgument,
        `secret contract ${address} is already deployed in this enclave`,
        { details: { contractAddress: address } },
      );
    }
    const codeHash = bytesToHex(keccak256(task.preCode));
    // What the receipt binds: the inputs as run (the pre-code, not an address) and no state.
    const base: RunBase = {
      inputsHash: deploymentInputsHash(
        task.encryptedFn,
        task.encryptedArgs,
        task.preCode,
        task.userPubKey,
      ),
      prevDeltaHash: ZERO32,
      deltaIndex: 0,
    };
    return this.#run(
      task,
      t,
      base,
      async (call) => {
        const { instance, outcome } = await ContractInstance.deploy(
          this.#executor,
          task.preCode,
          holderKey(this.#keys, address),
          call,
          hexToBytes(codeHash),
        );
        // Two deployments of one address cannot both have got here (checked above, and the
        // address is the task id): but a result that lost the race must not replace a contract.
        if (instance !== undefined && !this.#contracts.has(address)) {
          this.#contracts.set(address, instance);
        }
        return outcome;
      },
      codeHash,
    );
  }

  /**
   * Runs a task of a loaded contract (see `loadContract`); state advances on success. The
   * receipt names the inputs hash of what ran and the delta the state was at, so the chain
   * refuses it for another task's record or on state that is not the contract's last.
   */
  async compute(task: EnclaveTaskInput): Promise<EnclaveTaskResult> {
    const t = this.#checkTask(task);
    const instance = this.#loaded(bytesToHex(t.contract));
    const base: RunBase = {
      inputsHash: inputsHash(task.encryptedFn, task.encryptedArgs, t.contract, task.userPubKey),
      prevDeltaHash: bytesToHex(instance.head),
      deltaIndex: instance.deltaCount,
    };
    return this.#run(task, t, base, (call) => instance.run(call), undefined);
  }

  /**
   * A failure result for a compute task that cannot run because its secret contract does not
   * exist (never deployed, or its deployment failed): the error encrypted to the user, no gas
   * used, signed like any result, so that the task settles as failed (status 3) as it did on
   * Discovery. Refused for a contract this enclave holds (its tasks run, they cannot be failed).
   */
  failNotDeployed(task: EnclaveTaskInput): EnclaveTaskResult {
    const t = this.#checkTask(task);
    const address = bytesToHex(t.contract);
    if (this.#contracts.has(address)) {
      throw new EnigmaError(
        ErrorCode.InvalidArgument,
        `secret contract ${address} is deployed in this enclave: its tasks run`,
        { details: { contractAddress: address } },
      );
    }
    const message = `secret contract ${address} is not deployed`;
    // The receipt binds the inputs as given (the chain compares them with the record); there is
    // no state to name (a failure's base is not checked).
    const base: RunBase = {
      inputsHash: inputsHash(task.encryptedFn, task.encryptedArgs, t.contract, task.userPubKey),
      prevDeltaHash: ZERO32,
      deltaIndex: 0,
    };
    return this.#fail(task, t, base, ErrorCode.SecretContractNotDeployed, message, 0n);
  }

  /**
   * The EIP-712 `ReceiptBatch` signature `commitReceipts(receipts, sig)` checks. Only
   * receipts this enclave produced (in this or an earlier run, see `RECEIPTS_FILE`) are
   * signed: any other receipt, or any changed field, is `ReceiptRejected`.
   */
  signReceipts(receipts: readonly ChainReceipt[]): Hex {
    if (receipts.length === 0) {
      throw new EnigmaError(ErrorCode.InvalidArgument, "signReceipts needs at least one receipt");
    }
    const hashes = receipts.map((r, i) => {
      let hash: Uint8Array;
      try {
        hash = receiptHash(r);
      } catch (cause) {
        throw new EnigmaError(ErrorCode.InvalidArgument, `receipt ${i} is malformed`, {
          details: { index: i },
          cause,
        });
      }
      if (!this.#receipts.has(hash)) {
        throw new EnigmaError(
          ErrorCode.ReceiptRejected,
          `receipt ${i} (task ${r.taskId}) was not produced by this enclave: it signs only its own results`,
          { details: { index: i, taskId: r.taskId } },
        );
      }
      return hash;
    });
    return this.#signBatch(hashes);
  }

  /** The enclave's signature over the node's libp2p peer id (see `peerIdentityDigest`). */
  signPeerIdentity(peerId: string): Hex {
    return bytesToHex(this.#identity.sign(peerIdentityDigest(peerId)));
  }

  /** Waits for sealed writes in flight and stops the execution threads; call before the process exits. */
  async close(): Promise<void> {
    await this.#sealing;
    if (this.#ownsExecutor) await this.#executor.close();
  }

  /**
   * DEVNET ONLY: the debug interface (a task's decrypted input and output, a contract's
   * plaintext state). Throws `EnclaveDebugDisabled` unless the enclave was opened with
   * `debug: true`: a real deployment never exposes it.
   */
  get debug(): EnclaveDebug {
    if (this.#debug === undefined) throw debugDisabled();
    return this.#debug;
  }

  /** Whether the debug interface is on (devnets only). */
  get debugEnabled(): boolean {
    return this.#debug !== undefined;
  }

  /** Public parts only. */
  toJSON(): { signer: Hex; contracts: number; stateKeys: number } {
    return {
      signer: this.signer,
      contracts: this.#contracts.size,
      stateKeys: this.#keys.contracts().length,
    };
  }

  // ---------------------------------------------------------------------------------------

  async #run(
    task: EnclaveTaskInput,
    t: CheckedTask,
    base: RunBase,
    execute: (call: {
      functionName: string;
      args: Uint8Array;
      gasLimit: number;
      taskId: Uint8Array;
      seed?: Uint8Array;
    }) => Promise<TaskOutcome>,
    preCodeHash: Hex | undefined,
  ): Promise<EnclaveTaskResult> {
    let functionName: string;
    let args: Uint8Array;
    try {
      const fn = this.#kx.decrypt(task.userPubKey, task.encryptedFn);
      // Empty arguments stay empty, as Discovery's decrypt_args left them.
      args =
        task.encryptedArgs.length === 0
          ? new Uint8Array()
          : this.#kx.decrypt(task.userPubKey, task.encryptedArgs);
      functionName = new TextDecoder("utf-8", { fatal: true }).decode(fn);
    } catch (e) {
      // Nothing ran: no gas. A user key the enclave does not hold leaves the output empty.
      if (isEnigmaError(e)) return this.#fail(task, t, base, e.code, e.message, 0n);
      if (e instanceof TypeError) {
        const message = "the function name is not UTF-8";
        return this.#fail(task, t, base, ErrorCode.InvalidExecutionRequest, message, 0n);
      }
      throw e;
    }
    const outcome = await execute({
      functionName,
      args,
      // The runtime counts gas in safe integers; no task gets near 2^53 gas.
      gasLimit:
        t.gasLimit > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(t.gasLimit),
      taskId: t.taskId,
      ...(this.#seed === undefined ? {} : { seed: keccak256(concatBytes(this.#seed, t.taskId)) }),
    });
    const r = outcome.result;
    if (!r.ok) {
      const gasUsed = r.error.code === ErrorCode.OutOfGas ? t.gasLimit : BigInt(r.gasUsed);
      return this.#fail(task, t, base, r.error.code, r.error.message, gasUsed);
    }
    const delta = outcome.delta;
    const ethCall =
      r.ethCall === null
        ? null
        : { address: toChecksumAddress(r.ethCall.address), payload: r.ethCall.payload.slice() };
    const output = this.#encryptOutput(task, t, r.output);
    return this.#result(t, base, {
      success: true,
      output,
      delta:
        delta === null
          ? null
          : { index: delta.index, hash: bytesToHex(delta.hash), data: delta.data },
      gasUsed: BigInt(r.gasUsed),
      ethCall,
      preCodeHash: preCodeHash ?? ZERO32,
      codeHash: preCodeHash ?? ZERO32,
    });
  }

  #fail(
    task: EnclaveTaskInput,
    t: CheckedTask,
    base: RunBase,
    code: ErrorCode,
    message: string,
    gasUsed: bigint,
  ): EnclaveTaskResult {
    return this.#result(t, base, {
      success: false,
      output: this.#encryptOutput(task, t, utf8.encode(message)),
      delta: null,
      gasUsed,
      ethCall: null,
      error: { code, message },
      // Only a successful deployment registers code on Ethereum: zeros otherwise.
      preCodeHash: ZERO32,
      codeHash: ZERO32,
    });
  }

  #result(
    t: CheckedTask,
    base: RunBase,
    p: {
      success: boolean;
      output: Uint8Array;
      delta: EnclaveDelta | null;
      gasUsed: bigint;
      ethCall: { address: Hex; payload: Uint8Array } | null;
      error?: { code: ErrorCode; message: string };
      preCodeHash: Hex;
      codeHash: Hex;
    },
  ): EnclaveTaskResult {
    const taskId = bytesToHex(t.taskId);
    const contractAddress = bytesToHex(t.contract);
    const receipt: ChainReceipt = {
      taskId,
      scAddr: contractAddress,
      inputsHash: base.inputsHash,
      prevDeltaHash: base.prevDeltaHash,
      deltaIndex: base.deltaIndex,
      stateDeltaHash: p.delta?.hash ?? ZERO32,
      outputHash: bytesToHex(keccak256(p.output)),
      gasUsed: p.gasUsed,
      success: p.success,
      preCodeHash: p.preCodeHash,
      codeHash: p.codeHash,
      ethAddress: p.ethCall?.address ?? ZERO_ADDRESS,
      ethCalldata: p.ethCall === null ? "0x" : bytesToHex(p.ethCall.payload),
    };
    const hash = receiptHash(receipt);
    this.#receipts.add(hash);
    return {
      taskId,
      contractAddress,
      success: p.success,
      output: p.output,
      delta: p.delta,
      gasUsed: p.gasUsed,
      ethCall: p.ethCall,
      ...(p.error === undefined ? {} : { error: p.error }),
      receipt,
      signature: this.#signBatch([hash]),
    };
  }

  /**
   * Encrypts to the user under the shared key of `userPubKey`; empty when no key is held.
   * Seeded, the IV is synthetic (keccak of seed, task and plaintext: reproducible, and two
   * different outputs never share one); otherwise random.
   */
  #encryptOutput(task: EnclaveTaskInput, t: CheckedTask, plaintext: Uint8Array): Uint8Array {
    // A user key that is not a curve point has no shared key: nothing can be encrypted.
    if (!this.#kx.has(task.userPubKey)) return new Uint8Array();
    const iv =
      this.#seed === undefined
        ? undefined
        : keccak256(
            concatBytes(utf8.encode("enigma.output.iv"), this.#seed, t.taskId, plaintext),
          ).slice(0, 12);
    return this.#kx.encrypt(task.userPubKey, plaintext, iv);
  }

  /** Signs the batch of receipts with these `receiptHash`es. */
  #signBatch(receiptHashes: readonly Uint8Array[]): Hex {
    return bytesToHex(
      this.#identity.sign(
        receiptBatchDigestOf(this.#eip712.chainId, this.#eip712.verifyingContract, receiptHashes),
      ),
    );
  }

  #checkTask(task: EnclaveTaskInput): CheckedTask {
    const taskId = toBytes(task.taskId, "taskId", 32);
    const contract = toBytes(task.contractAddress, "contractAddress", 32);
    if (typeof task.gasLimit !== "bigint" || task.gasLimit < 0n || task.gasLimit >= 2n ** 64n) {
      throw new EnigmaError(ErrorCode.InvalidArgument, "gasLimit must be a uint64 bigint", {
        details: { gasLimit: String(task.gasLimit) },
      });
    }
    for (const f of ["encryptedFn", "encryptedArgs", "userPubKey"] as const) {
      if (!(task[f] instanceof Uint8Array)) {
        throw new EnigmaError(ErrorCode.InvalidArgument, `${f} must be bytes`);
      }
    }
    return { taskId, contract, gasLimit: task.gasLimit };
  }

  #requireKey(address: Hex): void {
    if (!this.#keys.has(address)) {
      throw new EnigmaError(
        ErrorCode.StateKeyUnknown,
        "this enclave holds no state key for the contract: request it from the principal",
        { details: { contractAddress: address } },
      );
    }
  }

  #loaded(address: Hex): ContractInstance {
    const instance = this.#contracts.get(address);
    if (instance === undefined) {
      throw new EnigmaError(
        ErrorCode.SecretContractNotDeployed,
        `secret contract ${address} is not loaded in this enclave: loadContract(code, deltas) first`,
        { details: { contractAddress: address, reason: "not loaded" } },
      );
    }
    return instance;
  }

  // Sealed writes are chained so two never race on the temporary file.
  #sealKeys(): Promise<void> {
    const blob = this.#keys.seal(this.#sealer);
    const file = join(this.#dir, STATE_KEYS_FILE);
    const write = async () => {
      const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
      await writeFile(tmp, blob, { mode: 0o600 });
      await rename(tmp, file);
    };
    const next = this.#sealing.then(write);
    this.#sealing = next.catch(() => undefined);
    return next;
  }
}

interface CheckedTask {
  taskId: Uint8Array;
  contract: Uint8Array;
  gasLimit: bigint;
}

/** What a receipt binds besides the outcome: the inputs as run and the state they ran on. */
interface RunBase {
  inputsHash: Hex;
  prevDeltaHash: Hex;
  deltaIndex: number;
}

function addressHex(contract: BytesLike): Hex {
  return bytesToHex(toBytes(contract, "contractAddress", 32));
}

function checkDelta(d: { index: number; hash: BytesLike; data: Uint8Array }): EncryptedDelta {
  if (!Number.isSafeInteger(d.index) || d.index < 0 || !(d.data instanceof Uint8Array)) {
    throw new EnigmaError(
      ErrorCode.InvalidArgument,
      "a delta is { index: non-negative integer, hash: 32 bytes, data: bytes }",
      { details: { index: d.index } },
    );
  }
  return { index: d.index, hash: toBytes(d.hash, "delta.hash", 32), data: d.data };
}
