// Discovery's client, unchanged, deploys and runs every example secret contract on a fresh
// devnet with 3 workers; results are decrypted by the client itself and settled on chain.
import { AbiCoder, type Contract, getAddress, hexlify, keccak256 } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Task } from "./enigma-js.js";
import {
  addr,
  commitEpoch,
  compute,
  deploy,
  example,
  executed,
  keccakHex,
  result,
  selectionsAgree,
  deployVotingTally,
  startCompatNetwork,
  type CompatNetwork,
} from "./harness.js";

const abi = AbiCoder.defaultAbiCoder();
const decode = (types: string[], t: Task) => abi.decode(types, `0x${t.decryptedOutput ?? ""}`);
/** The counter example returns its count as 8 raw big-endian bytes, not ABI-encoded. */
const rawU64 = (t: Task) => BigInt(`0x${t.decryptedOutput ?? ""}`);

let net: CompatNetwork;
let tally: Contract;

beforeAll(async () => {
  net = await startCompatNetwork({ seed: "compat-lifecycle" });
  tally = await deployVotingTally(net);
}, 120_000);

afterAll(async () => {
  await net.stop();
});

/** Deploys, waits for the node's SUCCESS, returns the task with the node's result. */
async function deployed(name: string, ctor: string, args: [unknown, string][] = []) {
  const task = await deploy(net, example(name), ctor, args);
  expect((await executed(net, task)).engStatus).toBe("SUCCESS");
  return result(net, task);
}

const sc: Record<string, Task> = {};

