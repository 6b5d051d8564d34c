// Host functions and their limits, through a contract written for the purpose.
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { ErrorCode, aesDecrypt } from "@enigma/protocol";
import { compileSecretContract, exampleSourcePath } from "@enigma/secret-contract";
import { beforeAll, describe, expect, it } from "vitest";
import { ContractState } from "../state/state.js";
import { ContractRuntime, type ExecutionRequest, type PreparedContract } from "./execute.js";
import { HOST_GAS } from "./host.js";

const SOURCE = `
import { env, callEthereum, decryptWith, encryptWith, functionName, print, randomBytes, ret,
  removeState, unknownFunction, writeState, readState, selector, AbiWriter, keccak256 } from "SDK";

const KEY = new Uint8Array(32);

export function deploy(): void {}

export function call(): void {
  const f = functionName();
  if (f == "big_key()") writeState("k".repeat(2000), new Uint8Array(1));
  else if (f == "big_value()") writeState("v", new Uint8Array(300 * 1024));
  else if (f == "big_output()") ret(new Uint8Array(300 * 1024));
  else if (f == "two_eth()") {
    callEthereum(new Uint8Array(20), selector("a()"), new AbiWriter());
    callEthereum(new Uint8Array(20), selector("a()"), new AbiWriter());
  } else if (f == "bad_decrypt()") decryptWith(KEY, new Uint8Array(40));
  else if (f == "crypto()") {
    const msg = Uint8Array.wrap(String.UTF8.encode("secret"));
    const c = encryptWith(KEY, msg);
    const out = new Uint8Array(c.length + msg.length);
    out.set(c);
    out.set(decryptWith(KEY, c), c.length);
    ret(out);
  } else if (f == "rand()") ret(randomBytes(64));
  else if (f == "log()") { print("hello"); print("world"); }
  else if (f == "bad_ptr()") env.ret(0xffffff00, 1000);
  else if (f == "write()") { writeState("a", new Uint8Array(3)); writeState("b", new Uint8Array(1)); removeState("c"); }
  else if (f == "remove()") { removeState("a"); ret(readState("a") == null ? new Uint8Array(1) : new Uint8Array(2)); }
  else if (f == "keccak()") ret(keccak256(Uint8Array.wrap(String.UTF8.encode("abc"))));
  else unknownFunction();
}
`;

let code: Uint8Array;
const taskId = new Uint8Array(32).fill(1);

beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), "host-"));
  const file = join(dir, "host.ts");
  const sdk = exampleSourcePath("counter").replace(/examples\/counter\.ts$/, "assembly/index");
  await writeFile(file, SOURCE.replace('"SDK"', JSON.stringify(relative(dir, sdk))));
  code = (await compileSecretContract(file)).wasm;
}, 60_000);

function runner(options: ConstructorParameters<typeof ContractRuntime>[0] = {}) {
  const rt = new ContractRuntime(options);
  const prepared: PreparedContract = rt.prepare(code);
  return (fn: string, over: Partial<ExecutionRequest> = {}) =>
    rt.execute(prepared, {
      entry: "call",
      functionName: fn,
      args: new Uint8Array(),
      state: new ContractState(),
      gasLimit: 10_000_000,
      taskId,
      seed: new Uint8Array(32),
      ...over,
    });
}

describe("host limits end as typed failures", () => {
  const cases: [string, number][] = [
    ["big_key()", ErrorCode.StateTooLarge],
    ["big_value()", ErrorCode.StateTooLarge],
    ["big_output()", ErrorCode.OutputTooLarge],
    ["two_eth()", ErrorCode.EthereumCallLimit],
    ["bad_decrypt()", ErrorCode.HostCallFailed],
    ["bad_ptr()", ErrorCode.ContractTrap],
    ["nope()", ErrorCode.UnknownFunction],
  ];
  for (const [fn, code] of cases) {
    it(`${fn} -> ${code}`, () => {
      const r = runner()(fn);
      expect(r).toMatchObject({ ok: false, error: { code } });
      expect(r.gasUsed).toBeGreaterThanOrEqual(HOST_GAS.execution);
    });
  }

  it("the whole state is bounded (maxStateBytes)", () => {
    const state = new ContractState();
    state.set(new Uint8Array(10), new Uint8Array(90));
    const r = runner({ executionLimits: { maxStateBytes: 100 } })("write()", { state });
    expect(r).toMatchObject({ ok: false, error: { code: ErrorCode.StateTooLarge } });
  });
});

describe("host functions", () => {
  it("charges 10 per state write plus 1 per written byte, and reports sorted changes", () => {
    const run = runner();
    const r = run("write()");
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.changes).toEqual([
      { key: Uint8Array.of(0x61), value: new Uint8Array(3) },
      { key: Uint8Array.of(0x62), value: new Uint8Array(1) },
    ]);
    // removing an absent key changes nothing but is still charged as a write
    const withoutWrites = run("log()");
    expect(withoutWrites.ok).toBe(true);
    const hostPart = 3 * HOST_GAS.stateWrite + (1 + 3) + (1 + 1) + 1;
    expect(r.gasUsed - withoutWrites.gasUsed).toBeGreaterThan(hostPart);
  });

  it("remove_from_state removes an existing key", () => {
    const state = new ContractState();
    state.set(Uint8Array.of(0x61), Uint8Array.of(1));
    const r = runner()("remove()", { state });
    expect(r).toMatchObject({ ok: true, output: Uint8Array.of(0) });
    if (r.ok) expect(r.changes).toEqual([{ key: Uint8Array.of(0x61), value: null }]);
  });

  it("encrypt / decrypt use the protocol's AES-GCM wire format", () => {
    const r = runner()("crypto()");
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const wire = r.output.subarray(0, 6 + 28);
    expect(new TextDecoder().decode(aesDecrypt(new Uint8Array(32), wire))).toBe("secret");
    expect(new TextDecoder().decode(r.output.subarray(34))).toBe("secret");
  });

  it("rand is reproducible with the seed and task, and differs otherwise", () => {
    const run = runner();
    const a = run("rand()");
    expect(run("rand()")).toEqual(a);
    const otherSeed = run("rand()", { seed: new Uint8Array(32).fill(9) });
    const otherTask = run("rand()", { taskId: new Uint8Array(32).fill(2) });
    const unseeded = run("rand()", { seed: undefined });
    for (const r of [otherSeed, otherTask, unseeded]) {
      expect(r.ok && a.ok && Buffer.compare(r.output, a.output) !== 0).toBe(true);
    }
  });

  it("collects eprint output as logs", () => {
    expect(runner()("log()")).toMatchObject({ ok: true, logs: ["hello", "world"] });
  });

  it("the SDK's keccak256 matches the protocol's", async () => {
    const { keccak256 } = await import("@enigma/protocol");
    const r = runner()("keccak()");
    expect(r.ok && r.output).toEqual(keccak256(new TextEncoder().encode("abc")));
  });
});
