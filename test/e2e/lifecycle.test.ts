// The task lifecycle over a real multi-process devnet: the chain and contracts served from this
// process, a principal and three workers each in its own OS process (`enigma node start`). Tasks
// are followed from the client to the decrypted result, the batched commit on Ethereum and the
// settled fees; then worker rotation across epochs (also while the previous worker is behind),
// Ethereum callbacks, failed tasks, a refund after the timeout, and a worker killed with SIGKILL
// and restarted. Signals go only to the devnet's own node processes, by pid.
//
// One devnet serves every scenario (bring-up costs 10-25 s of processes loading). Each scenario
// pays from its own account and leaves no receipt pending behind it, so the next one can
// account for every grain that moves. LIFECYCLE_DIR=<dir> keeps the devnet folder (node logs).
import { readFile } from "node:fs/promises";
import {
  ENIGMA_ABI,
  ENIGMA_TOKEN_ABI,
  ErrorCode,
  bytesToHex,
  hexToBytes,
  isEnigmaError,
  keccak256,
  parseRpcResult,
  selectWorker,
  type Hex,
} from "@enigma/protocol";
import {
  Contract,
  ContractFactory,
  JsonRpcProvider,
  Wallet,
  type ContractTransactionResponse,
  type Provider,
  type TransactionRequest,
  type TransactionResponse,
  type EventLog,
} from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EnigmaClient, TaskHandle } from "@enigma/client";
import {
  ENG,
  readArtifact,
  startDevnet,
  type Devnet,
  type DevnetNode,
} from "../../packages/devnet/src/index.js";
import { rpc, waitFor } from "../../packages/node/src/testnet.fixture.js";

const SEED = "e2e-lifecycle";
const GAS = { gasLimit: 5_000_000n, gasPx: 1n };
// Below the e2e project's 120 s test timeout, so that a stuck task fails with its own error.
const TIMEOUTS = { resultTimeoutMs: 45_000, receiptTimeoutMs: 90_000 };
// One funded account per scenario, so that each one's ENG accounting is its own.
const ACCOUNT = {
  examples: 0,
  fees: 1,
  rotation: 2,
  callback: 3,
  failures: 4,
  timeout: 5,
  crash: 6,
  handover: 7,
} as const;

let devnet: Devnet;
let provider: JsonRpcProvider;
let enigma: Contract;
const examples = new Map<string, Uint8Array>();
const clients = new Map<number, EnigmaClient>();
/** Nodes that stopped without `stop()`, in order (only the SIGKILLed one may appear). */
const exits: { name: string; how: string }[] = [];
const exitWaiters: ((e: { name: string; how: string }) => void)[] = [];

beforeAll(async () => {
  for (const name of ["calculator", "millionaires", "counter", "token", "coin_flip", "voting"]) {
    const url = new URL(
      `../../packages/secret-contract/build/examples/${name}.wasm`,
      import.meta.url,
    );
    examples.set(name, new Uint8Array(await readFile(url)));
  }
  const t0 = performance.now();
  devnet = await startDevnet({
    inProcess: false,
    workers: 3,
    seed: SEED,
    // These scenarios place tasks in epochs and crashes between blocks themselves: the chain
    // moves only when they mine (no paced empty blocks).
    epochSeconds: 0,
    ...(process.env["LIFECYCLE_DIR"] === undefined ? {} : { dir: process.env["LIFECYCLE_DIR"] }),
    users: Object.keys(ACCOUNT).length,
    logLevel: "info",
    onNodeExit: (node, how) => {
      const e = { name: node.name, how };
      exits.push(e);
      for (const w of exitWaiters.splice(0)) w(e);
    },
  });
  // Reported, not asserted: benchmarks carry performance targets (STYLE.md).
  console.info(
    `multi-process devnet with 3 workers up in ${(performance.now() - t0).toFixed(0)} ms`,
  );
  provider = new JsonRpcProvider(devnet.chain.rpcUrl, undefined, {
    cacheTimeout: -1,
    staticNetwork: true,
  });
  enigma = new Contract(devnet.chain.enigmaAddress, ENIGMA_ABI, provider);
  // One allowance per account up front: each task record is then one transaction (one block),
  // so the scenarios that need their tasks inside one epoch can count on it.
  for (const a of devnet.accounts) {
    const token = new Contract(
      devnet.chain.tokenAddress,
      ENIGMA_TOKEN_ABI,
      new Wallet(a.privateKey, provider),
    );
    await sent(token.getFunction("approve")(devnet.chain.enigmaAddress, 10_000n * ENG));
  }
}, 180_000);

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- undefined when beforeAll failed
  provider?.destroy();
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- undefined when beforeAll failed
  await devnet?.stop();
}, 120_000);

