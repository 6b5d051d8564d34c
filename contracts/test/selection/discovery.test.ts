// Discovery's Solidity twin: agrees with TypeScript, and with the library Enigma inlines today.
import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";
import fc from "fast-check";
import { describe, it } from "vitest";
import { discoverySelection } from "@enigma/protocol";
import { contractAddresses, selectionHistories } from "@enigma/protocol/testing";
import { useChain } from "../chain.js";
import { checkSolidityAgreement, deployStrategy } from "./agreement.js";

let ethers: HardhatEthers;
useChain((e) => {
  ethers = e;
});

describe("DiscoverySelection", () => {
  it("agrees with discoverySelection on random epochs", async () => {
    await checkSolidityAgreement({
      ethers,
      strategy: discoverySelection,
      contract: "DiscoverySelection",
    });
  });

  it("gives exactly WorkerSelection.drawStored's worker (what Enigma checks receipts against)", async () => {
    const { harness, store } = await deployStrategy(ethers, "DiscoverySelection");
    const stake = fc.oneof(
      fc.bigInt({ min: 0n, max: 10n }),
      fc.bigInt({ min: 1n, max: 10n ** 24n }),
    );
    await fc.assert(
      fc.asyncProperty(
        contractAddresses,
        selectionHistories({ stake, maxEpochs: 1 }),
        async (sc, h) => {
          await store(h.epochs);
          const inlined = (await harness.getFunction("drawStored")(0, sc)) as string;
          const group = (await harness.getFunction("selectGroup")(0, sc)) as string[];
          const want = /^0x0{40}$/.test(inlined) ? [] : [inlined];
          if (JSON.stringify([...group]) !== JSON.stringify(want)) {
            throw new Error(`strategy ${JSON.stringify(group)}, library ${inlined}`);
          }
        },
      ),
      { numRuns: 100, seed: 0x5eed },
    );
  });
});
