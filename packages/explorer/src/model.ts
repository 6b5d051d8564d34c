// What the explorer's server pushes to the page: one plain-JSON snapshot of the network, built
// from the chain and the nodes' own endpoints (see collector.ts). Shared by the server and the
// page (types only).

/** A node of the devnet, as the explorer reaches it. */
export interface NodeView {
  name: string;
  role: "principal" | "worker";
  signer: string;
  custodian: string;
  rpcUrl: string | null;
  /** Whether its JSON-RPC answered the last poll (the principal serves none: null). */
  up: boolean | null;
}

export interface AttestationView {
  /** MRENCLAVE from the registered report's quote. */
  mrenclave: string | null;
  /** The report's `isvEnclaveQuoteStatus` (`OK`...). */
  status: string | null;
  /** Whether the report passes the devnet's attestation policy (what clients check). */
  passesPolicy: boolean;
  /** Why not, when it does not (the check that failed). */
  reason: string | null;
}

export interface WorkerView {
  name: string;
  signer: string;
  custodian: string;
  /** `unregistered`, `logged in`, `logged out`. */
  status: string;
  /** Stake in ENG (decimal text). */
  stake: string;
  /** Fees earned from receipts (ENG, decimal text; from `ReceiptsCommitted`). */
  feesEarned: string;
  /** Tasks this worker's enclave ran (its `enigma_tasks_executed_total`). */
  tasksRun: number;
  /** Receipts it holds and has not committed yet (its `enigma_pending_receipts`). */
  pendingReceipts: number;
  attestation: AttestationView;
}

export interface EpochView {
  index: number;
  firstBlock: number;
  seed: string;
  workers: { signer: string; name: string; stake: string }[];
  /** Per contract address: the worker (name) selected for it in this epoch. */
  holders: Record<string, string>;
}

export interface DeltaView {
  index: number;
  /** The hash the chain holds. */
  chain: string;
  /** Per node name: the hash it stores at that index (null: it has none). */
  nodes: Record<string, string | null>;
}

export interface ContractView {
  address: string;
  owner: string;
  codeHash: string;
  deployedBlock: number | null;
  deltaCount: number;
  deltas: DeltaView[];
  /** Per node name: the code hash it stores (null: none). */
  nodeCodeHashes: Record<string, string | null>;
}

export interface StageView {
  node: string;
  stage: string;
  /** Wall-clock milliseconds. */
  at: number;
  detail?: Record<string, string | number | boolean>;
}

export interface TaskView {
  taskId: string;
  sender: string;
  contract: string | null;
  kind: "deploy" | "compute" | null;
  block: number;
  /** On chain: 1 created, 2 verified, 3 failed, 4 Ethereum call failed, 5 fee returned. */
  status: number;
  statusName: string;
  gasLimit: string;
  gasPx: string;
  gasUsed: string | null;
  /** The fee split once settled (ENG grains, decimal text): to the worker, back to the sender. */
  fee: { total: string; worker: string | null; refund: string | null };
  /** The worker that ran it (name), from its receipt or the nodes' traces. */
  worker: string | null;
  /** Every node's events, ordered by time. */
  stages: StageView[];
}

export interface SeriesView {
  /** Seconds (Unix time) of each point. */
  t: number[];
  /** Tasks executed per second over the devnet's workers. */
  tasksPerSecond: number[];
  /** Per stage: mean seconds from the previous stage, over the interval (null: none). */
  stageSeconds: Record<string, (number | null)[]>;
}

export interface ExplorerState {
  updatedAt: number;
  chain: {
    rpcUrl: string;
    chainId: number;
    enigmaAddress: string;
    tokenAddress: string;
    block: number;
    epochBlocks: number | null;
  };
  /** Whether the devnet turned the enclaves' debug interface on ("god mode"). */
  godMode: boolean;
  nodes: NodeView[];
  workers: WorkerView[];
  epochs: EpochView[];
  contracts: ContractView[];
  tasks: TaskView[];
  series: SeriesView;
}

/** What `/api/god/task/<id>` answers (a worker's `debugTaskData`). */
export interface GodTaskView {
  node: string;
  fn: string;
  args: string;
  decodedArgs: string[] | null;
  output: string | null;
  outputText: string | null;
  outputUint256: string | null;
  status: string | null;
}

/** What `/api/god/contract/<address>` answers (a worker's `debugContractState`). */
export interface GodContractView {
  node: string;
  deltas: number;
  entries: { key: string; value: string }[];
}
