// Epochs that end on their own: a chain that mines one block per transaction produces no
// block while nobody sends one, so an idle devnet's epoch would never end and no receipt would
// ever be committed (the worker commits at epoch end, the principal starts the next epoch only
// when the epoch's blocks are over). The pacer, run by the devnet harness next to the chain
// (the nodes never mine), mines an empty block whenever none came for the pace's interval. A
// busy chain gets no extra blocks; an idle one gets exactly enough to end an epoch in time.

/** What the pacer needs of the chain: its head and a way to mine empty blocks. */
export interface PacedChain {
  blockNumber(): Promise<number>;
  /** Mines `blocks` empty blocks at once. */
  mine(blocks: number): Promise<void>;
}

export interface BlockPacerOptions {
  chain: PacedChain;
  /** Longest wall time between two blocks, in ms. */
  paceMs: number;
  /** Called when a poll or a mine fails (the pacer goes on at the next tick). */
  onError?: (e: unknown) => void;
  /** Clock and timer (tests). */
  now?: () => number;
}

/** The pacer never looks at the chain more often than this (ms). */
const MIN_TICK_MS = 25;
/** ...nor less often, so that a new block is noticed within this (ms). */
const MAX_TICK_MS = 250;

/**
 * Keeps at most `paceMs` between blocks by mining empty ones when the chain is idle. Faster
 * paces than the tick mine several blocks per tick (`hardhat_mine`), so any pace is kept.
 *
 * @example
 * const pacer = new BlockPacer({ chain, paceMs: 500 }); // 10-block epochs in 5 s at most
 * pacer.start();
 * await pacer.stop();
 */
export class BlockPacer {
  readonly #chain: PacedChain;
  readonly #paceMs: number;
  readonly #tickMs: number;
  readonly #now: () => number;
  readonly #onError: (e: unknown) => void;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = true;
  #head = -1;
  /** When the newest block was first seen (or mined here). */
  #seenAt = 0;
  /** Empty blocks this pacer mined. */
  mined = 0;

  constructor(o: BlockPacerOptions) {
    if (!Number.isFinite(o.paceMs) || o.paceMs <= 0) {
      throw new RangeError(`paceMs must be a positive number, got ${String(o.paceMs)}`);
    }
    this.#chain = o.chain;
    this.#paceMs = o.paceMs;
    this.#tickMs = Math.min(MAX_TICK_MS, Math.max(MIN_TICK_MS, o.paceMs / 4));
    this.#now = o.now ?? (() => performance.now());
    this.#onError = o.onError ?? (() => undefined);
  }

  get paceMs(): number {
    return this.#paceMs;
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#seenAt = this.#now();
    this.#schedule();
  }

  /** Stops; resolves once a tick in flight has finished. Idempotent. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  /** One look at the chain: mines what an idle chain owes. Exposed for tests. */
  async tick(): Promise<void> {
    const now = this.#now();
    const head = await this.#chain.blockNumber();
    if (head !== this.#head) {
      this.#head = head;
      this.#seenAt = now;
      return;
    }
    // A block is owed once the chain has been idle for the pace, less the tick: the next look
    // would come too late. Idle far longer (a slow tick, or a pace faster than the tick): all of
    // the blocks owed go at once.
    const idle = now - this.#seenAt;
    if (idle + this.#tickMs < this.#paceMs) return;
    const owed = Math.max(1, Math.floor(idle / this.#paceMs));
    await this.#chain.mine(owed);
    this.mined += owed;
    this.#head = head + owed;
    this.#seenAt = now;
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#running = this.tick()
        .catch((e: unknown) => {
          this.#onError(e);
        })
        .finally(() => {
          this.#running = undefined;
          this.#schedule();
        });
    }, this.#tickMs);
    // A devnet's pacer must not keep a finished process alive.
    this.#timer.unref();
  }
}
