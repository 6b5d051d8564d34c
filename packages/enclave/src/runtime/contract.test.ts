import { ErrorCode } from "@enigma/protocol";
import { compileSecretContract, exampleSourcePath } from "@enigma/secret-contract";
import { beforeAll, describe, expect, it } from "vitest";
import { DeployedContract } from "./contract.js";
import { ContractRuntime } from "./execute.js";

let counter: Uint8Array;
const stateKey = new Uint8Array(32).fill(5);
const seed = new Uint8Array(32).fill(6);
const task = (n: number, functionName: string, gasLimit = 1_000_000) => ({
  functionName,
  args: new Uint8Array(),
  gasLimit,
  taskId: new Uint8Array(32).fill(n),
  seed,
});

beforeAll(async () => {
  counter = (await compileSecretContract(exampleSourcePath("counter"))).wasm;
}, 60_000);

async function history() {
  const { contract, outcome } = await DeployedContract.deploy(
    new ContractRuntime(),
    counter,
    stateKey,
    task(0, "construct()"),
  );
  if (contract === undefined) throw new Error("deploy failed");
  const outcomes = [outcome];
  for (let i = 1; i <= 3; i++) outcomes.push(await contract.run(task(i, "increment()")));
  return { contract, outcomes };
}

describe("DeployedContract", () => {
  it("two independent runs of the same tasks give identical outputs, gas and delta hashes", async () => {
    const a = await history();
    const b = await history();
    expect(b.outcomes).toEqual(a.outcomes);
    expect(b.contract.deltas.map((d) => d.hash)).toEqual(a.contract.deltas.map((d) => d.hash));
    expect(a.contract.deltas.map((d) => d.index)).toEqual([0, 1, 2, 3]);
  });

  it("a failed task changes neither state nor chain", async () => {
    const { contract } = await history();
    const before = contract.entries();
    const failed = await contract.run(task(9, "increment()", 10_001));
    expect(failed.result).toMatchObject({ ok: false, error: { code: ErrorCode.OutOfGas } });
    expect(failed.delta).toBeNull();
    expect(contract.entries()).toEqual(before);
    expect(contract.deltas).toHaveLength(4);
  });

  it("a contract restored from its deltas continues exactly like the original", async () => {
    const { contract } = await history();
    const restored = DeployedContract.restore(
      new ContractRuntime(),
      counter,
      stateKey,
      contract.deltas,
    );
    expect(restored.entries()).toEqual(contract.entries());
    const next = await contract.run(task(4, "increment()"));
    const nextRestored = await restored.run(task(4, "increment()"));
    expect(nextRestored).toEqual(next);
  });

  it("refuses a restore with a wrong key or a broken chain", async () => {
    const { contract } = await history();
    expect(() =>
      DeployedContract.restore(new ContractRuntime(), counter, new Uint8Array(32), contract.deltas),
    ).toThrow(expect.objectContaining({ code: ErrorCode.DeltaTampered }) as Error);
    const gap = [contract.deltas[0], contract.deltas[2]].filter((d) => d !== undefined);
    expect(() => DeployedContract.restore(new ContractRuntime(), counter, stateKey, gap)).toThrow(
      expect.objectContaining({ code: ErrorCode.DeltaChainBroken }) as Error,
    );
  });

  it("a failed deployment yields no contract and no delta", async () => {
    const { contract, outcome } = await DeployedContract.deploy(
      new ContractRuntime(),
      Uint8Array.of(0, 1, 2),
      stateKey,
      task(0, "construct()"),
    );
    expect(contract).toBeUndefined();
    expect(outcome).toMatchObject({
      delta: null,
      result: { ok: false, error: { code: ErrorCode.MalformedModule } },
    });
  });
});
