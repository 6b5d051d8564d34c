// The conformance modules (hand-written WebAssembly that behaves like eng-wasm contracts: name
// dispatch, ABI arguments and output, JSON state, a constructor with arguments, an Ethereum
// call, rand) through `enigma sc exec`, with the exact gas of Discovery's schedule: pwasm-utils'
// metered blocks (1 per instruction and per block end, 16 div/rem, 4 mul, 2 load/store), 10 per
// state write plus each byte it grows (a shrink refunds), the deployed bytes at deploy (no
// execution fee) and 10,000 per computation.
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { conformanceWasmPath } from "@enigma/secret-contract";
import { describe, expect, it } from "vitest";
import { runCli as run } from "./cli.fixture.js";

type Report = {
  ok: boolean;
  gasUsed: number;
  output?: string;
  decoded?: unknown;
  error?: { code: number; name: string };
  delta?: { changes: { keyText: string; value: string | null }[] } | null;
  ethCall?: { address: string; payload: string } | null;
};

async function exec(...args: string[]): Promise<Report[]> {
  const r = await run("sc", "exec", ...args, "--json");
  return JSON.parse(r.out) as Report[];
}

const hex = (s: string) => `0x${Buffer.from(s).toString("hex")}`;
const calculator = conformanceWasmPath("calculator");
const store = conformanceWasmPath("store");
const bridge = conformanceWasmPath("bridge");

describe("conformance modules through enigma sc exec", () => {
  it("calculator: the issue's own command deploys and computes sub(76, 17)", async () => {
    const [deploy, sub] = await exec(
      "--wasm",
      calculator,
      "--ctor",
      "construct()",
      "--ctor-args",
      "[]",
      "--fn",
      "sub(uint256,uint256)",
      "--args",
      "[76,17]",
      "--returns",
      "uint256",
    );
    // deploy(): its block (1) plus the 687 bytes of the module; no execution fee
    expect(deploy).toMatchObject({ ok: true, gasUsed: 1 + 687 });
    expect(sub).toMatchObject({ ok: true, decoded: ["59"], gasUsed: 10_238 });
  }, 30_000);

  it("calculator: add and mul, and an unknown name traps as eng-wasm's dispatcher does", async () => {
    const add = await exec(
      "--wasm",
      calculator,
      "--fn",
      "add(uint256,uint256)",
      "--args",
      "[76,17]",
      "--returns",
      "uint256",
    );
    // Derived by hand from calculator.wat under pwasm-utils' blocks: call 26 (its body, the
    // untaken `if`s and the trailing `unreachable` included) + 4 (the taken branch), binop 20,
    // word 2 x 21, bswap 3 x 46, add 10: 240 instructions, plus the execution fee.
    expect(add[1]).toMatchObject({ ok: true, decoded: ["93"], gasUsed: 10_000 + 240 });
    const mul = await exec(
      "--wasm",
      calculator,
      "--fn",
      "mul(uint256,uint256)",
      "--args",
      "[76,17]",
      "--returns",
      "uint256",
    );
    expect(mul[1]).toMatchObject({ ok: true, decoded: ["1292"], gasUsed: 10_265 });
    const div = await exec(
      "--wasm",
      calculator,
      "--fn",
      "div(uint256,uint256)",
      "--args",
      "[76,17]",
    );
    // a trap: the gas charged so far, no execution fee
    expect(div[1]).toMatchObject({ ok: false, gasUsed: 26, error: { name: "ContractTrap" } });
  }, 60_000);

  it("store: a constructor with arguments, JSON values, null for a missing key, a growing and a shrinking write", async () => {
    const dir = join(await mkdtemp(join(tmpdir(), "conformance-")), "store");
    const s = (...a: string[]) => exec("--wasm", store, "--state-dir", dir, ...a);
    const [deploy, got] = await s(
      "--ctor",
      "construct(uint256)",
      "--ctor-args",
      "[1234]",
      "--fn",
      "get()",
      "--returns",
      "uint256",
    );
    // 1234 is written as the JSON number "1234": 10 + 4 bytes, plus the instructions and the 892 code bytes
    expect(deploy).toMatchObject({
      ok: true,
      gasUsed: 1_355,
      delta: { changes: [{ keyText: '"value"', value: hex("1234") }] },
    });
    expect(got).toMatchObject({ ok: true, decoded: ["1234"], gasUsed: 10_336 });
    // grows by 2 bytes ("123456"): charged 10 + 2
    const [grow] = await s("--fn", "set(uint256)", "--args", "[123456]");
    expect(grow).toMatchObject({ ok: true, gasUsed: 10_634 });
    // shrinks by 5 bytes ("1"): nothing charged for the write, 5 refunded
    const [shrink] = await s("--fn", "set(uint256)", "--args", "[1]");
    expect(shrink).toMatchObject({
      ok: true,
      gasUsed: 10_272,
      delta: { changes: [{ keyText: '"value"', value: hex("1") }] },
    });
    const [removed] = await s("--fn", "remove()");
    expect(removed).toMatchObject({
      ok: true,
      delta: { changes: [{ keyText: '"value"', value: null }] },
    });
    // a missing key reads as JSON null (4 bytes), which get() returns as 0
    const [raw] = await s("--fn", "raw()");
    expect(raw).toMatchObject({ ok: true, output: hex("null"), gasUsed: 10_047 });
    const [zero] = await s("--fn", "get()", "--returns", "uint256");
    expect(zero).toMatchObject({ ok: true, decoded: ["0"], gasUsed: 10_223 });
    // an object with spaces and unsorted keys comes back as serde_json writes it
    const [doc] = await s("--fn", "doc()");
    expect(doc).toMatchObject({ ok: true, output: hex('{"a":"x","z":[1,2.5]}'), gasUsed: 10_090 });
  }, 120_000);

  it("bridge: the Ethereum call carries the whole calldata and the stored address; rand is seeded", async () => {
    const dir = join(await mkdtemp(join(tmpdir(), "conformance-")), "bridge");
    const b = (...a: string[]) =>
      exec("--wasm", bridge, "--state-dir", dir, "--seed", "conformance", ...a);
    const reporter = "0x00000000000000000000000000000000000000aa";
    const [deploy, notify] = await b(
      "--ctor",
      "construct(address)",
      "--ctor-args",
      JSON.stringify([reporter]),
      "--fn",
      "notify(uint256,uint256)",
      "--args",
      "[2,1]",
    );
    // the address is kept as eng-wasm keeps an H160: a JSON string of lowercase hex
    expect(deploy).toMatchObject({
      ok: true,
      gasUsed: 1_473,
      delta: { changes: [{ keyText: '"reporter"', value: hex(JSON.stringify(reporter)) }] },
    });
    expect(notify).toMatchObject({
      ok: true,
      gasUsed: 11_353,
      ethCall: {
        address: reporter,
        // pollClosed(uint256,uint256) and the two words as given
        payload: `0x63570942${(2).toString(16).padStart(64, "0")}${(1).toString(16).padStart(64, "0")}`,
      },
    });
    const [a] = await b("--fn", "flip()");
    const [c] = await b("--fn", "flip()");
    expect(a).toMatchObject({ ok: true, gasUsed: 10_030 });
    expect(a?.output).toMatch(/^0x[0-9a-f]{64}$/);
    expect(c?.output).not.toBe(a?.output); // another task id, another draw
  }, 60_000);
});
