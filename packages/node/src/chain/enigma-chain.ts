/**
 * `EnigmaChain`: the node's whole view of Ethereum. Typed reads of the `Enigma` contract, the
 * custodian's writes (one queue, no nonce races), decoded events and a confirmed-block watcher,
 * over any JSON-RPC endpoint, with transient failures retried and reverts mapped to the error
 * catalog.
 *
 * @example
 * const chain = await EnigmaChain.connect({ rpcUrl, enigmaAddress, tokenAddress, privateKey });
 * await chain.ensureWorker({ signer, report, signature, stake: 100n * GRAINS_PER_ENG });
 * const w = chain.watch({ fromBlock, confirmations: 1, onEvents: (events) => pipeline.onEvents(events) });
 * await w.stop();
 * await chain.close();
 */
import {
  ENIGMA_TOKEN_ABI,
  WORKER_SELECTION_ABI,
  EnigmaError,
  ErrorCode,
  isEnigmaError,
  type ChainReceipt,
} from "@enigma/protocol";
import {
  FetchRequest,
  Interface,
  JsonRpcProvider,
  Network,
  Wallet,
  Result,
  getBytes,
  type JsonRpcPayload,
  type JsonRpcResult,
} from "ethers";
import { describeError } from "./errors.js";
import { EpochCache } from "./epoch-cache.js";
import { ENIGMA_INTERFACE, EVENT_TOPICS, decodeEvents } from "./events.js";
import { resolveOptions, type ResolvedOptions } from "./options.js";
import { withRetry } from "./retry.js";
import { Rpc, probeChainId } from "./rpc.js";
import { TransactionSender } from "./sender.js";
import type {
  ChainEvent,
  ChainOptions,
  ChainWatch,
  EpochInfo,
  SecretContractInfo,
  TaskRecordInfo,
  WatchOptions,
  WorkerInfo,
} from "./types.js";
import { WorkerStatus } from "./types.js";
import {
  ChainFields,
  argAddress,
  argBlock,
  argBool,
  argBytes,
  argBytes32,
  argHex,
  argUint,
} from "./values.js";
import { subscribeHeads } from "./heads.js";
import { startWatch } from "./watcher.js";

const TOKEN_INTERFACE = new Interface(ENIGMA_TOKEN_ABI);
const SELECTION_INTERFACE = new Interface(WORKER_SELECTION_ABI);
const ZERO_ADDRESS = `0x${"00".repeat(20)}`;
const ALL_EVENT_TOPICS = Object.values(EVENT_TOPICS);
// Secret contract addresses read per request.
const ADDRESS_PAGE = 1_000;
/**
 * getEpoch waits for a watcher (with no confirmations) that is at most this many blocks behind
 * the block asked about, for at most SCAN_WAIT_MS; past either it asks the chain.
 */
const SCAN_AHEAD_BLOCKS = 64;
const SCAN_WAIT_MS = 1_000;
/**
 * State delta hashes read per request: a page reads at most a few runs' receipt logs (~7k gas
 * each) plus 32 bytes a hash, far under any node's `eth_call` gas cap.
 */
export const DELTA_HASH_PAGE = 1_000;

function struct(result: Result, what: string, index = 0): ChainFields {
  const value = result[index] as unknown;
  return new ChainFields(what, (name) =>
    value instanceof Result ? (value.getValue(name) as unknown) : undefined,
  );
}

function outputs(result: Result, what: string): ChainFields {
  return new ChainFields(what, (name) => result[Number(name)] as unknown);
}

/** A function's named outputs (`returns (address owner, ...)`). */
function namedOutputs(result: Result, what: string): ChainFields {
  return new ChainFields(what, (name) => result.getValue(name) as unknown);
}

function toWorkerInfo(custodian: string, w: ChainFields): WorkerInfo {
  const status = w.number("status");
  if (status !== 0 && status !== 1 && status !== 2) {
    throw new EnigmaError(ErrorCode.ChainError, "malformed worker from the chain: bad status", {
      details: { custodian, status },
    });
  }
  const report = w.hex("report");
  return {
    custodian,
    signer: w.address("signer"),
    status,
    balance: w.bigint("balance"),
    report: new TextDecoder().decode(getBytes(report)),
  };
}