// ------------------------------------------------------------------------------ helpers

/** An example secret contract as the build compiled it. */
function wasm(name: string): Uint8Array {
  const w = examples.get(name);
  if (w === undefined) throw new Error(`example ${name} not loaded`);
  return w;
}

function client(account: number): EnigmaClient {
  let c = clients.get(account);
  if (c === undefined) {
    c = devnet.client(account, TIMEOUTS);
    clients.set(account, c);
  }
  return c;
}

async function sent(tx: Promise<unknown>): Promise<void> {
  await ((await tx) as ContractTransactionResponse).wait();
}

/** The worker the task was submitted to (the one selected in its record's epoch). */
function workerOf(task: TaskHandle): Hex {
  const e = task.events.find((x) => x.type === "submitted");
  if (e?.type !== "submitted") throw new Error("the task was not submitted");
  return e.worker.toLowerCase() as Hex;
}

function nodeOf(signer: string): DevnetNode {
  const n = devnet.workers.find((w) => w.signer.toLowerCase() === signer.toLowerCase());
  if (n === undefined) throw new Error(`no worker with signer ${signer}`);
  return n;
}

/** The worker selected for `scAddr` in the epoch in force now. */
async function selectedNow(scAddr: string): Promise<Hex> {
  const w = selectWorker(scAddr, await client(ACCOUNT.examples).currentEpoch());
  if (w === undefined) throw new Error("no worker selected");
  return w.toLowerCase() as Hex;
}

function u64(b: Uint8Array): bigint {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(0, false);
}

/**
 * A deployed contract's address, once the worker ran its constructor. A gateway refuses tasks
 * for a contract whose deployment has not run yet (SecretContractNotDeployed), even when its
 * record is on chain, so tasks wait for it (see the README's Known gaps).
 */
async function deployed(deploy: TaskHandle): Promise<Hex> {
  expect((await deploy.result()).status).toBe("SUCCESS");
  return deploy.submitted();
}

/** What a task's rejected `result()` threw. */
async function failureOf(task: TaskHandle): Promise<unknown> {
  return task.result().then(
    () => undefined,
    (e: unknown) => e,
  );
}

async function chainStatus(taskId: string): Promise<number> {
  return (await client(ACCOUNT.examples).getTaskStatus(taskId)).status;
}

/** Gas the worker reports for a task (what its receipt charges), from the gateway's copy. */
async function gasUsedOf(c: EnigmaClient, taskId: string): Promise<bigint> {
  const result = await c.getTaskResult(taskId);
  if (result?.usedGas === undefined) throw new Error(`no result for ${taskId}`);
  return BigInt(result.usedGas);
}

/** Stake balances of the workers, by enclave signer. */
async function stakes(): Promise<Map<string, bigint>> {
  const out = new Map<string, bigint>();
  for (const w of devnet.workers) {
    out.set(
      w.signer.toLowerCase(),
      (await client(ACCOUNT.examples).workerBalance(w.custodian)).balance,
    );
  }
  return out;
}

/**
 * Fees the chain must have settled for `tasks`: `gasUsed * gasPx` per task to the worker it
 * ran on, and the same total taken from the sender (the rest of each escrow came back).
 */
async function expectedFees(
  c: EnigmaClient,
  tasks: readonly { task: TaskHandle; gasPx: bigint }[],
): Promise<{ total: bigint; byWorker: Map<string, bigint> }> {
  let total = 0n;
  const byWorker = new Map<string, bigint>();
  for (const { task, gasPx } of tasks) {
    const fee = (await gasUsedOf(c, await task.submitted())) * gasPx;
    total += fee;
    byWorker.set(workerOf(task), (byWorker.get(workerOf(task)) ?? 0n) + fee);
  }
  return { total, byWorker };
}

function expectStakeGains(
  before: Map<string, bigint>,
  after: Map<string, bigint>,
  gains: Map<string, bigint>,
): void {
  const actual = Object.fromEntries(
    [...after].map(([w, b]) => [w, b - (before.get(w) ?? 0n)] as const),
  );
  const expected = Object.fromEntries([...after.keys()].map((w) => [w, gains.get(w) ?? 0n]));
  expect(actual).toEqual(expected);
}

/** Enigma events of one kind since `fromBlock`, keyed by task id. */
async function receiptLogs(
  name: "ReceiptVerified" | "ReceiptFailed" | "ReceiptFailedETH",
  fromBlock: number,
): Promise<Map<string, EventLog>> {
  const logs = await enigma.queryFilter(enigma.getEvent(name), fromBlock);
  const out = new Map<string, EventLog>();
  for (const l of logs) {
    if ("args" in l) out.set(String(l.args[0]).toLowerCase(), l);
  }
  return out;
}

