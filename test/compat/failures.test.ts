// Failures as Discovery's client sees them: a failed task comes back FAILED from the node with
// its error encrypted to the user, and settles on chain as status 3 charging only the gas used;
// a task the network refuses comes back as the node's JSON-RPC error; a failed Ethereum
// callback settles as status 4 without the task's state delta.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClientError, eeConstants, once, utils, type Task } from "./enigma-js.js";
import {
  addr,
  commitEpoch,
  compute,
  deploy,
  example,
  executed,
  ourSelection,
  result,
  selectionsAgree,
  startCompatNetwork,
  type CompatNetwork,
  committedCalculator,
  engBalance as balanceOf,
} from "./harness.js";

let net: CompatNetwork;
let calculator: string;

beforeAll(async () => {
  net = await startCompatNetwork({ seed: "compat-failures" });
  calculator = await committedCalculator(net);
}, 120_000);

afterAll(async () => {
  await net.stop();
});

const engBalance = (account: string) => balanceOf(net, account);

/** The error text the enclave encrypted back to the user, decrypted by the client. */
function errorText(t: Task): string {
  return Buffer.from(t.decryptedOutput ?? "", "hex").toString("utf8");
}

/**
 * Runs `send` (which must submit one task), waits for FAILED, commits the epoch and checks
 * status 3 and that the sender paid exactly the gas the node reports as used.
 */
async function failsAndCharges(send: () => Promise<Task>): Promise<Task> {
  const sender = net.senders[0] ?? "";
  const before = await engBalance(sender);
  const task = await send();
  expect((await executed(net, task)).engStatus).toBe("FAILED");
  const failed = await result(net, task);
  expect(await commitEpoch(net, [task])).toEqual([3]);
  const used = BigInt(failed.usedGas === "" ? -1 : failed.usedGas);
  expect(before - (await engBalance(sender))).toBe(used * BigInt(task.gasPx));
  expect(await net.enigma.verifyTaskStatus(failed)).toBe(true);
  return failed;
}

/** `createTask` (worker key fetched, inputs encrypted; nothing recorded yet) for `add(1, 2)`. */
function createAdd(): Promise<Task> {
  const args: [unknown, string][] = [
    [1, "uint256"],
    [2, "uint256"],
  ];
  const task = net.enigma.createTask(
    "add(uint256,uint256)",
    args,
    1_000_000,
    1,
    net.senders[0] ?? "",
    calculator,
    false,
  );
  return once<Task>(task, eeConstants.CREATE_TASK);
}

/** A module whose constructor traps: (memory 1) (func deploy unreachable) (func call). */
const TRAPPING_CONSTRUCTOR = Buffer.from(
  "0061736d01000000" + // magic, version
    "010401600000" + // type: () -> ()
    "0303020000" + // two functions of that type
    "0503010001" + // one memory of one page
    "071a03066d656d6f7279020006" + // exports: "memory" (memory 0), "deploy"...
    "6465706c6f79000004" + // ... (function 0), "call"...
    "63616c6c0001" + // ... (function 1)
    "0a0802" + // code, two bodies:
    "0300000b" + // deploy: unreachable
    "02000b", // call: nothing
  "hex",
);

describe("deployments that fail", () => {
  it("a module that is not WebAssembly", async () => {
    const t = await failsAndCharges(() =>
      deploy(net, Buffer.from("definitely not a wasm module"), "construct()", []),
    );
    expect(await net.enigma.admin.isDeployed(t.scAddr)).toBe(false);
  });

  it("a constructor that traps", async () => {
    const t = await failsAndCharges(() => deploy(net, TRAPPING_CONSTRUCTOR, "construct()", []));
    expect(errorText(t)).toMatch(/unreachable|trap/i);
    expect(await net.enigma.admin.isDeployed(t.scAddr)).toBe(false);
  });

  it("too little gas: the whole gas limit is charged", async () => {
    // A deployment pays its code bytes (4.4 KB here) and no execution fee (Discovery's rule).
    const t = await failsAndCharges(() =>
      deploy(net, example("calculator"), "construct()", [], { gasLimit: 1_000 }),
    );
    expect(t.usedGas).toBe(1_000);
    expect(await net.enigma.admin.isDeployed(t.scAddr)).toBe(false);
  });

  it("constructor arguments that do not match its signature", async () => {
    const t = await failsAndCharges(() =>
      deploy(net, example("token"), "construct(address,uint256)", [[7, "uint256"]]),
    );
    expect(await net.enigma.admin.isDeployed(t.scAddr)).toBe(false);
  });
});

