import { ErrorCode, HOST_FUNCTIONS } from "@enigma/protocol";
import { readFileSync } from "node:fs";
import {
  compileSecretContract,
  conformanceWasmPath,
  exampleSourcePath,
} from "@enigma/secret-contract";
import { beforeAll, describe, expect, it } from "vitest";
import { ContractState } from "../state/state.js";
import { ContractRuntime, type ExecutionRequest, type ExecutionResult } from "./execute.js";
import { HOST_GAS } from "./host.js";
import { prepareCode } from "./metering.js";
import { testModule } from "./test-modules.js";

const taskId = new Uint8Array(32).fill(7);
const seed = new Uint8Array(32).fill(1);

function req(over: Partial<ExecutionRequest> = {}): ExecutionRequest {
  return {
    entry: "call",
    functionName: "f()",
    args: new Uint8Array(),
    state: new ContractState(),
    gasLimit: 1_000_000,
    taskId,
    seed,
    ...over,
  };
}

function run(wasm: Uint8Array, over: Partial<ExecutionRequest> = {}): ExecutionResult {
  const rt = new ContractRuntime();
  return rt.execute(rt.prepare(wasm), req(over));
}

// opcodes used below
const I32_CONST = 0x41;
const DROP = 0x1a;
const LOOP = 0x03;
const BR = 0x0c;
const VOID = 0x40;

describe("gas metering", () => {
  it("charges the cost table exactly: 1 regular, 16 div/rem, 4 mul, 2 load/store, 1 per block end", () => {
    // i32.const 6; i32.const 3; i32.div_u; i32.const 2; i32.mul; drop  -> 1+1+16+1+4+1 = 24
    // i32.const 0; i32.load; drop; i32.const 0; i32.const 5; i32.store -> 1+2+1+1+1+2 = 8
    const wasm = testModule({
      call: [
        I32_CONST,
        6,
        I32_CONST,
        3,
        0x6e,
        I32_CONST,
        2,
        0x6c,
        DROP,
        I32_CONST,
        0,
        0x28,
        2,
        0,
        DROP,
        I32_CONST,
        0,
        I32_CONST,
        5,
        0x36,
        2,
        0,
      ],
    });
    const r = run(wasm);
    // + 1: pwasm-utils' metered block counts the function's closing `end`
    expect(r).toMatchObject({ ok: true, gasUsed: HOST_GAS.execution + 24 + 8 + 1 });
  });

  it("charges 8192 per grown page and the deployed bytes at deploy, with no execution fee", () => {
    // i32.const 2; memory.grow; drop; end -> 1 + 1 + 1 + 1 + 2 * 8192
    const wasm = testModule({ deploy: [I32_CONST, 2, 0x40, 0, DROP] });
    const r = run(wasm, { entry: "deploy" });
    expect(r).toMatchObject({ ok: true, gasUsed: wasm.length + 4 + 2 * 8192 });
  });

  it("ends an infinite loop with OutOfGas and gasUsed = gasLimit", () => {
    const wasm = testModule({ call: [LOOP, VOID, BR, 0, 0x0b] });
    const r = run(wasm, { gasLimit: 50_000 });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe(ErrorCode.OutOfGas);
    expect(r.gasUsed).toBe(50_000);
  });

  it("fails with OutOfGas when the limit does not cover the host's base charge", () => {
    const r = run(testModule({}), { gasLimit: 9_999 });
    expect(r).toMatchObject({ ok: false, gasUsed: 9_999, error: { code: ErrorCode.OutOfGas } });
  });

  it("a loop pays per iteration: n iterations cost n times the body", () => {
    // (local i32) loop: local.get 0; i32.const 1; i32.add; local.tee 0; i32.const N; i32.lt_u; br_if 0; end
    const body = (n: number) => [
      LOOP,
      VOID,
      0x20,
      0,
      I32_CONST,
      1,
      0x6a,
      0x22,
      0,
      I32_CONST,
      n,
      0x49,
      0x0d,
      0,
      0x0b,
    ];
    const withLocal = (n: number) => testModule({ call: body(n), callLocals: 1 });
    const g10 = run(withLocal(10));
    const g20 = run(withLocal(20));
    expect(g10.ok && g20.ok).toBe(true);
    // 7 instructions per iteration (br_if included) and the loop block's `end`
    expect(g20.gasUsed - g10.gasUsed).toBe(10 * 8);
  });
});

