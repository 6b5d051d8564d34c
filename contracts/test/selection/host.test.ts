// The host side of delegation: what `Enigma` will inherit (`WorkerSelectionHost`).
import { readFile } from "node:fs/promises";
import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";
import { Interface } from "ethers";
import { describe, expect, it } from "vitest";
import { useChain } from "../chain.js";
import { customErrorOf, mined } from "../fixture.js";
import { deployStrategy } from "./agreement.js";

let ethers: HardhatEthers;
useChain((e) => {
  ethers = e;
});

const W = `0x${"aa".repeat(20)}`;
const SC = `0x${"01".repeat(32)}`;

async function abiOf(name: string, dir = "contracts"): Promise<Interface> {
  const file = `artifacts/${dir}/${name}.sol/${name}.json`;
  return new Interface((JSON.parse(await readFile(file, "utf8")) as { abi: [] }).abi);
}

describe("WorkerSelectionHost", () => {
  it("runs the strategy read-only: a strategy that writes is stopped by the EVM", async () => {
    const { harness } = await deployStrategy(ethers, "MisbehavingSelection", [0]);
    await mined(harness.getFunction("setEpoch")(0, 1n, [W], [5n]));
    await expect(harness.getFunction("isSelected")(0, SC, W)).rejects.toThrow();
    await expect(harness.getFunction("selectGroup")(0, SC)).rejects.toThrow();
    // The same strategy through a bare DELEGATECALL (the probe's variant 2) writes and returns:
    // it is the host's STATICCALL (variant 1) that stops it.
    const copy = await ethers.deployContract("CalldataDiscovery");
    const probe = await ethers.deployContract("SelectionGasProbe", [
      await (await ethers.deployContract("MisbehavingSelection", [0])).getAddress(),
      await copy.getAddress(),
    ]);
    await mined(probe.getFunction("setEpoch")(0, 1n, [W], [5n]));
    const bare = (await probe.getFunction("measure")(2, 0, SC, SC, W)) as unknown[];
    expect(bare[2]).toBe(true);
    await expect(probe.getFunction("measure")(1, 0, SC, SC, W)).rejects.toThrow();
  });

  it("passes a strategy's revert through unchanged", async () => {
    const { harness, strategy } = await deployStrategy(ethers, "MisbehavingSelection", [1]);
    const err = await customErrorOf(strategy, harness.getFunction("isSelected")(0, SC, W));
    expect(err).toEqual({ name: "Refused", args: [7n] });
  });

  it("refuses the delegation entry to anyone but itself", async () => {
    const { harness } = await deployStrategy(ethers, "DiscoverySelection");
    const call = (await abiOf("IWorkerSelection", "contracts/selection")).encodeFunctionData(
      "isSelected",
      [0n, 0n, SC, W],
    );
    const [signer] = await ethers.getSigners();
    if (signer === undefined) throw new Error("no signer");
    const err = await customErrorOf(
      harness,
      signer.call({ to: await harness.getAddress(), data: call }),
    );
    expect(err.name).toBe("SelectionSelfCallOnly");
  });

  it("shares no selector with Enigma, so Enigma can host a strategy", async () => {
    const strategy = await abiOf("IWorkerSelection", "contracts/selection");
    const enigma = await abiOf("Enigma");
    const mine = new Set<string>();
    strategy.forEachFunction((f) => mine.add(f.selector));
    const clashes: string[] = [];
    enigma.forEachFunction((f) => {
      if (mine.has(f.selector)) clashes.push(f.format());
    });
    expect(clashes).toEqual([]);
  });
});
