import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";
import { keccak256, Signature, toUtf8Bytes, Wallet } from "ethers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  as,
  balanceOf,
  createTask,
  currentFirstBlock,
  deploySecretContract,
  domain,
  ENG,
  eventNames,
  mine,
  mined,
  newEpoch,
  otherEnclave,
  receipt,
  revertOf,
  selectedEnclave,
  setup,
  signBatch,
  stakeOf,
  TASK_TIMEOUT,
  taskIdOf,
  taskRecord,
  type Env,
} from "./fixture.js";
import { useChain } from "./chain.js";

let ethers: HardhatEthers;
useChain((e) => {
  ethers = e;
});

const FEE = 1000n * 100n; // default gasLimit * gasPx

function user(env: Env, i = 0) {
  const u = env.users[i];
  if (u === undefined) throw new Error("user");
  return u;
}

async function commit(
  env: Env,
  enclave: Wallet,
  receipts: ReturnType<typeof receipt>[],
  gasLimit?: bigint,
) {
  const sig = await signBatch(env, enclave, receipts);
  return mined(
    env.enigma.getFunction("commitReceipts")(
      receipts,
      sig,
      gasLimit === undefined ? {} : { gasLimit },
    ),
  );
}

async function custodianOf(env: Env, enclave: Wallet): Promise<string> {
  return (
    (await env.enigma.getFunction("getWorkerFromSigningAddress")(enclave.address)) as [string]
  )[0];
}

const delta = (s: string) => keccak256(toUtf8Bytes(`delta ${s}`));

describe("Enigma: task records", () => {
  it("escrows the fee, derives the task id from sender and nonce, and emits TaskRecordCreated", async () => {
    const env = await setup(ethers);
    const u = user(env);
    const before = await balanceOf(env, u.address);
    const first = await currentFirstBlock(env);
    const inputsHash = keccak256(toUtf8Bytes("inputs"));
    const rc = await mined(
      as(env.enigma, u).getFunction("createTaskRecord")(inputsHash, 1000n, 100n, first),
    );
    const taskId = taskIdOf(u.address, 0n);
    expect(eventNames(env, rc)).toEqual(["TaskRecordCreated"]);
    const ev = env.enigma.interface.parseLog(rc.logs[0] ?? { topics: [], data: "0x" });
    expect(ev?.args.toArray()).toEqual([
      taskId,
      inputsHash,
      1000n,
      100n,
      u.address,
      BigInt(rc.blockNumber),
    ]);
    expect(await taskRecord(env, taskId)).toEqual({
      sender: u.address,
      inputsHash,
      outputHash: `0x${"00".repeat(32)}`,
      gasLimit: 1000n,
      gasPx: 100n,
      blockNumber: BigInt(rc.blockNumber),
      status: 1n,
      proof: "0x",
    });
    expect(await balanceOf(env, u.address)).toBe(before - FEE);
    expect(await balanceOf(env, env.enigmaAddress)).toBe(600n * ENG + FEE);
    expect(await env.enigma.getFunction("getUserTaskDeployments")(u.address)).toBe(1n);
    expect(await taskRecord(env, taskIdOf(u.address, 1n))).toMatchObject({ status: 0n });
  });

  it("checks the deployment nonce, the epoch, the gas limit and the allowance", async () => {
    const env = await setup(ethers, { epoch: false });
    const u = user(env);
    const e = as(env.enigma, u);
    const h = keccak256(toUtf8Bytes("x"));
    expect((await revertOf(env, e.getFunction("createTaskRecord")(h, 1n, 1n, 0n))).name).toBe(
      "NoEpoch",
    );
    await newEpoch(env, 1n);
    const first = await currentFirstBlock(env);
    // Discovery's reason string, on which its client retries (not a custom error).
    expect(await revertOf(env, e.getFunction("createTaskRecord")(h, 1n, 1n, first - 1n))).toEqual({
      name: "Error",
      args: ["Wrong epoch for this task"],
    });
    expect((await revertOf(env, e.getFunction("createTaskRecord")(h, 0n, 1n, first))).name).toBe(
      "ZeroGasLimit",
    );
    // A free task is refused (gasPx below the chain's minimum), and so is a gas limit above the
    // chain's maximum.
    expect(await revertOf(env, e.getFunction("createTaskRecord")(h, 1n, 0n, first))).toEqual({
      name: "GasPriceTooLow",
      args: [0n, 1n],
    });
    const maxGas = (await env.enigma.getFunction("MAX_GAS_LIMIT")()) as bigint;
    expect(
      await revertOf(env, e.getFunction("createTaskRecords")([h], maxGas + 1n, 1n, first)),
    ).toEqual({ name: "GasLimitTooHigh", args: [maxGas + 1n, maxGas] });
    expect(
      await revertOf(env, e.getFunction("createDeploymentTaskRecord")(h, 1n, 1n, first, 1n)),
    ).toEqual({
      name: "NonceMismatch",
      args: [0n, 1n],
    });
    await mined(e.getFunction("createDeploymentTaskRecord")(h, 1n, 1n, first, 0n));
    expect(await env.enigma.getFunction("getUserTaskDeployments")(u.address)).toBe(1n);
    await mined(as(env.token, u).getFunction("approve")(env.enigmaAddress, 0n));
    await expect(e.getFunction("createTaskRecord")(h, 1n, 1n, first)).rejects.toThrow(
      /ERC20InsufficientAllowance/,
    );
    // An old epoch's first block is refused once a new epoch starts.
    await newEpoch(env, 2n);
    expect(await revertOf(env, e.getFunction("createTaskRecord")(h, 1n, 1n, first))).toEqual({
      name: "Error",
      args: ["Wrong epoch for this task"],
    });
  });

  it("records many tasks in one transaction with one transfer", async () => {
    const env = await setup(ethers);
    const u = user(env);
    const hashes = [1, 2, 3].map((i) => keccak256(toUtf8Bytes(`in ${i}`)));
    const before = await balanceOf(env, u.address);
    const rc = await mined(
      as(env.enigma, u).getFunction("createTaskRecords")(
        hashes,
        10n,
        7n,
        await currentFirstBlock(env),
      ),
    );
    expect(eventNames(env, rc).filter((n) => n === "TaskRecordCreated")).toHaveLength(3);
    expect(await balanceOf(env, u.address)).toBe(before - 3n * 70n);
    for (const i of [0n, 1n, 2n]) {
      expect((await taskRecord(env, taskIdOf(u.address, i))).inputsHash).toBe(hashes[Number(i)]);
    }
  });
});

