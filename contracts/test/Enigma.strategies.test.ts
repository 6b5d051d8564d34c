// Enigma delegating selection to the strategy fixed at its deployment: for each shipped strategy,
// a receipt from a worker outside the task's group reverts NotSelectedWorker, and a receipt from
// any member of the group commits.
import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";
import { Contract, keccak256, toUtf8Bytes } from "ethers";
import { describe, expect, it } from "vitest";
import { discoverySelection, selectGroup, WORKER_SELECTION_ABI } from "@enigma/protocol";
import { useChain } from "./chain.js";
import {
  createTask,
  currentFirstBlock,
  deploySecretContract,
  ENG,
  enclaveOf,
  epochsOf,
  groupOf,
  mined,
  newEpoch,
  otherEnclave,
  receipt,
  revertOf,
  setup,
  signBatch,
  taskRecord,
  type Env,
} from "./fixture.js";

let ethers: HardhatEthers;
useChain((e) => {
  ethers = e;
});

/** Commits one receipt signed by `signer`'s enclave; the revert (name and args) if it fails. */
async function commit(
  env: Env,
  signer: string,
  r: Parameters<typeof receipt>[0],
): Promise<{ name: string; args: unknown[] } | undefined> {
  const rs = [receipt(r)];
  const sig = await signBatch(env, enclaveOf(env, signer), rs);
  const commitReceipts = env.enigma.getFunction("commitReceipts");
  try {
    await commitReceipts.staticCall(rs, sig);
  } catch {
    return revertOf(env, commitReceipts.staticCall(rs, sig));
  }
  await mined(commitReceipts(rs, sig));
  return undefined;
}

async function strategyName(env: Env): Promise<string> {
  const address = (await env.enigma.getFunction("SELECTION")()) as string;
  const s = new Contract(address, WORKER_SELECTION_ABI, env.ethers.provider);
  return (await s.getFunction("name")()) as string;
}

describe("Enigma with a selection strategy fixed at deployment", () => {
  it("discovery (default): the worker of draw 0 commits, another worker reverts NotSelectedWorker", async () => {
    const env = await setup(ethers);
    expect(await strategyName(env)).toBe("discovery");
    const u = env.users[0];
    if (u === undefined) throw new Error("no user");
    const { scAddr } = await deploySecretContract(env, u);
    const t = await createTask(env, u);
    const group = await groupOf(env, scAddr);
    expect(group).toHaveLength(1);
    const outsider = await otherEnclave(env, scAddr);
    expect(await commit(env, outsider.address, { taskId: t, scAddr, gasUsed: 5n })).toEqual({
      name: "NotSelectedWorker",
      args: [t, group[0]],
    });
    const delta = keccak256(toUtf8Bytes(`delta ${t}`));
    expect(
      await commit(env, group[0] ?? "", { taskId: t, scAddr, gasUsed: 5n, stateDeltaHash: delta }),
    ).toBeUndefined();
    expect((await taskRecord(env, t)).status).toBe(2n);
  });

  it("group:3: a receipt from each member commits, one from the worker outside the group reverts", async () => {
    const env = await setup(ethers, {
      selection: "group:3",
      workers: 4,
      stakes: [100n * ENG, 200n * ENG, 300n * ENG, 400n * ENG],
    });
    expect(await strategyName(env)).toBe("group:3");
    const u = env.users[0];
    if (u === undefined) throw new Error("no user");
    const { scAddr } = await deploySecretContract(env, u);
    const group = await groupOf(env, scAddr);
    expect(group).toHaveLength(3);
    // The chain's own answer is the TypeScript twin's.
    const onChain = (await env.enigma.getFunction("getWorkerGroup")(
      await currentFirstBlock(env),
      scAddr,
    )) as string[];
    expect([...onChain]).toEqual(group);
    const outsider = await otherEnclave(env, scAddr);
    const first = await createTask(env, u);
    expect(await commit(env, outsider.address, { taskId: first, scAddr, gasUsed: 5n })).toEqual({
      name: "NotSelectedWorker",
      args: [first, group[0]],
    });
    // Every member, in turn, commits a task building on the delta the previous member wrote.
    const tasks = [first, await createTask(env, u), await createTask(env, u)];
    for (const [i, member] of group.entries()) {
      const taskId = tasks[i] ?? "";
      const delta = keccak256(toUtf8Bytes(`delta ${taskId}`));
      expect(
        await commit(env, member, { taskId, scAddr, gasUsed: 5n, stateDeltaHash: delta }),
        member,
      ).toBeUndefined();
      expect((await taskRecord(env, taskId)).status).toBe(2n);
    }
    const deltas = (await env.enigma.getFunction("countStateDeltas")(scAddr)) as bigint;
    expect(deltas).toBe(4n);
  });

  it("rotation:2: at a term start the chain takes the new holder and refuses the one Discovery's rule would pick", async () => {
    const env = await setup(ethers, { selection: "rotation:2" });
    expect(await strategyName(env)).toBe("rotation:2");
    const u = env.users[0];
    if (u === undefined) throw new Error("no user");
    await newEpoch(env, 2n);
    // A contract whose epoch-1 holder would be drawn again (a hand-over): Discovery's rule keeps
    // it, rotation moves the contract to another worker. Failure receipts may name a contract
    // that was never deployed, so any address serves.
    const epochs = await epochsOf(env);
    const current = epochs.at(-1);
    if (current === undefined) throw new Error("no epoch");
    let scAddr: string | undefined;
    for (let i = 0; i < 500 && scAddr === undefined; i++) {
      const candidate = keccak256(toUtf8Bytes(`contract ${i}`));
      const rotated = await groupOf(env, candidate);
      const discovery = selectGroup(candidate, current, discoverySelection);
      if (rotated[0] !== discovery[0]) scAddr = candidate;
    }
    if (scAddr === undefined) throw new Error("no hand-over found in 500 contracts");
    const [holder] = await groupOf(env, scAddr);
    const [stale] = selectGroup(scAddr, current, discoverySelection);
    const t = await createTask(env, u);
    expect(
      await commit(env, stale ?? "", { taskId: t, scAddr, gasUsed: 5n, success: false }),
    ).toEqual({ name: "NotSelectedWorker", args: [t, holder] });
    expect(
      await commit(env, holder ?? "", { taskId: t, scAddr, gasUsed: 5n, success: false }),
    ).toBeUndefined();
    expect((await taskRecord(env, t)).status).toBe(3n);
  });

  it("an unknown strategy name deploys nothing (UnknownPolicy)", async () => {
    const { deployEnigma } = await import("../../scripts/deploy.js");
    const [owner] = await ethers.getSigners();
    if (owner === undefined) throw new Error("no signer");
    const nonce = await ethers.provider.getTransactionCount(owner.address);
    await expect(
      deployEnigma(owner, {
        principal: owner.address,
        selection: "nope",
        attestation: { rsaModulus: "0x01", rsaExponent: "0x03", mrEnclaves: [], mrSigners: [] },
      }),
    ).rejects.toMatchObject({ code: 120 });
    expect(await ethers.provider.getTransactionCount(owner.address)).toBe(nonce);
  });
});
