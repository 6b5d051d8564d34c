import { describe, expect, it } from "vitest";
import type { ChainEvent } from "./types.js";
import { startWatch, type WatchSource } from "./watcher.js";

/** A chain of `head` blocks without events, whose new heads a test pushes by hand. */
function fakeSource(o: {
  pollIntervalMs: number;
  minGapMs?: number;
  busyGapMs?: number;
  livePollIntervalMs?: number;
  /** Whether the head subscription says heads are pushed. Default false. */
  live?: boolean;
}) {
  const calls = { head: 0, events: [] as [number, number][], subscribed: 0, unsubscribed: 0 };
  let head = 10;
  let push: ((n: number) => void) | undefined;
  const subscription = { live: o.live ?? false };
  const closed = new AbortController();
  const source: WatchSource = {
    head: () => {
      calls.head++;
      return Promise.resolve(head);
    },
    events: (from, to) => {
      calls.events.push([from, to]);
      return Promise.resolve([] as ChainEvent[]);
    },
    heads: (onHead) => {
      calls.subscribed++;
      push = onHead;
      return {
        get live() {
          return subscription.live;
        },
        close() {
          calls.unsubscribed++;
          push = undefined;
        },
      };
    },
    pollIntervalMs: o.pollIntervalMs,
    ...(o.livePollIntervalMs === undefined ? {} : { livePollIntervalMs: o.livePollIntervalMs }),
    ...(o.minGapMs === undefined ? {} : { minGapMs: o.minGapMs }),
    ...(o.busyGapMs === undefined ? {} : { busyGapMs: o.busyGapMs }),
    baseDelayMs: 1,
    maxRange: 1000,
    closed: closed.signal,
  };
  return {
    source,
    calls,
    subscription,
    /** Mines a block and announces it. */
    mine(): void {
      head++;
      push?.(head);
    },
  };
}

/** Resolves once `onEvents` has delivered through `block`. */
function deliveries() {
  let through = -1;
  const waiting: { block: number; resolve: () => void }[] = [];
  return {
    onEvents: (_e: ChainEvent[], to: number) => {
      through = to;
      for (const w of waiting.filter((x) => x.block <= to)) w.resolve();
    },
    until: (block: number) =>
      block <= through
        ? Promise.resolve()
        : new Promise<void>((resolve) => waiting.push({ block, resolve })),
    get through() {
      return through;
    },
  };
}

describe("startWatch with pushed heads", () => {
  it("reads an announced block at once, without asking for the head, long before the next poll", async () => {
    const f = fakeSource({ pollIntervalMs: 60_000 });
    const seen = deliveries();
    const w = startWatch(f.source, { fromBlock: 1, onEvents: seen.onEvents });
    await seen.until(10); // the first poll asks for the head
    expect(f.calls.head).toBe(1);
    for (let b = 11; b <= 13; b++) {
      f.mine();
      await seen.until(b); // a 60 s poll interval: only the push can have woken it
    }
    expect(f.calls.head).toBe(1);
    expect(f.calls.events.map(([from]) => from)).toEqual([1, 11, 12, 13]);
    await w.stop();
    expect(f.calls.unsubscribed).toBe(1);
  });

  it("reads heads pushed while a poll runs in one range, and at most one poll per minGapMs", async () => {
    const f = fakeSource({ pollIntervalMs: 60_000, minGapMs: 200 });
    const seen = deliveries();
    const w = startWatch(f.source, { fromBlock: 1, onEvents: seen.onEvents });
    await seen.until(10);
    const t0 = performance.now();
    f.mine();
    f.mine();
    f.mine();
    await seen.until(13);
    // The first poll (blocks 1-10) started before t0: the next one waited for the gap.
    expect(f.calls.events.slice(1)).toEqual([[11, 13]]);
    f.mine();
    await seen.until(14);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(150);
    await w.stop();
  });

  it("waits busyGapMs after a poll that read several blocks, minGapMs after one that read one", async () => {
    const f = fakeSource({ pollIntervalMs: 60_000, minGapMs: 0, busyGapMs: 400 });
    const seen = deliveries();
    const w = startWatch(f.source, { fromBlock: 1, onEvents: seen.onEvents });
    await seen.until(10); // blocks 1-10 in one poll: busy
    const t0 = performance.now();
    f.mine();
    await seen.until(11);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(300);
    // That poll read one block: the next announced one is read at once.
    f.mine();
    let late: NodeJS.Timeout | undefined;
    await Promise.race([
      seen.until(12),
      new Promise<never>((_, reject) => {
        late = setTimeout(() => {
          reject(new Error("block 12 waited for the busy gap after a one-block poll"));
        }, 300);
      }),
    ]).finally(() => {
      clearTimeout(late);
    });
    expect(f.calls.events.slice(1)).toEqual([
      [11, 11],
      [12, 12],
    ]);
    await w.stop();
  });

  it("still polls when no head is pushed", async () => {
    const f = fakeSource({ pollIntervalMs: 5 });
    const seen = deliveries();
    const w = startWatch(f.source, { fromBlock: 1, onEvents: seen.onEvents });
    await seen.until(10);
    const before = f.calls.head;
    await new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (f.calls.head >= before + 2) {
          clearInterval(check);
          resolve();
        }
      }, 5);
    });
    await w.stop();
    expect(f.calls.unsubscribed).toBe(1);
  });

  it("polls every livePollIntervalMs while heads are pushed, every pollIntervalMs otherwise", async () => {
    const f = fakeSource({ pollIntervalMs: 5, livePollIntervalMs: 60_000, live: true });
    const seen = deliveries();
    const w = startWatch(f.source, { fromBlock: 1, onEvents: seen.onEvents });
    await seen.until(10);
    // Live heads: the first poll is the only one; announced blocks are still read at once.
    for (let b = 11; b <= 12; b++) {
      f.mine();
      await seen.until(b);
    }
    await new Promise((r) => setTimeout(r, 100)); // 20 intervals of 5 ms
    expect(f.calls.head).toBe(1);
    // The subscription drops: the next wait is the plain interval again. A pushed head ends
    // the 60 s wait in progress.
    f.subscription.live = false;
    f.mine();
    await seen.until(13);
    const before = f.calls.head;
    await new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (f.calls.head >= before + 2) {
          clearInterval(check);
          resolve();
        }
      }, 5);
    });
    await w.stop();
  });
});
