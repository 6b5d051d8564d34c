// The polling loop behind `EnigmaChain.watch`: consecutive block ranges, each delivered once
// it has enough confirmations and only after the previous one's handler has finished.
import { EnigmaError, ErrorCode } from "@enigma/protocol";
import type { HeadSubscription } from "./heads.js";
import { backoffDelay, sleep } from "./retry.js";
import type { ChainEvent, ChainWatch, WatchOptions } from "./types.js";

export interface WatchSource {
  /** The latest block number (one attempt: the loop does its own backoff). */
  head(): Promise<number>;
  /** The events of `[from, to]` in chain order (one attempt per request). */
  events(from: number, to: number): Promise<ChainEvent[]>;
  pollIntervalMs: number;
  /**
   * New heads as the endpoint announces them (`chain/heads.ts`): each one starts a poll at
   * once instead of at the next interval.
   */
  heads?: (onHead: (blockNumber: number) => void) => HeadSubscription;
  /**
   * The poll interval while heads are pushed (`live`): a poll then only finds a head the
   * subscription missed, so it can be rare. Default 1,000 ms (never below `pollIntervalMs`).
   */
  livePollIntervalMs?: number;
  /**
   * Least time between the starts of two polls that pushed heads started: a busy chain's
   * blocks are then read a few at a time rather than one request per block. Default 0.
   */
  minGapMs?: number;
  /**
   * The same gap once a poll has read more than one new block (the chain makes blocks faster
   * than the watch reads them): more blocks a request under load, while a quiet chain's block is
   * still read `minGapMs` after the last. Default `minGapMs`.
   */
  busyGapMs?: number;
  baseDelayMs: number;
  /** Largest range handed to `onEvents` at once (bounds memory while catching up). */
  maxRange: number;
  /** Aborted when the chain connection closes. */
  closed: AbortSignal;
}

function checkCount(name: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
    throw new EnigmaError(ErrorCode.InvalidArgument, `${name} must be a non-negative integer`, {
      details: { [name]: String(v) },
    });
  }
  return v;
}

/**
 * Polls `source` every `pollIntervalMs`. Block `b` is delivered when `head - b >=
 * confirmations`. Failures (RPC or handler) go to `onError` and are retried with exponential
 * backoff from `baseDelayMs` (capped at 10 s); they never end the loop. `stop()` resolves once
 * the loop has ended.
 */
export function startWatch(source: WatchSource, o: WatchOptions): ChainWatch {
  const fromBlock = checkCount("fromBlock", o.fromBlock);
  const confirmations = checkCount("confirmations", o.confirmations ?? 0);
  if (typeof o.onEvents !== "function") {
    throw new EnigmaError(ErrorCode.InvalidArgument, "watch needs an onEvents function");
  }
  const stopping = new AbortController();
  const onClose = () => {
    stopping.abort();
  };
  source.closed.addEventListener("abort", onClose, { once: true });
  const signal = stopping.signal;
  // A function, so that TypeScript does not narrow `aborted` across the awaits below.
  const stopped = () => signal.aborted;

  const report = (e: unknown) => {
    try {
      o.onError?.(e);
    } catch {
      // A throwing error handler must not end the watch either.
    }
  };

  // Heads pushed by the endpoint: the newest one not polled yet, and a wake-up for the loop.
  let pushed: number | undefined;
  let wake: (() => void) | undefined;
  const subscription = source.heads?.((n) => {
    if (pushed === undefined || n > pushed) pushed = n;
    wake?.();
  });
  const pollInterval = () =>
    subscription?.live === true
      ? Math.max(source.pollIntervalMs, source.livePollIntervalMs ?? 1_000)
      : source.pollIntervalMs;
  /** Sleeps `ms`, or less when a head is pushed (then at least until `notBefore`). */
  const idle = async (ms: number, notBefore: number) => {
    if (pushed === undefined && !stopped()) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, ms);
        function done() {
          clearTimeout(timer);
          signal.removeEventListener("abort", done);
          wake = undefined;
          resolve();
        }
        wake = done;
        signal.addEventListener("abort", done, { once: true });
      });
    }
    const gap = notBefore - performance.now();
    if (gap > 0 && !stopped()) await sleep(gap, signal);
  };

  const loop = (async () => {
    let next = fromBlock;
    let failures = 0;
    while (!stopped()) {
      let behind = false;
      // Whether this poll read more than one new block.
      let busy = false;
      const started = performance.now();
      try {
        // A pushed head saves the request for it.
        const announced = pushed;
        pushed = undefined;
        const head = announced ?? (await source.head());
        const safe = head - confirmations;
        if (safe >= next && !stopped()) {
          const to = Math.min(safe, next + source.maxRange - 1);
          const events = await source.events(next, to);
          if (stopped()) break;
          await o.onEvents(events, to);
          busy = to > next;
          next = to + 1;
          behind = to < safe;
        }
        failures = 0;
      } catch (e) {
        if (stopped()) break;
        failures++;
        report(e);
        await sleep(backoffDelay(failures, source.baseDelayMs), signal);
        continue;
      }
      // Still catching up: go on at once instead of waiting for the next poll.
      const minGap = source.minGapMs ?? 0;
      const gap = busy ? (source.busyGapMs ?? minGap) : minGap;
      if (!behind) await idle(pollInterval(), started + gap);
    }
  })();

  return {
    stop: async () => {
      stopping.abort();
      subscription?.close();
      await loop;
      source.closed.removeEventListener("abort", onClose);
    },
  };
}
