// The SDK's example contracts, end to end through the runtime: arguments encoded and outputs
// decoded with ethers' AbiCoder, state carried by DeployedContract's delta chain.
import { ErrorCode, bytesToHex } from "@enigma/protocol";
import {
  EXAMPLES,
  compileSecretContract,
  exampleSourcePath,
  type ExampleName,
} from "@enigma/secret-contract";
import { AbiCoder, Interface, getBytes, id, zeroPadValue } from "ethers";
import { beforeAll, describe, expect, it } from "vitest";
import { rebuildState } from "../state/deltas.js";
import { DeployedContract, type TaskOutcome } from "./contract.js";
import { ContractRuntime } from "./execute.js";

const abi = AbiCoder.defaultAbiCoder();
const wasm = new Map<ExampleName, Uint8Array>();
const stateKey = new Uint8Array(32).fill(9);
const seed = new Uint8Array(32).fill(3);
let taskCounter = 0;
const nextTaskId = () => {
  const t = new Uint8Array(32);
  new DataView(t.buffer).setUint32(28, ++taskCounter);
  return t;
};

beforeAll(async () => {
  for (const name of EXAMPLES)
    wasm.set(name, (await compileSecretContract(exampleSourcePath(name))).wasm);
}, 120_000);

function enc(types: string[], values: unknown[]): Uint8Array {
  return getBytes(abi.encode(types, values));
}

async function deploy(
  name: ExampleName,
  ctor = "construct()",
  types: string[] = [],
  values: unknown[] = [],
) {
  const runtime = new ContractRuntime();
  const { contract, outcome } = await DeployedContract.deploy(
    runtime,
    wasm.get(name) as Uint8Array,
    stateKey,
    {
      functionName: ctor,
      args: enc(types, values),
      gasLimit: 10_000_000,
      taskId: nextTaskId(),
      seed,
    },
  );
  expect(outcome.result).toMatchObject({ ok: true });
  if (contract === undefined) throw new Error("deploy failed");
  return contract;
}

function call(
  c: DeployedContract,
  fn: string,
  types: string[] = [],
  values: unknown[] = [],
  gasLimit = 10_000_000,
): Promise<TaskOutcome> {
  return c.run({
    functionName: fn,
    args: enc(types, values),
    gasLimit,
    taskId: nextTaskId(),
    seed,
  });
}

function out(o: TaskOutcome, types: string[]): unknown[] {
  if (!o.result.ok) throw new Error(`task failed: ${o.result.error.message}`);
  return [...abi.decode(types, o.result.output)];
}

