import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";
import { concat, type Contract, getCreateAddress, keccak256, toUtf8Bytes, Wallet } from "ethers";
import { MAX_RECEIPTS_PER_BATCH } from "@enigma/protocol";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import {
  as,
  complete,
  createTask,
  currentFirstBlock,
  customErrorOf,
  deploySecretContract,
  mined,
  receipt,
  revertOf,
  selectedEnclave,
  setup,
  signBatch,
  taskIdOf,
  taskRecord,
  ZERO32,
  type Env,
} from "./fixture.js";
import { useChain } from "./chain.js";

let ethers: HardhatEthers;
useChain((e) => {
  ethers = e;
});

const h = (s: string) => keccak256(toUtf8Bytes(s));

function user(env: Env, i = 0) {
  const u = env.users[i];
  if (u === undefined) throw new Error("user");
  return u;
}

async function commit(env: Env, enclave: Wallet, receipts: ReturnType<typeof receipt>[]) {
  const sig = await signBatch(env, enclave, receipts);
  return mined(env.enigma.getFunction("commitReceipts")(receipts, sig));
}

/** Code of the receipt log the last commit created (Enigma's latest CREATE). */
async function lastLogCode(env: Env): Promise<string> {
  const nonce = await ethers.provider.getTransactionCount(env.enigmaAddress);
  return ethers.provider.getCode(getCreateAddress({ from: env.enigmaAddress, nonce: nonce - 1 }));
}

async function deltas(env: Env, scAddr: string): Promise<string[]> {
  const sc = (await env.enigma.getFunction("getSecretContract")(scAddr)) as {
    stateDeltaHashes: string[];
  };
  return [...sc.stateDeltaHashes];
}

async function deltaRange(env: Env, scAddr: string, start: number, stop: number | bigint) {
  return [
    ...((await env.enigma.getFunction("getStateDeltaHashes")(scAddr, start, stop)) as string[]),
  ];
}

/** Records a task per inputs hash in one transaction (gas limit 1000, price 100). */
async function recordTasks(env: Env, u: ReturnType<typeof user>, inputs: string[]) {
  await mined(
    as(env.enigma, u).getFunction("createTaskRecords")(
      inputs,
      1000n,
      100n,
      await currentFirstBlock(env),
    ),
  );
}

/** Two secret contracts selected to the same worker (deploys until two collide). */
async function twoContractsOfOneWorker(env: Env) {
  const byWorker = new Map<string, { scAddr: string; delta0: string }[]>();
  for (let i = 0; i < 8; i++) {
    const delta0 = h(`delta0 of contract ${i}`);
    const { scAddr, enclave } = await deploySecretContract(env, user(env), delta0);
    const list = byWorker.get(enclave.address) ?? [];
    list.push({ scAddr, delta0 });
    byWorker.set(enclave.address, list);
    const [a, b] = list;
    if (a !== undefined && b !== undefined) return { a, b, enclave };
  }
  throw new Error("no two contracts share a worker");
}

