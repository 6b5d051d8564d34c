import {
  ErrorCode,
  bytesToHex,
  getSelectionStrategy,
  isEnigmaError,
  keccak256,
  selectGroup,
} from "@enigma/protocol";
import { describe, expect, it } from "vitest";
import type { Epoch } from "./epoch.js";
import { ClientSelection, type SelectionSource } from "./selection.js";

const W = [
  "0x1111111111111111111111111111111111111111",
  "0x2222222222222222222222222222222222222222",
];
const epochs: Epoch[] = [0, 1, 2, 3].map((i) => ({
  firstBlockNumber: BigInt(10 * (i + 1)),
  seed: BigInt(1000 + i),
  workers: W,
  stakes: [100n, 300n],
}));
const sc = (i: number) => bytesToHex(keccak256(new TextEncoder().encode(`sc ${i}`)));

function source(deployed: string) {
  const reads = { name: 0, epochAt: 0, indexOf: 0 };
  const src: SelectionSource = {
    deployedName: () => {
      reads.name++;
      return Promise.resolve(deployed);
    },
    epochAt: (block) => {
      reads.epochAt++;
      const e = epochs.filter((x) => x.firstBlockNumber <= block).at(-1);
      return Promise.resolve(e ?? { firstBlockNumber: 0n, seed: 0n, workers: [], stakes: [] });
    },
    indexOf: (first) => {
      reads.indexOf++;
      return Promise.resolve(epochs.findIndex((x) => x.firstBlockNumber === first));
    },
  };
  return { src, reads };
}

describe("ClientSelection", () => {
  it("refuses a chain deployed with another strategy (SelectionMismatch), reading its name once", async () => {
    const { src, reads } = source("group:3");
    const s = new ClientSelection(undefined, src);
    const err: unknown = await s.check().catch((e: unknown) => e);
    expect(isEnigmaError(err, ErrorCode.SelectionMismatch)).toBe(true);
    expect(String(err)).toContain('selection: "group:3"');
    await s.check().catch(() => undefined);
    expect(reads.name).toBe(1);
    await expect(new ClientSelection("group:3", source("group:3").src).check()).resolves.toBe(
      undefined,
    );
  });

  it("Discovery's rule needs no chain read; rotation reads the epoch's index and its predecessor once per epoch", async () => {
    const d = source("discovery");
    const discovery = new ClientSelection("discovery", d.src);
    const e2 = epochs[2] ?? epochs[0];
    if (e2 === undefined) throw new Error();
    expect(await discovery.group(sc(1), e2)).toEqual(selectGroup(sc(1), e2));
    expect(d.reads).toEqual({ name: 0, epochAt: 0, indexOf: 0 });

    const r = source("rotation:2");
    const strategy = getSelectionStrategy("rotation:2");
    const rotation = new ClientSelection(strategy, r.src);
    const history = epochs.map((e, index) => ({ ...e, index }));
    const third = history[2];
    if (third === undefined) throw new Error("three epochs expected");
    let differs = 0;
    for (let i = 0; i < 40; i++) {
      const expected = selectGroup(sc(i), third, strategy, (k) => history[k]);
      expect(await rotation.group(sc(i), e2)).toEqual(expected);
      if (expected[0] !== selectGroup(sc(i), e2)[0]) differs++;
    }
    expect(differs).toBeGreaterThan(0); // some contracts changed hands at their term start
    expect(r.reads).toEqual({ name: 0, epochAt: 1, indexOf: 1 });
  });
});
