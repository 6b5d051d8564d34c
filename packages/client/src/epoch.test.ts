import { ErrorCode } from "@enigma/protocol";
import { rejectedCode } from "@enigma/protocol/testing";
import { describe, expect, it } from "vitest";
import { EpochCache, type Epoch } from "./epoch.js";

function source(size: bigint) {
  let head = 100;
  let epoch: Epoch = { firstBlockNumber: 100n, seed: 1n, workers: ["0x01"], stakes: [1n] };
  const calls = { read: 0, size: 0, head: 0 };
  return {
    calls,
    setHead: (h: number) => (head = h),
    setEpoch: (first: bigint) => (epoch = { ...epoch, firstBlockNumber: first, seed: first }),
    src: {
      read: () => {
        calls.read++;
        return Promise.resolve(epoch);
      },
      epochSize: () => {
        calls.size++;
        return Promise.resolve(size);
      },
      blockNumber: () => {
        calls.head++;
        return Promise.resolve(head);
      },
    },
  };
}

describe("EpochCache", () => {
  it("reads the epoch once while the head is short of the epoch's earliest end", async () => {
    const s = source(50n);
    const cache = new EpochCache(s.src, 4);
    expect((await cache.current()).firstBlockNumber).toBe(100n);
    s.setHead(140);
    await cache.current();
    await cache.current();
    expect(s.calls.read).toBe(1);
    expect(s.calls.size).toBe(1);
    // Within the margin of block 150 (no epoch can start before it): read every time.
    s.setHead(146);
    await cache.current();
    expect(s.calls.read).toBe(2);
    s.setEpoch(150n);
    s.setHead(151);
    expect((await cache.current()).firstBlockNumber).toBe(150n);
    s.setHead(160);
    await cache.current();
    expect(s.calls.read).toBe(3);
  });

  it("reads again after invalidate(), once for concurrent callers", async () => {
    const s = source(50n);
    const cache = new EpochCache(s.src);
    await cache.current();
    cache.invalidate();
    s.setEpoch(120n);
    const all = await Promise.all([cache.current(), cache.current(), cache.current()]);
    expect(all.map((e) => e.firstBlockNumber)).toEqual([120n, 120n, 120n]);
    expect(s.calls.read).toBe(2);
  });

  it("says NoEpoch before the first epoch, and does not cache that", async () => {
    const s = source(50n);
    s.setEpoch(0n);
    const cache = new EpochCache(s.src);
    expect(await rejectedCode(cache.current())).toBe(ErrorCode.NoEpoch);
    s.setEpoch(100n);
    expect((await cache.current()).firstBlockNumber).toBe(100n);
  });
});
