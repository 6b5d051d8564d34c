import { mkdtemp, readFile, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exampleSourcePath } from "@enigma/secret-contract";
import { beforeAll, describe, expect, it } from "vitest";
import { runCli as run } from "./cli.fixture.js";

let dir: string;
let calculator: string;
let counter: string;
let voting: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "enigma-sc-"));
  calculator = join(dir, "calculator.wasm");
  counter = join(dir, "counter.wasm");
  voting = join(dir, "voting.wasm");
  for (const [name, out] of [
    ["calculator", calculator],
    ["counter", counter],
    ["voting", voting],
  ] as const) {
    const r = await run("sc", "compile", exampleSourcePath(name), "-o", out);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^wrote .*\.wasm \(\d+ bytes\)\n$/);
  }
}, 120_000);

describe("enigma sc exec", () => {
  it("runs a call and prints the decoded output and gas used", async () => {
    const r = await run(
      "sc",
      "exec",
      "--wasm",
      calculator,
      "--fn",
      "add(uint256,uint256)",
      "--args",
      '["1000000000000000000000", 2]',
      "--returns",
      "uint256",
    );
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toContain('output     ["1000000000000000000002"]');
    expect(r.out).toMatch(/gas used\s+\d+/);
  }, 30_000); // each exec starts an execution thread (about 1 s from the sources)

  it("--json prints the deploy and the call, with the plaintext delta", async () => {
    const r = await run("sc", "exec", "--wasm", counter, "--fn", "increment()", "--json");
    expect(r.code).toBe(0);
    const [deploy, call] = JSON.parse(r.out) as Record<string, unknown>[];
    expect(deploy).toMatchObject({ ok: true, delta: { index: 0 } });
    expect(call).toMatchObject({
      ok: true,
      output: "0x0000000000000001",
      // state values are JSON (Discovery's interface): the count is the JSON number 1
      delta: { index: 1, changes: [{ keyText: '"count"', value: "0x31" }] },
    });
  }, 30_000); // each exec starts an execution thread (about 1 s from the sources)

  it("keeps state across runs with --state-dir", async () => {
    const stateDir = join(dir, "state");
    for (const expected of ["0x0000000000000001", "0x0000000000000002", "0x0000000000000003"]) {
      const r = await run(
        "sc",
        "exec",
        "--wasm",
        counter,
        "--fn",
        "increment()",
        "--state-dir",
        stateDir,
        "--json",
      );
      expect(r.code).toBe(0);
      const reports = JSON.parse(r.out) as { output?: string }[];
      expect(reports[reports.length - 1]?.output).toBe(expected);
    }
    // The directory holds the platform key and one sealed file: no plaintext state key.
    expect((await readdir(stateDir)).sort()).toEqual(["contract.sealed", "platform.key"]);
    const sealed = await readFile(join(stateDir, "contract.sealed"));
    expect(sealed.subarray(0, 4).toString("latin1")).toBe("ESEL");
    expect(sealed.toString("latin1")).not.toMatch(/stateKey|count/);
    // another contract cannot use the same directory
    const other = await run("sc", "exec", "--wasm", calculator, "--state-dir", stateDir);
    expect(other.code).not.toBe(0);
    expect(other.err).toMatch(/holds another contract/);
  }, 30_000); // each exec starts an execution thread (about 1 s from the sources)

  it("shows the Ethereum call a contract asks for", async () => {
    const r = await run(
      "sc",
      "exec",
      "--wasm",
      voting,
      "--ctor",
      "construct(address)",
      "--ctor-args",
      '["0x00000000000000000000000000000000000000aa"]',
      "--fn",
      "close_poll()",
      "--returns",
      "uint256,uint256",
    );
    expect(r.code).toBe(0);
    expect(r.out).toContain('output     ["0","0"]');
    expect(r.out).toMatch(/eth call\s+0x0{38}aa 0x[0-9a-f]{8}0{128}/);
  }, 30_000); // each exec starts an execution thread (about 1 s from the sources)

  it("bad input exits non-zero with a one-line reason", async () => {
    const notWasm = join(dir, "x.wasm");
    await writeFile(notWasm, "hello world");
    const cases: [string[], RegExp][] = [
      [["--wasm", join(dir, "missing.wasm"), "--fn", "f()"], /cannot read .*missing\.wasm: ENOENT/],
      [["--wasm", notWasm, "--fn", "f()"], /is not a WebAssembly module/],
      [
        ["--wasm", calculator, "--fn", "div(uint256,uint256)", "--args", "[1,2]"],
        /UnknownFunction \(322\)/,
      ],
      [["--wasm", calculator, "--fn", "add(uint256,uint256)", "--args", "[1]"], /bad args/],
      [["--wasm", calculator, "--fn", "add(uint256,uint256)", "--args", '["x", 1]'], /bad args/],
      [["--wasm", calculator, "--fn", "add(uint256", "--args", "[]"], /signature/],
      [["--wasm", calculator, "--fn", "add(uint256,uint256)", "--args", "not json"], /not JSON/],
      [
        [
          "--wasm",
          calculator,
          "--fn",
          "add(uint256,uint256)",
          "--args",
          "[1,2]",
          "--gas-limit",
          "100",
        ],
        /OutOfGas/,
      ],
    ];
    for (const [args, reason] of cases) {
      const r = await run("sc", "exec", ...args);
      expect(r.code, args.join(" ")).not.toBe(0);
      expect(r.err).toMatch(reason);
      expect(r.err.trimEnd().split("\n")).toHaveLength(1);
    }
  }, 30_000); // each exec starts an execution thread (about 1 s from the sources)
});