describe("Enigma: receipt logs (output and delta hashes written once per batch)", () => {
  it("lays a batch out as outputs then each contract's deltas, and the getters read them back", async () => {
    const env = await setup(ethers);
    const { a, b, enclave } = await twoContractsOfOneWorker(env);
    const u = user(env, 1);
    const [a1, b1, a2, b2, a3, f, pending] = [
      await createTask(env, u),
      await createTask(env, u),
      await createTask(env, u),
      await createTask(env, u),
      await createTask(env, u),
      await createTask(env, u),
      await createTask(env, u),
    ];
    const rs = [
      receipt({ taskId: a1, scAddr: a.scAddr, gasUsed: 1n, stateDeltaHash: h("a1") }),
      receipt({ taskId: b1, scAddr: b.scAddr, gasUsed: 1n, stateDeltaHash: h("b1") }),
      receipt({ taskId: a2, scAddr: a.scAddr, gasUsed: 1n }),
      receipt({ taskId: b2, scAddr: b.scAddr, gasUsed: 1n, stateDeltaHash: h("b2") }),
      receipt({ taskId: a3, scAddr: a.scAddr, gasUsed: 1n, stateDeltaHash: h("a3") }),
      receipt({ taskId: f, scAddr: a.scAddr, gasUsed: 1n, success: false }),
    ];
    const rc = await commit(env, enclave, rs);

    // The log: a STOP, the six output hashes in receipt order, then a's deltas, then b's.
    expect(await lastLogCode(env)).toBe(
      concat(["0x00", ...rs.map((r) => r.outputHash), h("a1"), h("a3"), h("b1"), h("b2")]),
    );
    for (const r of rs) expect((await taskRecord(env, r.taskId)).outputHash).toBe(r.outputHash);
    expect((await taskRecord(env, f)).status).toBe(3n);
    expect((await taskRecord(env, pending)).outputHash).toBe(ZERO32);

    expect(await deltas(env, a.scAddr)).toEqual([a.delta0, h("a1"), h("a3")]);
    expect(await deltas(env, b.scAddr)).toEqual([b.delta0, h("b1"), h("b2")]);
    // Discovery's event index: the delta's position, or the count for a task without one.
    const indexes = rc.logs
      .map((l) => env.enigma.interface.parseLog(l))
      .filter((e) => e?.name === "ReceiptVerified")
      .map((e) => [e?.args[0] as string, e?.args[5] as bigint]);
    expect(indexes).toEqual([
      [a1, 1n],
      [b1, 1n],
      [a2, 2n],
      [b2, 2n],
      [a3, 2n],
    ]);

    // A second batch extends a's list with a second run; ranges cross runs and clamp.
    const a4 = await createTask(env, u);
    await commit(env, enclave, [
      receipt({ taskId: a4, scAddr: a.scAddr, gasUsed: 1n, stateDeltaHash: h("a4") }),
    ]);
    const all = [a.delta0, h("a1"), h("a3"), h("a4")];
    expect(await deltas(env, a.scAddr)).toEqual(all);
    expect(await env.enigma.getFunction("countStateDeltas")(a.scAddr)).toBe(4n);
    expect(await deltaRange(env, a.scAddr, 1, 4)).toEqual(all.slice(1, 4));
    expect(await deltaRange(env, a.scAddr, 2, 3)).toEqual([h("a3")]);
    expect(await deltaRange(env, a.scAddr, 3, 100)).toEqual([h("a4")]);
    expect(await deltaRange(env, a.scAddr, 0, 2n ** 64n)).toEqual(all);
    expect(await deltaRange(env, a.scAddr, 2, 2)).toEqual([]);
    expect(await deltaRange(env, a.scAddr, 3, 1)).toEqual([]);
    expect(await deltaRange(env, a.scAddr, 9, 12)).toEqual([]);
    const unknown = h("no such contract");
    expect(await env.enigma.getFunction("countStateDeltas")(unknown)).toBe(0n);
    expect(await deltaRange(env, unknown, 0, 10)).toEqual([]);
    expect(await deltas(env, unknown)).toEqual([]);
  });

  it("commits a full batch of 256 receipts with deltas; 257 are refused before anything else", async () => {
    const env = await setup(ethers);
    const { scAddr, enclave } = await deploySecretContract(env, user(env), h("delta0"));
    const u = user(env, 2);
    const nonce = Number(await env.enigma.getFunction("getUserTaskDeployments")(u.address));
    const inputs = Array.from({ length: 256 }, (_, i) => h(`inputs ${i}`));
    // Two transactions: 256 records in one would pass the chain's per-transaction gas cap.
    await recordTasks(env, u, inputs.slice(0, 128));
    await recordTasks(env, u, inputs.slice(128));
    const ids = inputs.map((_, i) => taskIdOf(u.address, BigInt(nonce + i)));
    const rs = ids.map((taskId, i) =>
      receipt({ taskId, scAddr, gasUsed: 7n, stateDeltaHash: h(`delta ${i + 1}`) }),
    );

    await complete(env, rs);
    const tooMany = [...rs, rs[0] ?? receipt({ taskId: ZERO32, scAddr, gasUsed: 0n })];
    expect(await revertOf(env, env.enigma.getFunction("commitReceipts")(tooMany, "0x"))).toEqual({
      name: "BatchTooLarge",
      args: [257n, 256n],
    });
    // The node's `worker.maxBatch` is bounded by the protocol's copy of the constant.
    expect(await env.enigma.getFunction("MAX_RECEIPTS_PER_BATCH")()).toBe(
      BigInt(MAX_RECEIPTS_PER_BATCH),
    );

    await commit(env, enclave, rs);
    // 1 + 512 words: the largest log a batch writes, well under EIP-170's 24,576 bytes.
    expect((await lastLogCode(env)).length).toBe(2 + 2 * (1 + 512 * 32));
    expect(await deltas(env, scAddr)).toEqual([h("delta0"), ...rs.map((r) => r.stateDeltaHash)]);
    for (const i of [0, 1, 127, 128, 255]) {
      const r = rs[i];
      if (r === undefined) throw new Error("receipt");
      const t = await taskRecord(env, r.taskId);
      expect([t.status, t.outputHash]).toEqual([2n, r.outputHash]);
    }
    expect(await selectedEnclave(env, scAddr)).toEqual(enclave);
  });
});