describe("compute tasks that fail", () => {
  it("on a secret contract that does not exist: accepted, and settled as a failure (status 3)", async () => {
    // As Discovery's 20_execute_fail_nonexistent: the input is accepted and the worker that
    // selection names for that address commits a failure receipt.
    const nowhere = `0x${"5e".repeat(32)}`;
    const t = await failsAndCharges(() =>
      compute(net, nowhere, "add(uint256,uint256)", [
        [1, "uint256"],
        [2, "uint256"],
      ]),
    );
    expect(t.usedGas).toBe(0);
    expect(errorText(t)).toMatch(/not deployed/);
  });

  it("too little gas: the whole gas limit is charged", async () => {
    const t = await failsAndCharges(() =>
      compute(
        net,
        calculator,
        "add(uint256,uint256)",
        [
          [1, "uint256"],
          [2, "uint256"],
        ],
        {
          gasLimit: 2_000,
        },
      ),
    );
    expect(t.usedGas).toBe(2_000);
  });

  it("arguments that do not match the function, and a function that does not exist", async () => {
    await failsAndCharges(() => compute(net, calculator, "add(uint256,uint256)", [[1, "uint256"]]));
    const unknown = await failsAndCharges(() => compute(net, calculator, "divide(uint256)", []));
    expect(errorText(unknown)).toMatch(/divide|function/i);
  });

  it("inputs encrypted with a key that is not the worker's: failed, nothing charged", async () => {
    await failsAndCharges(async () => {
      const task = await createAdd();
      // The dApp encrypts the function under a key of its own instead of the shared one.
      const wrongKey = "11".repeat(32);
      task.encryptedFn = utils.encryptMessage(wrongKey, "add(uint256,uint256)");
      task.inputsHash = utils.hash([
        task.encryptedFn,
        task.encryptedAbiEncodedArgs,
        task.scAddr,
        task.userPubKey,
      ]);
      const recorded = await once<Task>(
        net.enigma.createTaskRecord(task),
        eeConstants.CREATE_TASK_RECORD,
      );
      await once(net.enigma.sendTaskInput(recorded), eeConstants.SEND_TASK_INPUT_RESULT);
      net.sent.push(recorded);
      return recorded;
    }).then((t) => {
      expect(t.usedGas).toBe(0);
    });
  });

  it("sent to a worker that is not the selected one: accepted, never executed, refundable", async () => {
    // As Discovery's 20_execute_fail_wrong_worker: sendTaskInput succeeds, the task stays
    // pending (status 1) and its fee can be returned after the timeout.
    const task = await createAdd();
    const selected = addr(task.workerAddress);
    const other = net.devnet.workers.map((w) => w.signer.toLowerCase()).find((w) => w !== selected);
    expect(other).toBeDefined();
    task.workerAddress = (other ?? "").slice(2);
    const recorded = await once<Task>(
      net.enigma.createTaskRecord(task),
      eeConstants.CREATE_TASK_RECORD,
    );
    await once(net.enigma.sendTaskInput(recorded), eeConstants.SEND_TASK_INPUT_RESULT);
    // A later task of the same contract runs: the misdirected one held nothing up.
    const later = await compute(net, calculator, "add(uint256,uint256)", [
      [3, "uint256"],
      [4, "uint256"],
    ]);
    expect((await executed(net, later)).engStatus).toBe("SUCCESS");
    expect(await commitEpoch(net, [later])).toEqual([2]);
    expect((await net.enigma.getTaskRecordStatus(recorded)).ethStatus).toBe(1);
    expect((await ourSelection(net, recorded)).chain).toBe(selected);
  });
});

