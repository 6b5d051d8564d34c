// The checker finds what it must: against an in-process devnet, a clean workload passes every
// invariant; a wrong output, a task left stuck past its timeout, a node whose stored delta
// differs from the chain's and a node that keeps a receipt of a settled task each fail the
// invariant that covers them (a checker that cannot fail proves nothing).
import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Contract, JsonRpcProvider, NonceManager, Wallet } from "ethers";
import { ENIGMA_ABI, ENIGMA_TOKEN_ABI, bytesToHex, taskId, type Hex } from "@enigma/protocol";
import { startDevnet, type Devnet } from "@enigma/devnet";
import { admin, formatReport, runChecks, type CheckTarget, type TaskExpectation } from "./check.js";
import { Workload } from "./workload.js";

let devnet: Devnet;
let workload: Workload;
let target: CheckTarget;
let stuck: Hex;
let fake: Server;
/** What beforeAll started, stopped in reverse order (also when it failed half-way). */
const started: (() => Promise<void>)[] = [];
let fakeUrl = "";
/** What the stand-in node answers: a copy of worker-1's, altered by the test. */
let alter: (method: string, result: unknown) => unknown = (_m, r) => r;

const example = (name: string) =>
  readFile(new URL(`../../secret-contract/build/examples/${name}.wasm`, import.meta.url)).then(
    (b) => new Uint8Array(b),
  );

beforeAll(async () => {
  devnet = await startDevnet({ workers: 2, users: 2, seed: "checker-test", taskTimeoutBlocks: 24 });
  started.push(() => devnet.stop());
  workload = new Workload(
    {
      rpcUrl: devnet.chain.rpcUrl,
      enigmaAddress: devnet.chain.enigmaAddress,
      tokenAddress: devnet.chain.tokenAddress,
      trustRoot: devnet.trustRoot,
      attestationPolicy: devnet.attestationPolicy,
      gateways: devnet.workers.map((w) => w.rpcUrl ?? ""),
      accounts: devnet.accounts.slice(0, 1),
    },
    {
      counter: await example("counter"),
      calculator: await example("calculator"),
      counters: 1,
      tasks: 6,
      seed: "checker-test",
    },
  );
  await workload.start();
  started.push(() => workload.stop());
  await workload.done();
  // A task recorded whose input nobody ever sends: it stays pending past its timeout.
  const provider = new JsonRpcProvider(devnet.chain.rpcUrl, undefined, { staticNetwork: true });
  try {
    const user = new NonceManager(new Wallet(devnet.accounts[1]?.privateKey ?? "", provider));
    const token = new Contract(devnet.chain.tokenAddress, ENIGMA_TOKEN_ABI, user);
    const enigma = new Contract(devnet.chain.enigmaAddress, ENIGMA_ABI, user);
    const wait = async (tx: Promise<unknown>) =>
      (await (tx as Promise<{ wait(): Promise<unknown> }>)).wait();
    await wait(token.getFunction("approve")(devnet.chain.enigmaAddress, 10n ** 12n));
    const nonce = (await enigma.getFunction("getUserTaskDeployments")(user.getAddress())) as bigint;
    // The devnet's epochs go on (the principal starts one every few blocks and seconds): a
    // record sent while a new epoch is pending is refused "Wrong epoch", and sent again once
    // that epoch is on chain, as a client does.
    for (let attempt = 1; ; attempt++) {
      // The head asked for now: ethers' getBlockNumber answers from a cache for a while.
      const head = BigInt((await provider.send("eth_blockNumber", [])) as string);
      const epoch = (await enigma.getFunction("getWorkerParams")(head)) as [bigint];
      try {
        await wait(
          enigma.getFunction("createTaskRecord")(`0x${"11".repeat(32)}`, 1_000_000n, 1n, epoch[0]),
        );
        break;
      } catch (e) {
        if (attempt >= 5 || !String(e).includes("Wrong epoch")) throw e;
        user.reset();
        // The principal's new epoch may still be pending: a block puts it on chain.
        await devnet.chain.mine(1);
      }
    }
    stuck = taskId(await user.getAddress(), nonce);
  } finally {
    provider.destroy();
  }
  // A stand-in node whose answers the tests alter (it forwards to worker-1's admin endpoint).
  const real = devnet.workers[0]?.adminUrl ?? "";
  fake = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = JSON.parse(Buffer.concat(chunks).toString()) as {
        method: string;
        params: unknown;
      };
      void admin(real, body.method, body.params).then((result) => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ jsonrpc: "2.0", id: 1, result: alter(body.method, result) }));
      });
    });
  });
  await new Promise<void>((r) => fake.listen(0, "127.0.0.1", r));
  started.push(
    () =>
      new Promise<void>((r) =>
        fake.close(() => {
          r();
        }),
      ),
  );
  fakeUrl = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
  target = {
    rpcUrl: devnet.chain.rpcUrl,
    enigmaAddress: devnet.chain.enigmaAddress,
    tokenAddress: devnet.chain.tokenAddress,
    nodes: devnet.info().nodes,
  };
}, 240_000);