describe("Enigma: refunds", () => {
  it("refunds the whole fee to the sender after the timeout, once, by anyone", async () => {
    const env = await setup(ethers);
    const u = user(env);
    const anyone = user(env, 1);
    const taskId = await createTask(env, u);
    const created = (await taskRecord(env, taskId)).blockNumber;
    const before = await balanceOf(env, u.address);
    const refund = () => as(env.enigma, anyone).getFunction("returnFeesForTask")(taskId);
    await mine(env, TASK_TIMEOUT - 1);
    expect(await revertOf(env, refund())).toEqual({
      name: "TaskNotTimedOut",
      args: [taskId, created + BigInt(TASK_TIMEOUT) + 1n],
    });
    await mine(env, 1);
    const rc = await mined(refund());
    expect(rc.blockNumber).toBe(Number(created) + TASK_TIMEOUT + 1);
    expect(eventNames(env, rc)).toEqual(["TaskFeeReturned"]);
    expect(await balanceOf(env, u.address)).toBe(before + FEE);
    expect((await taskRecord(env, taskId)).status).toBe(5n);
    expect(await revertOf(env, refund())).toEqual({ name: "TaskNotPending", args: [taskId, 5n] });
    expect(
      await revertOf(
        env,
        as(env.enigma, anyone).getFunction("returnFeesForTask")(keccak256("0x01")),
      ),
    ).toEqual({
      name: "TaskNotPending",
      args: [keccak256("0x01"), 0n],
    });
  });

  it("a refund racing a commit: whichever lands first wins, the other reverts", async () => {
    const env = await setup(ethers);
    const u = user(env);
    const { scAddr, enclave } = await deploySecretContract(env, u);
    const t1 = await createTask(env, u);
    const t2 = await createTask(env, u);
    await mine(env, TASK_TIMEOUT + 1);
    // Refund first: the commit of t1 now fails as a whole.
    await mined(env.enigma.getFunction("returnFeesForTask")(t1));
    const r1 = receipt({ taskId: t1, scAddr, gasUsed: 10n });
    expect(await revertOf(env, commit(env, enclave, [r1]))).toEqual({
      name: "TaskNotPending",
      args: [t1, 5n],
    });
    // Commit first: the refund fails, the worker keeps its fee.
    await commit(env, enclave, [receipt({ taskId: t2, scAddr, gasUsed: 10n })]);
    expect(await revertOf(env, env.enigma.getFunction("returnFeesForTask")(t2))).toEqual({
      name: "TaskNotPending",
      args: [t2, 2n],
    });
  });
});