describe("Enigma: receipt logs, edges", () => {
  it("a task's Ethereum call sees its batch's outputs; batches in one transaction, one of them reverted, stay in step", async () => {
    const env = await setup(ethers);
    const u = user(env);
    const { scAddr, enclave } = await deploySecretContract(env, u, h("d0"));
    const probe = await ethers.deployContract("ReceiptProbe", [env.enigmaAddress]);
    const probeAddress = await probe.getAddress();
    const [t1, t2] = [await createTask(env, u), await createTask(env, u)];
    const r1 = receipt({ taskId: t1, scAddr, gasUsed: 1n, stateDeltaHash: h("d1") });
    const r2 = receipt({
      taskId: t2,
      scAddr,
      gasUsed: 1n,
      stateDeltaHash: h("d2"),
      ethAddress: probeAddress,
      ethCalldata: probe.interface.encodeFunctionData("probe", [t1, scAddr]),
    });
    await commit(env, enclave, [r1, r2]);
    expect((await taskRecord(env, t2)).status).toBe(2n);
    // Mid-commit: t1's output hash and status as committed; the batch's deltas are listed
    // once its log is written, after the call (contracts/README.md).
    expect(await probe.getFunction("seenOutputHash")()).toBe(r1.outputHash);
    expect(await probe.getFunction("seenStatus")()).toBe(2n);
    expect(await probe.getFunction("seenDeltaCount")()).toBe(1n);
    expect(await deltas(env, scAddr)).toEqual([h("d0"), h("d1"), h("d2")]);

    // One transaction: a batch; a batch that reverts after filing a delta (its second task
    // was committed already); the first task of that one again, alone.
    const [t3, t4] = [await createTask(env, u), await createTask(env, u)];
    const r3 = receipt({ taskId: t3, scAddr, gasUsed: 1n, stateDeltaHash: h("d3") });
    // t4 ran on t3's delta (each batch below is signed before any of them is committed).
    const r4 = receipt({
      taskId: t4,
      scAddr,
      gasUsed: 1n,
      stateDeltaHash: h("d4"),
      prevDeltaHash: h("d3"),
      deltaIndex: 4,
    });
    const call = async (rs: ReturnType<typeof receipt>[]) =>
      env.enigma.interface.encodeFunctionData("commitReceipts", [
        rs,
        await signBatch(env, enclave, rs),
      ]);
    await mined(
      probe.getFunction("relay")([await call([r3]), await call([r4, r3]), await call([r4])]),
    );
    const results = await Promise.all([0, 1, 2].map((i) => probe.getFunction("results")(i)));
    expect(results).toEqual([true, false, true]);
    expect(await deltas(env, scAddr)).toEqual([h("d0"), h("d1"), h("d2"), h("d3"), h("d4")]);
    for (const r of [r1, r2, r3, r4]) {
      expect((await taskRecord(env, r.taskId)).outputHash).toBe(r.outputHash);
    }
  });

  it("commits a deployment and later tasks of its contract in one batch, in record order only", async () => {
    const env = await setup(ethers);
    const [u, early] = [user(env), user(env, 1)];
    const nonce = (await env.enigma.getFunction("getUserTaskDeployments")(u.address)) as bigint;
    const scAddr = taskIdOf(u.address, nonce);
    // A task for the contract recorded before its deployment cannot write a delta after it.
    const t0 = await createTask(env, early);
    expect(await createTask(env, u, { deployment: true })).toBe(scAddr);
    const [t1, t2] = [await createTask(env, early), await createTask(env, early)];
    const enclave = await selectedEnclave(env, scAddr);
    const rDeploy = receipt({
      taskId: scAddr,
      scAddr,
      gasUsed: 5n,
      preCodeHash: h("pre"),
      codeHash: h("code"),
      stateDeltaHash: h("d0"),
    });
    const r0 = receipt({ taskId: t0, scAddr, gasUsed: 1n, stateDeltaHash: h("d-early") });
    expect(await revertOf(env, commit(env, enclave, [rDeploy, r0]))).toEqual({
      name: "DeltaOutOfOrder",
      args: [scAddr, t0],
    });

    const rc = await commit(env, enclave, [
      rDeploy,
      receipt({ taskId: t1, scAddr, gasUsed: 1n, stateDeltaHash: h("d1") }),
      receipt({ taskId: t2, scAddr, gasUsed: 1n }),
    ]);
    expect(await deltas(env, scAddr)).toEqual([h("d0"), h("d1")]);
    const indexes = rc.logs
      .map((l) => env.enigma.interface.parseLog(l))
      .filter((e) => e?.name === "ReceiptVerified")
      .map((e) => e?.args[5] as bigint);
    expect(indexes).toEqual([0n, 1n, 2n]);
    const sc = (await env.enigma.getFunction("getSecretContract")(scAddr)) as { status: bigint };
    expect(sc.status).toBe(1n);
  });
});

