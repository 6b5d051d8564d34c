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
  removeState, unknownFunction, writeStateJson, readStateJson, selector, AbiWriter, keccak256 } from "SDK";

const KEY = new Uint8Array(32);

function utf8(s: string): Uint8Array { return Uint8Array.wrap(String.UTF8.encode(s)); }

export function deploy(): void {}

export function call(): void {
  const f = functionName();
  if (f == "big_key") writeStateJson("k".repeat(2000), "1");
  else if (f == "big_value") writeStateJson("v", '"' + "x".repeat(300 * 1024) + '"');
  else if (f == "big_output") ret(new Uint8Array(300 * 1024));
  else if (f == "two_eth") {
    callEthereum(new Uint8Array(20), selector("a()"), new AbiWriter());
    const second = new Uint8Array(20);
    second[19] = 2;
    callEthereum(second, selector("b()"), new AbiWriter());
  } else if (f == "bad_decrypt") decryptWith(KEY, new Uint8Array(40));
  else if (f == "crypto") {
    const msg = utf8("secret");
    const c = encryptWith(KEY, msg);
    const out = new Uint8Array(c.length + msg.length);
    out.set(c);
    out.set(decryptWith(KEY, c), c.length);
    ret(out);
  } else if (f == "rand") ret(randomBytes(64));
  else if (f == "log") { print("hello"); print("world"); }
  else if (f == "bad_ptr") env.ret(0xffffff00, 1000);
  else if (f == "write") { writeStateJson("a", "[1, 2]"); writeStateJson("b", "{\\"z\\":1,\\"a\\":true}"); removeState("c"); }
  else if (f == "shrink") writeStateJson("a", "1");
  else if (f == "grow") writeStateJson("a", "123456");
  else if (f == "not_json") writeStateJson("a", "{oops");
  else if (f == "bad_key") { const k = Uint8Array.wrap(String.UTF8.encode("xx")); k[0] = 0xff; env.write_state(k.dataStart, 2, k.dataStart, 1); }
  else if (f == "read_missing") { const v = readStateJson("nothing"); ret(utf8(v == null ? "absent" : v)); }
  else if (f == "read") ret(utf8(readStateJson("b")!));
  else if (f == "remove") { removeState("a"); ret(readStateJson("a") == null ? new Uint8Array(1) : new Uint8Array(2)); }
  else if (f == "keccak") ret(keccak256(utf8("abc")));
  else if (f == "name") ret(utf8(f));
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

describe("host limits and bad input end as typed failures", () => {
  const cases: [string, number][] = [
    ["big_key()", ErrorCode.StateTooLarge],
    ["big_value()", ErrorCode.StateTooLarge],
    ["big_output()", ErrorCode.OutputTooLarge],
    ["bad_decrypt()", ErrorCode.HostCallFailed],
    ["bad_ptr()", ErrorCode.ContractTrap],
    ["not_json()", ErrorCode.StateValueNotJson],
    ["bad_key()", ErrorCode.InvalidStateKey],
    ["nope()", ErrorCode.UnknownFunction],
  ];
  for (const [fn, code] of cases) {
    it(`${fn} -> ${code}`, () => {
      const r = runner()(fn, { gasLimit: 1_000_000_000 });
      expect(r).toMatchObject({ ok: false, error: { code } });
      expect(r.gasUsed).toBeGreaterThan(0);
    });
  }

  it("a signature without '(' and ')' is InvalidFunctionSignature, before anything runs", () => {
    for (const fn of ["name", "name)", ")name(", ""]) {
      expect(runner()(fn)).toMatchObject({
        ok: false,
        gasUsed: 0,
        error: { code: ErrorCode.InvalidFunctionSignature },
      });
    }
  });

  it("the whole state is bounded (maxStateBytes)", () => {
    const state = new ContractState();
    state.set(new Uint8Array(10), new Uint8Array(90));
    const r = runner({ executionLimits: { maxStateBytes: 100 } })("write()", { state });
    expect(r).toMatchObject({ ok: false, error: { code: ErrorCode.StateTooLarge } });
  });
});

const text = (s: string) => new TextEncoder().encode(s);

describe("host functions (Discovery's interface)", () => {
  it("hands the module the name before '(' of the signature", () => {
    expect(runner()("name(uint256,bool)")).toMatchObject({ ok: true, output: text("name") });
  });

  it("keeps state values as canonical JSON and reports sorted changes", () => {
    const r = runner()("write()");
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.changes).toEqual([
      { key: text("a"), value: text("[1,2]") },
      { key: text("b"), value: text('{"a":true,"z":1}') },
    ]);
  });

  it("reads a missing key as JSON null", () => {
    expect(runner()("read_missing()")).toMatchObject({ ok: true, output: text("absent") });
    const state = new ContractState();
    state.set(text("b"), text('{"a":1}'));
    expect(runner()("read()", { state })).toMatchObject({ ok: true, output: text('{"a":1}') });
  });

  it("charges a write 10 plus each byte it grows, refunds each byte it shrinks", () => {
    const run = runner();
    // The same function ("123456", 6 bytes, under "a") over different old values: the
    // instructions cost the same, only the host's charge differs.
    const over = (old: string | undefined) => {
      const state = new ContractState();
      if (old !== undefined) state.set(text("a"), text(old));
      const r = run("grow()", { state });
      expect(r.ok).toBe(true);
      return r.gasUsed;
    };
    const longer = over("12345678"); // shrinks by 2: 2 refunded, nothing charged
    expect(over(undefined) - longer).toBe(HOST_GAS.stateWrite + 6 + 2);
    expect(over("null") - longer).toBe(HOST_GAS.stateWrite + 6 + 2); // null counts 0 bytes
    expect(over("1234") - longer).toBe(HOST_GAS.stateWrite + 2 + 2);
    expect(over("123456") - longer).toBe(HOST_GAS.stateWrite + 2);
  });

  it("removes an existing key", () => {
    const state = new ContractState();
    state.set(text("a"), text("1"));
    const r = runner()("remove()", { state });
    expect(r).toMatchObject({ ok: true, output: Uint8Array.of(0) });
    if (r.ok) expect(r.changes).toEqual([{ key: text("a"), value: null }]);
  });

  it("keeps the last Ethereum call a task asks for, as Discovery did", () => {
    const r = runner()("two_eth()");
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.ethCall?.address[19]).toBe(2);
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