describe("calculator", () => {
  it("adds, subtracts and multiplies uint256 values across the whole range", async () => {
    const c = await deploy("calculator");
    const big = 2n ** 200n + 12345n;
    expect(
      out(await call(c, "add(uint256,uint256)", ["uint256", "uint256"], [big, big]), ["uint256"]),
    ).toEqual([2n * big]);
    expect(
      out(await call(c, "sub(uint256,uint256)", ["uint256", "uint256"], [big, 12345n]), [
        "uint256",
      ]),
    ).toEqual([2n ** 200n]);
    expect(
      out(
        await call(
          c,
          "mul(uint256,uint256)",
          ["uint256", "uint256"],
          [2n ** 128n + 3n, 2n ** 100n + 7n],
        ),
        ["uint256"],
      ),
    ).toEqual([(2n ** 128n + 3n) * (2n ** 100n + 7n)]);
    expect(
      out(await call(c, "add(uint256,uint256)", ["uint256", "uint256"], [2n ** 64n - 1n, 1n]), [
        "uint256",
      ]),
    ).toEqual([2n ** 64n]);
  });

  it("overflow and underflow trap; an unknown function is UnknownFunction; no state delta", async () => {
    const c = await deploy("calculator");
    const max = 2n ** 256n - 1n;
    const o = await call(c, "add(uint256,uint256)", ["uint256", "uint256"], [max, 1n]);
    expect(o.result).toMatchObject({ ok: false, error: { code: ErrorCode.ContractTrap } });
    expect(
      (await call(c, "sub(uint256,uint256)", ["uint256", "uint256"], [1n, 2n])).result,
    ).toMatchObject({
      ok: false,
    });
    expect(
      (await call(c, "mul(uint256,uint256)", ["uint256", "uint256"], [2n ** 128n, 2n ** 128n]))
        .result,
    ).toMatchObject({ ok: false });
    expect((await call(c, "div(uint256,uint256)")).result).toMatchObject({
      ok: false,
      error: { code: ErrorCode.UnknownFunction },
    });
    // truncated arguments trap
    expect((await call(c, "add(uint256,uint256)", ["uint256"], [1n])).result).toMatchObject({
      ok: false,
      error: { code: ErrorCode.ContractTrap },
    });
    const ok = await call(c, "add(uint256,uint256)", ["uint256", "uint256"], [1n, 2n]);
    expect(ok.delta).toBeNull();
    expect(c.deltas).toHaveLength(1); // delta 0 of the deployment only
  });

  it("is deterministic: the same call twice gives the same output and gas", async () => {
    const c = await deploy("calculator");
    const a = await call(c, "mul(uint256,uint256)", ["uint256", "uint256"], [99n, 77n]);
    const b = await call(c, "mul(uint256,uint256)", ["uint256", "uint256"], [99n, 77n]);
    expect(a.result).toEqual(b.result);
  });
});

describe("millionaires", () => {
  it("reveals only the richest millionaire", async () => {
    const c = await deploy("millionaires");
    const addr = (n: number) => zeroPadValue(`0x${n.toString(16).padStart(2, "0")}`, 32);
    await call(
      c,
      "add_millionaire(bytes32,uint256)",
      ["bytes32", "uint256"],
      [addr(1), 1_000_000n],
    );
    await call(c, "add_millionaire(bytes32,uint256)", ["bytes32", "uint256"], [addr(2), 2n ** 80n]);
    const o = await call(
      c,
      "add_millionaire(bytes32,uint256)",
      ["bytes32", "uint256"],
      [addr(3), 5_000_000n],
    );
    expect(out(o, ["uint256"])).toEqual([3n]);
    expect(out(await call(c, "compute_richest()"), ["bytes32"])).toEqual([addr(2)]);
  });
});

describe("voting", () => {
  it("reports only the tally to an Ethereum contract via the bridge", async () => {
    const reporter = "0x00000000000000000000000000000000000000AA";
    const c = await deploy("voting", "construct(address)", ["address"], [reporter]);
    const voter = (n: number) => zeroPadValue(`0x${n.toString(16).padStart(2, "0")}`, 32);
    for (const [n, v] of [
      [1, true],
      [2, true],
      [3, false],
    ] as const) {
      expect(
        out(await call(c, "cast_vote(bytes32,bool)", ["bytes32", "bool"], [voter(n), v]), ["bool"]),
      ).toEqual([true]);
    }
    // a second vote from the same voter fails the task and changes nothing
    const again = await call(c, "cast_vote(bytes32,bool)", ["bytes32", "bool"], [voter(1), false]);
    expect(again.result.ok).toBe(false);
    expect(again.delta).toBeNull();
    const closed = await call(c, "close_poll()");
    expect(out(closed, ["uint256", "uint256"])).toEqual([2n, 1n]);
    if (!closed.result.ok) return;
    const eth = closed.result.ethCall;
    expect(eth).not.toBeNull();
    expect(
      `0x${bytesToHex(eth?.address ?? new Uint8Array()).replace(/^0x/, "")}`.toLowerCase(),
    ).toBe(reporter.toLowerCase());
    const iface = new Interface(["function pollClosed(uint256 yes, uint256 no)"]);
    expect(id("pollClosed(uint256,uint256)").slice(0, 10)).toBe(
      `0x${Buffer.from(eth?.payload.subarray(0, 4) ?? []).toString("hex")}`,
    );
    const decoded = iface.decodeFunctionData("pollClosed", eth?.payload ?? new Uint8Array());
    expect([decoded[0], decoded[1]]).toEqual([2n, 1n]);
  });
});

