// Discovery's client, unchanged, with the conformance modules: hand-written WebAssembly that
// behaves like contracts built with eng-wasm (dispatch on the function's name, ABI arguments and
// output, JSON state, a constructor with arguments, an Ethereum callback, rand). Each task's gas
// is the exact figure of Discovery's schedule (the same as `enigma sc exec` gives, see
// packages/cli/src/sc-conformance.test.ts), settled on chain as `usedGas * gasPx`. And the
// scenarios of Discovery's integration suite that the other files do not cover: a deployment
// encrypted under a wrong key, a callback payload the contract does not know.
import { readFileSync } from "node:fs";
import { AbiCoder, type Contract } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eeConstants, once, utils, type Task } from "./enigma-js.js";
import {
  commitEpoch,
  compute,
  deploy,
  engBalance,
  executed,
  result,
  selectionsAgree,
  deployVotingTally,
  startCompatNetwork,
  type CompatNetwork,
} from "./harness.js";

const abi = AbiCoder.defaultAbiCoder();
const CONFORMANCE = new URL("../../packages/secret-contract/build/conformance/", import.meta.url);
const wat = (name: string) => readFileSync(new URL(`${name}.wasm`, CONFORMANCE));
const word = (t: Task) => abi.decode(["uint256"], `0x${t.decryptedOutput ?? ""}`)[0] as bigint;

let net: CompatNetwork;
let tally: Contract;

beforeAll(async () => {
  net = await startCompatNetwork({ seed: "compat-conformance" });
  tally = await deployVotingTally(net);
}, 120_000);

afterAll(async () => {
  await net.stop();
});

/** The node's result for a task that ran, decrypted by the client. */
async function done(t: Task, status = "SUCCESS"): Promise<Task> {
  expect((await executed(net, t)).engStatus).toBe(status);
  return result(net, t);
}

describe("conformance modules through enigma-js@0.3.0", () => {
  it("calculator: deployed and computed with Discovery's gas; the sender pays exactly usedGas * gasPx", async () => {
    const sender = net.senders[1] ?? "";
    const before = await engBalance(net, sender);
    const d = await done(await deploy(net, wat("calculator"), "construct()", [], { sender }));
    expect(d.usedGas).toBe(1 + 687); // its deploy() block and the module's 687 bytes
    const sub = await done(
      await compute(
        net,
        d.scAddr,
        "sub(uint256,uint256)",
        [
          [76, "uint256"],
          [17, "uint256"],
        ],
        { sender },
      ),
    );
    expect(word(sub)).toBe(59n);
    expect(sub.usedGas).toBe(10_238);
    expect(await commitEpoch(net, [d, sub])).toEqual([2, 2]);
    expect(before - (await engBalance(net, sender))).toBe(BigInt(688 + 10_238));
  });

  it("store: JSON state, null for a missing key, a growing and a shrinking write", async () => {
    const d = await done(
      await deploy(net, wat("store"), "construct(uint256)", [[1234, "uint256"]]),
    );
    expect(d.usedGas).toBe(1_355);
    const got = await done(await compute(net, d.scAddr, "get()", []));
    expect(word(got)).toBe(1234n);
    expect(got.usedGas).toBe(10_336);
    const grow = await done(await compute(net, d.scAddr, "set(uint256)", [[123456, "uint256"]]));
    expect(grow.usedGas).toBe(10_634); // 10 + 2 bytes for the write
    const shrink = await done(await compute(net, d.scAddr, "set(uint256)", [[1, "uint256"]]));
    expect(shrink.usedGas).toBe(10_272); // 5 bytes refunded, nothing charged for the write
    const removed = await done(await compute(net, d.scAddr, "remove()", []));
    const zero = await done(await compute(net, d.scAddr, "get()", []));
    expect(word(zero)).toBe(0n); // the key is gone: the runtime reads it as null
    expect(zero.usedGas).toBe(10_223);
    expect(await commitEpoch(net, [d, got, grow, shrink, removed, zero])).toEqual([
      2, 2, 2, 2, 2, 2,
    ]);
    // deploy, two sets and the removal changed state; the reads did not
    expect(await net.enigma.admin.countStateDeltas(d.scAddr)).toBe(4);
  });

  it("bridge: the Ethereum callback lands with the calldata the contract built; rand gives 32 bytes", async () => {
    const tallyAddress = await tally.getAddress();
    const d = await done(
      await deploy(net, wat("bridge"), "construct(address)", [[tallyAddress, "address"]]),
    );
    expect(d.usedGas).toBe(1_473);
    const notify = await done(
      await compute(net, d.scAddr, "notify(uint256,uint256)", [
        [2, "uint256"],
        [1, "uint256"],
      ]),
    );
    expect(notify.usedGas).toBe(11_353);
    expect(notify.ethereumAddress.replace(/^0x/, "").toLowerCase()).toBe(
      tallyAddress.slice(2).toLowerCase(),
    );
    const flip = await done(await compute(net, d.scAddr, "flip()", []));
    expect(flip.decryptedOutput).toMatch(/^[0-9a-f]{64}$/);
    expect(flip.usedGas).toBe(10_030);
    // Discovery's "wrong Ethereum payload": a function the contract does not have traps (FAILED)
    const wrong = await done(
      await compute(net, d.scAddr, "notify_bad(uint256,uint256)", [
        [2, "uint256"],
        [1, "uint256"],
      ]),
      "FAILED",
    );
    expect(await commitEpoch(net, [d, notify, flip, wrong])).toEqual([2, 2, 2, 3]);
    expect(await tally.getFunction("yes")(0)).toBe(2n);
    expect(await tally.getFunction("no")(0)).toBe(1n);
  });
});