const UTF8 = new TextDecoder("utf-8", { fatal: true });

/**
 * ethers' JSON-RPC provider, with response bodies decoded by the platform: ethers decodes them
 * with its own JavaScript UTF-8 decoder, a visible share of a busy node's time (event logs).
 */
class NodeJsonRpcProvider extends JsonRpcProvider {
  override async _send(payload: JsonRpcPayload | JsonRpcPayload[]): Promise<JsonRpcResult[]> {
    const request = this._getConnection();
    request.body = JSON.stringify(payload);
    request.setHeader("content-type", "application/json");
    const response = await request.send();
    response.assertOk();
    let body: unknown;
    try {
      body = JSON.parse(UTF8.decode(response.body ?? new Uint8Array()));
    } catch {
      body = response.bodyJson; // throws ethers' own error for a body that is not JSON
    }
    // Error responses come back here too: ethers' own `_send` types them as results alike.
    return (Array.isArray(body) ? body : [body]) as JsonRpcResult[];
  }
}

interface Init {
  options: ResolvedOptions;
  rpc: Rpc;
  closing: AbortController;
  chainId: bigint;
  epochSize: number;
  taskTimeout: number;
  principal: string;
}

export class EnigmaChain {
  readonly chainId: bigint;
  readonly enigmaAddress: string;
  readonly tokenAddress: string;
  /** The custodian address (lower-case), or undefined on a read-only connection. */
  readonly account: string | undefined;
  /** Blocks per epoch (`getEpochSize`). */
  readonly epochSize: number;
  /** Blocks after its record after which a pending task can be refunded (`getTaskTimeoutSize`). */
  readonly taskTimeout: number;

  readonly #o: ResolvedOptions;
  readonly #rpc: Rpc;
  readonly #closing: AbortController;
  readonly #sender: TransactionSender | undefined;
  readonly #principal: string;
  readonly #watches = new Set<ChainWatch>();
  readonly #epochs = new EpochCache();
  /** How far ahead of a watcher's scan front getEpoch waits for it (0: no watcher acting on every block). */
  #scanAhead = 0;
  #selectionName: Promise<string> | undefined;
  #closed: Promise<void> | undefined;

