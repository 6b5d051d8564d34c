import { describe, expect, it } from "vitest";
import { ErrorCode } from "../errors.js";
import { epochPolicySuite, thrownCode } from "../testing.js";
import { cappedEpochs, discoveryEpochs } from "./epochs.js";

epochPolicySuite(discoveryEpochs, { describe, it });
epochPolicySuite(cappedEpochs(10), { describe, it });

const w = (b: string) => `0x${b.repeat(20)}`;

describe("Discovery's epochs", () => {
  it("are due epochSize blocks after the first block, as setWorkersParams enforces", () => {
    expect(discoveryEpochs.nextEpochBlock(100, 10)).toBe(110);
    expect(discoveryEpochs.lastEpochBlock(100, 10)).toBe(109);
    expect(discoveryEpochs.isEpochDue(109, { firstBlockNumber: 100 }, 10)).toBe(false);
    expect(discoveryEpochs.isEpochDue(110, { firstBlockNumber: 100 }, 10)).toBe(true);
    expect(discoveryEpochs.isEpochDue(0, undefined, 10)).toBe(true);
  });

  it("snapshot logged-in workers at or above the threshold, in login order, whole balances", () => {
    const snap = discoveryEpochs.snapshot(
      [
        { signer: w("aa"), stake: 5n },
        { signer: w("bb"), stake: 4n },
        { signer: w("cc"), stake: 9n },
      ],
      5n,
    );
    expect(snap).toEqual({ workers: [w("aa"), w("cc")], stakes: [5n, 9n] });
  });

  it("authorize state keys for the current and the previous epoch", () => {
    expect(discoveryEpochs.stateKeyEpochs(7)).toEqual([7, 6]);
    expect(discoveryEpochs.stateKeyEpochs(0)).toEqual([0]);
    expect(discoveryEpochs.rescanBlocks(30, 10)).toBe(40);
  });

  it("refuse nonsense with typed errors", () => {
    expect(thrownCode(() => discoveryEpochs.nextEpochBlock(-1, 10))).toBe(
      ErrorCode.InvalidArgument,
    );
    expect(thrownCode(() => discoveryEpochs.nextEpochBlock(1, 0))).toBe(ErrorCode.InvalidArgument);
    expect(thrownCode(() => discoveryEpochs.snapshot([{ signer: w("aa"), stake: -1n }], 0n))).toBe(
      ErrorCode.InvalidArgument,
    );
  });
});

describe("capped epochs", () => {
  it("count a whale with at most P% of the eligible stake", () => {
    const snap = cappedEpochs(10).snapshot(
      [
        { signer: w("aa"), stake: 900n },
        { signer: w("bb"), stake: 50n },
        { signer: w("cc"), stake: 50n },
      ],
      1n,
    );
    expect(snap.stakes).toEqual([100n, 50n, 50n]);
    expect(cappedEpochs(100).snapshot([{ signer: w("aa"), stake: 7n }], 1n).stakes).toEqual([7n]);
    expect(cappedEpochs(10).onChain).toBe(false);
  });
});
