// Attacks on the Enigma contract replayed against it (issues 18 and 20): each must be refused.
// Every test here failed before its fix (checked by reverting the fix once, see contracts/README.md).
import type { HardhatEthers, HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import { hexlify, keccak256, randomBytes, toUtf8Bytes, Wallet } from "ethers";
import { describe, expect, it } from "vitest";
import { inputsHash, selectWorker } from "@enigma/protocol";
import {
  as,
  bindingOf,
  createTask,
  currentFirstBlock,
  deploySecretContract,
  domain,
  ENG,
  EPOCH_SIZE,
  fund,
  mine,
  mined,
  MRENCLAVE,
  newEpoch,
  receipt,
  register,
  revertOf,
  selectedEnclave,
  setup,
  signBatch,
  signedReport,
  stakeOf,
  TASK_TIMEOUT,
  taskRecord,
  WORKERS_PARAMS_TYPES,
  type Env,
  type Receipt,
} from "./fixture.js";
import { useChain } from "./chain.js";

let ethers: HardhatEthers;
useChain((e) => {
  ethers = e;
});

/** Attestation.Result values used here. */
const Reason = { MrEnclaveNotAllowed: 5n, CustodianMismatch: 9n };

const h = (s: string) => keccak256(toUtf8Bytes(s));

function user(env: Env, i = 0): HardhatEthersSigner {
  const u = env.users[i];
  if (u === undefined) throw new Error("user");
  return u;
}

async function commit(env: Env, enclave: Wallet, receipts: Receipt[]) {
  const sig = await signBatch(env, enclave, receipts);
  return mined(env.enigma.getFunction("commitReceipts")(receipts, sig));
}

async function deltas(env: Env, scAddr: string): Promise<string[]> {
  const sc = (await env.enigma.getFunction("getSecretContract")(scAddr)) as [
    unknown,
    unknown,
    unknown,
    string[],
  ];
  return [...sc[3]];
}

/** The epoch in force now: seed, signers, stakes. */
async function epochNow(env: Env) {
  const bn = await ethers.provider.getBlockNumber();
  const [first, seed, workers, stakes] = (await env.enigma.getFunction("getWorkerParams")(bn)) as [
    bigint,
    bigint,
    string[],
    bigint[],
  ];
  return { first, seed, workers: [...workers], stakes: [...stakes] };
}

/** The first seed from 1 up for which `ok` holds. */
function firstSeed(ok: (seed: bigint) => boolean): bigint {
  for (let s = 1n; ; s++) if (ok(s)) return s;
}

/** Mines until the current epoch may end (the next block can start a new one). */
async function toEpochEnd(env: Env) {
  const first = await currentFirstBlock(env);
  const now = await ethers.provider.getBlockNumber();
  const due = Number(first) + EPOCH_SIZE - 1;
  if (now < due) await mine(env, due - now);
}

describe("registration is bound to its custodian (issue 20)", () => {
  it("nobody can register the principal's enclave before the principal: epochs cannot be stopped", async () => {
    const env = await setup(ethers, { workers: 1, epoch: false, principal: false });
    const attacker = user(env);
    // The principal's genuine report, as its pending `register` shows it.
    const genuine = signedReport(env.root, env.principalEnclave.address, {
      binding: bindingOf(env, env.principalCustodian.address),
    });
    expect(
      await revertOf(
        env,
        as(env.enigma, attacker).getFunction("register")(
          env.principalEnclave.address,
          genuine.report,
          genuine.signature,
        ),
      ),
    ).toEqual({ name: "AttestationRejected", args: [Reason.CustodianMismatch] });
    // The principal registers its own enclave, and epochs start.
    await mined(
      as(env.enigma, env.principalCustodian).getFunction("register")(
        env.principalEnclave.address,
        genuine.report,
        genuine.signature,
      ),
    );
    await newEpoch(env, 1n);
    expect((await epochNow(env)).seed).toBe(1n);
  });

  it("nobody can register a worker's enclave first: the worker's own registration goes through", async () => {
    const env = await setup(ethers, { workers: 0, epoch: false });
    const [attacker, worker] = [user(env, 0), user(env, 1)];
    const enclave = Wallet.createRandom();
    const genuine = signedReport(env.root, enclave.address, {
      binding: bindingOf(env, worker.address),
    });
    expect(
      await revertOf(
        env,
        as(env.enigma, attacker).getFunction("register")(
          enclave.address,
          genuine.report,
          genuine.signature,
        ),
      ),
    ).toEqual({ name: "AttestationRejected", args: [Reason.CustodianMismatch] });
    await mined(
      as(env.enigma, worker).getFunction("register")(
        enclave.address,
        genuine.report,
        genuine.signature,
      ),
    );
    const [custodian] = (await env.enigma.getFunction("getWorkerFromSigningAddress")(
      enclave.address,
    )) as [string];
    expect(custodian).toBe(worker.address);
  });
});

describe("attestation policy changes reach registered workers (issue 20)", () => {
  it("a worker whose report no longer passes leaves the next epochs and cannot log back in; it returns once the policy allows it", async () => {
    const env = await setup(ethers);
    const [c0] = env.custodians;
    const [e0] = env.enclaves;
    if (c0 === undefined || e0 === undefined) throw new Error();
    // Worker 0's enclave build is revoked: it re-registers with a report of another build,
    // then the old build is disallowed. (Everybody else runs the allowed build.)
    const revoked = h("a revoked enclave build");
    await mined(env.enigma.getFunction("setMrEnclaveAllowed")(revoked, true));
    await mined(as(env.enigma, c0).getFunction("logout")());
    await register(env, c0, e0.address, { mrenclave: revoked });
    await mined(as(env.enigma, c0).getFunction("login")());
    await newEpoch(env, 2n); // epoch 1: set captured at epoch 0's start
    await newEpoch(env, 3n); // epoch 2: worker 0 is in (logged back in during epoch 0)
    expect((await epochNow(env)).workers).toContain(e0.address);
    await mined(env.enigma.getFunction("setMrEnclaveAllowed")(revoked, false));

    // The next epoch's set was captured before the change: the worker is dropped from it as it
    // starts, and left out of the set captured now.
    const rc = await newEpoch(env, 4n);
    expect((await epochNow(env)).workers).not.toContain(e0.address);
    const dropped = rc.logs
      .map((l) => env.enigma.interface.parseLog(l))
      .filter((l) => l?.name === "WorkerNotAttested")
      .map((l) => [l?.args[0] as string, l?.args[1] as bigint]);
    expect(dropped).toEqual([
      [c0.address, Reason.MrEnclaveNotAllowed],
      [c0.address, Reason.MrEnclaveNotAllowed],
    ]);
    await newEpoch(env, 5n);
    expect((await epochNow(env)).workers).not.toContain(e0.address);
    // Logged out, it cannot log back in with the revoked build.
    await mined(as(env.enigma, c0).getFunction("logout")());
    expect(await revertOf(env, as(env.enigma, c0).getFunction("login")())).toEqual({
      name: "AttestationRejected",
      args: [Reason.MrEnclaveNotAllowed],
    });
    // The owner allows it again: it logs in and is back two epochs later.
    await mined(env.enigma.getFunction("setMrEnclaveAllowed")(revoked, true));
    await mined(as(env.enigma, c0).getFunction("login")());
    await newEpoch(env, 6n);
    await newEpoch(env, 7n);
    expect((await epochNow(env)).workers).toContain(e0.address);
    expect(MRENCLAVE).not.toBe(revoked);
  });
});

describe("a worker that logs out (issue 20)", () => {
  it("still commits the receipts of the epochs it served, and is paid for them", async () => {
    const env = await setup(ethers);
    const u = user(env);
    const { scAddr, enclave } = await deploySecretContract(env, u);
    const t = await createTask(env, u);
    const [custodian] = (await env.enigma.getFunction("getWorkerFromSigningAddress")(
      enclave.address,
    )) as [string];
    const signer = env.custodians.find((c) => c.address === custodian);
    if (signer === undefined) throw new Error("custodian");
    await mined(as(env.enigma, signer).getFunction("logout")());
    await newEpoch(env, 2n);
    await newEpoch(env, 3n); // no set in force holds the worker any more
    expect((await epochNow(env)).workers).not.toContain(enclave.address);
    const before = await stakeOf(env, custodian);
    await commit(env, enclave, [receipt({ taskId: t, scAddr, gasUsed: 10n })]);
    expect((await taskRecord(env, t)).status).toBe(2n);
    expect(await stakeOf(env, custodian)).toBe(before + 10n * 100n);
    // ...and withdraws it all.
    await mined(as(env.enigma, signer).getFunction("withdraw")(before + 1000n));
    expect(await stakeOf(env, custodian)).toBe(0n);
  });
});

describe("no seed front-running (issue 18)", () => {
  /** The principal's signature over the next epoch's parameters (the pending transaction). */
  async function pendingEpoch(env: Env, seed: bigint) {
    const blockNumber = await ethers.provider.getBlockNumber();
    const nonce = (await env.enigma.queryFilter(env.enigma.getEvent("WorkersParameterized")))
      .length;
    const sig = await env.principalEnclave.signTypedData(domain(env), WORKERS_PARAMS_TYPES, {
      blockNumber,
      seed,
      nonce,
    });
    return () => mined(env.enigma.getFunction("setWorkersParams")(blockNumber, seed, sig));
  }

  it("a deposit sent after seeing the seed does not make the depositor the selected worker of the contract it aims at", async () => {
    const env = await setup(ethers); // epoch 0 started: stakes 100, 200, 300 ENG
    const [attacker] = env.custodians;
    const [attackerEnclave] = env.enclaves;
    if (attacker === undefined || attackerEnclave === undefined) throw new Error();
    const target = hexlify(randomBytes(32));
    const extra = 10_000n * ENG;
    const now = await epochNow(env);
    const boosted = now.stakes.map((s, i) => (i === 0 ? s + extra : s));
    // A seed under which the deposit would win the target, and the current stakes would not.
    const seed = firstSeed((s) => {
      const honest = selectWorker(target, { seed: s, workers: now.workers, stakes: now.stakes });
      const bought = selectWorker(target, { seed: s, workers: now.workers, stakes: boosted });
      return honest !== attackerEnclave.address && bought === attackerEnclave.address;
    });
    await toEpochEnd(env);
    const setEpoch = await pendingEpoch(env, seed);
    // The attacker reads the seed from the pending transaction and front-runs it.
    await fund(env, attacker, extra);
    await mined(as(env.enigma, attacker).getFunction("deposit")(attacker.address, extra));
    await setEpoch();

    const epoch = await epochNow(env);
    expect(epoch.seed).toBe(seed);
    expect(epoch.stakes).toEqual(now.stakes); // the deposit is not in this epoch's set
    const [selected] = (await env.enigma.getFunction("getWorkerGroup")(
      await ethers.provider.getBlockNumber(),
      target,
    )) as string[];
    expect(selected).not.toBe(attackerEnclave.address);
    expect(selected).toBe(selectWorker(target, { seed, workers: now.workers, stakes: now.stakes }));
    // It counts from the epoch after, whose seed nobody knew when it was sent.
    await newEpoch(env, seed + 1n);
    expect((await epochNow(env)).stakes).toEqual(boosted);
    expect(await stakeOf(env, attacker.address)).toBe(boosted[0]);
  });

  it("a log-in sent after seeing the seed does not put the worker in that epoch", async () => {
    const env = await setup(ethers);
    const late = user(env, 2);
    const enclave = Wallet.createRandom();
    await register(env, late, enclave.address);
    await fund(env, late, 1_000n * ENG);
    await mined(as(env.enigma, late).getFunction("deposit")(late.address, 1_000n * ENG));
    const target = hexlify(randomBytes(32));
    const now = await epochNow(env);
    const seed = firstSeed(
      (s) =>
        selectWorker(target, {
          seed: s,
          workers: [...now.workers, enclave.address],
          stakes: [...now.stakes, 1_000n * ENG],
        }) === enclave.address,
    );
    await toEpochEnd(env);
    const setEpoch = await pendingEpoch(env, seed);
    await mined(as(env.enigma, late).getFunction("login")());
    await setEpoch();
    expect((await epochNow(env)).workers).toEqual(now.workers);
    const [selected] = (await env.enigma.getFunction("getWorkerGroup")(
      await ethers.provider.getBlockNumber(),
      target,
    )) as string[];
    expect(selected).not.toBe(enclave.address);
    await newEpoch(env, seed + 1n);
    expect((await epochNow(env)).workers).toEqual([...now.workers, enclave.address]);
  });
});

describe("receipts are bound to the record and the delta chain (issue 18)", () => {
  it("refuses a receipt for other inputs or another contract under a user's task id", async () => {
    const env = await setup(ethers);
    const u = user(env);
    const { scAddr, enclave } = await deploySecretContract(env, u);
    const [fn, args, key] = [randomBytes(40), randomBytes(80), randomBytes(64)];
    const recorded = inputsHash(fn, args, scAddr, key);
    const t = await createTask(env, u, { inputsHash: recorded });
    // The host fed its enclave other arguments under the user's task id.
    const otherArgs = receipt({
      taskId: t,
      scAddr,
      gasUsed: 1n,
      inputsHash: inputsHash(fn, randomBytes(80), scAddr, key),
    });
    expect(await revertOf(env, commit(env, enclave, [otherArgs]))).toEqual({
      name: "InputsHashMismatch",
      args: [t, recorded],
    });
    // ...or the user's inputs against another contract selected to the same worker.
    const other = await (async () => {
      for (;;) {
        const { scAddr: candidate } = await deploySecretContract(env, u);
        if ((await selectedEnclave(env, candidate)).address === enclave.address) return candidate;
      }
    })();
    const otherContract = receipt({
      taskId: t,
      scAddr: other,
      gasUsed: 1n,
      inputsHash: inputsHash(fn, args, other, key),
    });
    expect((await revertOf(env, commit(env, enclave, [otherContract]))).name).toBe(
      "InputsHashMismatch",
    );
    // The inputs the user recorded, on the contract it named, commit.
    await commit(env, enclave, [receipt({ taskId: t, scAddr, gasUsed: 1n })]);
    expect((await taskRecord(env, t)).status).toBe(2n);
  });

  it("refuses a task run on rolled-back state, in a later batch or within one", async () => {
    const env = await setup(ethers);
    const u = user(env);
    const { scAddr, enclave } = await deploySecretContract(env, u, h("d0"));
    const [t1, t2, t3, t4] = [
      await createTask(env, u),
      await createTask(env, u),
      await createTask(env, u),
      await createTask(env, u),
    ];
    await commit(env, enclave, [
      receipt({ taskId: t1, scAddr, gasUsed: 1n, stateDeltaHash: h("d1") }),
    ]);
    // The host replays delta 0 to its enclave: t2 runs on the state before t1.
    const rolledBack = receipt({
      taskId: t2,
      scAddr,
      gasUsed: 1n,
      stateDeltaHash: h("d2 on d0"),
      prevDeltaHash: h("d0"),
      deltaIndex: 1,
    });
    expect(await revertOf(env, commit(env, enclave, [rolledBack]))).toEqual({
      name: "DeltaBaseMismatch",
      args: [t2, 2n, h("d1")],
    });
    // A read-only task is bound to its state the same way (its output reveals that state).
    const readOnly = receipt({
      taskId: t2,
      scAddr,
      gasUsed: 1n,
      prevDeltaHash: h("d0"),
      deltaIndex: 1,
    });
    expect((await revertOf(env, commit(env, enclave, [readOnly]))).name).toBe("DeltaBaseMismatch");
    // Within one batch: t4 must run on t3's delta, not on t1's.
    const batch = [
      receipt({ taskId: t2, scAddr, gasUsed: 1n, stateDeltaHash: h("d2") }),
      receipt({ taskId: t3, scAddr, gasUsed: 1n, stateDeltaHash: h("d3") }),
      receipt({
        taskId: t4,
        scAddr,
        gasUsed: 1n,
        stateDeltaHash: h("d4"),
        prevDeltaHash: h("d1"),
        deltaIndex: 2,
      }),
    ];
    expect(await revertOf(env, commit(env, enclave, batch))).toEqual({
      name: "DeltaBaseMismatch",
      args: [t4, 4n, h("d3")],
    });
    batch[2] = receipt({ taskId: t4, scAddr, gasUsed: 1n, stateDeltaHash: h("d4") });
    await commit(env, enclave, batch);
    expect(await deltas(env, scAddr)).toEqual([h("d0"), h("d1"), h("d2"), h("d3"), h("d4")]);
  });

  it("a refunded task's delta leaves no gap: a later receipt built on it is refused, one built on the committed state commits", async () => {
    const env = await setup(ethers);
    const u = user(env);
    const { scAddr, enclave } = await deploySecretContract(env, u, h("d0"));
    const [t1, t2, t3] = [
      await createTask(env, u),
      await createTask(env, u),
      await createTask(env, u),
    ];
    // t1 produced delta 1 (on d0) and t2 delta 2 (on d1); t1's receipt is never committed and
    // its fee is refunded after the timeout.
    await mine(env, TASK_TIMEOUT + 1);
    await mined(env.enigma.getFunction("returnFeesForTask")(t1));
    expect((await taskRecord(env, t1)).status).toBe(5n);
    const onRefunded = receipt({
      taskId: t2,
      scAddr,
      gasUsed: 1n,
      stateDeltaHash: h("d2 on d1"),
      prevDeltaHash: h("d1"),
      deltaIndex: 2,
    });
    expect(await revertOf(env, commit(env, enclave, [onRefunded]))).toEqual({
      name: "DeltaBaseMismatch",
      args: [t2, 1n, h("d0")],
    });
    // The worker drops the deltas after the gap and goes on from the committed state.
    await commit(env, enclave, [
      receipt({ taskId: t2, scAddr, gasUsed: 1n, stateDeltaHash: h("d1'") }),
      receipt({ taskId: t3, scAddr, gasUsed: 1n, stateDeltaHash: h("d2'") }),
    ]);
    expect(await deltas(env, scAddr)).toEqual([h("d0"), h("d1'"), h("d2'")]);
  });

  it("a receipt built on the delta of a task whose Ethereum call failed is refused", async () => {
    const env = await setup(ethers);
    const u = user(env);
    const { scAddr, enclave } = await deploySecretContract(env, u, h("d0"));
    const token = await env.token.getAddress();
    const [t1, t2] = [await createTask(env, u), await createTask(env, u)];
    // A call to the token is never made: t1 ends 4 and its delta is not recorded.
    await commit(env, enclave, [
      receipt({
        taskId: t1,
        scAddr,
        gasUsed: 1n,
        stateDeltaHash: h("d1"),
        ethAddress: token,
        ethCalldata: "0x1234",
      }),
    ]);
    expect((await taskRecord(env, t1)).status).toBe(4n);
    const onFailed = receipt({
      taskId: t2,
      scAddr,
      gasUsed: 1n,
      stateDeltaHash: h("d2"),
      prevDeltaHash: h("d1"),
      deltaIndex: 2,
    });
    expect((await revertOf(env, commit(env, enclave, [onFailed]))).name).toBe("DeltaBaseMismatch");
  });

  it("settles a failure for a contract that does not exist (Discovery's missing-contract receipt)", async () => {
    const env = await setup(ethers);
    const u = user(env);
    const missing = hexlify(randomBytes(32));
    const t = await createTask(env, u);
    const enclave = await selectedEnclave(env, missing);
    const ok = receipt({ taskId: t, scAddr: missing, gasUsed: 0n, success: true });
    expect((await revertOf(env, commit(env, enclave, [ok]))).name).toBe(
      "SecretContractNotDeployed",
    );
    await commit(env, enclave, [
      receipt({ taskId: t, scAddr: missing, gasUsed: 0n, success: false }),
    ]);
    expect((await taskRecord(env, t)).status).toBe(3n);
  });
});