/** The delta hashes Ethereum holds for a contract. */
async function chainDeltas(scAddr: string): Promise<string[]> {
  const sc = (await enigma.getFunction("getSecretContract")(scAddr)) as {
    stateDeltaHashes: string[];
  };
  return sc.stateDeltaHashes.map((h) => h.toLowerCase());
}

/** keccak256 of the delta a node serves for each task (what it stored and gossiped). */
async function storedDeltaHashes(c: EnigmaClient, taskIds: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const id of taskIds) {
    const result = await c.getTaskResult(id);
    if (result?.delta === undefined) throw new Error(`no delta for ${id}`);
    out.push(bytesToHex(keccak256(hexToBytes(result.delta.data))));
  }
  return out;
}

/** Mines to the next epoch and waits until every given task's receipt is on chain. */
async function commitAll(tasks: readonly TaskHandle[]): Promise<number[]> {
  await devnet.chain.advanceEpoch();
  const receipts = await Promise.all(tasks.map((t) => t.waitForReceipt()));
  return receipts.map((r) => r.chainStatus);
}

// ------------------------------------------------------------------------------ scenarios

describe("task lifecycle on a multi-process devnet", () => {
  let calculatorAddr: string;

  it("deploys and computes the examples, decrypting every output", async () => {
    const c = client(ACCOUNT.examples);
    const alice = `0x${"a1".repeat(20)}`;
    const bob = `0x${"b2".repeat(20)}`;
    const id = (s: string) => bytesToHex(keccak256(new TextEncoder().encode(s)));

    const deploys = {
      calculator: c.deploySecretContract(wasm("calculator"), "construct()", [], GAS),
      millionaires: c.deploySecretContract(wasm("millionaires"), "construct()", [], GAS),
      counter: c.deploySecretContract(wasm("counter"), "construct()", [], GAS),
      token: c.deploySecretContract(
        wasm("token"),
        "construct(address,uint256)",
        [alice, 1_000n],
        GAS,
      ),
      coinFlip: c.deploySecretContract(wasm("coin_flip"), "construct()", [], GAS),
    };
    const sc = {
      calculator: await deployed(deploys.calculator),
      millionaires: await deployed(deploys.millionaires),
      counter: await deployed(deploys.counter),
      token: await deployed(deploys.token),
      coinFlip: await deployed(deploys.coinFlip),
    };
    calculatorAddr = sc.calculator;
    const call = (addr: string, fn: string, args: unknown[], returnTypes?: string[]) =>
      c.computeTask(addr, fn, args, {
        ...GAS,
        ...(returnTypes === undefined ? {} : { returnTypes }),
      });

    // Every task goes out at once: a contract's tasks still run in record order.
    const tasks = {
      add: call(sc.calculator, "add(uint256,uint256)", [24n, 67n], ["uint256"]),
      mul: call(sc.calculator, "mul(uint256,uint256)", [6n, 7n], ["uint256"]),
      m1: call(
        sc.millionaires,
        "add_millionaire(bytes32,uint256)",
        [id("alice"), 10n ** 6n],
        ["uint64"],
      ),
      m2: call(
        sc.millionaires,
        "add_millionaire(bytes32,uint256)",
        [id("bob"), 25n * 10n ** 5n],
        ["uint64"],
      ),
      m3: call(
        sc.millionaires,
        "add_millionaire(bytes32,uint256)",
        [id("carol"), 700n],
        ["uint64"],
      ),
      richest: call(sc.millionaires, "compute_richest()", [], ["bytes32"]),
      inc1: call(sc.counter, "increment()", []),
      inc2: call(sc.counter, "increment()", []),
      get: call(sc.counter, "get()", []),
      transfer: call(sc.token, "transfer(address,address,uint256)", [alice, bob, 300n], ["bool"]),
      balAlice: call(sc.token, "balance_of(address)", [alice], ["uint256"]),
      balBob: call(sc.token, "balance_of(address)", [bob], ["uint256"]),
      supply: call(sc.token, "total_supply()", [], ["uint256"]),
      flip: call(sc.coinFlip, "flip()", [], ["bool"]),
      bet: call(sc.coinFlip, "bet(bool)", [true], ["bool", "bool"]),
      flips: call(sc.coinFlip, "flips()", [], ["uint64"]),
    };
    const values = async (t: TaskHandle) => (await t.result()).values;
    expect(await values(tasks.add)).toEqual([91n]);
    expect(await values(tasks.mul)).toEqual([42n]);
    expect(await values(tasks.m1)).toEqual([1n]);
    expect(await values(tasks.m2)).toEqual([2n]);
    expect(await values(tasks.m3)).toEqual([3n]);
    expect(await values(tasks.richest)).toEqual([id("bob")]);
    expect(u64((await tasks.inc1.result()).output)).toBe(1n);
    expect(u64((await tasks.inc2.result()).output)).toBe(2n);
    expect(u64((await tasks.get.result()).output)).toBe(2n);
    expect(await values(tasks.transfer)).toEqual([true]);
    expect(await values(tasks.balAlice)).toEqual([700n]);
    expect(await values(tasks.balBob)).toEqual([300n]);
    expect(await values(tasks.supply)).toEqual([1_000n]);
    const [heads] = (await values(tasks.flip)) ?? [];
    expect(typeof heads).toBe("boolean");
    const [betHeads, won] = (await values(tasks.bet)) ?? [];
    expect(won).toBe(betHeads === true);
    expect(await values(tasks.flips)).toEqual([2n]);

    // Everything commits by the end of the next epoch, each output hash as received.
    const all = [...Object.values(deploys), ...Object.values(tasks)];
    expect(await commitAll(all)).toEqual(all.map(() => 2));
  });

  it("commits an epoch's receipts in one batch at its end and settles the fees", async () => {
    const c = client(ACCOUNT.fees);
    const fee = { gasLimit: 3_000_000n, gasPx: 3n };
    // A fresh epoch: both records (one block each) land well inside it.
    await devnet.chain.advanceEpoch();
    const start = await provider.getBlockNumber();
    const before = { sender: await c.tokenBalance(), stakes: await stakes() };

    const deploy = c.deploySecretContract(wasm("counter"), "construct()", [], fee);
    const scAddr = await deployed(deploy);
    const inc = c.computeTask(scAddr, "increment()", [], fee);
    expect(u64((await inc.result()).output)).toBe(1n);
    expect(workerOf(inc)).toBe(workerOf(deploy));
    // Executed, escrowed, not committed: the receipts wait for the epoch's end.
    expect(await c.tokenBalance()).toBe(before.sender - 2n * fee.gasLimit * fee.gasPx);
    expect(await chainStatus(scAddr)).toBe(1);
    expect(await chainStatus(await inc.submitted())).toBe(1);

    expect(await commitAll([deploy, inc])).toEqual([2, 2]);
    const verified = await receiptLogs("ReceiptVerified", start);
    const txs = [scAddr, await inc.submitted()].map(
      (id) => verified.get(id.toLowerCase())?.transactionHash,
    );
    expect(txs[0]).toBeDefined();
    expect(txs[1]).toBe(txs[0]); // one batch, one transaction

    const fees = await expectedFees(c, [
      { task: deploy, gasPx: fee.gasPx },
      { task: inc, gasPx: fee.gasPx },
    ]);
    expect(fees.total).toBeGreaterThan(0n);
    // The worker earned exactly gasUsed * gasPx; the sender got the rest of both escrows back.
    expectStakeGains(before.stakes, await stakes(), fees.byWorker);
    expect(await c.tokenBalance()).toBe(before.sender - fees.total);
    // Ethereum holds the hash of each delta the nodes stored.
    expect(await chainDeltas(scAddr)).toEqual(
      await storedDeltaHashes(c, [scAddr, await inc.submitted()]),
    );
  });

  it("moves a stateful contract to another worker across epochs and keeps its state", async () => {
    const c = client(ACCOUNT.rotation);
    const deploy = c.deploySecretContract(wasm("counter"), "construct()", [], GAS);
    const scAddr = await deployed(deploy);
    const first = c.computeTask(scAddr, "increment()", [], GAS);
    expect(u64((await first.result()).output)).toBe(1n);
    const before = workerOf(first);
    // Selection is a deterministic draw per epoch seed: a few epochs move the contract.
    let epochs = 0;
    while ((await selectedNow(scAddr)) === before) {
      expect(++epochs).toBeLessThan(12);
      await devnet.chain.advanceEpoch();
    }
    const second = c.computeTask(scAddr, "increment()", [], GAS);
    expect(u64((await second.result()).output)).toBe(2n);
    expect(workerOf(second)).not.toBe(before);
    const get = c.computeTask(scAddr, "get()", [], GAS);
    expect(u64((await get.result()).output)).toBe(2n);

    expect(await commitAll([deploy, first, second, get])).toEqual([2, 2, 2, 2]);
    const ids = [scAddr, await first.submitted(), await second.submitted()];
    expect(await chainDeltas(scAddr)).toEqual(await storedDeltaHashes(c, ids));
  });

  it("keeps record order when a contract moves on while its previous worker is behind", async () => {
    const c = client(ACCOUNT.handover);
    const scAddr = await deployed(c.deploySecretContract(wasm("counter"), "construct()", [], GAS));
    const previous = nodeOf(await selectedNow(scAddr));
    const pid = previous.pid;
    const gateway = devnet.workers.find((w) => w !== previous);
    const account = devnet.accounts[ACCOUNT.handover];
    if (pid === undefined || gateway?.rpcUrl === undefined || account === undefined) {
      throw new Error("no previous worker or gateway");
    }
    // The previous worker freezes (SIGSTOP to its own pid) once it has handed out its key for
    // the first increment, before the record lands: it runs that task only after the contract
    // has moved on and the next worker has the second increment.
    let frozen = false;
    const signer = new HookedWallet(account.privateKey, provider, (tx) => {
      if (!frozen && isTaskRecord(tx)) {
        frozen = true;
        process.kill(pid, "SIGSTOP");
      }
      return Promise.resolve();
    });
    const behind = devnet.client(ACCOUNT.handover, {
      signer,
      nodeUrl: gateway.rpcUrl,
      ...TIMEOUTS,
    });
    let first: TaskHandle;
    let second: TaskHandle;
    try {
      first = behind.computeTask(scAddr, "increment()", [], GAS);
      await first.submitted();
      expect(frozen).toBe(true);
      let epochs = 0;
      while ((await selectedNow(scAddr)) === previous.signer.toLowerCase()) {
        expect(++epochs).toBeLessThan(12);
        await devnet.chain.advanceEpoch();
      }
      second = behind.computeTask(scAddr, "increment()", [], GAS);
      await second.submitted();
    } finally {
      process.kill(pid, "SIGCONT");
    }
    // The next worker waited for the previous one's result: record order, not arrival order.
    expect(u64((await first.result()).output)).toBe(1n);
    expect(u64((await second.result()).output)).toBe(2n);
    expect(workerOf(first)).toBe(previous.signer.toLowerCase());
    expect(workerOf(second)).not.toBe(workerOf(first));
    expect(await commitAll([first, second])).toEqual([2, 2]);
    const ids = [scAddr, await first.submitted(), await second.submitted()];
    expect(await chainDeltas(scAddr)).toEqual(await storedDeltaHashes(c, ids));
  });

  it("publishes a secret tally to an Ethereum contract, and a failed callback ends 4 with the rest of its batch committed", async () => {
    const c = client(ACCOUNT.callback);
    const account = devnet.accounts[ACCOUNT.callback];
    if (account === undefined) throw new Error("no account");
    const artifact = await readArtifact(
      "VotingTally",
      new URL("../../artifacts/contracts/mocks/", import.meta.url),
    );
    const factory = new ContractFactory(
      artifact.abi,
      artifact.bytecode,
      new Wallet(account.privateKey, provider),
    );
    const tally = (await factory.deploy(devnet.chain.enigmaAddress)) as Contract;
    await tally.waitForDeployment();
    const tallyAddress = await tally.getAddress();
    const voter = (n: number) => bytesToHex(keccak256(new TextEncoder().encode(`voter ${n}`)));

    const poll = c.deploySecretContract(wasm("voting"), "construct(address)", [tallyAddress], GAS);
    const pollAddr = await deployed(poll);
    const votes = (
      [
        [1, true],
        [2, true],
        [3, false],
      ] as const
    ).map(([n, yes]) =>
      c.computeTask(pollAddr, "cast_vote(bytes32,bool)", [voter(n), yes], {
        ...GAS,
        returnTypes: ["bool"],
      }),
    );
    const close = c.computeTask(pollAddr, "close_poll()", [], {
      ...GAS,
      returnTypes: ["uint64", "uint64"],
    });
    for (const v of votes) expect((await v.result()).values).toEqual([true]);
    expect((await close.result()).values).toEqual([2n, 1n]);
    // No epoch end needed: a task with an Ethereum call is committed at once.
    expect((await close.waitForReceipt()).chainStatus).toBe(2);
    expect(await tally.getFunction("yes")(0n)).toBe(2n);
    expect(await tally.getFunction("no")(0n)).toBe(1n);
    expect(await tally.getFunction("published")(0n)).toBe(true);
    for (const t of [poll, ...votes]) expect((await t.waitForReceipt()).chainStatus).toBe(2);

    // A second poll reporting to the same tally: the call reverts (PollAlreadyPublished).
    // A fresh epoch, so that its three records stay pending until the callback commits them.
    await devnet.chain.advanceEpoch();
    const start = await provider.getBlockNumber();
    const poll2 = c.deploySecretContract(wasm("voting"), "construct(address)", [tallyAddress], GAS);
    const poll2Addr = await deployed(poll2);
    const vote = c.computeTask(poll2Addr, "cast_vote(bytes32,bool)", [voter(1), true], {
      ...GAS,
      returnTypes: ["bool"],
    });
    const close2 = c.computeTask(poll2Addr, "close_poll()", [], {
      ...GAS,
      returnTypes: ["uint64", "uint64"],
    });
    expect((await vote.result()).values).toEqual([true]);
    // The enclave cannot know the call will fail: the result is a success until the commit.
    expect((await close2.result()).values).toEqual([1n, 0n]);
    expect((await close2.waitForReceipt()).chainStatus).toBe(4);
    expect((await poll2.waitForReceipt()).chainStatus).toBe(2);
    expect((await vote.waitForReceipt()).chainStatus).toBe(2);
    const verified = await receiptLogs("ReceiptVerified", start);
    const failedEth = await receiptLogs("ReceiptFailedETH", start);
    const commitTx = failedEth.get((await close2.submitted()).toLowerCase())?.transactionHash;
    expect(commitTx).toBeDefined();
    for (const t of [poll2, vote]) {
      expect(verified.get((await t.submitted()).toLowerCase())?.transactionHash).toBe(commitTx);
    }
    // The tally did not change, and the failed call left no delta: the poll is still open.
    expect(await tally.getFunction("yes")(0n)).toBe(2n);
    expect(await tally.getFunction("no")(0n)).toBe(1n);
    expect(await chainDeltas(poll2Addr)).toEqual(
      await storedDeltaHashes(c, [poll2Addr, await vote.submitted()]),
    );
    // The gateway learns it from the chain too.
    const close2Id = await close2.submitted();
    await waitFor(
      async () => {
        const raw = await c.rpc.call("getTaskStatus", {
          taskId: close2Id.slice(2),
          workerAddress: workerOf(close2).slice(2),
          withResult: false,
        });
        const s = parseRpcResult("getTaskStatus", raw).result;
        return s.status === "ETHEREUMFAILURE" ? true : undefined;
      },
      "ETHEREUMFAILURE at the gateway",
      30_000,
    );
    const late = c.computeTask(poll2Addr, "cast_vote(bytes32,bool)", [voter(2), false], {
      ...GAS,
      returnTypes: ["bool"],
    });
    expect((await late.result()).values).toEqual([true]);
    expect(await commitAll([late])).toEqual([2]);
  });

  it("ends out-of-gas and bad input as failed receipts, charging only the gas used", async () => {
    const c = client(ACCOUNT.failures);
    const before = { sender: await c.tokenBalance(), stakes: await stakes() };
    const px = 2n;
    const gas = { gasLimit: 2_000_000n, gasPx: px };
    const counter = c.deploySecretContract(wasm("counter"), "construct()", [], gas);
    const counterAddr = await deployed(counter);
    const calc = c.deploySecretContract(wasm("calculator"), "construct()", [], gas);
    const calcAddr = await deployed(calc);

    const inc = c.computeTask(counterAddr, "increment()", [], gas);
    // The host charges 10,000 per execution: this limit cannot cover an increment.
    const outOfGas = c.computeTask(counterAddr, "increment()", [], {
      gasLimit: 10_050n,
      gasPx: px,
    });
    const unknown = c.computeTask(counterAddr, "decrement()", [], gas);
    const overflow = c.computeTask(calcAddr, "mul(uint256,uint256)", [2n ** 255n, 2n], gas);
    const get = c.computeTask(counterAddr, "get()", [], gas);

    expect(u64((await inc.result()).output)).toBe(1n);
    const oogErr = await failureOf(outOfGas);
    expect(isEnigmaError(oogErr, ErrorCode.OutOfGas)).toBe(true);
    const unknownErr = await failureOf(unknown);
    expect(isEnigmaError(unknownErr)).toBe(true);
    expect(String(unknownErr)).toMatch(/unknown function|decrement/i);
    expect(isEnigmaError(await failureOf(overflow), ErrorCode.ContractTrap)).toBe(true);
    // Failed tasks wrote nothing: the counter is where the one success left it.
    expect(u64((await get.result()).output)).toBe(1n);

    const all = [counter, calc, inc, outOfGas, unknown, overflow, get];
    expect(await commitAll(all)).toEqual([2, 2, 2, 3, 3, 3, 2]);
    expect(await gasUsedOf(c, await outOfGas.submitted())).toBe(10_050n);
    for (const t of [unknown, overflow]) {
      const used = await gasUsedOf(c, await t.submitted());
      expect(used).toBeGreaterThan(0n);
      expect(used).toBeLessThan(gas.gasLimit);
    }
    const fees = await expectedFees(
      c,
      all.map((task) => ({ task, gasPx: px })),
    );
    expectStakeGains(before.stakes, await stakes(), fees.byWorker);
    expect(await c.tokenBalance()).toBe(before.sender - fees.total);
    // Only the successful tasks' deltas count on chain.
    expect(await chainDeltas(counterAddr)).toEqual(
      await storedDeltaHashes(c, [counterAddr, await inc.submitted()]),
    );
  });

  it("refunds the whole escrow of a task whose selected worker stopped before it arrived", async () => {
    const selected = nodeOf(await selectedNow(calculatorAddr));
    const gateway = devnet.workers.find((w) => w !== selected);
    const account = devnet.accounts[ACCOUNT.timeout];
    if (gateway?.rpcUrl === undefined || account === undefined) throw new Error("no gateway");
    // The worker stops once the client has its encryption key, before the record lands: the
    // gateway takes the input, and nobody is left to run it.
    let stopped = false;
    const signer = new HookedWallet(account.privateKey, provider, async (tx) => {
      if (!stopped && isTaskRecord(tx)) {
        stopped = true;
        await selected.stop();
      }
    });
    const c = devnet.client(ACCOUNT.timeout, { signer, nodeUrl: gateway.rpcUrl });
    try {
      const before = await c.tokenBalance();
      const task = c.computeTask(calculatorAddr, "add(uint256,uint256)", [1n, 1n], GAS);
      const taskId = await task.submitted();
      expect(stopped).toBe(true);
      expect(workerOf(task)).toBe(selected.signer.toLowerCase());
      expect(await c.tokenBalance()).toBe(before - GAS.gasLimit * GAS.gasPx);
      expect(await chainStatus(taskId)).toBe(1);
      const early = await c.returnFees(taskId).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isEnigmaError(early, ErrorCode.TaskNotTimedOut)).toBe(true);
      const timeout = (await enigma.getFunction("getTaskTimeoutSize")()) as bigint;
      await devnet.chain.mine(Number(timeout) + 1);
      await c.returnFees(taskId);
      expect(await chainStatus(taskId)).toBe(5);
      expect(await c.tokenBalance()).toBe(before);
      // Nobody can take the fee twice.
      const again = await c.returnFees(taskId).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isEnigmaError(again, ErrorCode.TaskNotPending)).toBe(true);
    } finally {
      if (!selected.running) await selected.restart();
    }
  });

  it("SIGKILL after a worker took an input and before it ran it: the task still completes", async () => {
    // A devnet of its own whose workers wait 2 blocks on top of a record before running its
    // task: with one block per transaction and nothing else sent, the selected worker holds a
    // stored input, not yet run, for as long as the test mines nothing. The input is in
    // LevelDB and the user key it was encrypted to is sealed in the enclave, so the restarted
    // worker runs it. Another worker is the gateway, so the client keeps polling while the
    // victim is down.
    const exited: { name: string; how: string }[] = [];
    const net = await startDevnet({
      inProcess: false,
      workers: 2,
      seed: `${SEED}-confirmations`,
      epochSeconds: 0, // the chain must stand still while the input waits for confirmations
      confirmations: 2,
      users: 1,
      logLevel: "info",
      onNodeExit: (node, how) => exited.push({ name: node.name, how }),
    });
    try {
      const deployer = net.client(0, TIMEOUTS);
      const deploy = deployer.deploySecretContract(wasm("counter"), "construct()", [], GAS);
      const scAddr = await deploy.submitted();
      await net.chain.mine(2);
      expect((await deploy.result()).status).toBe("SUCCESS");

      const selected = selectWorker(scAddr, await deployer.currentEpoch())?.toLowerCase();
      const victim = net.workers.find((w) => w.signer.toLowerCase() === selected);
      const gatewayNode = net.workers.find((w) => w !== victim);
      if (victim === undefined || gatewayNode?.rpcUrl === undefined || victim.rpcUrl === undefined)
        throw new Error("need the selected worker and another gateway");
      const c = net.client(0, { nodeUrl: gatewayNode.rpcUrl, ...TIMEOUTS });
      const task = c.computeTask(scAddr, "increment()", [], GAS);
      const taskId = await task.submitted();
      // The victim heard and stored the input; its record still lacks its confirmations.
      const victimUrl = victim.rpcUrl;
      const stored = await waitFor(async () => {
        const r = (await rpc(victimUrl, "getTaskResult", { taskId: taskId.slice(2) })) as {
          result: unknown;
        };
        return r.result ?? undefined;
      }, "the selected worker to store the input");
      expect(stored).toMatchObject({ status: "UNVERIFIED" });

      const pid = victim.pid;
      if (pid === undefined) throw new Error("the victim has no pid");
      process.kill(pid, "SIGKILL");
      await waitFor(() => Promise.resolve(victim.running ? undefined : true), "the victim to die");
      expect((await c.getTaskStatus(taskId)).status).toBe(1);
      await victim.restart();
      await net.chain.mine(2);

      expect(u64((await task.result()).output)).toBe(1n);
      expect(workerOf(task)).toBe(victim.signer.toLowerCase());
      await net.chain.advanceEpoch();
      expect((await task.waitForReceipt()).chainStatus).toBe(2);
      expect(exited).toEqual([{ name: victim.name, how: "signal SIGKILL" }]);
    } finally {
      await net.stop();
    }
  });

  it("loses nothing when the selected worker is SIGKILLed with receipts pending and restarted", async () => {
    // A fresh epoch: the deployment and the increments below stay pending in it.
    await devnet.chain.advanceEpoch();
    const deployer = client(ACCOUNT.crash);
    const deploy = deployer.deploySecretContract(wasm("counter"), "construct()", [], GAS);
    const scAddr = await deployed(deploy);
    const victim = nodeOf(workerOf(deploy));
    // Talk to the network through another worker's gateway while the victim is down.
    const gatewayNode = devnet.workers.find((w) => w !== victim);
    if (gatewayNode?.rpcUrl === undefined) throw new Error("no other gateway");
    const c = devnet.client(ACCOUNT.crash, {
      nodeUrl: gatewayNode.rpcUrl,
      ...TIMEOUTS,
    });
    const incs = [1n, 2n, 3n].map(() => c.computeTask(scAddr, "increment()", [], GAS));
    for (const [i, t] of incs.entries()) {
      expect(u64((await t.result()).output)).toBe(BigInt(i + 1));
      expect(workerOf(t)).toBe(victim.signer.toLowerCase());
    }
    const ids = [scAddr, ...(await Promise.all(incs.map((t) => t.submitted())))];
    for (const id of ids) expect(await chainStatus(id)).toBe(1);

    const pid = victim.pid;
    if (pid === undefined) throw new Error("the victim has no pid");
    const exited = new Promise<{ name: string; how: string }>((r) => exitWaiters.push(r));
    process.kill(pid, "SIGKILL");
    expect(await exited).toEqual({ name: victim.name, how: "signal SIGKILL" });
    expect(victim.running).toBe(false);
    // Dead, its receipts are still pending.
    for (const id of ids) expect(await chainStatus(id)).toBe(1);

    await victim.restart();
    expect(victim.pid).not.toBe(pid);
    // The restart commits the receipts it kept in LevelDB, each output hash as received.
    const statuses = await Promise.all([deploy, ...incs].map((t) => t.waitForReceipt()));
    expect(statuses.map((r) => r.chainStatus)).toEqual([2, 2, 2, 2]);
    expect(await chainDeltas(scAddr)).toEqual(await storedDeltaHashes(c, ids));
    // And the state goes on from the deltas it kept, on the same worker.
    const next = c.computeTask(scAddr, "increment()", [], GAS);
    expect(u64((await next.result()).output)).toBe(4n);
    expect(workerOf(next)).toBe(victim.signer.toLowerCase());
    expect(await commitAll([next])).toEqual([2]);
    expect(exits).toEqual([{ name: victim.name, how: "signal SIGKILL" }]);
  });
});

/** A wallet that runs `before` ahead of each transaction (to act between a task's steps). */
class HookedWallet extends Wallet {
  readonly #before: (tx: TransactionRequest) => Promise<void>;

  constructor(key: string, provider: Provider, before: (tx: TransactionRequest) => Promise<void>) {
    super(key, provider);
    this.#before = before;
  }

  override async sendTransaction(tx: TransactionRequest): Promise<TransactionResponse> {
    await this.#before(tx);
    return super.sendTransaction(tx);
  }
}

/** Whether a transaction is a compute task's `createTaskRecord`. */
function isTaskRecord(tx: TransactionRequest): boolean {
  const selector = enigma.interface.getFunction("createTaskRecord")?.selector;
  return selector !== undefined && typeof tx.data === "string" && tx.data.startsWith(selector);
}