describe("enigma sc inspect", () => {
  it("shows imports, exports, size, the interface and the verdict, also as JSON", async () => {
    const r = await run("sc", "inspect", calculator);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^size\s+\d+ bytes$/m);
    expect(r.out).toMatch(/interface\s+eng-wasm: Discovery's host interface/);
    expect(r.out).toMatch(/^ {2}env\.fetch_function_name \(function\)$/m);
    expect(r.out).toMatch(/^ {2}call \(function\)$/m);
    expect(r.out).toMatch(/verdict\s+the runtime deploys it/);
    const j = await run("sc", "inspect", calculator, "--json");
    expect(JSON.parse(j.out)).toMatchObject({ accepted: true, interface: "eng-wasm" });
  });

  it("says why the runtime refuses a module", async () => {
    // imports a function that is not part of the host interface
    const wasm = join(dir, "foreign.wasm");
    await writeFile(
      wasm,
      Buffer.from(
        "0061736d01000000010401600000020b0103656e76036e6f700000030201000503010001071102066d656d6f727902000463616c6c00010a040102000b",
        "hex",
      ),
    );
    const r = await run("sc", "inspect", wasm, "--json");
    expect(r.code).toBe(2);
    const j = JSON.parse(r.out) as {
      accepted: boolean;
      unknownImports: string[];
      refusal: { code: number };
    };
    expect(j.accepted).toBe(false);
    expect(j.unknownImports).toEqual(["env.nop (function)"]);
    expect(j.refusal.code).toBe(323);
    const human = await run("sc", "inspect", wasm);
    expect(human.out).toMatch(/env\.nop \(function\) {2}<- not served by the runtime/);
    expect(human.out).toMatch(/verdict\s+refused: .*not part of the host interface/);
  });

  it("bad input: a missing file, a file that is not WebAssembly", async () => {
    const notWasm = join(dir, "text.wasm");
    await writeFile(notWasm, "not a module");
    for (const [file, reason] of [
      [join(dir, "absent.wasm"), /cannot read .*absent\.wasm: ENOENT/],
      [notWasm, /is not a WebAssembly module/],
    ] as const) {
      const r = await run("sc", "inspect", file);
      expect(r.code).not.toBe(0);
      expect(r.err).toMatch(reason);
      expect(r.err.trimEnd().split("\n")).toHaveLength(1);
    }
  });
});

describe("enigma sc compile", () => {
  it("reports a missing or broken source in one line", async () => {
    const broken = join(dir, "broken.ts");
    await writeFile(broken, "export function deploy(): void { let x: i32 = 'no'; }\n");
    for (const file of [join(dir, "nope.ts"), broken]) {
      const r = await run("sc", "compile", file);
      expect(r.code).toBe(1);
      expect(r.err.trimEnd().split("\n")).toHaveLength(1);
      expect(r.err).toMatch(/^enigma: cannot compile/);
    }
  }, 60_000);
});
