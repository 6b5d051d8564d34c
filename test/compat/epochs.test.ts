// Epochs that end on their own: on the devnet's defaults (`fast`: a block per transaction,
// 10-block epochs of at most 5 s), a lone client waits for its receipt and nobody mines: the
// devnet harness paces empty blocks, the epoch ends, the worker commits. Both Discovery's
// client and ours see status 2, about one epoch after their record.
import { ENIGMA_ABI } from "@enigma/protocol";
import { AbiCoder, Contract, Interface } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  compute,
  deploy,
  example,
  executed,
  result,
  selectionsAgree,
  settled,
  startCompatNetwork,
  type CompatNetwork,
} from "./harness.js";

let net: CompatNetwork;
let enigma: Contract;
const iface = new Interface(ENIGMA_ABI);

beforeAll(async () => {
  // `timing: {}`: the devnet's own defaults, as `enigma devnet up` gives them.
  net = await startCompatNetwork({ seed: "compat-epochs", timing: {}, users: 1 });
  enigma = new Contract(net.devnet.chain.enigmaAddress, ENIGMA_ABI, net.provider);
}, 120_000);

afterAll(async () => {
  await net.stop();
});

/** The first block of the epoch in force now. */
async function epochStart(): Promise<number> {
  const head = await net.provider.getBlockNumber();
  return Number(await enigma.getFunction("getFirstBlockNumber")(head));
}

/**
 * Waits, mining nothing, for the next epoch to start: a task sent right then has a whole epoch
 * before the boundary, so its record lands in the epoch it was encrypted for (a record that
 * crosses a boundary is another matter, with its own tests).
 */
async function freshEpoch(): Promise<number> {
  const before = await epochStart();
  for (;;) {
    const now = await epochStart();
    if (now !== before) return now;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The block of the task's `ReceiptVerified` event. */
async function committedAt(taskId: string): Promise<number> {
  const id = `0x${taskId.replace(/^0x/, "").toLowerCase()}`;
  const logs = await net.provider.getLogs({
    address: net.devnet.chain.enigmaAddress,
    topics: [iface.getEvent("ReceiptVerified")?.topicHash ?? ""],
    fromBlock: 0,
  });
  for (const log of logs) {
    const parsed = iface.parseLog(log);
    if (String(parsed?.args[0]).toLowerCase() === id) return log.blockNumber;
  }
  throw new Error(`no ReceiptVerified for ${id}`);
}

/** The block of the task's record. */
async function recordBlock(taskId: string): Promise<number> {
  const r = (await enigma.getFunction("getTaskRecord")(taskId)) as { blockNumber: bigint };
  return Number(r.blockNumber);
}

describe("epochs that end on their own (default devnet, nobody mines)", () => {
  it("paces empty blocks so that a 10-block epoch lasts at most 5 s", () => {
    expect(net.devnet.options).toMatchObject({
      epochBlocks: 10,
      epochSeconds: 5,
      confirmations: 0,
    });
    expect(net.devnet.chain.pacing?.paceMs).toBe(500);
  });

  it("enigma-js@0.3.0: a deployment and a task reach status 2 without anyone mining", async () => {
    const epochBlocks = net.devnet.options.epochBlocks;
    await freshEpoch();
    const t0 = performance.now();
    const dep = await deploy(net, example("calculator"), "construct()", []);
    expect((await executed(net, dep)).engStatus).toBe("SUCCESS");
    expect(await settled(net, [dep])).toEqual([2]);
    console.info(`enigma-js deployment: status 2 after ${(performance.now() - t0).toFixed(0)} ms`);
    // About one epoch: committed once the record's epoch ended, in the epoch after it.
    const committed = await committedAt(dep.taskId);
    expect(committed - dep.creationBlockNumber).toBeLessThanOrEqual(2 * epochBlocks);

    await freshEpoch();
    const add = await compute(net, dep.scAddr, "add(uint256,uint256)", [
      [40, "uint256"],
      [2, "uint256"],
    ]);
    const out = await result(net, await executed(net, add));
    expect(
      AbiCoder.defaultAbiCoder().decode(["uint256"], `0x${out.decryptedOutput ?? ""}`)[0],
    ).toBe(42n);
    expect(await settled(net, [add])).toEqual([2]);
    expect((await committedAt(add.taskId)) - add.creationBlockNumber).toBeLessThanOrEqual(
      2 * epochBlocks,
    );
    // The devnet, not the test, made the blocks that ended the epochs.
    expect(net.devnet.chain.pacing?.mined).toBeGreaterThan(0);
    expect(await selectionsAgree(net)).toBe(2);
  });

  it("our client: waitForReceipt() returns without anyone mining", async () => {
    const epochBlocks = net.devnet.options.epochBlocks;
    const client = net.devnet.client(0, { resultTimeoutMs: 30_000, receiptTimeoutMs: 60_000 });
    const gas = { gasLimit: 5_000_000n, gasPx: 1n };
    await freshEpoch();
    const t0 = performance.now();
    const deployment = client.deploySecretContract(example("counter"), "construct()", [], gas);
    const scAddr = await deployment.submitted();
    const receipt = await deployment.waitForReceipt();
    expect(receipt.chainStatus).toBe(2);
    console.info(
      `our client's deployment: receipt after ${(performance.now() - t0).toFixed(0)} ms`,
    );
    expect((await committedAt(scAddr)) - (await recordBlock(scAddr))).toBeLessThanOrEqual(
      2 * epochBlocks,
    );

    await freshEpoch();
    const inc = client.computeTask(scAddr, "increment()", [], { ...gas, gasLimit: 1_000_000n });
    const taskId = await inc.submitted();
    expect((await inc.waitForReceipt()).chainStatus).toBe(2);
    expect((await committedAt(taskId)) - (await recordBlock(taskId))).toBeLessThanOrEqual(
      2 * epochBlocks,
    );
  });
});
