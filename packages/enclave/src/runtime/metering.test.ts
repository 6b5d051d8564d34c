import { ErrorCode, isEnigmaError } from "@enigma/protocol";
import { compileSecretContract, exampleSourcePath } from "@enigma/secret-contract";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { ContractState } from "../state/state.js";
import { ContractRuntime } from "./execute.js";
import { HOST_GAS } from "./host.js";
import { prepareCode } from "./metering.js";
import { testModule } from "./test-modules.js";

// Stack-neutral snippets with their cost under the table of DESIGN.md section 5.
const SNIPPETS: { code: number[]; cost: number }[] = [
  { code: [0x41, 7, 0x1a], cost: 2 }, // i32.const; drop
  { code: [0x41, 7, 0x41, 3, 0x6e, 0x1a], cost: 1 + 1 + 16 + 1 }, // div_u
  { code: [0x41, 7, 0x41, 3, 0x70, 0x1a], cost: 1 + 1 + 16 + 1 }, // rem_u
  { code: [0x41, 7, 0x41, 3, 0x6c, 0x1a], cost: 1 + 1 + 4 + 1 }, // mul
  { code: [0x42, 7, 0x42, 3, 0x7e, 0x1a], cost: 1 + 1 + 4 + 1 }, // i64.mul
  { code: [0x41, 0, 0x28, 2, 0, 0x1a], cost: 1 + 2 + 1 }, // i32.load
  { code: [0x41, 0, 0x41, 1, 0x3a, 0, 0], cost: 1 + 1 + 2 }, // i32.store8
  { code: [0x01], cost: 1 }, // nop
  { code: [0x3f, 0, 0x1a], cost: 2 }, // memory.size; drop
];

type Piece =
  | { kind: "snippet"; index: number }
  | { kind: "fill" | "copy"; bytes: number }
  | { kind: "block" | "if0" | "if1" | "exit"; body: Piece[]; after?: Piece[] }
  | { kind: "loop"; times: number; body: Piece[] };

const leaf: fc.Arbitrary<Piece> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("snippet" as const),
      index: fc.nat(SNIPPETS.length - 1),
    }),
  },
  fc.record({ kind: fc.constantFrom("fill" as const, "copy" as const), bytes: fc.nat(300) }),
);

const pieceArb: fc.Memo<Piece> = fc.memo((depth) =>
  depth <= 1
    ? leaf
    : fc.oneof(
        { weight: 3, arbitrary: leaf },
        fc.record({
          kind: fc.constantFrom("block" as const, "if0" as const, "if1" as const),
          body: fc.array(pieceArb(depth - 1), { maxLength: 4 }),
        }),
        fc.record({
          kind: fc.constant("exit" as const),
          body: fc.array(pieceArb(depth - 1), { maxLength: 3 }),
          after: fc.array(pieceArb(depth - 1), { maxLength: 3 }),
        }),
        fc.record({
          kind: fc.constant("loop" as const),
          times: fc.integer({ min: 1, max: 5 }),
          body: fc.array(pieceArb(depth - 1), { maxLength: 3 }),
        }),
      ),
);

/**
 * Code and the gas it must cost when run, in pwasm-utils' model (Discovery's): a block, loop or
 * taken branch costs 1 where it opens and its body costs 1 (its `end`) plus its own
 * instructions, charged on entry, so code after a `br` out of it is paid even though it never
 * runs; a loop's body is charged per iteration; memory.fill / memory.copy cost 1 plus 1 per
 * started 8 bytes. `depth` picks the loop counter's local.
 */
