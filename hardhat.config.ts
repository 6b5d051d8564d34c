import { createRequire } from "node:module";
import hardhatEthers from "@nomicfoundation/hardhat-ethers";
import { defineConfig } from "hardhat/config";
import type { HardhatPlugin } from "hardhat/types/plugins";

// Compile offline: solc comes from the `solc` npm package (pinned in package.json to exactly
// SOLC_VERSION; a mismatch is silent, see the check in contracts/test/build.test.ts).
export const SOLC_VERSION = "0.8.30";
const soljson = createRequire(import.meta.url).resolve("solc/soljson.js");

// A project-local plugin: hides solc's transient-storage warning about OpenZeppelin's own files
// (see scripts/hardhat-dependency-warnings.ts), so a fresh build prints nothing to act on.
const quietDependencies: HardhatPlugin = {
  id: "enigma-quiet-dependency-warnings",
  npmPackage: null,
  hookHandlers: { solidity: () => import("./scripts/hardhat-dependency-warnings.ts") },
};

export default defineConfig({
  plugins: [hardhatEthers, quietDependencies],
  solidity: {
    profiles: {
      default: {
        version: SOLC_VERSION,
        path: soljson,
        settings: {
          // Explicit: never depend on Hardhat's table of solc defaults.
          evmVersion: "prague",
          optimizer: { enabled: true, runs: 200 },
        },
      },
    },
  },
  paths: {
    sources: "./contracts",
    tests: { solidity: "./contracts/test" },
  },
});
