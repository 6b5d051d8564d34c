import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";
import { describe, expect, it } from "vitest";
import { deployEnigma } from "../../scripts/deploy.js";
import { attestationRoot, MRENCLAVE, MRSIGNER } from "./fixture.js";
import { useChain } from "./chain.js";

let ethers: HardhatEthers;
useChain((e) => {
  ethers = e;
});

describe("deployEnigma", () => {
  const root = attestationRoot();
  const attestation = {
    rsaModulus: root.modulus,
    rsaExponent: root.exponent,
    mrEnclaves: [MRENCLAVE],
    mrSigners: [MRSIGNER],
  };

  it("deploys token and Enigma with the given parameters, or reuses a token", async () => {
    const [owner, principal] = await ethers.getSigners();
    if (owner === undefined || principal === undefined) throw new Error();
    const d = await deployEnigma(owner, {
      principal: principal.address,
      epochSize: 7,
      taskTimeout: 21,
      attestation,
    });
    expect(await d.enigma.getFunction("getEpochSize")()).toBe(7n);
    expect(await d.enigma.getFunction("getTaskTimeoutSize")()).toBe(21n);
    expect(await d.enigma.getFunction("TOKEN")()).toBe(d.tokenAddress);
    expect(await d.enigma.getFunction("PRINCIPAL")()).toBe(principal.address);
    expect(await d.enigma.getFunction("STAKING_THRESHOLD")()).toBe(10n ** 8n);
    expect(await d.enigma.getFunction("owner")()).toBe(owner.address);
    expect(await d.enigma.getFunction("registrationPaused")()).toBe(false);
    // Task limits and the report age: the defaults.
    expect(await d.enigma.getFunction("MIN_GAS_PX")()).toBe(1n);
    expect(await d.enigma.getFunction("MAX_GAS_LIMIT")()).toBe(10_000_000_000n);
    expect(await d.enigma.getFunction("MAX_REPORT_AGE")()).toBe(86_400n);
    const again = await deployEnigma(owner, {
      token: d.tokenAddress,
      principal: principal.address,
      attestation,
    });
    expect(again.tokenAddress).toBe(d.tokenAddress);
    expect(await again.enigma.getFunction("getEpochSize")()).toBe(10n);
    expect(await again.enigma.getFunction("getTaskTimeoutSize")()).toBe(30n);
    const limits = await deployEnigma(owner, {
      token: d.tokenAddress,
      principal: principal.address,
      minGasPx: 5,
      maxGasLimit: 1_000n,
      maxReportAge: 600,
      attestation,
    });
    expect(await limits.enigma.getFunction("MIN_GAS_PX")()).toBe(5n);
    expect(await limits.enigma.getFunction("MAX_GAS_LIMIT")()).toBe(1_000n);
    expect(await limits.enigma.getFunction("MAX_REPORT_AGE")()).toBe(600n);
  });

  it("refuses a zero principal, a zero epoch size, an unbounded worker set, free tasks, no gas and no report age", async () => {
    const [owner] = await ethers.getSigners();
    if (owner === undefined) throw new Error();
    const zero = `0x${"00".repeat(20)}`;
    await expect(deployEnigma(owner, { principal: zero, attestation })).rejects.toThrow(
      /ZeroAddress/,
    );
    await expect(
      deployEnigma(owner, { principal: owner.address, epochSize: 0, attestation }),
    ).rejects.toThrow(/InvalidConfig/);
    await expect(
      deployEnigma(owner, { principal: owner.address, maxWorkers: 70_000, attestation }),
    ).rejects.toThrow(/InvalidConfig/);
    for (const bad of [{ minGasPx: 0 }, { maxGasLimit: 0 }, { maxReportAge: 0 }]) {
      await expect(
        deployEnigma(owner, { principal: owner.address, ...bad, attestation }),
      ).rejects.toThrow(/InvalidConfig/);
    }
  });
});
