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

type Piece = { kind: "snippet"; index: number } | { kind: "block" | "if0" | "if1"; body: Piece[] };

const pieceArb: fc.Memo<Piece> = fc.memo((depth) =>
  depth <= 1
    ? fc.record({ kind: fc.constant("snippet" as const), index: fc.nat(SNIPPETS.length - 1) })
    : fc.oneof(
        {
          weight: 3,
          arbitrary: fc.record({
            kind: fc.constant("snippet" as const),
            index: fc.nat(SNIPPETS.length - 1),
          }),
        },
        fc.record({
          kind: fc.constantFrom("block" as const, "if0" as const, "if1" as const),
          body: fc.array(pieceArb(depth - 1), { maxLength: 4 }),
        }),
      ),
);

/**
 * Code and the gas it must cost when run, in pwasm-utils' model: `block` costs 1 where it
 * stands and its body 1 (its `end`) plus its contents; `if` costs 1 plus its condition where it
 * stands, and its body 1 plus its contents only when taken.
 */
function assemble(pieces: Piece[]): { code: number[]; cost: number } {
  const code: number[] = [];
  let cost = 0;
  for (const p of pieces) {
    if (p.kind === "snippet") {
      const s = SNIPPETS[p.index] as (typeof SNIPPETS)[number];
      code.push(...s.code);
      cost += s.cost;
    } else {
      const inner = assemble(p.body);
      if (p.kind === "block") {
        code.push(0x02, 0x40, ...inner.code, 0x0b);
        cost += 1 + 1 + inner.cost;
      } else {
        const taken = p.kind === "if1";
        code.push(0x41, taken ? 1 : 0, 0x04, 0x40, ...inner.code, 0x0b);
        cost += 2 + (taken ? 1 + inner.cost : 0); // a skipped branch is never charged
      }
    }
  }
  return { code, cost };
}

describe("metering (property)", () => {
  it("charges exactly the cost table for any structured program", () => {
    fc.assert(
      fc.property(fc.array(pieceArb(3), { maxLength: 8 }), (pieces) => {
        const { code, cost } = assemble(pieces);
        const rt = new ContractRuntime();
        const r = rt.execute(rt.prepare(testModule({ call: code })), {
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