describe("coin flip", () => {
  it("uses rand: reproducible with the same seed and task, varies across tasks", async () => {
    const c = await deploy("coin_flip");
    const results = new Set<string>();
    for (let i = 0; i < 16; i++) results.add(String(out(await call(c, "flip()"), ["bool"])[0]));
    expect(results).toEqual(new Set(["true", "false"]));
    const runtime = new ContractRuntime();
    const code = runtime.prepare(wasm.get("coin_flip") as Uint8Array);
    const req = {
      entry: "call" as const,
      functionName: "bet(bool)",
      args: enc(["bool"], [true]),
      state: { get: () => undefined, byteSize: 0 },
      gasLimit: 1_000_000,
      taskId: new Uint8Array(32).fill(5),
      seed,
    };
    expect(runtime.execute(code, req)).toEqual(runtime.execute(code, req));
  });
});

describe("sealed-bid auction", () => {
  it("reveals only the winner and price; bids after the close fail", async () => {
    const c = await deploy("auction", "construct(uint256)", ["uint256"], [100n]);
    const a = "0x1111111111111111111111111111111111111111";
    const b = "0x2222222222222222222222222222222222222222";
    const d = "0x3333333333333333333333333333333333333333";
    await call(c, "bid(address,uint256)", ["address", "uint256"], [a, 150n]);
    await call(c, "bid(address,uint256)", ["address", "uint256"], [b, 90n]); // below reserve
    await call(c, "bid(address,uint256)", ["address", "uint256"], [d, 120n]);
    await call(c, "bid(address,uint256)", ["address", "uint256"], [d, 200n]); // raises own bid
    expect(out(await call(c, "bidders()"), ["uint256"])).toEqual([3n]);
    expect(out(await call(c, "close()"), ["bool", "address", "uint256"])).toEqual([true, d, 200n]);
    expect(
      (await call(c, "bid(address,uint256)", ["address", "uint256"], [a, 500n])).result.ok,
    ).toBe(false);
  });
});

describe("private token", () => {
  it("transfers balances kept in secret state; overdraft fails", async () => {
    const owner = "0x1111111111111111111111111111111111111111";
    const alice = "0x2222222222222222222222222222222222222222";
    const c = await deploy(
      "token",
      "construct(address,uint256)",
      ["address", "uint256"],
      [owner, 1_000n],
    );
    const t = await call(
      c,
      "transfer(address,address,uint256)",
      ["address", "address", "uint256"],
      [owner, alice, 300n],
    );
    expect(out(t, ["bool"])).toEqual([true]);
    expect(t.delta).not.toBeNull();
    expect(out(await call(c, "balance_of(address)", ["address"], [owner]), ["uint256"])).toEqual([
      700n,
    ]);
    expect(out(await call(c, "balance_of(address)", ["address"], [alice]), ["uint256"])).toEqual([
      300n,
    ]);
    expect(
      (
        await call(
          c,
          "transfer(address,address,uint256)",
          ["address", "address", "uint256"],
          [alice, owner, 301n],
        )
      ).result.ok,
    ).toBe(false);
    expect(out(await call(c, "total_supply()"), ["uint256"])).toEqual([1_000n]);
    // the delta chain rebuilds the same state in another enclave holding the state key
    const rebuilt = rebuildState(stateKey, c.deltas);
    expect(rebuilt.state.entries()).toEqual(c.entries());
    expect([rebuilt.head]).toEqual(c.deltas.slice(-1).map((d) => d.hash));
  });
});