function assemble(pieces: Piece[], depth = 0): { code: number[]; cost: number } {
  const code: number[] = [];
  let cost = 0;
  for (const p of pieces) {
    if (p.kind === "snippet") {
      const s = SNIPPETS[p.index] as (typeof SNIPPETS)[number];
      code.push(...s.code);
      cost += s.cost;
    } else if (p.kind === "fill" || p.kind === "copy") {
      // i32.const 0; i32.const 7 (or 64); i32.const n; memory.fill / memory.copy
      const n = [0x41, ...sleb(p.bytes)];
      code.push(0x41, 0, 0x41, ...sleb(p.kind === "fill" ? 7 : 64), ...n);
      code.push(0xfc, p.kind === "fill" ? 11 : 10);
      code.push(...(p.kind === "fill" ? [0] : [0, 0]));
      cost += 3 + 1 + Math.ceil(p.bytes / 8);
    } else if (p.kind === "loop") {
      const inner = assemble(p.body, depth + 1);
      const d = depth;
      // i32.const k; local.set d; loop; <body>; local.get d; i32.const 1; i32.sub; local.tee d; i32.eqz; i32.eqz; br_if 0; end
      code.push(0x41, p.times, 0x21, d, 0x03, 0x40, ...inner.code);
      code.push(0x20, d, 0x41, 1, 0x6b, 0x22, d, 0x45, 0x45, 0x0d, 0, 0x0b);
      cost += 3 + p.times * (1 + inner.cost + 7);
    } else {
      const inner = assemble((p as { body: Piece[] }).body, depth);
      if (p.kind === "block") {
        code.push(0x02, 0x40, ...inner.code, 0x0b);
        cost += 1 + 1 + inner.cost;
      } else if (p.kind === "exit") {
        const rest: Piece[] = p.after ?? [];
        code.push(0x02, 0x40, ...inner.code, 0x0c, 0, ...assemble(rest, depth).code, 0x0b);
        // `rest` never runs, but its own instructions were charged with the block
        cost += 1 + 1 + inner.cost + 1 + charged(rest);
      } else {
        const taken = p.kind === "if1";
        code.push(0x41, taken ? 1 : 0, 0x04, 0x40, ...inner.code, 0x0b);
        cost += 2 + (taken ? 1 + inner.cost : 0); // a skipped branch is never charged
      }
    }
  }
  return { code, cost };
}

/** What code costs in the block it stands in (nested bodies and per-byte charges excluded). */
function charged(pieces: Piece[]): number {
  let cost = 0;
  for (const p of pieces) {
    if (p.kind === "snippet") cost += (SNIPPETS[p.index] as (typeof SNIPPETS)[number]).cost;
    else if (p.kind === "fill" || p.kind === "copy") cost += 4;
    else if (p.kind === "loop") cost += 3;
    else if (p.kind === "if0" || p.kind === "if1") cost += 2;
    else cost += 1;
  }
  return cost;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

describe("metering (property)", () => {
  it("charges exactly pwasm-utils' blocks for any structured program with loops, exits and bulk memory", () => {
    fc.assert(
      fc.property(fc.array(pieceArb(4), { maxLength: 8 }), (pieces) => {
        const { code, cost } = assemble(pieces);
        const rt = new ContractRuntime();
        const r = rt.execute(rt.prepare(testModule({ call: code, callLocals: 8 })), {
          entry: "call",
          functionName: "f()",
          args: new Uint8Array(),
          state: new ContractState(),
          gasLimit: 1_000_000,
          taskId: new Uint8Array(32),
          seed: new Uint8Array(32),
        });
        // + 1: the function body's own `end`
        expect(r).toMatchObject({ ok: true, gasUsed: HOST_GAS.execution + cost + 1 });
      }),
      { numRuns: 300 },
    );
  });
});

describe("robustness (fuzz)", () => {
  let counter: Uint8Array;
  beforeAll(async () => {
    counter = (await compileSecretContract(exampleSourcePath("counter"))).wasm;
  }, 60_000);

  it("a corrupted module is MalformedModule or runs to a typed result: never an exception", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), {
          minLength: 1,
          maxLength: 4,
        }),
        (flips) => {
          const wasm = counter.slice();
          for (const [at, x] of flips) {
            const i = at % wasm.length;
            wasm[i] = (wasm[i] ?? 0) ^ x;
          }
          try {
            prepareCode(wasm);
          } catch (e) {
            expect(
              isEnigmaError(e, ErrorCode.MalformedModule) ||
                isEnigmaError(e, ErrorCode.ModuleLimitExceeded),
            ).toBe(true);
          }
          const rt = new ContractRuntime();
          const r = rt.deploy(wasm, {
            functionName: "construct()",
            args: new Uint8Array(),
            state: new ContractState(),
            gasLimit: 1_000_000,
            taskId: new Uint8Array(32),
            seed: new Uint8Array(32),
          });
          expect(typeof r.ok).toBe("boolean");
          expect(r.gasUsed).toBeLessThanOrEqual(1_000_000);
        },
      ),
      { numRuns: 300 },
    );
  });
});