describe("typed failures", () => {
  it("a trap is ContractTrap with the gas used so far (the execution fee is charged after a run)", () => {
    const r = run(testModule({ call: [I32_CONST, 1, DROP, 0x00] }));
    expect(r).toMatchObject({
      ok: false,
      error: { code: ErrorCode.ContractTrap },
      gasUsed: 4,
    });
  });

  it("unbounded recursion is CallDepthExceeded, deterministically", () => {
    // call: call 1 (itself)
    const wasm = testModule({ call: [0x10, 1] });
    const a = run(wasm);
    const b = run(wasm);
    expect(a).toMatchObject({ ok: false, error: { code: ErrorCode.CallDepthExceeded } });
    expect(b).toEqual(a);
  });

  it("malformed modules are rejected with MalformedModule", () => {
    const cases: Uint8Array[] = [
      Uint8Array.of(1, 2, 3),
      testModule({ exportMemory: false }),
      testModule({ imports: [{ name: "nope", params: 0, results: 0 }] }),
      testModule({ imports: [{ name: "write_state", params: 3, results: 0 }] }),
      // SIMD: v128.const
      testModule({ call: [0xfd, 12, ...new Array<number>(16).fill(0), DROP] }),
    ];
    for (const wasm of cases) {
      expect(() => prepareCode(wasm)).toThrow(
        expect.objectContaining({ code: ErrorCode.MalformedModule }) as Error,
      );
      const rt = new ContractRuntime();
      const r = rt.deploy(wasm, req());
      expect(r).toMatchObject({
        ok: false,
        gasUsed: 0,
        error: { code: ErrorCode.MalformedModule },
      });
    }
    // Past a module limit: typed, and nothing charged.
    expect(() => prepareCode(testModule({ memoryPages: 1000 }))).toThrow(
      expect.objectContaining({ code: ErrorCode.ModuleLimitExceeded }) as Error,
    );
  });

  it("accepts every host function with its declared arity", () => {
    const imports = Object.entries(HOST_FUNCTIONS).map(([name, [params, results]]) => ({
      name,
      params,
      results,
    }));
    expect(() => prepareCode(testModule({ imports }))).not.toThrow();
  });

  it("caps memory: growing past the page limit fails (memory.grow returns -1)", () => {
    const rt = new ContractRuntime({ limits: { maxMemoryPages: 4 } });
    // i32.const 10; memory.grow; i32.const -1; i32.eq; if; else unreachable end
    const wasm = testModule({
      call: [I32_CONST, 10, 0x40, 0, I32_CONST, 0x7f, 0x46, 0x04, VOID, 0x05, 0x00, 0x0b],
    });
    const r = rt.execute(rt.prepare(wasm), req());
    expect(r.ok).toBe(true);
  });
});

describe("modules built for Discovery's runtime", () => {
  it("a module importing env.memory and without deploy (pwasm-built) deploys through its call", () => {
    // (import "env" "memory" (memory 2 16)) (import "env" "ret") (data "pwasm") call: ret(100, 5)
    const wasm = Buffer.from(
      "0061736d0100000001090260027f7f00600000021a0203656e76066d656d6f72790201021003656e76037265740000030201010708010463616c6c00010a0b01090041e400410510000b0b0c010041e4000b05707761736d",
      "hex",
    );
    const rt = new ContractRuntime();
    const deployed = rt.deploy(wasm, req({ functionName: "construct()" }));
    expect(deployed).toMatchObject({ ok: true, output: new TextEncoder().encode("pwasm") });
    const called = rt.execute(rt.prepare(wasm), req());
    expect(called).toMatchObject({ ok: true, output: new TextEncoder().encode("pwasm") });
  });

  it("a module the size of a large Rust build (1.6 MB: 6,500 functions, a table, data) deploys and runs", () => {
    const wasm = readFileSync(conformanceWasmPath("large"));
    expect(wasm.length).toBeGreaterThan(1_500_000);
    const rt = new ContractRuntime();
    // a deployment pays its 1.6 million bytes (and 8,192 per initial page past 32: none here)
    const deployed = rt.deploy(wasm, req({ functionName: "construct()", gasLimit: 10_000_000 }));
    expect(deployed).toMatchObject({ ok: true });
    expect(deployed.gasUsed).toBeGreaterThan(wasm.length);
    const r = rt.execute(rt.prepare(wasm), req());
    expect(r.ok).toBe(true);
  });
});