describe("Discovery's deployment failures not covered elsewhere", () => {
  it("a deployment encrypted under a key that is not the worker's: FAILED, status 3, nothing charged", async () => {
    const sender = net.senders[2] ?? "";
    const before = await engBalance(net, sender);
    const created = await once<Task>(
      net.enigma.createTask("construct()", [], 4_000_000, 1, sender, wat("calculator"), true),
      eeConstants.CREATE_TASK,
    );
    // The dApp encrypts the constructor under a key of its own instead of the shared one.
    created.encryptedFn = utils.encryptMessage("22".repeat(32), "construct()");
    created.inputsHash = utils.hash([
      created.encryptedFn,
      created.encryptedAbiEncodedArgs,
      created.preCodeHash,
      created.userPubKey,
    ]);
    const recorded = await once<Task>(
      net.enigma.createTaskRecord(created),
      eeConstants.CREATE_TASK_RECORD,
    );
    await once(net.enigma.sendTaskInput(recorded), eeConstants.DEPLOY_SECRET_CONTRACT_RESULT);
    net.sent.push(recorded);
    const failed = await done(recorded, "FAILED");
    expect(failed.usedGas).toBe(0);
    expect(await commitEpoch(net, [recorded])).toEqual([3]);
    expect(await net.enigma.admin.isDeployed(recorded.scAddr)).toBe(false);
    expect(await engBalance(net, sender)).toBe(before);
  });

  it("Discovery's 'wrong Ethereum address' deployment: a callback address with no contract deploys (status 2)", async () => {
    // As 03_deploy_fail_wrong_eth_address: the address is only kept; nothing checks it at deploy.
    const d = await done(
      await deploy(net, wat("bridge"), "construct(address)", [
        ["0x0000000000000000000000000000000000000102", "address"],
      ]),
    );
    expect(await commitEpoch(net, [d])).toEqual([2]);
    expect(await net.enigma.admin.isDeployed(d.scAddr)).toBe(true);
  });

  it("the client picked, for every task it sent, the worker our chain and protocol select", async () => {
    expect(await selectionsAgree(net)).toBeGreaterThan(10);
  });
});