describe("enigma-js@0.3.0 against our network", () => {
  it("deploys each example; status 2 at epoch end; isDeployed and the code hash match the node's", async () => {
    const tallyAddress = await tally.getAddress();
    sc["calculator"] = await deployed("calculator", "construct()");
    sc["millionaires"] = await deployed("millionaires", "construct()");
    sc["voting"] = await deployed("voting", "construct(address)", [[tallyAddress, "address"]]);
    sc["coin_flip"] = await deployed("coin_flip", "construct()");
    sc["token"] = await deployed("token", "construct(address,uint256)", [
      [net.senders[0], "address"],
      [1_000_000, "uint256"],
    ]);
    sc["counter"] = await deployed("counter", "construct()");
    const tasks = Object.values(sc);
    // Before the epoch ends nothing is committed: Discovery's client sees "not deployed".
    expect(await net.enigma.admin.isDeployed(tasks[0]?.scAddr ?? "")).toBe(false);

    expect(await commitEpoch(net, tasks)).toEqual(tasks.map(() => 2));
    for (const [name, t] of Object.entries(sc)) {
      expect(t.scAddr).toBe(t.taskId); // a contract's address is its deployment task's id
      expect(await net.enigma.admin.isDeployed(t.scAddr)).toBe(true);
      const codeHash = await net.enigma.admin.getCodeHash(t.scAddr);
      expect(codeHash, name).toBe(keccakHex(example(name)));
      expect(codeHash, name).toBe(`0x${t.preCodeHash.replace(/^0x/, "")}`); // the node's
      // The initial state delta on chain is the hash of the delta the node holds.
      if (t.delta !== "") {
        expect(await net.enigma.admin.countStateDeltas(t.scAddr)).toBe(1);
        expect(await net.enigma.admin.getStateDeltaHash(t.scAddr, 0)).toBe(
          keccak256(`0x${t.delta.data.replace(/^0x/, "")}`),
        );
      }
    }
    expect(await net.enigma.admin.countSecretContracts()).toBe(tasks.length);
  });

  it("computes with uint256, bytes32, bool and address arguments; the client decrypts the outputs", async () => {
    const calc = sc["calculator"]?.scAddr ?? "";
    const big = 2n ** 200n;
    const add = await compute(net, calc, "add(uint256,uint256)", [
      [big.toString(), "uint256"],
      [67, "uint256"],
    ]);
    const mul = await compute(net, calc, "mul(uint256,uint256)", [
      [12, "uint256"],
      [11, "uint256"],
    ]);
    const richest = sc["millionaires"]?.scAddr ?? "";
    const alice = hexlify(Buffer.alloc(32, 0xa1));
    const bob = hexlify(Buffer.alloc(32, 0xb0));
    const m1 = await compute(net, richest, "add_millionaire(bytes32,uint256)", [
      [alice, "bytes32"],
      [1_000_000, "uint256"],
    ]);
    const m2 = await compute(net, richest, "add_millionaire(bytes32,uint256)", [
      [bob, "bytes32"],
      [2_000_000, "uint256"],
    ]);
    const who = await compute(net, richest, "compute_richest()", []);
    const token = sc["token"]?.scAddr ?? "";
    const [owner, friend] = net.senders;
    const transfer = await compute(net, token, "transfer(address,address,uint256)", [
      [owner, "address"],
      [friend, "address"],
      [250, "uint256"],
    ]);
    const balance = await compute(net, token, "balance_of(address)", [[friend, "address"]]);
    const bet = await compute(net, sc["coin_flip"]?.scAddr ?? "", "bet(bool)", [[true, "bool"]]);

    const out = async (t: Task) => {
      expect((await executed(net, t)).engStatus).toBe("SUCCESS");
      return result(net, t);
    };
    expect(decode(["uint256"], await out(add))[0]).toBe(big + 67n);
    expect(decode(["uint256"], await out(mul))[0]).toBe(132n);
    expect(decode(["uint64"], await out(m1))[0]).toBe(1n);
    expect(decode(["uint64"], await out(m2))[0]).toBe(2n);
    expect(decode(["bytes32"], await out(who))[0]).toBe(bob);
    expect(decode(["bool"], await out(transfer))[0]).toBe(true);
    expect(decode(["uint256"], await out(balance))[0]).toBe(250n);
    const [heads, won] = decode(["bool", "bool"], await out(bet)) as unknown as [boolean, boolean];
    expect(won).toBe(heads); // bet on heads: won exactly when it came up heads

    const tasks = [add, mul, m1, m2, who, transfer, balance, bet];
    expect(await commitEpoch(net, tasks)).toEqual(tasks.map(() => 2));
    for (const t of tasks) {
      const withOutput = await result(net, t);
      expect(await net.enigma.verifyTaskOutput(withOutput)).toBe(true);
      expect(await net.enigma.verifyTaskStatus(withOutput)).toBe(true);
      const record = await net.enigma.getTaskRecordFromTaskId(t.taskId);
      expect(getAddress(record.sender)).toBe(getAddress(t.sender));
    }
  });

  it("a vote closes with a callback that updates the Ethereum contract", async () => {
    const voting = sc["voting"]?.scAddr ?? "";
    // One task at a time per sender: the client reads the sender's nonce when it creates one.
    const cast: Task[] = [];
    for (const [i, yes] of [true, true, false].entries()) {
      cast.push(
        await compute(net, voting, "cast_vote(bytes32,bool)", [
          [hexlify(Buffer.alloc(32, i + 1)), "bytes32"],
          [yes, "bool"],
        ]),
      );
    }
    for (const t of cast) expect((await executed(net, t)).engStatus).toBe("SUCCESS");
    const close = await compute(net, voting, "close_poll()", []);
    const closed = await result(net, await executed(net, close));
    expect(decode(["uint64", "uint64"], closed).map(Number)).toEqual([2, 1]);
    expect(closed.ethereumAddress.replace(/^0x/, "").toLowerCase()).toBe(
      (await tally.getAddress()).slice(2).toLowerCase(),
    );
    expect(await commitEpoch(net, [...cast, close])).toEqual([2, 2, 2, 2]);
    expect(await tally.getFunction("yes")(0)).toBe(2n);
    expect(await tally.getFunction("no")(0)).toBe(1n);
  });

  it("keeps state across tasks and across an epoch change that moves the contract to another worker", async () => {
    const counter = sc["counter"]?.scAddr ?? "";
    const first = await compute(net, counter, "increment()", []);
    const second = await compute(net, counter, "increment()", []);
    expect((await executed(net, first)).engStatus).toBe("SUCCESS");
    expect((await executed(net, second)).engStatus).toBe("SUCCESS");
    const before = addr(second.workerAddress);
    expect(await commitEpoch(net, [first, second])).toEqual([2, 2]);
    // Epoch seeds are random: end epochs until the selection moves (3 equal stakes: 2/3 each).
    let moved: Task | undefined;
    for (let i = 0; i < 12 && moved === undefined; i++) {
      const probe = await compute(net, counter, "get()", []);
      const got = await result(net, await executed(net, probe));
      if (addr(probe.workerAddress) !== before) moved = got;
      else await net.devnet.chain.advanceEpoch();
    }
    expect(moved, "the selected worker never changed").toBeDefined();
    expect(rawU64(moved as Task)).toBe(2n);
    const third = await compute(net, counter, "increment()", []);
    expect(addr(third.workerAddress)).not.toBe(before);
    expect(rawU64(await result(net, await executed(net, third)))).toBe(3n);
    expect(await commitEpoch(net, [third])).toEqual([2]);
    expect(await net.enigma.admin.countStateDeltas(counter)).toBe(4); // deploy + 3 increments
  });

  it("picks, for every task it sent, the worker our chain and protocol select", async () => {
    expect(await selectionsAgree(net)).toBeGreaterThan(15);
  });
});
