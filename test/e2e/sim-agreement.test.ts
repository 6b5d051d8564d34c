// The simulation and the network agree (issue 15): for a small scenario, `enigma sim` (the
// built command, no chain) and a real devnet running the same selection strategy give the same
// group for every contract in every epoch. The devnet's epochs are read back (seed, workers,
// stakes) and written as the sim's scenario, so the only thing compared is the rule: the
// TypeScript strategy the sim runs, the Solidity strategy Enigma delegates to
// (`getWorkerGroup`) and what a node computes (`NodeSelection`). No task runs, so stakes stay
// what they were at the first epoch (checked: otherwise the scenario would not be the devnet's).
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { EnigmaChain, NodeSelection, type EpochInfo } from "@enigma/node";
import { ENIGMA_ABI, getSelectionStrategy, grainsToEng } from "@enigma/protocol";
import { Contract, JsonRpcProvider, id } from "ethers";
import { afterEach, describe, expect, it } from "vitest";
import { startDevnet, type Devnet } from "../../packages/devnet/src/index.js";

const run = promisify(execFile);
const bin = fileURLToPath(new URL("../../packages/cli/bin/enigma.js", import.meta.url));
const EPOCHS = 6;
const CONTRACTS = 8;

let stop: (() => Promise<void>) | undefined;
afterEach(async () => {
  const s = stop;
  stop = undefined;
  await s?.();
}, 60_000);

const hex32 = (n: bigint) => `0x${n.toString(16).padStart(64, "0")}`;
const lower = (xs: readonly string[]) => xs.map((x) => x.toLowerCase());

/** The devnet's epochs, oldest first (walking back from the current one). */
async function epochsOf(chain: EnigmaChain): Promise<EpochInfo[]> {
  const out: EpochInfo[] = [];
  let e = await chain.currentEpoch();
  while (e !== undefined) {
    out.unshift(e);
    e = e.firstBlockNumber === 0 ? undefined : await chain.getEpoch(e.firstBlockNumber - 1);
  }
  return out;
}

async function agree(selection: string): Promise<void> {
  const devnet: Devnet = await startDevnet({
    workers: 4,
    seed: `sim-agreement-${selection}`,
    selection,
    epochBlocks: 20,
    epochSeconds: 0,
  });
  const { rpcUrl, enigmaAddress, tokenAddress } = devnet.chain;
  const chain = await EnigmaChain.connect({ rpcUrl, enigmaAddress, tokenAddress });
  const provider = new JsonRpcProvider(rpcUrl, undefined, {
    cacheTimeout: -1,
    staticNetwork: true,
  });
  const dir = await mkdtemp(join(tmpdir(), "sim-agreement-"));
  stop = async () => {
    provider.destroy();
    await chain.close();
    await devnet.stop();
    await rm(dir, { recursive: true, force: true });
  };
  const enigma = new Contract(enigmaAddress, ENIGMA_ABI, provider);

  // The devnet's first epoch(s) may precede the workers' login: compare from the first epoch
  // with workers; the sim numbers its epochs from there (firstEpochIndex) and, like the chain
  // (whose earlier epoch holds no stake), gives its first epoch no previous holder.
  const staffed = async () => (await epochsOf(chain)).filter((e) => e.workers.length > 0);
  while ((await staffed()).length < EPOCHS) await devnet.chain.advanceEpoch();
  const epochs = (await staffed()).slice(0, EPOCHS);
  const [first] = epochs;
  if (first === undefined) throw new Error("no epoch");
  expect(epochs.map((e) => e.index)).toEqual(
    Array.from({ length: EPOCHS }, (_, i) => first.index + i),
  );
  for (const e of epochs) {
    expect(lower(e.workers)).toEqual(lower(first.workers));
    expect(e.stakes).toEqual(first.stakes);
  }
  expect(new Set(epochs.map((e) => e.seed)).size).toBe(EPOCHS);

  // Contract addresses need no deployment: selection is a function of (epoch, address).
  const contracts = Array.from({ length: CONTRACTS }, (_, i) => id(`sim-agreement ${i}`));
  const threshold = (await enigma.getFunction("STAKING_THRESHOLD")()) as bigint;
  const scenario = {
    seed: `sim-agreement-${selection}`,
    workers: {
      list: first.workers.map((signer, i) => ({
        signer,
        stake: grainsToEng(first.stakes[i] ?? 0n),
      })),
    },
    contracts,
    epochs: EPOCHS,
    seeds: epochs.map((e) => hex32(e.seed)),
    firstEpochIndex: first.index,
    stakingThreshold: grainsToEng(threshold),
    selection,
  };
  const file = join(dir, "scenario.json");
  await writeFile(file, JSON.stringify(scenario));
  const { stdout } = await run(process.execPath, [
    bin,
    "sim",
    "--scenario",
    file,
    "--json",
    "--selections",
  ]);
  const sim = JSON.parse(stdout) as { selection: string; selections: string[][][] };
  expect(sim.selection).toBe(selection);

  if (selection.startsWith("rotation")) {
    // The rule is exercised: its term starts change some group Discovery's rule would keep.
    const plain = await run(process.execPath, [
      bin,
      "sim",
      "--scenario",
      file,
      "--json",
      "--selections",
      "--selection",
      "discovery",
    ]);
    expect((JSON.parse(plain.stdout) as { selections: unknown }).selections).not.toEqual(
      sim.selections,
    );
  }

  const nodeSelection = new NodeSelection(getSelectionStrategy(selection), chain);
  const groupSize = getSelectionStrategy(selection).groupSize;
  let compared = 0;
  for (const [e, epoch] of epochs.entries()) {
    for (const [c, sc] of contracts.entries()) {
      const simGroup = lower(sim.selections[e]?.[c] ?? []);
      const onChain = lower(
        (await enigma.getFunction("getWorkerGroup")(epoch.firstBlockNumber, sc)) as string[],
      );
      const node = lower(await nodeSelection.group(sc, epoch));
      expect(simGroup, `epoch ${e}, contract ${c}`).toHaveLength(groupSize);
      expect(onChain, `chain, epoch ${e}, contract ${c}`).toEqual(simGroup);
      expect(node, `node, epoch ${e}, contract ${c}`).toEqual(simGroup);
      compared++;
    }
  }
  expect(compared).toBe(EPOCHS * CONTRACTS);
}

describe("enigma sim and a devnet select the same groups", () => {
  for (const selection of ["discovery", "group:3", "rotation:2"]) {
    it(`${selection}: every contract, every epoch`, () => agree(selection), 120_000);
  }
});