  private constructor(init: Init) {
    const o = init.options;
    this.#o = o;
    this.#rpc = init.rpc;
    this.#closing = init.closing;
    this.chainId = init.chainId;
    this.enigmaAddress = o.enigmaAddress;
    this.tokenAddress = o.tokenAddress;
    this.epochSize = init.epochSize;
    this.taskTimeout = init.taskTimeout;
    this.#principal = init.principal;
    this.#sender =
      o.privateKey === undefined
        ? undefined
        : new TransactionSender(this.#rpc, new Wallet(o.privateKey, this.#rpc.provider), o);
    this.account = this.#sender?.account;
  }

  /**
   * Connects to `rpcUrl` and checks that an Enigma contract is at `enigmaAddress` with
   * `tokenAddress` as its token. ChainError when the endpoint cannot be reached after the
   * retries or there is no contract code at `enigmaAddress`; InvalidConfig when the token
   * does not match.
   */
  static async connect(options: ChainOptions): Promise<EnigmaChain> {
    const o = resolveOptions(options);
    const request = new FetchRequest(o.rpcUrl);
    request.timeout = o.requestTimeoutMs;

    let attempts = 0;
    let chainId: bigint;
    try {
      chainId = await withRetry(() => {
        attempts++;
        return probeChainId(request);
      }, o.retry);
    } catch (cause) {
      throw new EnigmaError(
        ErrorCode.ChainError,
        `cannot reach the Ethereum JSON-RPC endpoint ${o.endpoint} after ${attempts} attempt(s) (${describeError(cause)}): is the node running, and is rpcUrl right?`,
        { details: { endpoint: o.endpoint, attempts }, cause },
      );
    }

    // The chain id is known, so ethers never runs its network detection (a background loop
    // that retries forever when the endpoint is down); no response cache, since nonces and
    // receipts must be read fresh; requests made in the same tick still go as one batch, but
    // a lone request does not wait ethers' default 10 ms for company.
    const provider = new NodeJsonRpcProvider(request, Network.from(chainId), {
      staticNetwork: true,
      cacheTimeout: -1,
      batchStallTime: 0,
    });
    const closing = new AbortController();
    const rpc = new Rpc(provider, o.endpoint, o.retry, closing.signal);
    try {
      const code = await rpc.run("eth_getCode", () => provider.getCode(o.enigmaAddress));
      if (code === "0x") {
        throw new EnigmaError(
          ErrorCode.ChainError,
          `no contract code at enigmaAddress ${o.enigmaAddress} on chain ${chainId}: deploy the contracts first, or fix enigmaAddress`,
          { details: { enigmaAddress: o.enigmaAddress, chainId: chainId.toString() } },
        );
      }
      const notEnigma = (e: unknown): never => {
        throw new EnigmaError(
          ErrorCode.ChainError,
          `the contract at ${o.enigmaAddress} does not answer Enigma's getters: is enigmaAddress right?`,
          { details: { enigmaAddress: o.enigmaAddress }, cause: e },
        );
      };
      const view = (fn: string) =>
        rpc.view(ENIGMA_INTERFACE, o.enigmaAddress, fn, []).catch(notEnigma);
      const [epochSize, taskTimeout, principal, token] = await Promise.all([
        view("getEpochSize"),
        view("getTaskTimeoutSize"),
        view("PRINCIPAL"),
        view("TOKEN"),
      ]);
      const tokenOf = outputs(token, "TOKEN").address("0");
      if (tokenOf !== o.tokenAddress) {
        throw new EnigmaError(
          ErrorCode.InvalidConfig,
          `tokenAddress ${o.tokenAddress} is not the token of the Enigma contract at ${o.enigmaAddress} (${tokenOf})`,
          { details: { tokenAddress: o.tokenAddress, enigmaToken: tokenOf } },
        );
      }
      return new EnigmaChain({
        options: o,
        rpc,
        closing,
        chainId,
        epochSize: outputs(epochSize, "getEpochSize").number("0"),
        taskTimeout: outputs(taskTimeout, "getTaskTimeoutSize").number("0"),
        principal: outputs(principal, "PRINCIPAL").address("0"),
      });
    } catch (e) {
      provider.destroy();
      throw e;
    }
  }

  // ============================================ reads ============================================

  async blockNumber(): Promise<number> {
    return this.#rpc.run("eth_blockNumber", () => this.#rpc.provider.getBlockNumber());
  }

  /**
   * The epoch in force at `blockNumber` (undefined before the first epoch). Epochs are cached:
   * a block between a known epoch and its known successor needs no request.
   */
  async getEpoch(blockNumber: number): Promise<EpochInfo | undefined> {
    const b = argBlock("blockNumber", blockNumber);
    const cached = this.#epochs.at(b);
    if (cached !== null) return cached;
    // A block just ahead of a watcher that acts on every block (no confirmations): under load
    // that is most questions (a task's input arrives with its record, before the watcher has
    // scanned the record's block), and the watcher gets there within milliseconds. Waiting
    // for it spares the chain a `getWorkerParams` call per block (measured at 32 senders over
    // 8 contracts: 8% of a worker's time went to them).
    if (this.#scanAhead > 0 && b - this.#epochs.scannedTo <= this.#scanAhead) {
      if (await this.#epochs.whenScanned(b, SCAN_WAIT_MS)) {
        const scanned = this.#epochs.at(b);
        if (scanned !== null) return scanned;
      }
    }
    return this.#epochAt(b);
  }

  /** The latest epoch (undefined before the first one). */
  async currentEpoch(): Promise<EpochInfo | undefined> {
    return this.#epochAt(Number.MAX_SAFE_INTEGER);
  }

  /** A task record; undefined when there is none (status 0). */
  async getTaskRecord(taskId: string): Promise<TaskRecordInfo | undefined> {
    const id = argBytes32("taskId", taskId);
    const r = struct(await this.#view("getTaskRecord", [id]), "task record");
    const status = r.number("status");
    if (status === 0) return undefined;
    return {
      taskId: id,
      sender: r.address("sender"),
      inputsHash: r.bytes32("inputsHash"),
      outputHash: r.bytes32("outputHash"),
      gasLimit: r.bigint("gasLimit"),
      gasPx: r.bigint("gasPx"),
      blockNumber: r.number("blockNumber"),
      status,
    };
  }

  /**
   * A deployed secret contract (its delta count, not its delta hashes); undefined when none is
   * deployed at `scAddr`.
   */
  async getSecretContract(scAddr: string): Promise<SecretContractInfo | undefined> {
    const address = argBytes32("scAddr", scAddr);
    const s = namedOutputs(await this.#view("getSecretContractInfo", [address]), "secret contract");
    const status = s.number("status");
    if (status === 0) return undefined;
    return {
      address,
      owner: s.address("owner"),
      preCodeHash: s.bytes32("preCodeHash"),
      codeHash: s.bytes32("codeHash"),
      deltaCount: s.number("deltaCount"),
      status,
    };
  }

  /**
   * Committed state delta hashes `[from, to)` of `scAddr` (clamped to what exists), read in
   * pages of `DELTA_HASH_PAGE` so that no call meets an `eth_call` gas cap.
   */
  async getStateDeltaHashes(scAddr: string, from = 0, to?: number): Promise<string[]> {
    const address = argBytes32("scAddr", scAddr);
    const end = to ?? (await this.countStateDeltas(address));
    const out: string[] = [];
    for (let start = from; start < end; start += DELTA_HASH_PAGE) {
      const stop = Math.min(end, start + DELTA_HASH_PAGE);
      const page = await this.#view("getStateDeltaHashes", [address, start, stop]);
      const hashes = outputs(page, "getStateDeltaHashes").bytes32s("0");
      out.push(...hashes);
      if (hashes.length < stop - start) break;
    }
    return out;
  }

  /** Number of state deltas committed for `scAddr` (0 for none, or no such contract). */
  async countStateDeltas(scAddr: string): Promise<number> {
    const address = argBytes32("scAddr", scAddr);
    return outputs(await this.#view("countStateDeltas", [address]), "countStateDeltas").number("0");
  }

  /** Addresses of every deployed secret contract, in deployment order. */
  async secretContractAddresses(): Promise<string[]> {
    const count = outputs(
      await this.#view("countSecretContracts", []),
      "countSecretContracts",
    ).number("0");
    const out: string[] = [];
    for (let start = 0; start < count; start += ADDRESS_PAGE) {
      const page = await this.#view("getSecretContractAddresses", [start, start + ADDRESS_PAGE]);
      out.push(...outputs(page, "getSecretContractAddresses").bytes32s("0"));
    }
    return out;
  }

  /** A worker by custodian (status 0 and zero signer when unregistered). */
  async getWorker(custodian: string): Promise<WorkerInfo> {
    const c = argAddress("custodian", custodian);
    return toWorkerInfo(c, struct(await this.#view("getWorker", [c]), "worker"));
  }

  /** A worker by enclave signer; undefined when no custodian registered it. */
  async getWorkerBySigner(signer: string): Promise<WorkerInfo | undefined> {
    const s = argAddress("signer", signer);
    const r = await this.#view("getWorkerFromSigningAddress", [s]);
    const custodian = outputs(r, "getWorkerFromSigningAddress").address("0");
    if (custodian === ZERO_ADDRESS) return undefined;
    return toWorkerInfo(custodian, struct(r, "worker", 1));
  }

  /** The principal node's enclave signer (the contract's immutable `PRINCIPAL`). */
  principal(): Promise<string> {
    return Promise.resolve(this.#principal);
  }

  /**
   * The registry name of the worker-selection strategy the Enigma contract was deployed with
   * (`IWorkerSelection(SELECTION()).name()`, e.g. `"group:3"`); read once.
   */
  selectionName(): Promise<string> {
    this.#selectionName ??= (async () => {
      const address = outputs(await this.#view("SELECTION", []), "SELECTION").address("0");
      const r = await this.#rpc.view(SELECTION_INTERFACE, address, "name", []);
      return outputs(r, "name").string("0");
    })();
    return this.#selectionName;
  }

  /** ENG balance in grains. */
  async tokenBalance(address: string): Promise<bigint> {
    const a = argAddress("address", address);
    const r = await this.#rpc.view(TOKEN_INTERFACE, this.tokenAddress, "balanceOf", [a]);
    return outputs(r, "balanceOf").bigint("0");
  }

  /** The node's events in blocks `[fromBlock, toBlock]`, ordered by (block, log index). */
  async getEvents(fromBlock: number, toBlock: number): Promise<ChainEvent[]> {
    return this.#events(argBlock("fromBlock", fromBlock), argBlock("toBlock", toBlock), true);
  }

  /**
   * Delivers the events of every block from `fromBlock` on, exactly once and in order, once a
   * block has `confirmations` blocks on top; the next range waits for `onEvents`. Polls every
   * `pollIntervalMs`; failures go to `onError` and are retried with backoff, never fatal.
   *
   * @example
   * const w = chain.watch({ fromBlock: 1, confirmations: 2, onEvents: async (events, toBlock) => {
   *   for (const e of events) if (e.type === "TaskRecordCreated") await pipeline.onRecord(e);
   *   await store.putMeta("lastBlock", toBlock);
   * } });
   */
  watch(o: WatchOptions): ChainWatch {
    this.#rpc.assertOpen("watch");
    let from = o.fromBlock;
    if ((o.confirmations ?? 0) === 0) this.#scanAhead = SCAN_AHEAD_BLOCKS;
    const w = startWatch(
      {
        head: () =>
          this.#rpc.run("eth_blockNumber", () => this.#rpc.provider.getBlockNumber(), {
            retry: false,
          }),
        events: (from, to) => this.#events(from, to, false),
        pollIntervalMs: this.#o.pollIntervalMs,
        ...(this.#o.wsUrl === undefined
          ? {}
          : {
              heads: (onHead: (n: number) => void) =>
                subscribeHeads({ url: this.#o.wsUrl ?? "", onHead }),
            }),
        minGapMs: this.#o.minPollGapMs,
        busyGapMs: this.#o.busyPollGapMs,
        baseDelayMs: Math.max(1, this.#o.retry.baseDelayMs),
        maxRange: this.#o.logChunkBlocks,
        closed: this.#closing.signal,
      },
      {
        ...o,
        // Epochs that start in the scanned blocks are known without a request, and the newest
        // one answers getEpoch for every scanned block after it.
        onEvents: async (events, toBlock) => {
          this.#epochs.scanned(
            from,
            toBlock,
            events.flatMap((e) =>
              e.type === "WorkersParameterized"
                ? [
                    Object.freeze({
                      index: e.nonce,
                      firstBlockNumber: e.firstBlockNumber,
                      inclusionBlockNumber: e.inclusionBlockNumber,
                      seed: e.seed,
                      workers: Object.freeze([...e.workers]) as string[],
                      stakes: Object.freeze([...e.stakes]) as bigint[],
                    }),
                  ]
                : [],
            ),
          );
          from = toBlock + 1;
          await o.onEvents(events, toBlock);
        },
      },
    );
    const handle: ChainWatch = {
      stop: async () => {
        this.#scanAhead = 0;
        this.#epochs.release();
        await w.stop();
        this.#watches.delete(handle);
      },
    };
    this.#watches.add(handle);
    return handle;
  }

  // ============================================ writes ===========================================

  /** Registers the custodian with its enclave `signer` and attestation report. */
  async register(signer: string, report: Uint8Array, signature: string): Promise<void> {
    const data = ENIGMA_INTERFACE.encodeFunctionData("register", [
      argAddress("signer", signer),
      argBytes("report", report),
      argHex("signature", signature),
    ]);
    await this.#write("register", (s) => s.send("register", this.enigmaAddress, data));
  }

  /** Adds `amount` grains to the custodian's stake; approves the token first if needed. */
  async deposit(amount: bigint): Promise<void> {
    const a = argUint("amount", amount, 1n);
    await this.#write("deposit", (s) => this.#deposit(s, a));
  }

  async login(): Promise<void> {
    const data = ENIGMA_INTERFACE.encodeFunctionData("login", []);
    await this.#write("login", (s) => s.send("login", this.enigmaAddress, data));
  }

  async logout(): Promise<void> {
    const data = ENIGMA_INTERFACE.encodeFunctionData("logout", []);
    await this.#write("logout", (s) => s.send("logout", this.enigmaAddress, data));
  }

  /** Withdraws `amount` grains of stake (logged out since an earlier epoch). */
  async withdraw(amount: bigint): Promise<void> {
    const data = ENIGMA_INTERFACE.encodeFunctionData("withdraw", [argUint("amount", amount, 1n)]);
    await this.#write("withdraw", (s) => s.send("withdraw", this.enigmaAddress, data));
  }

  /**
   * Idempotent bring-up, as one queued job: registers `signer` when the custodian is not
   * registered with it (or when its registered report no longer passes the contract's policy at
   * log-in), tops the stake up to `stake`, logs in when logged out. Reports what it did.
   * WorkerStatusInvalid when logged in with another enclave signer.
   */
  async ensureWorker(o: {
    signer: string;
    report: Uint8Array;
    signature: string;
    stake: bigint;
  }): Promise<{ registered: boolean; deposited: bigint; loggedIn: boolean }> {
    const signer = argAddress("signer", o.signer);
    const register = ENIGMA_INTERFACE.encodeFunctionData("register", [
      signer,
      argBytes("report", o.report),
      argHex("signature", o.signature),
    ]);
    const stake = argUint("stake", o.stake);
    return this.#write("ensureWorker", async (s) => {
      const w = await this.getWorker(s.account);
      const done = { registered: false, deposited: 0n, loggedIn: false };
      if (w.status === WorkerStatus.Unregistered || w.signer !== signer) {
        if (w.status === WorkerStatus.LoggedIn) {
          throw new EnigmaError(
            ErrorCode.WorkerStatusInvalid,
            `custodian ${s.account} is logged in with enclave signer ${w.signer}, not ${signer}: log out before registering a new enclave`,
            { details: { custodian: s.account, registered: w.signer, signer } },
          );
        }
        await s.send("register", this.enigmaAddress, register);
        done.registered = true;
      }
      if (w.balance < stake) {
        done.deposited = stake - w.balance;
        await this.#deposit(s, done.deposited);
      }
      if (w.status !== WorkerStatus.LoggedIn) {
        const login = ENIGMA_INTERFACE.encodeFunctionData("login", []);
        try {
          await s.send("login", this.enigmaAddress, login);
        } catch (e) {
          // The registered report no longer passes a changed policy (or trust root): register
          // this start's fresh report, then log in.
          if (done.registered || !isEnigmaError(e, ErrorCode.AttestationRejectedOnChain)) throw e;
          await s.send("register", this.enigmaAddress, register);
          done.registered = true;
          await s.send("login", this.enigmaAddress, login);
        }
        done.loggedIn = true;
      }
      return done;
    });
  }

  /**
   * Starts an epoch with the principal's signature over `WorkersParams(blockNumber, seed,
   * nonce = epoch index)`. Resolves with the block it was mined in (the epoch's first block).
   */
  async setWorkersParams(
    blockNumber: number,
    seed: bigint,
    sig: string,
  ): Promise<{ blockNumber: number }> {
    const data = ENIGMA_INTERFACE.encodeFunctionData("setWorkersParams", [
      argBlock("blockNumber", blockNumber),
      argUint("seed", seed),
      argHex("sig", sig),
    ]);
    const receipt = await this.#write("setWorkersParams", (s) =>
      s.send("setWorkersParams", this.enigmaAddress, data),
    );
    return { blockNumber: receipt.blockNumber };
  }

  /**
   * Commits a batch of receipts signed once by the selected worker's enclave (EIP-712
   * `ReceiptBatch`). A revert is the contract's error (TaskNotPending 213...) with the task in
   * `details.taskId`; other failures are ReceiptCommitFailed (420), with the batch's task ids.
   */
  async commitReceipts(
    receipts: ChainReceipt[],
    sig: string,
  ): Promise<{ transactionHash: string; blockNumber: number; events: ChainEvent[] }> {
    if (!Array.isArray(receipts) || receipts.length === 0) {
      throw new EnigmaError(ErrorCode.InvalidArgument, "commitReceipts needs at least one receipt");
    }
    const batch = receipts.map((r, i) => ({
      taskId: argBytes32(`receipts[${i}].taskId`, r.taskId),
      scAddr: argBytes32(`receipts[${i}].scAddr`, r.scAddr),
      inputsHash: argBytes32(`receipts[${i}].inputsHash`, r.inputsHash),
      prevDeltaHash: argBytes32(`receipts[${i}].prevDeltaHash`, r.prevDeltaHash),
      deltaIndex: argUint(
        `receipts[${i}].deltaIndex`,
        Number.isSafeInteger(r.deltaIndex) ? BigInt(r.deltaIndex) : r.deltaIndex,
      ),
      stateDeltaHash: argBytes32(`receipts[${i}].stateDeltaHash`, r.stateDeltaHash),
      outputHash: argBytes32(`receipts[${i}].outputHash`, r.outputHash),
      gasUsed: argUint(`receipts[${i}].gasUsed`, r.gasUsed),
      success: argBool(`receipts[${i}].success`, r.success),
      preCodeHash: argBytes32(`receipts[${i}].preCodeHash`, r.preCodeHash),
      codeHash: argBytes32(`receipts[${i}].codeHash`, r.codeHash),
      ethAddress: argAddress(`receipts[${i}].ethAddress`, r.ethAddress),
      ethCalldata: argHex(`receipts[${i}].ethCalldata`, r.ethCalldata),
    }));
    const data = ENIGMA_INTERFACE.encodeFunctionData("commitReceipts", [batch, argHex("sig", sig)]);
    const taskIds = batch.map((r) => r.taskId);
    const receipt = await this.#write("commitReceipts", (s) =>
      s.send("commitReceipts", this.enigmaAddress, data, {
        details: { taskIds },
        fallbackCode: ErrorCode.ReceiptCommitFailed,
      }),
    );
    const logs = receipt.logs.filter((l) => l.address.toLowerCase() === this.enigmaAddress);
    return {
      transactionHash: receipt.hash.toLowerCase(),
      blockNumber: receipt.blockNumber,
      events: decodeEvents(logs),
    };
  }

  /**
   * Refunds a timed-out task's fee to its sender (anyone may call it). TaskRecordNotFound when
   * there is no such record, TaskNotPending when it is settled, TaskNotTimedOut when too early.
   */
  async returnFeesForTask(taskId: string): Promise<void> {
    const id = argBytes32("taskId", taskId);
    const data = ENIGMA_INTERFACE.encodeFunctionData("returnFeesForTask", [id]);
    await this.#write("returnFeesForTask", async (s) => {
      try {
        await s.send("returnFeesForTask", this.enigmaAddress, data, { details: { taskId: id } });
      } catch (e) {
        const args = isEnigmaError(e, ErrorCode.TaskNotPending)
          ? (e.details.args as { status?: unknown } | undefined)
          : undefined;
        if (args?.status === 0) {
          throw new EnigmaError(ErrorCode.TaskRecordNotFound, `no task record ${id} on chain`, {
            details: { taskId: id },
            cause: e,
          });
        }
        throw e;
      }
    });
  }

