import { keccak_256 } from "@noble/hashes/sha3.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DrawHasher, wordAt } from "./keccak-wasm.js";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const word = (v: bigint) => {
  const out = new Uint8Array(32);
  new DataView(out.buffer).setBigUint64(24, v);
  return out;
};

describe("WebAssembly keccak of the draw message", () => {
  it("equals @noble/hashes' keccak256(seed || contract || n) for every contract and draw", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 0, max: 2 ** 40 }),
        (seed, contracts, n) => {
          const hasher = new DrawHasher(contracts);
          const all = new Uint8Array(32 * contracts.length);
          hasher.hashAll(seed, all);
          contracts.forEach((c, k) => {
            const zero = keccak_256(new Uint8Array([...seed, ...c, ...word(0n)]));
            expect(hex(all.subarray(32 * k, 32 * k + 32))).toBe(hex(zero));
            const nth = keccak_256(new Uint8Array([...seed, ...c, ...word(BigInt(n))]));
            expect(hasher.hashOne(seed, k, n)).toBe(wordAt(new DataView(nth.buffer), 0));
          });
        },
      ),
      { numRuns: 100 },
    );
  });

  it("grows its memory for many contracts and wide epochs", () => {
    const contracts = Array.from({ length: 100_000 }, (_, i) => {
      const b = new Uint8Array(32);
      new DataView(b.buffer).setUint32(28, i);
      return b;
    });
    const hasher = new DrawHasher(contracts);
    const seed = new Uint8Array(32).fill(7);
    const prefix = Float64Array.from({ length: 50_000 }, (_, i) => i + 1);
    const hashes = new Uint8Array(32 * contracts.length);
    const indices = new Int32Array(contracts.length);
    hasher.indexAll(seed, 0, prefix, 50_000, hashes, indices);
    const last = keccak_256(new Uint8Array([...seed, ...(contracts[99_999] ?? []), ...word(0n)]));
    const r = wordAt(new DataView(last.buffer), 0) % 50_000n;
    // Stakes of 1 each: the walk stops at index r - 1 (r = 0 stops at the first worker).
    expect(indices[99_999]).toBe(r === 0n ? 0 : Number(r) - 1);
  });
});

describe("WebAssembly reduction modulo the total stake", () => {
  it("equals bigint's remainder for every modulus below 2^52, edges included", () => {
    const hasher = new DrawHasher([new Uint8Array(32)]);
    const edges = [1, 2, 3, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 2 ** 51, 2 ** 52 - 1, 10 ** 15 + 7];
    const word32 = fc.uint8Array({ minLength: 32, maxLength: 32 });
    const words = fc.oneof(
      word32,
      fc.constant(new Uint8Array(32).fill(0xff)),
      fc.constant(new Uint8Array(32)),
    );
    const moduli = fc.oneof(fc.constantFrom(...edges), fc.integer({ min: 1, max: 2 ** 52 - 1 }));
    fc.assert(
      fc.property(words, moduli, (w, t) => {
        const expected = wordAt(new DataView(w.buffer), 0) % BigInt(t);
        expect(hasher.reduceWord(w, t)).toBe(Number(expected));
      }),
      { numRuns: 3000 },
    );
  });
});