describe("instance reuse", () => {
  it("a reused instance starts from fresh memory and globals", () => {
    // global0 += 1; mem[0] = global0; mem[4] = mem[4] + 1; ret(0, 8)
    const wasm = testModule({
      imports: [{ name: "ret", params: 2, results: 0 }],
      globals: 1,
      call: [
        0x23,
        0,
        I32_CONST,
        1,
        0x6a,
        0x24,
        0,
        I32_CONST,
        0,
        0x23,
        0,
        0x36,
        2,
        0,
        I32_CONST,
        4,
        I32_CONST,
        4,
        0x28,
        2,
        0,
        I32_CONST,
        1,
        0x6a,
        0x36,
        2,
        0,
        I32_CONST,
        0,
        I32_CONST,
        8,
        0x10,
        0,
      ],
    });
    const rt = new ContractRuntime();
    const code = rt.prepare(wasm);
    expect(code.reusable).toBe(true);
    const results = [1, 2, 3].map(() => rt.execute(code, req()));
    for (const r of results) {
      expect(r).toMatchObject({ ok: true, output: Uint8Array.of(1, 0, 0, 0, 1, 0, 0, 0) });
    }
    expect(results[1]).toEqual(results[0]);
  });

  it("after a trap or a grown memory the next execution still starts fresh", () => {
    const rt = new ContractRuntime();
    // call grows memory by 1 page and traps when args are non-empty... keep simple: grow then ok
    const wasm = testModule({ call: [I32_CONST, 1, 0x40, 0, DROP] });
    const code = rt.prepare(wasm);
    const a = rt.execute(code, req());
    const b = rt.execute(code, req());
    expect(a).toEqual(b);
    const trap = testModule({ call: [0x00] });
    const t = rt.prepare(trap);
    expect(rt.execute(t, req())).toEqual(rt.execute(t, req()));
  });
});

describe("secret contracts through the host", () => {
  let counter: Uint8Array;
  beforeAll(async () => {
    counter = (await compileSecretContract(exampleSourcePath("counter"))).wasm;
  }, 60_000);

  it("runs the counter: deploy then increments, with state changes", () => {
    const rt = new ContractRuntime();
    const state = new ContractState();
    const d = rt.deploy(counter, { ...req(), functionName: "construct()" });
    expect(d.ok).toBe(true);
    if (!d.ok || d.contract === undefined) return;
    state.apply(d.changes);
    const inc = rt.execute(d.contract, req({ functionName: "increment()", state }));
    expect(inc.ok).toBe(true);
    if (!inc.ok) return;
    expect(inc.output).toEqual(Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 1));
    expect(inc.changes).toHaveLength(1);
    expect(inc.gasUsed).toBeGreaterThan(HOST_GAS.execution + HOST_GAS.stateWrite);
  });

  it("is deterministic: same code, state, inputs and seed give the same result twice", () => {
    const a = run(counter, { functionName: "increment()" });
    const b = run(counter, { functionName: "increment()" });
    expect(a).toEqual(b);
  });

  it("an unknown function is a typed failure", () => {
    const r = run(counter, { functionName: "nope()" });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect([ErrorCode.UnknownFunction, ErrorCode.ContractTrap]).toContain(r.error.code);
  });
});
