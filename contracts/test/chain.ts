import hre from "hardhat";
import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";
import { afterAll, beforeAll } from "vitest";

/**
 * Gives a test file its own in-process EDR chain: created before the file's tests, closed
 * after them. `onReady` receives the connection's ethers helpers.
 *
 * @example
 * let ethers: HardhatEthers;
 * useChain((e) => { ethers = e; });
 */
export function useChain(onReady: (ethers: HardhatEthers) => void): void {
  let connection: Awaited<ReturnType<typeof hre.network.create>> | undefined;
  beforeAll(async () => {
    connection = await hre.network.create();
    onReady(connection.ethers);
  });
  afterAll(async () => {
    await connection?.close();
  });
}
