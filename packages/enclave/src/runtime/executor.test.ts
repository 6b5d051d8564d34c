// The execution threads: the same results as on the calling thread, state kept across tasks by
// the thread's copy, and a contract that runs past its deadline stopped with ExecutionTimeout
// (the whole gas limit used), the executor going on with a new thread.
import { readFileSync } from "node:fs";
import { ErrorCode, keccak256 } from "@enigma/protocol";
import { exampleWasmPath, hostileWasmPath } from "@enigma/secret-contract";
import { afterAll, describe, expect, it } from "vitest";
import { ContractRuntime } from "./execute.js";
import { DeployedContract } from "./contract.js";
import { InlineExecutor, ThreadExecutor, newStateId } from "./executor.js";

const executors: ThreadExecutor[] = [];
afterAll(async () => {
  await Promise.all(executors.map((e) => e.close()));
});

const task = (n: number, functionName: string, gasLimit = 1_000_000) => ({
  functionName,
  args: new Uint8Array(),
  gasLimit,
  taskId: keccak256(Uint8Array.of(n)),
  seed: new Uint8Array(32),
});

describe("ThreadExecutor", () => {
  it("gives the results the calling thread gives, and keeps state across tasks", async () => {
    const threads = new ThreadExecutor({ threads: 2 });
    executors.push(threads);
    const counter = readFileSync(exampleWasmPath("counter"));
    const key = new Uint8Array(32).fill(3);
    const history = async (executor: ThreadExecutor | InlineExecutor) => {
      const { contract, outcome } = await DeployedContract.deploy(
        executor,
        counter,
        key,
        task(0, "construct()"),
      );
      if (contract === undefined) throw new Error("deploy failed");
      const outcomes = [outcome];
      // Asked for at once: a contract's tasks still run one after another, in order.
      outcomes.push(
        ...(await Promise.all([1, 2, 3].map((i) => contract.run(task(i, "increment()"))))),
      );
      outcomes.push(await contract.run(task(4, "get()")));
      return outcomes;
    };
    const inThread = await history(threads);
    const inline = await history(new InlineExecutor(new ContractRuntime()));
    expect(inThread).toEqual(inline);
    const last = inThread[inThread.length - 1]?.result;
    expect(last?.ok && Buffer.from(last.output).readBigUInt64BE()).toBe(3n);
  }, 60_000);

  it("stops a contract past its deadline: ExecutionTimeout with the whole gas limit, then goes on", async () => {
    // A deadline far shorter than the gas limit allows (a plain loop burns ~6,000 Mgas/s).
    const executor = new ThreadExecutor({ threads: 1, deadline: { baseMs: 300, msPerMgas: 0 } });
    executors.push(executor);
    const spin = readFileSync(hostileWasmPath("spin"));
    const job = (code: Uint8Array, gasLimit: number) => ({
      codeHash: keccak256(code),
      code,
      entry: "call" as const,
      functionName: "f()",
      args: new Uint8Array(),
      gasLimit,
      taskId: new Uint8Array(32),
      state: { id: newStateId(), version: 0, entries: () => [] },
    });
    await executor.run(job(spin, 1_000)); // the thread is up
    const t0 = performance.now();
    const r = await executor.run(job(spin, 9_000_000_000));
    expect(performance.now() - t0).toBeLessThan(5_000);
    expect(r).toMatchObject({
      ok: false,
      gasUsed: 9_000_000_000,
      error: { code: ErrorCode.ExecutionTimeout },
    });
    // A new thread takes the next task; the module compiled by the stopped one is reused.
    expect(await executor.run(job(spin, 5_000))).toMatchObject({
      ok: false,
      gasUsed: 5_000,
      error: { code: ErrorCode.OutOfGas },
    });
  }, 60_000);
});
