// The worker a client encrypts for: the selection strategy's group for the contract in the
// current epoch, first member. The strategy must be the one the Enigma contract was deployed
// with (the chain accepts receipts from that group only): checked once, at first use.
import {
  EnigmaError,
  ErrorCode,
  discoverySelection,
  getSelectionStrategy,
  selectGroup,
  type SelectionEpoch,
  type WorkerSelectionStrategy,
} from "@enigma/protocol";
import type { Epoch } from "./epoch.js";

/** What selection reads of the chain. */
export interface SelectionSource {
  /** The registry name of the deployed strategy (`IWorkerSelection(Enigma.SELECTION()).name()`). */
  deployedName(): Promise<string>;
  /** The epoch in force at a block (`getWorkerParams`); `firstBlockNumber` 0 before the first. */
  epochAt(blockNumber: bigint): Promise<Epoch>;
  /** The index (principal's nonce) of the epoch that started at `firstBlockNumber`. */
  indexOf(firstBlockNumber: bigint): Promise<number>;
}

/** Per epoch (by first block): what a strategy that reads the epoch number or history needs. */
interface EpochContext {
  index: number;
  previous: Map<number, SelectionEpoch>;
}

export class ClientSelection {
  readonly strategy: WorkerSelectionStrategy;
  readonly #src: SelectionSource;
  #checked: Promise<void> | undefined;
  /** A few recent epochs' contexts (a client works in the current epoch). */
  readonly #contexts = new Map<bigint, Promise<EpochContext>>();

  constructor(strategy: WorkerSelectionStrategy | string | undefined, src: SelectionSource) {
    this.strategy =
      strategy === undefined
        ? discoverySelection
        : typeof strategy === "string"
          ? getSelectionStrategy(strategy)
          : strategy;
    this.#src = src;
  }

  /**
   * Resolves once the chain's strategy is known to be this client's; `SelectionMismatch` (123)
   * otherwise: encrypting for another worker than the chain selects would only get the task
   * refused (`NotSelectedWorker`) after its fee was escrowed.
   */
  check(): Promise<void> {
    this.#checked ??= this.#src.deployedName().then(
      (deployed) => {
        if (deployed !== this.strategy.name) {
          throw new EnigmaError(
            ErrorCode.SelectionMismatch,
            `the Enigma contract selects workers with "${deployed}", this client with "${this.strategy.name}": create the client with selection: "${deployed}"`,
            { details: { chain: deployed, configured: this.strategy.name } },
          );
        }
      },
      (e: unknown) => {
        this.#checked = undefined; // a failed read is tried again
        throw e;
      },
    );
    return this.#checked;
  }

  /** The group selected for `scAddr` in `epoch`, in draw order (empty: nobody holds stake). */
  async group(scAddr: string, epoch: Epoch): Promise<string[]> {
    // Discovery's rule reads neither the epoch's number nor earlier epochs: no chain read.
    if (this.strategy === discoverySelection) return selectGroup(scAddr, epoch, this.strategy);
    const ctx = await this.#context(epoch);
    return selectGroup(scAddr, { ...epoch, index: ctx.index }, this.strategy, (i) =>
      ctx.previous.get(i),
    );
  }

  #context(epoch: Epoch): Promise<EpochContext> {
    let ctx = this.#contexts.get(epoch.firstBlockNumber);
    if (ctx === undefined) {
      ctx = this.#load(epoch);
      ctx.catch(() => this.#contexts.delete(epoch.firstBlockNumber));
      this.#contexts.set(epoch.firstBlockNumber, ctx);
      if (this.#contexts.size > 4) {
        const oldest = this.#contexts.keys().next();
        if (oldest.done !== true) this.#contexts.delete(oldest.value);
      }
    }
    return ctx;
  }

  async #load(epoch: Epoch): Promise<EpochContext> {
    const index = await this.#src.indexOf(epoch.firstBlockNumber);
    const previous = new Map<number, SelectionEpoch>();
    let first = epoch.firstBlockNumber;
    // The epoch in force at the block before an epoch's first is its predecessor.
    for (let back = 1; back <= this.strategy.lookback && index - back >= 0; back++) {
      const e = await this.#src.epochAt(first - 1n);
      if (e.firstBlockNumber === 0n) break;
      previous.set(index - back, e);
      first = e.firstBlockNumber;
    }
    return { index, previous };
  }
}
