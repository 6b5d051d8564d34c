// Issue 18: the per-epoch selection cache stays bounded whatever addresses it is asked about.
import { bytesToHex, keccak256, selectWorker } from "@enigma/protocol";
import { describe, expect, it } from "vitest";
import type { EpochInfo } from "./chain/types.js";
import { SELECTION_CACHE_MAX, cachedSelections, selectedWorker } from "./context.js";

const W1 = "0x1111111111111111111111111111111111111111";
const W2 = "0x2222222222222222222222222222222222222222";
const epoch: EpochInfo = {
  index: 1,
  firstBlockNumber: 10,
  inclusionBlockNumber: 10,
  seed: 7n,
  workers: [W1, W2],
  stakes: [100n, 300n],
};
const address = (i: number) => bytesToHex(keccak256(new TextEncoder().encode(`contract ${i}`)));

describe("selectedWorker's cache", () => {
  it("a flood of made-up contract addresses keeps it bounded; answers stay exact", () => {
    const honest = address(-1);
    const expected = selectWorker(honest, epoch)?.toLowerCase();
    expect(selectedWorker(honest, epoch)).toBe(expected);
    for (let i = 0; i < 3 * SELECTION_CACHE_MAX; i++) {
      selectedWorker(address(i), epoch);
      if (i % 1000 === 0) expect(selectedWorker(honest, epoch)).toBe(expected); // kept warm
    }
    expect(cachedSelections(epoch)).toBe(SELECTION_CACHE_MAX);
    expect(selectedWorker(honest, epoch)).toBe(expected);
    expect(selectedWorker(address(5), epoch)).toBe(selectWorker(address(5), epoch)?.toLowerCase());
  });
});
