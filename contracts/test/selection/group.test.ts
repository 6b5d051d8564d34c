import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";
import { describe, expect, it } from "vitest";
import { groupSelection } from "@enigma/protocol";
import { useChain } from "../chain.js";
import { checkSolidityAgreement } from "./agreement.js";

let ethers: HardhatEthers;
useChain((e) => {
  ethers = e;
});

describe("GroupSelection", () => {
  for (const k of [1, 3]) {
    it(`agrees with group:${k} on random epochs`, async () => {
      await checkSolidityAgreement({
        ethers,
        strategy: groupSelection(k),
        contract: "GroupSelection",
        args: [k],
      });
    });
  }

  it("refuses a group size out of range at deployment", async () => {
    await expect(ethers.deployContract("GroupSelection", [0])).rejects.toThrow(/InvalidGroupSize/);
  });
});