describe("Enigma: receipt logs against a model (property)", () => {
  it("after any sequence of batches over several contracts, the getters return every output and delta in order", async () => {
    const env = await setup(ethers);
    const u = user(env, 1);
    // The contracts of the worker that was selected for the most of six.
    const byWorker = new Map<string, { enclave: Wallet; contracts: string[] }>();
    const model = { outputs: new Map<string, string>(), deltas: new Map<string, string[]>() };
    for (let i = 0; i < 6; i++) {
      const delta0 = h(`model delta0 ${i}`);
      const { scAddr, enclave } = await deploySecretContract(env, u, delta0);
      model.deltas.set(scAddr, [delta0]);
      const w = byWorker.get(enclave.address) ?? { enclave, contracts: [] };
      w.contracts.push(scAddr);
      byWorker.set(enclave.address, w);
    }
    const { enclave, contracts } = [...byWorker.values()].sort(
      (x, y) => y.contracts.length - x.contracts.length,
    )[0] ?? { enclave: undefined, contracts: [] };
    if (enclave === undefined) throw new Error("no worker");
    let serial = 0;

    const task = fc.record({
      contract: fc.nat({ max: contracts.length - 1 }),
      kind: fc.constantFrom("delta", "none", "fail"),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(task, { minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 3 }),
        async (batches) => {
          for (const batch of batches) {
            const nonce = (await env.enigma.getFunction("getUserTaskDeployments")(
              u.address,
            )) as bigint;
            const inputs = batch.map(() => h(`model inputs ${serial++}`));
            await recordTasks(env, u, inputs);
            const rs = batch.map((t, i) => {
              const scAddr = contracts[t.contract] ?? "";
              const taskId = taskIdOf(u.address, nonce + BigInt(i));
              const outputHash = h(`model output ${serial++}`);
              model.outputs.set(taskId, outputHash);
              if (t.kind === "fail") {
                return receipt({ taskId, scAddr, gasUsed: 3n, outputHash, success: false });
              }
              if (t.kind === "none") return receipt({ taskId, scAddr, gasUsed: 3n, outputHash });
              const stateDeltaHash = h(`model delta ${serial++}`);
              model.deltas.get(scAddr)?.push(stateDeltaHash);
              return receipt({ taskId, scAddr, gasUsed: 3n, outputHash, stateDeltaHash });
            });
            await commit(env, enclave, rs);
          }
          for (const [taskId, outputHash] of model.outputs) {
            expect((await taskRecord(env, taskId)).outputHash).toBe(outputHash);
          }
          for (const scAddr of contracts) {
            const want = model.deltas.get(scAddr) ?? [];
            const n = want.length;
            expect(await deltas(env, scAddr)).toEqual(want);
            expect(await env.enigma.getFunction("countStateDeltas")(scAddr)).toBe(BigInt(n));
            for (const [start, stop] of [
              [1, n - 1],
              [Math.floor(n / 2), n + 3],
              [n - 1, n],
            ] as const) {
              expect(await deltaRange(env, scAddr, start, stop)).toEqual(
                want.slice(start, Math.max(start, stop)),
              );
            }
          }
        },
      ),
      { numRuns: 10, seed: 20_261_124 },
    );
  });
});

