/**
 * One epoch's parameters as `Enigma.getWorkerParams(blockNumber)` returns them: the seed and
 * the workers' enclave signer addresses with their stakes, in the epoch's order.
 */
export interface EpochWorkers {
  readonly seed: bigint;
  readonly workers: readonly string[];
  readonly stakes: readonly bigint[];
}

/**
 * An epoch as selection sees it: the snapshot and its index (the nonce the principal signed;
 * `EpochInfo` of the node and the client carry it). Rules keyed on the epoch number or on
 * earlier epochs need the index; Discovery's does not.
 */
export interface SelectionEpoch extends EpochWorkers {
  readonly index?: number;
}

/** Earlier epochs by index, for strategies that look back (`lookback > 0`). */
export type EpochLookup = (index: number) => SelectionEpoch | undefined;

/**
 * The draws of one secret contract in one epoch: what a strategy builds its group from.
 * Indices are positions in the epoch's snapshot. Two implementations exist and must agree
 * exactly: the reference one (`referenceDraws`, what nodes and clients run, a literal copy of
 * the Solidity walk) and the simulator's batched one (`@enigma/sim`); a property test checks it.
 */
export interface SelectionDraws {
  /** The epoch's index, when known. */
  readonly epochIndex: number | undefined;
  /** The secret contract's address (32 bytes, lower-case `0x` hex). */
  readonly contract: string;
  /**
   * The contract address's low 32 bits as an unsigned integer (Solidity:
   * `uint32(uint256(scAddr))`): a per-contract number for rules that stagger contracts.
   */
  readonly contractTag: number;
  /** Workers in the epoch's snapshot. */
  readonly count: number;
  /** The signer address at `index` (as given in the snapshot). */
  worker(index: number): string;
  /** The snapshot index of `worker` (case-insensitive), or -1. */
  indexOf(worker: string): number;
  /**
   * Discovery's draw `n` (DESIGN.md section 5): `r = keccak256(abi.encode(seed, scAddr, n)) %
   * total`, then the first worker that takes `r` to zero or below. -1 when nobody has stake.
   */
  draw(n: number): number;
  /**
   * The same draw over the workers not in `excluded`: `r = hash % (total - their stakes)`, and
   * the walk skips them. -1 when the others have no stake.
   */
  drawExcluding(n: number, excluded: readonly number[]): number;
}

/** The draws of the same contract `back` epochs earlier (1 = the previous epoch), if any. */
export type DrawsHistory = (back: number) => SelectionDraws | undefined;

/**
 * A worker-selection strategy: which workers serve a secret contract in an epoch. A new rule
 * is one file implementing this, one Solidity contract implementing `IWorkerSelection`, and one
 * line in the registry (`policy/registry.ts`); it must pass the compliance suites of
 * `@enigma/protocol/testing` and `contracts/test/selection/agreement.ts` before it is used.
 */
export interface WorkerSelectionStrategy {
  /** The registry name, with its parameter when it has one (`"group:3"`). */
  readonly name: string;
  /** Workers per contract (a group may be shorter when fewer workers hold stake). */
  readonly groupSize: number;
  /** How many earlier epochs `select` reads (0: the current one only). */
  readonly lookback: number;
  /**
   * Snapshot indices of the selected workers, in draw order, distinct, at most `groupSize`;
   * `[]` when nobody holds stake. Must be a pure function of the draws it is given.
   */
  select(current: SelectionDraws, history: DrawsHistory): number[];
}

/** A worker as the chain's active set holds it: logged in, in login order. */
export interface WorkerStanding {
  readonly signer: string;
  /** The worker's balance in grains (Enigma's `workers[custodian].balance`). */
  readonly stake: bigint;
}

/** The first block of an epoch (what `getWorkerParams` returns first). */
export interface EpochStart {
  readonly firstBlockNumber: number;
}

/**
 * The epoch rules: when an epoch ends, who is in the next one and with what stake, and which
 * epochs' selections may receive a contract's state key. Everything that computes an epoch
 * boundary calls this instead of re-deriving `firstBlockNumber + epochSize`.
 */
export interface EpochPolicy {
  /** The registry name, with its parameter when it has one (`"capped:25"`). */
  readonly name: string;
  /**
   * Whether the `Enigma` contract implements this policy today (Discovery's does; others run in
   * `enigma sim` until the contract delegates the snapshot).
   */
  readonly onChain: boolean;
  /**
   * The first block at which the epoch after the one that started at `firstBlock` may start
   * (the contract refuses earlier with `EpochTooEarly`).
   */
  nextEpochBlock(firstBlock: number, epochSize: number): number;
  /** The last block of the epoch that started at `firstBlock` (receipts are due once it is scanned). */
  lastEpochBlock(firstBlock: number, epochSize: number): number;
  /** Whether a new epoch may start at `head`: none has started yet, or `current` is over. */
  isEpochDue(head: number, current: EpochStart | undefined, epochSize: number): boolean;
  /**
   * The epoch's snapshot from the logged-in workers in login order: who is eligible and the
   * stake each one is counted with, in the order selection walks.
   */
  snapshot(
    loggedIn: readonly WorkerStanding[],
    stakingThreshold: bigint,
  ): { workers: string[]; stakes: bigint[] };
  /**
   * Indices of the epochs whose selected workers may receive a contract's state key while
   * epoch `current` is in force, newest first (Discovery's: `[current, current - 1]`, so a
   * task recorded just before a boundary can still run).
   */
  stateKeyEpochs(current: number): number[];
  /**
   * Blocks a (re)starting node rescans for task records: a task recorded this far back may
   * still be pending.
   */
  rescanBlocks(taskTimeout: number, epochSize: number): number;
}
