import { describe, expect, it } from "vitest";
import { EpochCache } from "./epoch-cache.js";
import type { EpochInfo } from "./types.js";

const epoch = (index: number, firstBlockNumber: number): EpochInfo => ({
  index,
  firstBlockNumber,
  inclusionBlockNumber: firstBlockNumber - 1,
  seed: BigInt(index),
  workers: [],
  stakes: [],
});

describe("EpochCache", () => {
  it("answers a block only when the epoch's successor is known", () => {
    const c = new EpochCache();
    c.remember(epoch(1, 20));
    expect(c.at(25)).toBeNull(); // epoch 2 may start at any later block
    expect(c.at(15)).toBeNull(); // epoch 0 unknown
    c.remember(epoch(0, 10));
    expect(c.at(9)).toBeUndefined(); // before epoch 0: no epoch at all
    expect(c.at(10)?.index).toBe(0);
    expect(c.at(19)?.index).toBe(0);
    expect(c.at(20)).toBeNull();
    c.remember(epoch(3, 40)); // not the successor of 1: blocks of epoch 1 stay unknown
    expect(c.at(30)).toBeNull();
    c.remember(epoch(2, 30));
    expect(c.at(29)?.index).toBe(1);
    expect(c.at(30)?.index).toBe(2);
    expect(c.at(45)).toBeNull();
    expect(c.startingAt(30)?.index).toBe(2);
  });

  it("keeps each epoch once and drops the oldest beyond its size", () => {
    const c = new EpochCache(2);
    c.remember(epoch(0, 10));
    c.remember(epoch(0, 10));
    expect(c.size).toBe(1);
    c.remember(epoch(1, 20));
    c.remember(epoch(2, 30));
    expect(c.size).toBe(2);
    expect(c.startingAt(10)).toBeUndefined();
    expect(c.at(25)?.index).toBe(1);
  });

  it("answers for the newest epoch only over blocks a watcher scanned after seeing it start", () => {
    const c = new EpochCache();
    c.remember(epoch(0, 10)); // read from the chain: a newer one may have started since
    c.scanned(15, 30, []);
    expect(c.at(20)).toBeNull(); // epoch 0 started before the scan: not vouched for
    c.scanned(31, 40, [epoch(1, 35)]);
    expect(c.at(34)?.index).toBe(0); // settled by its successor
    expect(c.at(35)?.index).toBe(1);
    expect(c.at(40)?.index).toBe(1);
    expect(c.at(41)).toBeNull(); // not scanned yet
    c.scanned(41, 50, []);
    expect(c.at(50)?.index).toBe(1);
  });

  it("wakes a caller waiting for a block once it is scanned, and not otherwise", async () => {
    const c = new EpochCache();
    c.scanned(1, 10, [epoch(0, 5)]);
    expect(await c.whenScanned(10, 1_000)).toBe(true); // already scanned
    const waiting = c.whenScanned(12, 5_000);
    c.scanned(11, 11, []);
    c.scanned(12, 13, []);
    expect(await waiting).toBe(true);
    expect(c.at(12)?.index).toBe(0);
    expect(await c.whenScanned(20, 10)).toBe(false); // timed out: the watcher did not get there
    const released = c.whenScanned(30, 5_000);
    c.release(); // the watcher stopped
    expect(await released).toBe(false);
  });
});
