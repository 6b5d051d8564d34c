// The node's typed view of the Enigma contract. Every hex value is lower-case `0x`; bytes32
// values are `0x` + 64 hex digits; block numbers and small counters are numbers.

export interface ChainOptions {
  /** Any Ethereum JSON-RPC endpoint over HTTP(S). */
  rpcUrl: string;
  enigmaAddress: string;
  tokenAddress: string;
  /** The custodian account that sends transactions and holds stake; read-only without it. */
  privateKey?: string;
  /** How often `watch` and transaction waits poll the endpoint. Default 250 ms. */
  pollIntervalMs?: number;
  /**
   * The endpoint's WebSocket, where `watch` subscribes to new heads (`eth_subscribe`) and reads
   * a block's events as soon as it is announced; polling stays the fallback. Default: `rpcUrl`
   * with `ws:`/`wss:` (Hardhat serves both on one port; geth's WebSocket is usually on 8546).
   * `false`: poll only.
   */
  wsUrl?: string | false;
  /** Least time between two polls that announced heads start (ms). Default 10. */
  minPollGapMs?: number;
  /**
   * The same once a poll has read more than one new block, i.e. under load (ms). Default 25:
   * with 32 senders (a block every ~5 ms), each node's poll reads ~5 blocks instead of ~2, and the
   * devnet ran ~10% more tasks a second (`pnpm bench:e2e`); one sender's blocks are read as
   * soon as before.
   */
  busyPollGapMs?: number;
  /**
   * Transient RPC errors (connection refused or reset, timeouts, HTTP 5xx and 429): tried
   * `attempts` times in all, waiting `baseDelayMs`, then twice as long each time. Default 5
   * attempts from 100 ms.
   */
  retry?: { attempts?: number; baseDelayMs?: number };
  /** One HTTP request's timeout; a timeout counts as transient. Default 30,000 ms. */
  requestTimeoutMs?: number;
  /** How long a write waits for its transaction to be mined. Default 120,000 ms. */
  receiptTimeoutMs?: number;
  /** Largest block range per `eth_getLogs` request and per `watch` delivery. Default 2,000. */
  logChunkBlocks?: number;
}

/** The epoch in force at a block (`getWorkerParams` plus its `WorkersParameterized` event). */
export interface EpochInfo {
  /** The epoch's index: the nonce the principal signed. */
  index: number;
  /** The block of the `setWorkersParams` transaction. */
  firstBlockNumber: number;
  /** The block number the principal signed (the one whose state the workers were read at). */
  inclusionBlockNumber: number;
  seed: bigint;
  /** Enclave signer addresses, in the epoch's order (the order worker selection walks). */
  workers: string[];
  /** Stakes in grains, same order as `workers`. */
  stakes: bigint[];
}

/** A task record; `status` is `TaskStatus` (1 created ... 5 fee returned). */
export interface TaskRecordInfo {
  taskId: string;
  sender: string;
  inputsHash: string;
  outputHash: string;
  gasLimit: bigint;
  gasPx: bigint;
  blockNumber: number;
  status: number;
}

/** A deployed secret contract; `status` 1 (deployed). */
export interface SecretContractInfo {
  address: string;
  owner: string;
  preCodeHash: string;
  codeHash: string;
  /**
   * Number of committed state deltas (read the hashes in pages with `getStateDeltaHashes`:
   * all of a long-lived contract's would pass an `eth_call` gas cap).
   */
  deltaCount: number;
  status: number;
}

/** Discovery's worker status values, as `getWorker` returns them. */
export const WorkerStatus = {
  Unregistered: 0,
  LoggedIn: 1,
  LoggedOut: 2,
} as const;
export type WorkerStatus = (typeof WorkerStatus)[keyof typeof WorkerStatus];

/** What `Enigma.getWorker(custodian)` returns (its always-empty `workerLogs` left out). */
export interface WorkerInfo {
  custodian: string;
  /** Enclave signer; the zero address when unregistered. */
  signer: string;
  status: WorkerStatus;
  /** Stake in grains. */
  balance: bigint;
  /** The attestation report registered with the signer: the IAS JSON text ("" if none). */
  report: string;
}

interface EventPosition {
  blockNumber: number;
  logIndex: number;
  transactionHash: string;
}

/** An `Enigma` event the node acts on, decoded and typed. */
export type ChainEvent = (
  | {
      type: "TaskRecordCreated";
      taskId: string;
      inputsHash: string;
      gasLimit: bigint;
      gasPx: bigint;
      sender: string;
    }
  | {
      type: "WorkersParameterized";
      seed: bigint;
      firstBlockNumber: number;
      inclusionBlockNumber: number;
      workers: string[];
      stakes: bigint[];
      nonce: number;
    }
  | {
      type: "ReceiptVerified";
      taskId: string;
      stateDeltaHash: string;
      outputHash: string;
      scAddr: string;
      gasUsed: bigint;
      deltaHashIndex: number;
      workerAddress: string;
      ethAddress: string;
      ethCalldata: string;
    }
  | { type: "ReceiptFailed"; taskId: string }
  | { type: "ReceiptFailedETH"; taskId: string }
  | { type: "TaskFeeReturned"; taskId: string }
  | { type: "SecretContractDeployed"; scAddr: string; codeHash: string; initStateDeltaHash: string }
  | { type: "ReceiptsCommitted"; workerSigner: string; count: number; fees: bigint }
) &
  EventPosition;

export type ChainEventType = ChainEvent["type"];

export interface WatchOptions {
  /** First block to deliver. */
  fromBlock: number;
  /** Blocks that must be mined on top of a block before it is delivered. Default 0. */
  confirmations?: number;
  /**
   * Receives the events of blocks `[previous toBlock + 1, toBlock]` (possibly none), in chain
   * order. The next range waits for the returned promise. If it throws, the error goes to
   * `onError` and the same range is delivered again after a backoff.
   */
  onEvents: (events: ChainEvent[], toBlock: number) => Promise<void> | void;
  /** Every failure (RPC or `onEvents`); the watch goes on. */
  onError?: (e: unknown) => void;
}

export interface ChainWatch {
  /** Stops polling and resolves once the loop has ended (after an `onEvents` in flight). */
  stop(): Promise<void>;
}
