// Epochs already read from the chain. An epoch never changes once started, and the epoch in
// force at a block is settled once its successor is known: a block below the successor's
// first block stays in it. Only those answers are served from here.
import type { EpochInfo } from "./types.js";

export class EpochCache {
  readonly #max: number;
  /** Sorted by index; not necessarily contiguous. */
  readonly #epochs: EpochInfo[] = [];
  /** Blocks a watcher has scanned for WorkersParameterized, contiguously: [from, to]. */
  #scannedFrom: number | undefined;
  #scannedTo = -1;
  /** `whenScanned` callers, woken as the scan front passes their block (or on `release`). */
  readonly #waiters = new Set<{ block: number; wake: (scanned: boolean) => void }>();

  /** Keeps at most `max` epochs (each holds its worker list), dropping the oldest. */
  constructor(max = 1_024) {
    this.#max = max;
  }

  get size(): number {
    return this.#epochs.length;
  }

  /** The epoch in force at block `b`: undefined = none (before epoch 0), null = not known here. */
  at(b: number): EpochInfo | undefined | null {
    const epochs = this.#epochs;
    let lo = 0;
    let hi = epochs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((epochs[mid]?.firstBlockNumber ?? 0) <= b) lo = mid + 1;
      else hi = mid;
    }
    if (lo === 0) {
      const first = epochs[0];
      return first?.index === 0 && b < first.firstBlockNumber ? undefined : null;
    }
    const e = epochs[lo - 1];
    const next = epochs[lo];
    if (e !== undefined && next?.index === e.index + 1) return e;
    // The newest known epoch is still in force at `b` when a watcher saw it start and has
    // scanned every block up to `b` without seeing another one start.
    const sawItStart =
      this.#scannedFrom !== undefined && e !== undefined && e.firstBlockNumber >= this.#scannedFrom;
    return sawItStart && next === undefined && b <= this.#scannedTo ? e : null;
  }

  /**
   * A watcher scanned blocks `from..to` (contiguous with its previous ranges) and saw these
   * epochs start there.
   */
  scanned(from: number, to: number, started: readonly EpochInfo[]): void {
    for (const e of started) this.remember(e);
    if (this.#scannedFrom === undefined || from > this.#scannedTo + 1) this.#scannedFrom = from;
    this.#scannedTo = Math.max(this.#scannedTo, to);
    for (const w of this.#waiters) if (w.block <= this.#scannedTo) w.wake(true);
  }

  /** The last block a watcher has scanned (-1 before any). */
  get scannedTo(): number {
    return this.#scannedTo;
  }

  /**
   * Resolves true once a watcher has scanned block `b`, false after `timeoutMs` or on
   * `release()`. Lets a question about a block the watcher is about to scan wait for it
   * instead of asking the chain.
   */
  whenScanned(b: number, timeoutMs: number): Promise<boolean> {
    if (b <= this.#scannedTo) return Promise.resolve(true);
    return new Promise((resolve) => {
      const w = {
        block: b,
        wake: (scanned: boolean) => {
          clearTimeout(timer);
          this.#waiters.delete(w);
          resolve(scanned);
        },
      };
      const timer = setTimeout(() => {
        w.wake(false);
      }, timeoutMs);
      this.#waiters.add(w);
    });
  }

  /** Wakes every `whenScanned` caller with false (the watcher stopped). */
  release(): void {
    for (const w of this.#waiters) w.wake(false);
  }

  /** The known epoch that starts at block `first`. */
  startingAt(first: number): EpochInfo | undefined {
    return this.#epochs.find((e) => e.firstBlockNumber === first);
  }

  remember(epoch: EpochInfo): void {
    const epochs = this.#epochs;
    const at = epochs.findIndex((e) => e.index >= epoch.index);
    if (at === -1) epochs.push(epoch);
    else if (epochs[at]?.index !== epoch.index) epochs.splice(at, 0, epoch);
    // Drop the oldest: recent epochs are the ones tasks and receipts ask about.
    if (epochs.length > this.#max) epochs.shift();
  }
}
