// Tasks sent one after another across epoch boundaries, on a chain with one-second blocks and
// 10-block epochs (issue 19): Discovery's client (enigma-js@0.3.0) and ours, side by side, each
// waiting for its task's receipt before it sends the next one. Receipts commit only once the
// next epoch has started, so a client's next record never names an epoch that is ending: no
// task fails. Nobody mines by hand: the chain's blocks end the epochs.
import { EnigmaChain } from "@enigma/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Task } from "./enigma-js.js";
import {
  compute,
  deploy,
  example,
  executed,
  result,
  selectionsAgree,
  startCompatNetwork,
  type CompatNetwork,
} from "./harness.js";

const BOUNDARIES = 5;
let net: CompatNetwork;
let chain: EnigmaChain;
let calculator: string;

/** The index of the epoch in force now. */
async function epochNow(): Promise<number> {
  return (await chain.currentEpoch())?.index ?? 0;
}

/** Polls the client's `getTaskRecordStatus` until the task has left status 1. */
async function onChain(t: Task): Promise<number> {
  for (;;) {
    const s = (await net.enigma.getTaskRecordStatus(t)).ethStatus;
    if (s !== 1) return s;
    await new Promise((r) => setTimeout(r, 250));
  }
}

beforeAll(async () => {
  net = await startCompatNetwork({
    seed: "compat-epoch-boundary",
    // One-second blocks end the epochs; no pacing on top (it would add empty blocks).
    timing: { epochBlocks: 10, taskTimeoutBlocks: 40, blockTime: 1000, epochSeconds: 0 },
    users: 1,
  });
  chain = await EnigmaChain.connect({
    rpcUrl: net.devnet.chain.rpcUrl,
    enigmaAddress: net.devnet.chain.enigmaAddress,
    tokenAddress: net.devnet.chain.tokenAddress,
  });
  const t = await deploy(net, example("calculator"), "construct()", []);
  expect((await executed(net, t)).engStatus).toBe("SUCCESS");
  expect(await onChain(t)).toBe(2);
  calculator = t.scAddr;
}, 240_000);

afterAll(async () => {
  await chain.close();
  await net.stop();
}, 60_000);

describe("tasks across epoch boundaries at one-second blocks", () => {
  it(`enigma-js and our client send task after task across ${BOUNDARIES} boundaries: every record lands, every task commits`, async () => {
    const start = await epochNow();
    const ours = net.devnet.client(0);
    const done = () => epochNow().then((n) => n - start >= BOUNDARIES);

    const discovery = async () => {
      const statuses: number[] = [];
      for (let i = 0; !(await done()); i++) {
        const t = await compute(net, calculator, "add(uint256,uint256)", [
          [i, "uint256"],
          [1, "uint256"],
        ]);
        const out = await result(net, await executed(net, t));
        expect(BigInt(`0x${out.decryptedOutput}`)).toBe(BigInt(i + 1));
        statuses.push(await onChain(t));
      }
      return statuses;
    };
    const ourClient = async () => {
      const statuses: number[] = [];
      for (let i = 0; !(await done()); i++) {
        const t = ours.computeTask(calculator, "add(uint256,uint256)", [BigInt(i), 2n], {
          gasLimit: 1_000_000n,
          gasPx: 1n,
          returnTypes: ["uint256"],
        });
        expect((await t.result()).values).toEqual([BigInt(i + 2)]);
        statuses.push((await t.waitForReceipt()).chainStatus);
      }
      return statuses;
    };
    const [a, b] = await Promise.all([discovery(), ourClient()]);
    expect(a.length).toBeGreaterThanOrEqual(BOUNDARIES);
    expect(b.length).toBeGreaterThanOrEqual(BOUNDARIES);
    expect(a.every((s) => s === 2)).toBe(true);
    expect(b.every((s) => s === 2)).toBe(true);
    expect(await epochNow()).toBeGreaterThanOrEqual(start + BOUNDARIES);
    expect(await selectionsAgree(net)).toBe(a.length + 1);
  }, 300_000);
});