describe("Enigma: batched receipts", () => {
  it("deploys a contract and commits its tasks: statuses, deltas, fees and Discovery's events", async () => {
    const env = await setup(ethers);
    const u = user(env);
    const deployTask = await createTask(env, u, { deployment: true });
    const enclave = await selectedEnclave(env, deployTask);
    const custodian = await custodianOf(env, enclave);
    const stake0 = await stakeOf(env, custodian);
    const userBefore = await balanceOf(env, u.address);
    const preCodeHash = keccak256(toUtf8Bytes("precode"));
    const codeHash = keccak256(toUtf8Bytes("code"));
    const rDeploy = receipt({
      taskId: deployTask,
      scAddr: deployTask,
      gasUsed: 400n,
      preCodeHash,
      codeHash,
      stateDeltaHash: delta("0"),
    });
    const rc = await commit(env, enclave, [rDeploy]);
    expect(eventNames(env, rc)).toEqual([
      "SecretContractDeployed",
      "ReceiptVerified",
      "ReceiptsCommitted",
    ]);
    expect(await stakeOf(env, custodian)).toBe(stake0 + 400n * 100n);
    expect(await balanceOf(env, u.address)).toBe(userBefore + 600n * 100n);
    expect(await env.enigma.getFunction("getSecretContract")(deployTask)).toEqual([
      u.address,
      preCodeHash,
      codeHash,
      [delta("0")],
      1n,
    ]);
    expect(await env.enigma.getFunction("countSecretContracts")()).toBe(1n);
    expect(await env.enigma.getFunction("getAllSecretContractAddresses")()).toEqual([deployTask]);
    expect(await env.enigma.getFunction("getSecretContractAddresses")(0, 10)).toEqual([deployTask]);
    expect(await env.enigma.getFunction("getSecretContractAddresses")(1, 10)).toEqual([]);

    // Three tasks in one batch: success with delta, success without delta, failure.
    const [t1, t2, t3] = [
      await createTask(env, u),
      await createTask(env, u),
      await createTask(env, u),
    ];
    const userMid = await balanceOf(env, u.address);
    const batch = [
      receipt({ taskId: t1, scAddr: deployTask, gasUsed: 1000n, stateDeltaHash: delta("1") }),
      receipt({ taskId: t2, scAddr: deployTask, gasUsed: 10n }),
      receipt({ taskId: t3, scAddr: deployTask, gasUsed: 20n, success: false }),
    ];
    const sig = await signBatch(env, enclave, batch);
    const rc2 = await mined(as(env.enigma, user(env, 2)).getFunction("commitReceipts")(batch, sig));
    expect(eventNames(env, rc2)).toEqual([
      "ReceiptVerified",
      "ReceiptVerified",
      "ReceiptFailed",
      "ReceiptsCommitted",
    ]);
    const verified = env.enigma.interface.parseLog(rc2.logs[0] ?? { topics: [], data: "0x" });
    expect(verified?.args.toArray()).toEqual([
      t1,
      delta("1"),
      batch[0]?.outputHash,
      deployTask,
      1000n,
      1n,
      "0x",
      `0x${"00".repeat(20)}`,
      enclave.address,
      sig,
    ]);
    expect((await taskRecord(env, t1)).status).toBe(2n);
    expect((await taskRecord(env, t1)).outputHash).toBe(batch[0]?.outputHash);
    expect((await taskRecord(env, t2)).status).toBe(2n);
    expect((await taskRecord(env, t3)).status).toBe(3n);
    expect(await stakeOf(env, custodian)).toBe(stake0 + (400n + 1000n + 10n + 20n) * 100n);
    expect(await balanceOf(env, u.address)).toBe(userMid + (0n + 990n + 980n) * 100n);
    const sc = (await env.enigma.getFunction("getSecretContract")(deployTask)) as [
      unknown,
      unknown,
      unknown,
      string[],
    ];
    expect([...sc[3]]).toEqual([delta("0"), delta("1")]);
    // Replay of the same batch: every task is already settled.
    expect(await revertOf(env, env.enigma.getFunction("commitReceipts")(batch, sig))).toEqual({
      name: "TaskNotPending",
      args: [t1, 2n],
    });
  });

  it("refuses signatures for another chain, another contract, malleated ones and unselected workers", async () => {
    const env = await setup(ethers);
    const u = user(env);
    const { scAddr, enclave } = await deploySecretContract(env, u);
    const t = await createTask(env, u);
    const r = [receipt({ taskId: t, scAddr, gasUsed: 1n })];
    const send = (sig: string) => env.enigma.getFunction("commitReceipts")(r, sig);
    for (const d of [domain(env, 1n), domain(env, env.chainId, Wallet.createRandom().address)]) {
      const err = await revertOf(env, send(await signBatch(env, enclave, r, d)));
      expect(err.name).toBe("UnknownSigner");
    }
    const good = Signature.from(await signBatch(env, enclave, r));
    const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
    // (r, n - s, flipped v) recovers the same address: OpenZeppelin's ECDSA refuses high s.
    const highS = (n - BigInt(good.s)).toString(16).padStart(64, "0");
    const malleated = { serialized: `${good.r}${highS}${good.v === 27 ? "1c" : "1b"}` };
    expect((await revertOf(env, send(malleated.serialized))).name).toBe("ECDSAInvalidSignatureS");
    expect((await revertOf(env, send("0x1234"))).name).toBe("ECDSAInvalidSignatureLength");
    const other = await otherEnclave(env, scAddr);
    expect(await revertOf(env, send(await signBatch(env, other, r)))).toEqual({
      name: "NotSelectedWorker",
      args: [t, enclave.address],
    });
    const stranger = Wallet.createRandom();
    expect(await revertOf(env, send(await signBatch(env, stranger, r)))).toEqual({
      name: "UnknownSigner",
      args: [stranger.address],
    });
    expect(
      (await revertOf(env, env.enigma.getFunction("commitReceipts")([], good.serialized))).name,
    ).toBe("EmptyBatch");
    // The selected worker logs out: it still commits the receipts of the epochs it served.
    const cust = await custodianOf(env, enclave);
    const signer = env.custodians.find((c) => c.address === cust);
    if (signer === undefined) throw new Error();
    await mined(as(env.enigma, signer).getFunction("logout")());
    await mined(send(good.serialized));
    expect((await taskRecord(env, t)).status).toBe(2n);
  });

  it("checks gas used, receipt shape, deployment addresses and deployed contracts", async () => {
    const env = await setup(ethers);
    const u = user(env);
    const { scAddr, enclave } = await deploySecretContract(env, u);
    const t = await createTask(env, u);
    expect(
      await revertOf(env, commit(env, enclave, [receipt({ taskId: t, scAddr, gasUsed: 1001n })])),
    ).toEqual({
      name: "GasUsedAboveLimit",
      args: [t, 1001n, 1000n],
    });
    expect(
      await revertOf(
        env,
        commit(env, enclave, [
          receipt({ taskId: t, scAddr, gasUsed: 1n, success: false, stateDeltaHash: delta("x") }),
        ]),
      ),
    ).toEqual({ name: "InvalidReceipt", args: [t] });
    const unknown = keccak256(toUtf8Bytes("no such contract"));
    const sel = await selectedEnclave(env, unknown);
    expect(
      await revertOf(env, commit(env, sel, [receipt({ taskId: t, scAddr: unknown, gasUsed: 1n })])),
    ).toEqual({
      name: "SecretContractNotDeployed",
      args: [unknown],
    });
    const d = await createTask(env, u, { deployment: true });
    const dSel = await selectedEnclave(env, scAddr);
    expect(
      await revertOf(env, commit(env, dSel, [receipt({ taskId: d, scAddr, gasUsed: 1n })])),
    ).toEqual({
      name: "InvalidReceipt",
      args: [d],
    });
    const dEnclave = await selectedEnclave(env, d);
    expect(
      await revertOf(env, commit(env, dEnclave, [receipt({ taskId: d, scAddr: d, gasUsed: 1n })])),
    ).toEqual({
      name: "InvalidReceipt",
      args: [d],
    });
    // A failed deployment leaves the contract undefined and refunds the rest.
    const rc = await commit(env, dEnclave, [
      receipt({ taskId: d, scAddr: d, gasUsed: 1n, success: false }),
    ]);
    expect(eventNames(env, rc)).toEqual(["ReceiptFailed", "ReceiptsCommitted"]);
    expect(
      (
        (await env.enigma.getFunction("getSecretContract")(d)) as [
          string,
          string,
          string,
          string[],
          bigint,
        ]
      )[4],
    ).toBe(0n);
  });

  it("keeps each contract's deltas in task-record order", async () => {
    const env = await setup(ethers);
    const u = user(env);
    const { scAddr, enclave } = await deploySecretContract(env, u);
    const [t1, t2, t3] = [
      await createTask(env, u),
      await createTask(env, u),
      await createTask(env, u),
    ];
    const r = (taskId: string, d: string) =>
      receipt({ taskId, scAddr, gasUsed: 1n, stateDeltaHash: delta(d) });
    expect(await revertOf(env, commit(env, enclave, [r(t2, "2"), r(t1, "1")]))).toEqual({
      name: "DeltaOutOfOrder",
      args: [scAddr, t1],
    });
    await commit(env, enclave, [r(t2, "2")]);
    // t1 came before t2: once t2's delta is on chain, t1 can never add one.
    expect(await revertOf(env, commit(env, enclave, [r(t1, "1")]))).toEqual({
      name: "DeltaOutOfOrder",
      args: [scAddr, t1],
    });
    // ...but it may still be committed without a delta (a task that changed no state).
    await commit(env, enclave, [receipt({ taskId: t1, scAddr, gasUsed: 1n })]);
    await commit(env, enclave, [r(t3, "3")]);
    const sc = (await env.enigma.getFunction("getSecretContract")(scAddr)) as [
      unknown,
      unknown,
      unknown,
      string[],
    ];
    expect([...sc[3]].slice(1)).toEqual([delta("2"), delta("3")]);
  });

  it("commits receipts of tasks from an earlier epoch against that epoch's selection", async () => {
    const env = await setup(ethers);
    const u = user(env);
    const { scAddr, enclave } = await deploySecretContract(env, u);
    const t = await createTask(env, u);
    const created = Number((await taskRecord(env, t)).blockNumber);
    await newEpoch(env, 99n);
    const then = await selectedEnclave(env, scAddr, created);
    expect(then.address).toBe(enclave.address);
    await commit(env, enclave, [receipt({ taskId: t, scAddr, gasUsed: 5n })]);
    expect((await taskRecord(env, t)).status).toBe(2n);
  });
});

