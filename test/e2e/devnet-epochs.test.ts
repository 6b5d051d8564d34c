// Devnet timing options that used to contradict each other now combine: each devnet below
// comes up with the contract's epoch size and task timeout as resolved, and its epochs end on
// their own (nobody mines here) whatever produces the blocks: automine alone, or an interval
// too slow for the epoch's time, which the harness fills in with empty blocks.
import { ENIGMA_ABI } from "@enigma/protocol";
import { Contract, JsonRpcProvider } from "ethers";
import { describe, expect, it } from "vitest";
import { startDevnet, type StartDevnetOptions } from "../../packages/devnet/src/index.js";

const cases: [string, StartDevnetOptions, { taskTimeoutBlocks: number; paced: boolean }][] = [
  // `enigma devnet up --epoch-blocks 100` was refused with the default preset.
  [
    "fast, 100-block epochs of 2 s",
    { epochBlocks: 100, epochSeconds: 2 },
    { taskTimeoutBlocks: 500, paced: true },
  ],
  [
    "1 s interval blocks, 10-block epochs of 2 s, 2 confirmations",
    { blockTime: 1000, epochBlocks: 10, confirmations: 2, epochSeconds: 2, taskTimeoutBlocks: 40 },
    { taskTimeoutBlocks: 40, paced: true },
  ],
];

describe("devnet timing combinations", () => {
  it.each(cases)("%s", async (_name, options, expected) => {
    const devnet = await startDevnet({ workers: 1, users: 0, seed: "e2e-epochs", ...options });
    const provider = new JsonRpcProvider(devnet.chain.rpcUrl, undefined, {
      staticNetwork: true,
      cacheTimeout: -1,
    });
    try {
      const enigma = new Contract(devnet.chain.enigmaAddress, ENIGMA_ABI, provider);
      expect(devnet.options.taskTimeoutBlocks).toBe(expected.taskTimeoutBlocks);
      expect(await enigma.getFunction("getEpochSize")()).toBe(BigInt(devnet.options.epochBlocks));
      expect(await enigma.getFunction("getTaskTimeoutSize")()).toBe(
        BigInt(expected.taskTimeoutBlocks),
      );
      expect(devnet.chain.pacing !== undefined).toBe(expected.paced);
      // Two epochs start with nobody mining (the timeout is generous: it only catches a hang).
      const epochOf = async () =>
        Number(await enigma.getFunction("getFirstBlockNumber")(await provider.getBlockNumber()));
      const first = await epochOf();
      const seen = new Set([first]);
      const until = Date.now() + 10 * devnet.options.epochSeconds * 1000;
      while (seen.size < 3 && Date.now() < until) {
        seen.add(await epochOf());
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(seen.size).toBe(3);
      expect(devnet.chain.pacing?.mined).toBeGreaterThan(0);
    } finally {
      provider.destroy();
      await devnet.stop();
    }
  });
});
