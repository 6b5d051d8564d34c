import { AbiCoder, keccak256 } from "ethers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { discoverySelection, drawWorker, selectWorker, type EpochWorkers } from "./selection.js";

const hex32 = fc
  .uint8Array({ minLength: 32, maxLength: 32 })
  .map((b) => `0x${Buffer.from(b).toString("hex")}`);
const address = fc
  .uint8Array({ minLength: 20, maxLength: 20 })
  .map((b) => `0x${Buffer.from(b).toString("hex")}`);
const epochOf = (maxStake: bigint, minStake = 1n) =>
  fc
    .array(fc.tuple(address, fc.bigInt({ min: minStake, max: maxStake })), {
      minLength: 1,
      maxLength: 12,
    })
    .chain((ws) =>
      fc.record({
        seed: fc.bigInt({ min: 0n, max: 2n ** 256n - 1n }),
        workers: fc.constant(ws.map(([a]) => a)),
        stakes: fc.constant(ws.map(([, s]) => s)),
      }),
    );
const epochArb = epochOf(10n ** 20n);

/** Reference written straight from DESIGN.md section 5 with ethers' ABI coder. */
function reference(scAddr: string, e: EpochWorkers, n = 0n): string | undefined {
  const total = e.stakes.reduce((a, b) => a + b, 0n);
  if (total === 0n) return undefined;
  let r =
    BigInt(
      keccak256(
        AbiCoder.defaultAbiCoder().encode(["uint256", "bytes32", "uint256"], [e.seed, scAddr, n]),
      ),
    ) % total;
  for (let i = 0; i < e.workers.length; i++) {
    r -= e.stakes[i] ?? 0n;
    if (r <= 0n) return e.workers[i];
  }
  return e.workers.at(-1);
}

// The suite that used to be private here is exported now (`@enigma/protocol/testing`,
// `selectionStrategySuite`); each strategy adopts it beside its file (policy/*.test.ts).

describe("discovery selection", () => {
  it("matches the written-out DESIGN.md algorithm for every draw", () => {
    fc.assert(
      fc.property(hex32, epochArb, fc.bigInt({ min: 0n, max: 5n }), (sc, e, n) => {
        expect(drawWorker(sc, e, n)).toBe(reference(sc, e, n));
      }),
    );
  });

  it("keeps Discovery's off-by-one: with stakes [9, 1] the first worker always wins", () => {
    const a = `0x${"aa".repeat(20)}`;
    const b = `0x${"bb".repeat(20)}`;
    fc.assert(
      fc.property(hex32, fc.bigInt({ min: 0n, max: 2n ** 256n - 1n }), (sc, seed) => {
        expect(selectWorker(sc, { seed, workers: [a, b], stakes: [9n, 1n] })).toBe(a);
      }),
    );
  });

  it("picks the only staked worker, and the last worker when r lands past the rest", () => {
    const a = `0x${"aa".repeat(20)}`;
    const b = `0x${"bb".repeat(20)}`;
    const sc = `0x${"01".repeat(32)}`;
    expect(selectWorker(sc, { seed: 7n, workers: [a], stakes: [5n] })).toBe(a);
    // r < total always; with stakes [0, 1], r = 0 stops at the zero-stake first worker.
    expect(selectWorker(sc, { seed: 7n, workers: [a, b], stakes: [0n, 1n] })).toBe(a);
  });

  it("returns distinct workers for larger groups (the earlier interface's groupSize)", () => {
    fc.assert(
      // Stakes of at least 2: "zero or below" leaves a last worker of stake 1 no ticket at all.
      fc.property(hex32, epochOf(100n, 2n), fc.integer({ min: 1, max: 12 }), (sc, e, size) => {
        const distinct = new Set(e.workers.map((w) => w.toLowerCase())).size;
        fc.pre(size <= distinct);
        const group = discoverySelection.selectWorkerGroup(sc, e, size);
        expect(group).toHaveLength(size);
        expect(new Set(group.map((w) => w.toLowerCase())).size).toBe(size);
      }),
    );
  });

  it("refuses a group larger than the staked workers instead of looping forever", () => {
    const a = `0x${"aa".repeat(20)}`;
    expect(() =>
      discoverySelection.selectWorkerGroup(
        `0x${"01".repeat(32)}`,
        { seed: 1n, workers: [a], stakes: [1n] },
        2,
      ),
    ).toThrow(/groupSize/);
  });

  it("weighs by stake: a worker holding 90% of the stake wins about 90% of contracts", () => {
    const a = `0x${"aa".repeat(20)}`;
    const b = `0x${"bb".repeat(20)}`;
    // Stakes are grains. "Zero or below" gives the first worker one extra ticket and the
    // last one ticket fewer: with stakes [9, 1] the second worker could never win.
    const e = { seed: 12345n, workers: [a, b], stakes: [9n * 10n ** 8n, 10n ** 8n] };
    let wins = 0;
    for (let i = 0; i < 2000; i++) {
      if (selectWorker(`0x${i.toString(16).padStart(64, "0")}`, e) === a) wins++;
    }
    expect(wins / 2000).toBeGreaterThan(0.87);
    expect(wins / 2000).toBeLessThan(0.93);
  });
});
