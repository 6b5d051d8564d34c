import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";
import type { ContractTransactionResponse } from "ethers";
import { describe, expect, it } from "vitest";
import { useChain } from "./chain.js";

let ethers: HardhatEthers;
useChain((e) => {
  ethers = e;
});

async function deploy() {
  const [owner, alice, bob] = await ethers.getSigners();
  if (owner === undefined || alice === undefined || bob === undefined)
    throw new Error("need 3 accounts");
  const token = await ethers.deployContract("EnigmaToken", [], owner);
  return { token, owner, alice, bob };
}

/** Sends a transaction and waits for it to be mined. */
async function mined(tx: Promise<unknown>): Promise<void> {
  await ((await tx) as ContractTransactionResponse).wait();
}

describe("EnigmaToken", () => {
  it("is Enigma / ENG with 8 decimals and mints the whole fixed supply to the deployer", async () => {
    const { token, owner } = await deploy();
    expect(await token.getFunction("name")()).toBe("Enigma");
    expect(await token.getFunction("symbol")()).toBe("ENG");
    expect(await token.getFunction("decimals")()).toBe(8n);
    const supply = 150_000_000n * 10n ** 8n;
    expect(await token.getFunction("totalSupply")()).toBe(supply);
    expect(await token.getFunction("balanceOf")(owner.address)).toBe(supply);
  });

  it("transfers and spends allowances like any ERC20, and the supply never changes", async () => {
    const { token, owner, alice, bob } = await deploy();
    await mined(token.getFunction("transfer")(alice.address, 1_000n));
    await mined(token.connect(alice).getFunction("approve")(bob.address, 400n));
    await mined(token.connect(bob).getFunction("transferFrom")(alice.address, bob.address, 300n));
    expect(await token.getFunction("balanceOf")(alice.address)).toBe(700n);
    expect(await token.getFunction("balanceOf")(bob.address)).toBe(300n);
    expect(await token.getFunction("allowance")(alice.address, bob.address)).toBe(100n);
    expect(await token.getFunction("totalSupply")()).toBe(150_000_000n * 10n ** 8n);
    expect(await token.getFunction("balanceOf")(owner.address)).toBe(
      150_000_000n * 10n ** 8n - 1_000n,
    );
  });

  it("reverts with OpenZeppelin's custom errors on overspending, and moves nothing", async () => {
    const { token, alice, bob } = await deploy();
    await expect(token.connect(alice).getFunction("transfer")(bob.address, 1n)).rejects.toThrow(
      /ERC20InsufficientBalance/,
    );
    await expect(
      token.connect(bob).getFunction("transferFrom")(alice.address, bob.address, 1n),
    ).rejects.toThrow(/ERC20InsufficientAllowance/);
    expect(await token.getFunction("balanceOf")(bob.address)).toBe(0n);
  });
});
