// The node's selection: the configured strategy over the chain's epochs, with a bounded cache
// (issue 18: a flood of made-up contract addresses keeps it bounded).
import {
  bytesToHex,
  getSelectionStrategy,
  keccak256,
  selectGroup,
  selectWorker,
} from "@enigma/protocol";
import { describe, expect, it } from "vitest";
import type { EpochInfo } from "./chain/types.js";
import { NodeSelection, SELECTION_CACHE_MAX } from "./selection.js";

const W1 = "0x1111111111111111111111111111111111111111";
const W2 = "0x2222222222222222222222222222222222222222";
const W3 = "0x3333333333333333333333333333333333333333";
const epochAt = (index: number, seed: bigint): EpochInfo => ({
  index,
  firstBlockNumber: 10 * (index + 1),
  inclusionBlockNumber: 10 * (index + 1),
  seed,
  workers: [W1, W2, W3],
  stakes: [100n, 300n, 200n],
});
const epochs = [epochAt(0, 7n), epochAt(1, 8n), epochAt(2, 9n), epochAt(3, 10n)];
/** The chain adapter's `getEpoch`, over `epochs`, counting its calls. */
function source() {
  const calls: number[] = [];
  return {
    calls,
    getEpoch: (block: number) => {
      calls.push(block);
      return Promise.resolve(epochs.filter((e) => e.firstBlockNumber <= block).at(-1));
    },
  };
}
const address = (i: number) => bytesToHex(keccak256(new TextEncoder().encode(`contract ${i}`)));
const epoch = epochs[1] ?? epochAt(1, 8n);

describe("NodeSelection", () => {
  it("a flood of made-up contract addresses keeps the cache bounded; answers stay exact", async () => {
    const s = new NodeSelection(getSelectionStrategy("discovery"), source());
    const honest = address(-1);
    const expected = selectWorker(honest, epoch)?.toLowerCase();
    expect((await s.group(honest, epoch))[0]).toBe(expected);
    for (let i = 0; i < 3 * SELECTION_CACHE_MAX; i++) {
      await s.group(address(i), epoch);
      if (i % 1000 === 0) expect((await s.group(honest, epoch))[0]).toBe(expected); // kept warm
    }
    expect(s.cached(epoch)).toBe(SELECTION_CACHE_MAX);
    expect((await s.group(honest, epoch))[0]).toBe(expected);
    expect((await s.group(address(5), epoch))[0]).toBe(
      selectWorker(address(5), epoch)?.toLowerCase(),
    );
  });

  it("a group strategy: every member is selected, nobody else", async () => {
    const strategy = getSelectionStrategy("group:2");
    const s = new NodeSelection(strategy, source());
    const sc = address(1);
    const group = selectGroup(sc, epoch, strategy).map((w) => w.toLowerCase());
    expect(await s.group(sc, epoch)).toEqual(group);
    for (const w of [W1, W2, W3]) {
      expect(await s.isMember(sc, epoch, w.toUpperCase().replace("0X", "0x"))).toBe(
        group.includes(w),
      );
    }
    expect(await s.isSelectedAt(sc, 25, group[0] ?? "")).toBe(true);
    expect(await s.isSelectedAt(sc, 5, group[0] ?? "")).toBe(false); // before the first epoch
  });

  it("a strategy that looks back gets the earlier epochs from the chain, as the contract reads them", async () => {
    const strategy = getSelectionStrategy("rotation:2");
    const src = source();
    const s = new NodeSelection(strategy, src);
    for (let i = 0; i < 50; i++) {
      for (const e of epochs.slice(1)) {
        const expected = selectGroup(address(i), e, strategy, (k) => epochs[k]);
        expect(await s.group(address(i), e)).toEqual(expected.map((w) => w.toLowerCase()));
      }
    }
    // It asked for the epoch in force just before each epoch's first block.
    expect(new Set(src.calls)).toEqual(new Set([19, 29, 39]));
  });
});
