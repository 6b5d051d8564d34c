// The client's worker-admin calls against our Enigma contract, and a task that no worker
// commits (every worker stopped): its fee comes back with `returnFeesForTask` after the
// timeout (status 5).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClientError, eeConstants, once, type Task } from "./enigma-js.js";
import {
  addr,
  selectionsAgree,
  startCompatNetwork,
  type CompatNetwork,
  committedCalculator,
  engBalance as balanceOf,
} from "./harness.js";

const ENG = 10 ** 8;
const TIMEOUT_BLOCKS = 150;

let net: CompatNetwork;
let calculator: string;

beforeAll(async () => {
  net = await startCompatNetwork({
    seed: "compat-admin",
    timing: { epochBlocks: 100, taskTimeoutBlocks: TIMEOUT_BLOCKS, epochSeconds: 60 },
  });
  calculator = await committedCalculator(net);
}, 120_000);

afterAll(async () => {
  await net.stop();
});

const engBalance = (account: string) => balanceOf(net, account);

describe("worker admin through the client", () => {
  it("reads workers: status, stake, signer, and finds a worker by its signer", async () => {
    for (const w of net.devnet.workers) {
      expect(await net.enigma.admin.getWorkerStatus(w.custodian)).toBe(1); // logged in
      expect(await net.enigma.admin.getBalance(w.custodian)).toBeGreaterThanOrEqual(100 * ENG);
      expect((await net.enigma.admin.getWorkerSignerAddr(w.custodian)).toLowerCase()).toBe(
        w.signer.toLowerCase(),
      );
      const found = await net.enigma.admin.findBySigningAddress(w.signer);
      expect(found.account.toLowerCase()).toBe(w.custodian.toLowerCase());
      expect(found.status).toBe(1);
    }
    expect(await net.enigma.admin.getWorkerStatus(net.senders[0] ?? "")).toBe(0); // unregistered
  });

  it("deposits, logs out, withdraws once no epoch holds the worker, and logs back in", async () => {
    const w = net.devnet.workers[2];
    if (w === undefined) throw new Error("no third worker");
    // The custodian's key is the node operator's: the chain signs for it (as Ganache did).
    await net.provider.send("hardhat_impersonateAccount", [w.custodian]);
    const stake = await net.enigma.admin.getBalance(w.custodian);
    await once(net.enigma.admin.deposit(w.custodian, 50 * ENG), eeConstants.DEPOSIT_RECEIPT);
    expect(await net.enigma.admin.getBalance(w.custodian)).toBe(stake + 50 * ENG);

    // Withdrawing while logged in is refused by the contract; the client reports the revert.
    const early = await once(
      net.enigma.admin.withdraw(w.custodian, 50 * ENG),
      eeConstants.WITHDRAW_RECEIPT,
    ).catch((e: unknown) => e);
    expect(early).toBeInstanceOf(ClientError);

    await once(net.enigma.admin.logout(w.custodian), eeConstants.LOGOUT_RECEIPT);
    expect(await net.enigma.admin.getWorkerStatus(w.custodian)).toBe(2); // logged out
    // The next epoch's worker set was captured before the log-out: the worker serves it, and
    // may withdraw once the epoch after it has started (worker sets are captured one epoch
    // ahead, contracts/README.md).
    await net.devnet.chain.advanceEpoch();
    const tooEarly = await once(
      net.enigma.admin.withdraw(w.custodian, 50 * ENG),
      eeConstants.WITHDRAW_RECEIPT,
    ).catch((e: unknown) => e);
    expect(tooEarly).toBeInstanceOf(ClientError);
    await net.devnet.chain.advanceEpoch();
    const wallet = await engBalance(w.custodian);
    await once(net.enigma.admin.withdraw(w.custodian, 50 * ENG), eeConstants.WITHDRAW_RECEIPT);
    expect(await net.enigma.admin.getBalance(w.custodian)).toBe(stake);
    expect(await engBalance(w.custodian)).toBe(wallet + BigInt(50 * ENG));

    await once(net.enigma.admin.login(w.custodian), eeConstants.LOGIN_RECEIPT);
    expect(await net.enigma.admin.getWorkerStatus(w.custodian)).toBe(1);
    await net.provider.send("hardhat_stopImpersonatingAccount", [w.custodian]);
    // The epoch after next holds all three workers again.
    await net.devnet.chain.advanceEpoch();
    await net.devnet.chain.advanceEpoch();
  });
});

describe("a task no worker commits", () => {
  it("is refunded in full with returnFeesForTask once it timed out (status 5)", async () => {
    const sender = net.senders[1] ?? "";
    const before = await engBalance(sender);
    // Encrypted for the selected worker while it is up...
    const task = await once<Task>(
      net.enigma.createTask(
        "add(uint256,uint256)",
        [
          [20, "uint256"],
          [22, "uint256"],
        ],
        1_000_000,
        3,
        sender,
        calculator,
        false,
      ),
      eeConstants.CREATE_TASK,
    );
    net.sent.push(task);
    // ...then every worker stops: the record lands, but nobody can take the task.
    for (const w of net.devnet.workers) await w.stop();
    const recorded = await once<Task>(
      net.enigma.createTaskRecord(task),
      eeConstants.CREATE_TASK_RECORD,
    );
    expect(before - (await engBalance(sender))).toBe(3_000_000n); // escrowed
    const refused = await once(
      net.enigma.sendTaskInput(recorded),
      eeConstants.SEND_TASK_INPUT_RESULT,
    ).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ClientError); // the gateway is down

    // Too early: the client itself refuses.
    const early = await once(
      net.enigma.returnFeesForTask(recorded),
      eeConstants.RETURN_FEES_FOR_TASK,
    ).catch((e: unknown) => e);
    expect((early as ClientError).reported).toMatchObject({ name: "InvalidTaskReturn" });

    await net.devnet.chain.mine(TIMEOUT_BLOCKS + 1);
    const returned = await once<Task>(
      net.enigma.returnFeesForTask(recorded),
      eeConstants.RETURN_FEES_FOR_TASK,
    );
    expect(returned.ethStatus).toBe(5);
    expect((await net.enigma.getTaskRecordStatus(recorded)).ethStatus).toBe(5);
    expect(await engBalance(sender)).toBe(before);
    expect(addr(recorded.workerAddress)).toBe(addr(task.workerAddress));
  });

  it("the client picked, for every task it sent, the worker our chain and protocol select", async () => {
    expect(await selectionsAgree(net)).toBeGreaterThanOrEqual(2);
  });
});