describe("Enigma: Ethereum callbacks", () => {
  async function withTally(env: Env) {
    const tally = await env.ethers.deployContract("VotingTally", [env.enigmaAddress]);
    const reentrant = await env.ethers.deployContract("ReentrantCallback", [env.enigmaAddress]);
    return {
      tally,
      reentrant,
      tallyAddress: await tally.getAddress(),
      reentrantAddress: await reentrant.getAddress(),
    };
  }

  it("performs a task's call; a failing call marks only that task 4, with no delta", async () => {
    const env = await setup(ethers);
    const u = user(env);
    const { scAddr, enclave } = await deploySecretContract(env, u);
    const { tally, tallyAddress } = await withTally(env);
    const publish = (poll: number) => tally.interface.encodeFunctionData("publish", [poll, 7, 3]);
    const [t1, t2, t3, t4] = [
      await createTask(env, u),
      await createTask(env, u),
      await createTask(env, u),
      await createTask(env, u),
    ];
    const before = await balanceOf(env, u.address);
    const rc = await commit(env, enclave, [
      receipt({
        taskId: t1,
        scAddr,
        gasUsed: 10n,
        stateDeltaHash: delta("1"),
        ethAddress: tallyAddress,
        ethCalldata: publish(1),
      }),
      // Publishing poll 1 again reverts in the target.
      receipt({
        taskId: t2,
        scAddr,
        gasUsed: 10n,
        stateDeltaHash: delta("2"),
        ethAddress: tallyAddress,
        ethCalldata: publish(1),
      }),
      // A target that burns all its gas. (These tasks name t1's delta as their base: a
      // receipt built on a delta whose call failed is refused, see Enigma.security.test.ts.)
      receipt({
        taskId: t3,
        scAddr,
        gasUsed: 10n,
        stateDeltaHash: delta("3"),
        ethAddress: tallyAddress,
        ethCalldata: tally.interface.encodeFunctionData("burn"),
        prevDeltaHash: delta("1"),
        deltaIndex: 2,
      }),
      receipt({
        taskId: t4,
        scAddr,
        gasUsed: 10n,
        stateDeltaHash: delta("4"),
        prevDeltaHash: delta("1"),
        deltaIndex: 2,
      }),
    ]);
    expect(eventNames(env, rc)).toEqual([
      "ReceiptVerified",
      "ReceiptFailedETH",
      "ReceiptFailedETH",
      "ReceiptVerified",
      "ReceiptsCommitted",
    ]);
    expect(await tally.getFunction("published")(1)).toBe(true);
    expect(await tally.getFunction("yes")(1)).toBe(7n);
    expect((await taskRecord(env, t1)).status).toBe(2n);
    expect((await taskRecord(env, t2)).status).toBe(4n);
    expect((await taskRecord(env, t3)).status).toBe(4n);
    expect((await taskRecord(env, t4)).status).toBe(2n);
    const sc = (await env.enigma.getFunction("getSecretContract")(scAddr)) as [
      unknown,
      unknown,
      unknown,
      string[],
    ];
    expect([...sc[3]].slice(1)).toEqual([delta("1"), delta("4")]);
    // Every task paid 10 gas; the rest of each fee went back in one transfer.
    expect(await balanceOf(env, u.address)).toBe(before + 4n * (FEE - 10n * 100n));
  });

  it("blocks re-entry from a callback (the task ends 4), and never calls the token or itself", async () => {
    const env = await setup(ethers);
    const u = user(env);
    const { scAddr, enclave } = await deploySecretContract(env, u);
    const { reentrant, reentrantAddress } = await withTally(env);
    const t1 = await createTask(env, u);
    const t2 = await createTask(env, u);
    await mine(env, TASK_TIMEOUT + 1);
    // The callback tries to refund the task being committed (it timed out meanwhile).
    await mined(
      reentrant.getFunction("setPayload")(
        env.enigma.interface.encodeFunctionData("returnFeesForTask", [t2]),
      ),
    );
    const attack = reentrant.interface.encodeFunctionData("attack");
    const before = await balanceOf(env, u.address);
    const rc = await commit(env, enclave, [
      receipt({
        taskId: t2,
        scAddr,
        gasUsed: 10n,
        ethAddress: reentrantAddress,
        ethCalldata: attack,
      }),
    ]);
    expect(eventNames(env, rc)).toEqual(["ReceiptFailedETH", "ReceiptsCommitted"]);
    expect(await reentrant.getFunction("reentered")()).toBe(false);
    expect((await taskRecord(env, t2)).status).toBe(4n);
    // Paid exactly once: worker fee + refund, no second refund.
    expect(await balanceOf(env, u.address)).toBe(before + FEE - 1000n);
    // A call to the token or to Enigma itself could move escrowed ENG: it is never made and
    // counts as a failed call.
    const steal = env.token.interface.encodeFunctionData("transfer", [u.address, 10n * ENG]);
    for (const target of [await env.token.getAddress(), env.enigmaAddress]) {
      const t = await createTask(env, u);
      const userBefore = await balanceOf(env, u.address);
      const rc = await commit(env, enclave, [
        receipt({ taskId: t, scAddr, gasUsed: 1n, ethAddress: target, ethCalldata: steal }),
      ]);
      expect(eventNames(env, rc)).toEqual(["ReceiptFailedETH", "ReceiptsCommitted"]);
      expect((await taskRecord(env, t)).status).toBe(4n);
      expect(await balanceOf(env, u.address)).toBe(userBefore + FEE - 100n);
    }
    // A submitter cannot starve the call to force a failure.
    const r = [
      receipt({
        taskId: t1,
        scAddr,
        gasUsed: 1n,
        ethAddress: reentrantAddress,
        ethCalldata: attack,
      }),
    ];
    const sig = await signBatch(env, enclave, r);
    await expect(
      mined(env.enigma.getFunction("commitReceipts")(r, sig, { gasLimit: 200_000n })),
    ).rejects.toThrow(/InsufficientGasForCallback/);
    expect((await taskRecord(env, t1)).status).toBe(1n);
  });
});