afterAll(async () => {
  for (const stop of started.reverse()) await stop();
}, 60_000);

const options = { settleMs: 30_000, quiesceMs: 15_000 };
const failed = (r: Awaited<ReturnType<typeof runChecks>>) =>
  r.invariants.filter((i) => !i.passed).map((i) => i.name);

describe("runChecks", () => {
  it("finds a task stuck past its timeout, and passes once it is refunded", async () => {
    // The workload's tasks commit first (epochs end on their own); then the stuck task's
    // timeout passes.
    const provider = new JsonRpcProvider(devnet.chain.rpcUrl, undefined, { staticNetwork: true });
    const enigma = new Contract(devnet.chain.enigmaAddress, ENIGMA_ABI, provider);
    try {
      for (const e of workload.expectations) {
        for (;;) {
          const r = (await enigma.getFunction("getTaskRecord")(e.taskId)) as { status: bigint };
          if (r.status !== 1n) break;
          await new Promise((done) => setTimeout(done, 200));
        }
      }
    } finally {
      provider.destroy();
    }
    await devnet.chain.mine(30);
    const before = await runChecks(target, { ...options, expectations: workload.expectations });
    expect(failed(before), formatReport(before)).toEqual(["tasks-settled"]);
    expect(before.invariants[0]?.violations[0]?.taskIds).toEqual([stuck]);

    const after = await runChecks(target, {
      ...options,
      expectations: workload.expectations,
      refundKey: devnet.accounts[0]?.privateKey ?? "",
    });
    expect(after.ok, formatReport(after)).toBe(true);
    expect(after.tasks.refundedByCheck).toBe(1);
    expect(after.tasks.committed).toBeGreaterThanOrEqual(7);
    expect(after.invariants.find((i) => i.name === "outputs-correct")?.checked).toBe(6);
  }, 120_000);

  it("finds an output that is not what the function gives", async () => {
    const wrong: TaskExpectation[] = workload.expectations.map((e, i) =>
      i === 0 && e.output !== undefined
        ? {
            ...e,
            output: bytesToHex(
              new Uint8Array([...Buffer.from(e.output.slice(2), "hex")].map((b) => b ^ 1)),
            ),
          }
        : e,
    );
    const r = await runChecks(target, { ...options, expectations: wrong });
    expect(failed(r)).toEqual(["outputs-correct"]);
    expect(r.invariants.find((i) => i.name === "outputs-correct")?.violations[0]?.taskIds).toEqual([
      wrong[0]?.taskId,
    ]);
  }, 60_000);

  it("finds a node whose delta differs from the chain's, and one that keeps a settled receipt", async () => {
    const node = { name: "tampered", role: "worker", adminUrl: fakeUrl };
    alter = (method, result) => {
      if (method !== "admin_contract") return result;
      const r = result as { deltaHashes: string[] };
      return {
        ...r,
        deltaHashes: r.deltaHashes.map((h, i) => (i === 1 ? `0x${"ab".repeat(32)}` : h)),
      };
    };
    // Nothing will change these answers: no need to wait for nodes to catch up.
    const quick = { ...options, quiesceMs: 500 };
    const deltas = await runChecks({ ...target, nodes: [...target.nodes, node] }, quick);
    expect(failed(deltas)).toEqual(["deltas-match"]);
    const v = deltas.invariants.find((i) => i.name === "deltas-match")?.violations[0];
    expect(v?.node).toBe("tampered");
    expect(v?.message).toMatch(/delta 1 differs/);

    alter = (method, result) =>
      method === "admin_status"
        ? { ...(result as object), pendingReceipts: [{ taskId: stuck }] }
        : result;
    const receipts = await runChecks({ ...target, nodes: [...target.nodes, node] }, quick);
    expect(failed(receipts)).toEqual(["no-stale-receipts"]);
  }, 60_000);
});
