import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ErrorCode } from "../errors.js";
import { selectionStrategySuite, thrownCode } from "../testing.js";
import { drawWorker } from "./draws.js";
import { rotationSelection } from "./rotation.js";
import { selectGroup } from "./select.js";
import type { SelectionEpoch } from "./types.js";

selectionStrategySuite(rotationSelection(4), { describe, it });
selectionStrategySuite(rotationSelection(2), { describe, it }, { runs: 50 });

const W = ["aa", "bb", "cc", "dd"].map((b) => `0x${b.repeat(20)}`);
const STAKES = [4n, 3n, 2n, 1n].map((s) => s * 10n ** 8n);

/** Epochs 0..count-1, same workers, seeds from `seedOf`. */
function epochs(count: number, seedOf: (i: number) => bigint): SelectionEpoch[] {
  return Array.from({ length: count }, (_, index) => ({
    seed: seedOf(index),
    workers: W,
    stakes: STAKES,
    index,
  }));
}

function holders(sc: string, es: SelectionEpoch[], maxEpochs: number): string[] {
  return es.map((e) => selectGroup(sc, e, rotationSelection(maxEpochs), (i) => es[i])[0] ?? "");
}

describe("rotation strategy", () => {
  it("never lets a worker keep a contract more than maxEpochs epochs in a row", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.integer({ min: 2, max: 5 }),
        fc.bigInt({ min: 0n, max: 2n ** 200n }),
        (bytes, k, base) => {
          const sc = `0x${Buffer.from(bytes).toString("hex")}`;
          const held = holders(
            sc,
            epochs(24, (i) => base + BigInt(i)),
            k,
          );
          let run = 1;
          for (let i = 1; i < held.length; i++) {
            run = held[i] === held[i - 1] ? run + 1 : 1;
            expect(run).toBeLessThanOrEqual(k);
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it("is Discovery's draw except at a term start where draw 0 repeats the holder", () => {
    // A whale with 99.9% of the stake: Discovery keeps it almost always; rotation hands over.
    const whale = {
      workers: W,
      stakes: [999n * 10n ** 8n, 10n ** 8n / 3n, 10n ** 8n / 3n, 10n ** 8n / 3n],
    };
    const es = Array.from({ length: 12 }, (_, index) => ({
      ...whale,
      seed: BigInt(index) * 7919n,
      index,
    }));
    const sc = `0x${"00".repeat(31)}00`; // contractTag 0: terms start at epochs 0, 3, 6, 9
    const held = es.map((e) => selectGroup(sc, e, rotationSelection(3), (i) => es[i])[0]);
    const discovery = es.map((e) => drawWorker(sc, e, 0));
    es.forEach((_, i) => {
      const termStart = i % 3 === 0 && i > 0;
      if (!termStart || discovery[i] !== discovery[i - 1]) expect(held[i]).toBe(discovery[i]);
      else expect(held[i]).not.toBe(discovery[i - 1]);
    });
    expect(held.filter((w, i) => i > 0 && w !== held[i - 1]).length).toBeGreaterThanOrEqual(3);
  });

  it("keeps the holder when nobody else holds stake", () => {
    const solo = [0, 1, 2, 3].map((index) => ({
      seed: 5n,
      workers: [W[0] ?? ""],
      stakes: [1n],
      index,
    }));
    expect(holders(`0x${"00".repeat(32)}`, solo, 2)).toEqual([W[0], W[0], W[0], W[0]]);
  });

  it("needs the epoch index and the previous epoch, and says so", () => {
    const sc = `0x${"00".repeat(32)}`; // term start at every even index with maxEpochs 2
    const e = { seed: 1n, workers: W, stakes: STAKES };
    expect(thrownCode(() => selectGroup(sc, e, rotationSelection(2)))).toBe(
      ErrorCode.SelectionHistoryMissing,
    );
    expect(thrownCode(() => selectGroup(sc, { ...e, index: 2 }, rotationSelection(2)))).toBe(
      ErrorCode.SelectionHistoryMissing,
    );
    expect(thrownCode(() => selectGroup(sc, { ...e, index: 0 }, rotationSelection(2)))).toBe(
      undefined,
    );
  });

  it("refuses a term shorter than 2 (the rule would have to recurse)", () => {
    expect(thrownCode(() => rotationSelection(1))).toBe(ErrorCode.UnknownPolicy);
  });
});