describe("deployments sent to a worker that is not the selected one", () => {
  it("accepted, never executed, the contract not deployed", async () => {
    // As Discovery's 03_deploy_fail_wrong_worker.
    const created = await once<Task>(
      net.enigma.createTask(
        "construct()",
        [],
        1_000_000,
        1,
        net.senders[0] ?? "",
        example("calculator"),
        true,
      ),
      eeConstants.CREATE_TASK,
    );
    const selected = addr(created.workerAddress);
    const other = net.devnet.workers.map((w) => w.signer.toLowerCase()).find((w) => w !== selected);
    created.workerAddress = (other ?? "").slice(2);
    const recorded = await once<Task>(
      net.enigma.createTaskRecord(created),
      eeConstants.CREATE_TASK_RECORD,
    );
    await once(net.enigma.sendTaskInput(recorded), eeConstants.DEPLOY_SECRET_CONTRACT_RESULT);
    const later = await compute(net, calculator, "add(uint256,uint256)", [
      [5, "uint256"],
      [6, "uint256"],
    ]);
    expect(await commitEpoch(net, [later])).toEqual([2]);
    expect((await net.enigma.getTaskRecordStatus(recorded)).ethStatus).toBe(1);
    expect(await net.enigma.admin.isDeployed(recorded.scAddr)).toBe(false);
  });
});

describe("a callback that fails on Ethereum", () => {
  it("ends as status 4 with no state delta recorded for it", async () => {
    // The voting contract reports its tally to the address given at construction: here the
    // token contract, which has no pollClosed(uint256,uint256).
    const voting = await deploy(net, example("voting"), "construct(address)", [
      [net.devnet.chain.tokenAddress, "address"],
    ]);
    expect((await executed(net, voting)).engStatus).toBe("SUCCESS");
    const vote = await compute(net, voting.scAddr, "cast_vote(bytes32,bool)", [
      [`0x${"01".repeat(32)}`, "bytes32"],
      [true, "bool"],
    ]);
    expect((await executed(net, vote)).engStatus).toBe("SUCCESS");
    const close = await compute(net, voting.scAddr, "close_poll()", []);
    const closed = await result(net, await executed(net, close));
    expect(closed.ethereumAddress.replace(/^0x/, "").toLowerCase()).toBe(
      net.devnet.chain.tokenAddress.slice(2).toLowerCase(),
    );
    expect(await commitEpoch(net, [voting, vote, close])).toEqual([2, 2, 4]);
    // Deploy and vote recorded deltas; the failed close did not.
    expect(await net.enigma.admin.countStateDeltas(voting.scAddr)).toBe(2);
  });
});

describe("a record for an epoch that has ended", () => {
  it("fails with the error enigma-js retries on (Discovery's reason in Ganache's words); the retry lands", async () => {
    const task = await createAdd();
    await net.devnet.chain.advanceEpoch();
    const err = await once<Task>(
      net.enigma.createTaskRecord(task),
      eeConstants.CREATE_TASK_RECORD,
    ).catch((e: unknown) => e);
    // computeTask/deploySecretContract compare the error with exactly this string to retry.
    expect((err as ClientError).reported).toBe(
      "Returned error: VM Exception while processing transaction: revert Wrong epoch for this task",
    );
    // Done again, as the client's retry does it: encrypted for the new epoch, recorded.
    const again = await createAdd();
    const recorded = await once<Task>(
      net.enigma.createTaskRecord(again),
      eeConstants.CREATE_TASK_RECORD,
    );
    expect(recorded.ethStatus).toBe(1);
    // web3 watches each transaction the client sent for 24 confirmations, polling the chain:
    // let them come, so that it stops before the devnet does (it would hold the chain's
    // server open).
    await net.devnet.chain.mine(25);
  });
});

describe("worker selection", () => {
  it("the client picked, for every task it sent, the worker our chain and protocol select", async () => {
    expect(await selectionsAgree(net)).toBeGreaterThan(10);
  });
});
