import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";
import { describe, expect, it } from "vitest";
import { rotationSelection } from "@enigma/protocol";
import { useChain } from "../chain.js";
import { checkSolidityAgreement } from "./agreement.js";

let ethers: HardhatEthers;
useChain((e) => {
  ethers = e;
});

describe("RotationSelection", () => {
  // A short term makes most random histories end on a term start, where the rule acts.
  for (const term of [2, 3]) {
    it(`agrees with rotation:${term} on random histories`, async () => {
      await checkSolidityAgreement({
        ethers,
        strategy: rotationSelection(term),
        contract: "RotationSelection",
        args: [term],
      });
    });
  }

  it("refuses a term shorter than 2 at deployment", async () => {
    await expect(ethers.deployContract("RotationSelection", [1])).rejects.toThrow(/InvalidTerm/);
  });
});