describe("ReceiptLog library", () => {
  let harness: Contract;
  let harnessAddress: string;
  beforeAll(async () => {
    harness = await ethers.deployContract("ReceiptLogHarness");
    harnessAddress = await harness.getAddress();
  });

  it("derives a log's address from its number exactly as CREATE does, at every nonce width", async () => {
    const creator = Wallet.createRandom().address;
    for (const id of [0, 1, 126, 127, 128, 254, 255, 256, 65_534, 65_535, 2 ** 24, 2 ** 40]) {
      expect(await harness.getFunction("addressOf")(creator, id)).toBe(
        getCreateAddress({ from: creator, nonce: id + 1 }),
      );
    }
  });

  it("writes words as unrunnable code, reads them back, and bounds the size", async () => {
    const words = Array.from({ length: 5 }, (_, i) => h(`word ${i}`));
    const rc = await mined(harness.getFunction("write")(words));
    const log = harness.interface.parseLog(rc.logs[0] ?? { topics: [], data: "0x" })
      ?.args[0] as string;
    expect(log).toBe(getCreateAddress({ from: harnessAddress, nonce: 1 }));
    expect(await ethers.provider.getCode(log)).toBe(concat(["0x00", ...words]));
    expect(await harness.getFunction("word")(log, 3)).toBe(words[3]);
    expect(await harness.getFunction("word")(log, 5)).toBe(ZERO32);
    expect([...((await harness.getFunction("read")(log, 1, 3)) as string[])]).toEqual(
      words.slice(1, 4),
    );
    // Calling it runs the STOP: nothing happens, nothing is returned.
    expect(await ethers.provider.call({ to: log, data: "0x12345678" })).toBe("0x");

    const empty = await mined(harness.getFunction("write")([]));
    const emptyLog = harness.interface.parseLog(empty.logs[0] ?? { topics: [], data: "0x" })
      ?.args[0] as string;
    expect(await ethers.provider.getCode(emptyLog)).toBe("0x00");

    // 767 words and the STOP (24,545 bytes) are the most under EIP-170's 24,576 bytes.
    const most = Array.from({ length: 767 }, (_, i) => h(`w${i}`));
    const big = await mined(harness.getFunction("write")(most));
    const bigLog = harness.interface.parseLog(big.logs[0] ?? { topics: [], data: "0x" })
      ?.args[0] as string;
    expect((await ethers.provider.getCode(bigLog)).length).toBe(2 + 2 * 24_545);
    // A log that cannot pay for its code is refused, not recorded as written.
    expect(
      await customErrorOf(
        harness,
        harness.getFunction("write").staticCall(most, { gasLimit: 2_500_000n }),
      ),
    ).toMatchObject({ name: "ReceiptLogNotCreated" });
    expect(
      await customErrorOf(harness, harness.getFunction("write")([...most, h("one more")])),
    ).toEqual({ name: "ReceiptLogTooLarge", args: [768n] });

    // A log created out of its numbered place is refused.
    const nonce = await ethers.provider.getTransactionCount(harnessAddress);
    expect(
      await customErrorOf(harness, harness.getFunction("writeAs").staticCall(words, 7)),
    ).toEqual({
      name: "ReceiptLogMisplaced",
      args: [
        getCreateAddress({ from: harnessAddress, nonce }),
        getCreateAddress({ from: harnessAddress, nonce: 8 }),
      ],
    });
  });
});

describe("DeltaRuns library", () => {
  it("packs two runs a slot, at their widest, finds and totals them, and refuses wider values", async () => {
    const runs = await ethers.deployContract("DeltaRunsHarness");
    const max = [2n ** 48n - 1n, 2n ** 16n - 1n, 2n ** 16n - 1n, 2n ** 40n - 1n] as const;
    await mined(runs.getFunction("push")(1n, 3n, 2n, 0n));
    await mined(runs.getFunction("push")(...max));
    await mined(runs.getFunction("push")(5n, 9n, 4n, 2n));
    const get = async (k: number) => [...((await runs.getFunction("get")(k)) as bigint[])];
    expect(await get(0)).toEqual([1n, 3n, 2n, 0n]);
    expect(await get(1)).toEqual([...max]);
    expect(await get(2)).toEqual([5n, 9n, 4n, 2n]);
    // Contiguous runs [0,2) [2,6) [6,9): find the run holding a delta, and the total.
    const contiguous = await ethers.deployContract("DeltaRunsHarness");
    for (const [first, n] of [
      [0n, 2n],
      [2n, 4n],
      [6n, 3n],
    ] as const) {
      await mined(contiguous.getFunction("push")(1n, 0n, n, first));
    }
    expect(await contiguous.getFunction("total")()).toBe(9n);
    const found = await Promise.all(
      [0, 1, 2, 5, 6, 8].map(async (i) => contiguous.getFunction("find")(i) as Promise<bigint>),
    );
    expect(found).toEqual([0n, 0n, 1n, 1n, 2n, 2n]);
    for (const [i, wide] of max.entries()) {
      const args: bigint[] = [0n, 0n, 0n, 0n];
      args[i] = wide + 1n;
      expect(await customErrorOf(runs, runs.getFunction("push").staticCall(...args))).toMatchObject(
        { name: "DeltaRunOverflow" },
      );
    }
  });
});