describe("Enigma: accounting invariants (property)", () => {
  it("ENG held by Enigma = open escrows + stakes, and each fee is paid at most once", async () => {
    const env = await setup(ethers);
    const u = user(env);
    const { scAddr, enclave } = await deploySecretContract(env, u);
    const open = new Map<string, bigint>();
    const settled = new Set<string>();
    const stakesTotal = async () => {
      let s = 0n;
      for (const c of [...env.custodians, env.principalCustodian])
        s += await stakeOf(env, c.address);
      return s;
    };
    type Op =
      | { kind: "create"; gasLimit: bigint; gasPx: bigint }
      | { kind: "commit"; frac: number; fail: boolean }
      | { kind: "refund" };
    const op = fc.oneof(
      fc.record({
        kind: fc.constant("create" as const),
        gasLimit: fc.bigInt({ min: 1n, max: 10_000n }),
        gasPx: fc.bigInt({ min: 1n, max: 1000n }),
      }),
      fc.record({
        kind: fc.constant("commit" as const),
        frac: fc.double({ min: 0, max: 1, noNaN: true }),
        fail: fc.boolean(),
      }),
      fc.record({ kind: fc.constant("refund" as const) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 6 }), async (ops: Op[]) => {
        for (const o of ops) {
          if (o.kind === "create") {
            const id = await createTask(env, u, { gasLimit: o.gasLimit, gasPx: o.gasPx });
            open.set(id, o.gasLimit * o.gasPx);
          } else if (o.kind === "commit") {
            const ids = [...open.keys()].slice(0, 3);
            if (ids.length === 0) continue;
            const rs = [];
            for (const id of ids) {
              const t = await taskRecord(env, id);
              const gasUsed = BigInt(Math.floor(Number(t.gasLimit) * o.frac));
              rs.push(receipt({ taskId: id, scAddr, gasUsed, success: !o.fail }));
            }
            await commit(env, enclave, rs);
            for (const id of ids) {
              open.delete(id);
              settled.add(id);
            }
          } else {
            await mine(env, TASK_TIMEOUT + 1);
            const [id] = [...open.keys()];
            if (id === undefined) continue;
            await mined(env.enigma.getFunction("returnFeesForTask")(id));
            open.delete(id);
            settled.add(id);
          }
          const escrow = [...open.values()].reduce((a, b) => a + b, 0n);
          expect(await balanceOf(env, env.enigmaAddress)).toBe(escrow + (await stakesTotal()));
        }
        for (const id of settled) {
          expect(
            await revertOf(env, env.enigma.getFunction("returnFeesForTask")(id)),
          ).toMatchObject({ name: "TaskNotPending" });
        }
      }),
      { numRuns: 12 },
    );
  });
});
