import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";
import { Signature, type ContractTransactionResponse } from "ethers";
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

  it("grants an allowance from an ERC-2612 permit, once, and refuses a forged or expired one", async () => {
    const { token, alice, bob } = await deploy();
    const { chainId } = await ethers.provider.getNetwork();
    const domain = {
      name: "Enigma",
      version: "1",
      chainId,
      verifyingContract: await token.getAddress(),
    };
    const types = {
      Permit: [
        { name: "owner", type: "address" },
        { name: "spender", type: "address" },
        { name: "value", type: "uint256" },
        { name: "nonce", type: "uint256" },
        { name: "deadline", type: "uint256" },
      ],
    };
    const deadline = 2n ** 256n - 1n;
    const permit = { owner: alice.address, spender: bob.address, value: 500n, nonce: 0n, deadline };
    const sig = Signature.from(await alice.signTypedData(domain, types, permit));
    // Bob submits Alice's signature: the allowance is Alice's, the transaction Bob's.
    const asBob = token.connect(bob).getFunction("permit");
    await mined(asBob(alice.address, bob.address, 500n, deadline, sig.v, sig.r, sig.s));
    expect(await token.getFunction("allowance")(alice.address, bob.address)).toBe(500n);
    expect(await token.getFunction("nonces")(alice.address)).toBe(1n);
    // The same signature again: its nonce is spent.
    await expect(
      asBob(alice.address, bob.address, 500n, deadline, sig.v, sig.r, sig.s),
    ).rejects.toThrow(/ERC2612InvalidSigner/);
    // Signed by Bob for Alice's tokens.
    const forged = Signature.from(await bob.signTypedData(domain, types, { ...permit, nonce: 1n }));
    await expect(
      asBob(alice.address, bob.address, 9n, deadline, forged.v, forged.r, forged.s),
    ).rejects.toThrow(/ERC2612InvalidSigner/);
    const expired = Signature.from(
      await alice.signTypedData(domain, types, { ...permit, nonce: 1n, deadline: 1n }),
    );
    await expect(
      asBob(alice.address, bob.address, 500n, 1n, expired.v, expired.r, expired.s),
    ).rejects.toThrow(/ERC2612ExpiredSignature/);
    expect(await token.getFunction("allowance")(alice.address, bob.address)).toBe(500n);
  });
});
