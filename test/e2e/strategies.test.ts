// The devnet end to end under each shipped selection strategy (issue 15): one in-process devnet
// per strategy, the client selecting with the same strategy as the chain and the nodes. A
// stateful contract (the counter) shows that state follows the contract from worker to worker:
// across the members of a group (group:3), and across a forced hand-over at a term start
// (rotation:2). Every task ends decrypted and committed (status 2), by the worker it named,
// exactly once.
import { readFile } from "node:fs/promises";
import { EnigmaChain, NodeSelection } from "@enigma/node";
import { ENIGMA_ABI, ErrorCode, getSelectionStrategy } from "@enigma/protocol";
import { rejectedCode } from "@enigma/protocol/testing";
import { Contract, JsonRpcProvider } from "ethers";
import { afterEach, describe, expect, it } from "vitest";
import type { TaskHandle } from "@enigma/client";
import { startDevnet, type Devnet } from "../../packages/devnet/src/index.js";

const GAS = { gasLimit: 5_000_000n, gasPx: 1n };
const counter = async () =>
  new Uint8Array(
    await readFile(
      new URL("../../packages/secret-contract/build/examples/counter.wasm", import.meta.url),
    ),
  );
const u64 = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(0);

interface Net {
  devnet: Devnet;
  chain: EnigmaChain;
  provider: JsonRpcProvider;
  selection: NodeSelection;
  enigma: Contract;
}

let net: Net | undefined;
afterEach(async () => {
  const n = net;
  net = undefined;
  n?.provider.destroy();
  await n?.chain.close();
  await n?.devnet.stop();
}, 60_000);

async function up(selection: string, workers: number): Promise<Net> {
  // Epochs end when the test advances them (no pacing): a task lands in the epoch it means to.
  const devnet = await startDevnet({
    workers,
    users: 1,
    seed: `e2e-${selection}`,
    selection,
    epochBlocks: 40,
    epochSeconds: 0,
  });
  const { rpcUrl, enigmaAddress, tokenAddress } = devnet.chain;
  const chain = await EnigmaChain.connect({ rpcUrl, enigmaAddress, tokenAddress });
  const provider = new JsonRpcProvider(rpcUrl, undefined, {
    cacheTimeout: -1,
    staticNetwork: true,
  });
  net = {
    devnet,
    chain,
    provider,
    selection: new NodeSelection(getSelectionStrategy(selection), chain),
    enigma: new Contract(enigmaAddress, ENIGMA_ABI, provider),
  };
  return net;
}

/** The worker a task was submitted to (the `submitted` event), lower-case. */
function workerOf(task: TaskHandle): string {
  const e = task.events.find((x) => x.type === "submitted");
  if (e?.type !== "submitted") throw new Error("not submitted");
  return e.worker.toLowerCase();
}

/**
 * Waits for every task's receipt (epochs end on their own; advancing only saves time) and
 * checks each was committed once (status 2), by the worker that ran it.
 */
async function committed(n: Net, tasks: TaskHandle[]): Promise<void> {
  const advancing = n.devnet.chain.advanceEpoch();
  advancing.catch(() => undefined);
  for (const t of tasks) expect((await t.waitForReceipt()).chainStatus).toBe(2);
  await advancing;
  const events = await n.enigma.queryFilter(n.enigma.getEvent("ReceiptVerified"));
  for (const t of tasks) {
    const id = await t.submitted();
    const mine = events.filter(
      (e) => String((e as unknown as { args: unknown[] }).args[0]).toLowerCase() === id,
    );
    expect(mine).toHaveLength(1);
    const worker = String((mine[0] as unknown as { args: unknown[] }).args[8]).toLowerCase();
    expect(worker).toBe(workerOf(t));
  }
}

describe("the devnet under each selection strategy", () => {
  it("discovery: deploy, compute, decrypted output, status 2", async () => {
    const n = await up("discovery", 3);
    const client = n.devnet.client(0);
    try {
      const deploy = client.deploySecretContract(await counter(), "construct()", [], GAS);
      const scAddr = await deploy.submitted();
      expect((await deploy.result()).status).toBe("SUCCESS");
      const task = client.computeTask(scAddr, "increment()", [], GAS);
      expect(u64((await task.result()).output)).toBe(1n);
      const epoch = await n.chain.getEpoch(await n.chain.blockNumber());
      if (epoch === undefined) throw new Error("no epoch");
      expect(workerOf(task)).toBe((await n.selection.group(scAddr, epoch))[0]);
      await committed(n, [deploy, task]);
    } finally {
      client.close();
    }
  });

  it("group:3: each member of the contract's group runs a task on the state the previous member left", async () => {
    const n = await up("group:3", 4);
    const client = n.devnet.client(0);
    try {
      const deploy = client.deploySecretContract(await counter(), "construct()", [], GAS);
      const scAddr = await deploy.submitted();
      expect((await deploy.result()).status).toBe("SUCCESS");
      const tasks: TaskHandle[] = [deploy];
      // All in one epoch (a fresh one, so that it does not end in the middle).
      await n.devnet.chain.advanceEpoch();
      const epoch = await n.chain.currentEpoch();
      if (epoch === undefined) throw new Error("no epoch");
      const group = await n.selection.group(scAddr, epoch);
      expect(group).toHaveLength(3);
      for (let member = 0; member < 3; member++) {
        const task = client.computeTask(scAddr, "increment()", [], { ...GAS, groupMember: member });
        expect(u64((await task.result()).output)).toBe(BigInt(member + 1));
        expect(workerOf(task)).toBe(group[member]);
        tasks.push(task);
      }
      // A member the group does not have: a typed error before any record (nothing changes:
      // still four deltas below).
      const bad = client.computeTask(scAddr, "increment()", [], { ...GAS, groupMember: 3 });
      expect(await rejectedCode(bad.submitted())).toBe(ErrorCode.InvalidArgument);
      await committed(n, tasks);
      expect(await n.enigma.getFunction("countStateDeltas")(scAddr)).toBe(4n);
    } finally {
      client.close();
    }
  });

  it("rotation:2: the contract is handed over at a term start and its state goes with it", async () => {
    const n = await up("rotation:2", 3);
    const client = n.devnet.client(0);
    try {
      const deploy = client.deploySecretContract(await counter(), "construct()", [], GAS);
      const scAddr = await deploy.submitted();
      expect((await deploy.result()).status).toBe("SUCCESS");
      // A term starts where (index + contract tag) % 2 == 0: run a task in the epoch before
      // one, then move into it, where its holder cannot keep the contract.
      const tag = Number(BigInt(scAddr) & 0xffffffffn);
      const current = async () => {
        const e = await n.chain.currentEpoch();
        if (e === undefined) throw new Error("no epoch");
        return e;
      };
      let epoch = await current();
      while ((epoch.index + 1 + tag) % 2 !== 0) {
        await n.devnet.chain.advanceEpoch();
        epoch = await current();
      }
      const first = client.computeTask(scAddr, "increment()", [], GAS);
      expect(u64((await first.result()).output)).toBe(1n);
      const holder = workerOf(first);
      expect(holder).toBe((await n.selection.group(scAddr, epoch))[0]);
      await n.devnet.chain.advanceEpoch();
      epoch = await current();
      expect((epoch.index + tag) % 2).toBe(0);
      const [next] = await n.selection.group(scAddr, epoch);
      expect(next).not.toBe(holder);
      const second = client.computeTask(scAddr, "increment()", [], GAS);
      expect(u64((await second.result()).output)).toBe(2n);
      expect(workerOf(second)).toBe(next);
      await committed(n, [deploy, first, second]);
    } finally {
      client.close();
    }
  });
});
