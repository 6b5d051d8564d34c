/**
 * "Solidity and TypeScript agree": the contracts-side compliance helper for a worker-selection
 * strategy. It deploys the strategy's Solidity twin behind `SelectionStrategyHarness` (which
 * stores epochs exactly as `Enigma` does and delegates to the strategy the way `Enigma` will),
 * writes random epoch histories into it, and checks on every one that the contract's group and
 * membership answers equal the TypeScript strategy's.
 */
import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";
import type { Contract } from "ethers";
import fc from "fast-check";
import { selectGroup, type SelectionEpoch, type WorkerSelectionStrategy } from "@enigma/protocol";
import { contractAddresses, selectionHistories } from "@enigma/protocol/testing";
import { mined } from "../fixture.js";

export interface AgreementOptions {
  ethers: HardhatEthers;
  /** The TypeScript strategy. */
  strategy: WorkerSelectionStrategy;
  /** The Solidity twin's artifact name (`GroupSelection`) and constructor arguments. */
  contract: string;
  args?: unknown[];
  /** Random histories to check (default 60), and the fast-check seed (default 0x5eed). */
  runs?: number;
  seed?: number;
}

export interface StrategyOnChain {
  strategy: Contract;
  harness: Contract;
  /** Writes `epochs` into the harness by index. */
  store: (epochs: readonly SelectionEpoch[]) => Promise<void>;
}

/** Deploys `contract` and a harness that delegates to it. */
export async function deployStrategy(
  ethers: HardhatEthers,
  contract: string,
  args: unknown[] = [],
): Promise<StrategyOnChain> {
  const strategy = await ethers.deployContract(contract, args);
  const harness = await ethers.deployContract("SelectionStrategyHarness", [
    await strategy.getAddress(),
  ]);
  return {
    strategy,
    harness,
    store: async (epochs) => {
      for (const [i, e] of epochs.entries()) {
        await mined(harness.getFunction("setEpoch")(e.index ?? i, e.seed, e.workers, e.stakes));
      }
    },
  };
}

const lower = (ws: readonly string[]) => ws.map((w) => w.toLowerCase());

/**
 * Checks the Solidity twin against `strategy` on random histories; throws fast-check's report
 * (with the counterexample and the seed to replay it) on the first disagreement.
 *
 * @example
 * it("agrees with its TypeScript twin", () =>
 *   checkSolidityAgreement({ ethers, strategy: groupSelection(3), contract: "GroupSelection", args: [3] }));
 */
export async function checkSolidityAgreement(o: AgreementOptions): Promise<void> {
  const { strategy: sol, harness, store } = await deployStrategy(o.ethers, o.contract, o.args);
  const declared = {
    name: (await sol.getFunction("name")()) as string,
    groupSize: Number(await sol.getFunction("groupSize")()),
    lookback: Number(await sol.getFunction("lookback")()),
  };
  const expected = {
    name: o.strategy.name,
    groupSize: o.strategy.groupSize,
    lookback: o.strategy.lookback,
  };
  if (JSON.stringify(declared) !== JSON.stringify(expected)) {
    throw new Error(
      `${o.contract} declares ${JSON.stringify(declared)}, ${o.strategy.name} ${JSON.stringify(expected)}`,
    );
  }
  // Zero, tiny (Discovery's "zero or below" edge) and grain-sized stakes.
  const stake = fc.oneof(
    { weight: 1, arbitrary: fc.constant(0n) },
    { weight: 2, arbitrary: fc.bigInt({ min: 1n, max: 10n }) },
    { weight: 5, arbitrary: fc.bigInt({ min: 1n, max: 10n ** 24n }) },
  );
  const histories = selectionHistories({
    stake,
    maxEpochs: o.strategy.lookback + 3,
    maxWorkers: 10,
  });
  await fc.assert(
    fc.asyncProperty(contractAddresses, histories, async (sc, h) => {
      await store(h.epochs);
      const index = h.current.index ?? 0;
      const ts = lower(selectGroup(sc, h.current, o.strategy, h.lookup));
      const onChain = lower((await harness.getFunction("selectGroup")(index, sc)) as string[]);
      if (JSON.stringify(onChain) !== JSON.stringify(ts)) {
        throw new Error(
          `group: Solidity ${JSON.stringify(onChain)}, TypeScript ${JSON.stringify(ts)}`,
        );
      }
      // Membership as a receipt check asks it: every member, and one worker outside the group.
      const outsider = h.current.workers.find((w) => !ts.includes(w.toLowerCase()));
      for (const w of [...ts, ...(outsider === undefined ? [] : [outsider])]) {
        const member = (await harness.getFunction("isSelected")(index, sc, w)) as boolean;
        if (member !== ts.includes(w.toLowerCase())) {
          throw new Error(`isSelected(${w}) is ${member} on chain`);
        }
      }
    }),
    { numRuns: o.runs ?? 60, seed: o.seed ?? 0x5eed },
  );
}