  /** Stops every watch, lets the write in flight end, destroys the provider: no timers left. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#closing.abort();
      await Promise.all([...this.#watches].map((w) => w.stop()));
      await this.#sender?.idle();
      this.#rpc.provider.destroy();
    })();
    return this.#closed;
  }

  // =========================================== internals =========================================

  #view(fn: string, args: readonly unknown[]): Promise<Result> {
    return this.#rpc.view(ENIGMA_INTERFACE, this.enigmaAddress, fn, args);
  }

  async #write<T>(operation: string, job: (s: TransactionSender) => Promise<T>): Promise<T> {
    const s = this.#sender;
    if (s === undefined) {
      throw new EnigmaError(
        ErrorCode.InvalidArgument,
        `${operation} needs a privateKey: this chain connection is read-only`,
        { details: { operation } },
      );
    }
    this.#rpc.assertOpen(operation);
    return s.enqueue(() => job(s));
  }

  async #deposit(s: TransactionSender, amount: bigint): Promise<void> {
    const [balance, allowance] = await Promise.all([
      this.tokenBalance(s.account),
      this.#rpc
        .view(TOKEN_INTERFACE, this.tokenAddress, "allowance", [s.account, this.enigmaAddress])
        .then((r) => outputs(r, "allowance").bigint("0")),
    ]);
    if (balance < amount) {
      throw new EnigmaError(
        ErrorCode.InvalidAmount,
        `cannot deposit ${amount} grains: custodian ${s.account} holds ${balance} ENG grains`,
        {
          details: { custodian: s.account, amount: amount.toString(), balance: balance.toString() },
        },
      );
    }
    if (allowance < amount) {
      const approve = TOKEN_INTERFACE.encodeFunctionData("approve", [this.enigmaAddress, amount]);
      await s.send("approve", this.tokenAddress, approve);
    }
    const data = ENIGMA_INTERFACE.encodeFunctionData("deposit", [s.account, amount]);
    await s.send("deposit", this.enigmaAddress, data);
  }

  async #events(fromBlock: number, toBlock: number, retry: boolean): Promise<ChainEvent[]> {
    if (toBlock < fromBlock) {
      throw new EnigmaError(ErrorCode.InvalidArgument, "toBlock must not be below fromBlock", {
        details: { fromBlock, toBlock },
      });
    }
    const out: ChainEvent[] = [];
    for (let from = fromBlock; from <= toBlock; from += this.#o.logChunkBlocks) {
      const to = Math.min(toBlock, from + this.#o.logChunkBlocks - 1);
      const logs = await this.#rpc.run(
        "eth_getLogs",
        () =>
          this.#rpc.provider.getLogs({
            address: this.enigmaAddress,
            topics: [ALL_EVENT_TOPICS],
            fromBlock: from,
            toBlock: to,
          }),
        { retry, details: { fromBlock: from, toBlock: to } },
      );
      out.push(...decodeEvents(logs));
    }
    return out;
  }

  async #epochAt(b: number): Promise<EpochInfo | undefined> {
    const params = outputs(await this.#view("getWorkerParams", [b]), "getWorkerParams");
    const first = params.number("0");
    if (first === 0) return undefined;
    const known = this.#epochs.startingAt(first);
    if (known !== undefined) return known;
    // getWorkerParams has no index nor inclusion block: its event (one epoch per block at most) has.
    const events = await this.#rpc.run(
      "eth_getLogs",
      () =>
        this.#rpc.provider.getLogs({
          address: this.enigmaAddress,
          topics: [EVENT_TOPICS.WorkersParameterized],
          fromBlock: first,
          toBlock: first,
        }),
      { details: { blockNumber: first } },
    );
    const event = decodeEvents(events).find(
      (e) => e.type === "WorkersParameterized" && e.firstBlockNumber === first,
    );
    if (event?.type !== "WorkersParameterized") {
      throw new EnigmaError(
        ErrorCode.ChainError,
        `no WorkersParameterized log in block ${first}, where an epoch starts: does the endpoint serve logs that old?`,
        { details: { blockNumber: first } },
      );
    }
    const epoch: EpochInfo = Object.freeze({
      index: event.nonce,
      firstBlockNumber: first,
      inclusionBlockNumber: event.inclusionBlockNumber,
      seed: params.bigint("1"),
      workers: Object.freeze(params.addresses("2")) as string[],
      stakes: Object.freeze(params.bigints("3")) as bigint[],
    });
    this.#epochs.remember(epoch);
    return epoch;
  }
}

export type {
  ChainEvent,
  ChainEventType,
  ChainOptions,
  ChainWatch,
  EpochInfo,
  SecretContractInfo,
  TaskRecordInfo,
  WatchOptions,
  WorkerInfo,
} from "./types.js";
export { WorkerStatus } from "./types.js";
export { isTransientRpcError } from "./retry.js";
