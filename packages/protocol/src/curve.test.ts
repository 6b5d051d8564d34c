import { createRequire } from "node:module";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { curve, nativeCurve, nobleCurve, type Curve } from "./curve.js";
import type { NativeSecp256k1 } from "./secp256k1-native.js";

// Where Node runs, keys.ts uses libsecp256k1; browsers use noble. Every operation must give the
// same bytes on both, and fail on the same inputs.
const native = nativeCurve(createRequire(import.meta.url)("secp256k1") as NativeSecp256k1);
const N = BigInt("0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141");
const key = fc
  .bigInt({ min: 1n, max: N - 1n })
  .map((k) => Uint8Array.from(Buffer.from(k.toString(16).padStart(64, "0"), "hex")));
const digest = fc.uint8Array({ minLength: 32, maxLength: 32 });
const outcome = (f: () => Uint8Array | boolean | { rs: Uint8Array; recovery: number }) => {
  try {
    return { ok: f() };
  } catch {
    return { threw: true };
  }
};
const both = (op: (c: Curve) => ReturnType<Parameters<typeof outcome>[0]>) => {
  expect(outcome(() => op(native))).toEqual(outcome(() => op(nobleCurve)));
};

describe("the curve backends (libsecp256k1, noble)", () => {
  it("runs on libsecp256k1 under Node", () => {
    expect(curve.name).toBe("libsecp256k1");
  });

  it("agree on public keys, signatures, recovery and ECDH", () => {
    fc.assert(
      fc.property(key, key, digest, (a, b, d) => {
        both((c) => c.publicKey(a));
        both((c) => c.sign(d, a));
        const { rs, recovery } = native.sign(d, a);
        both((c) => c.recover(rs, recovery, d));
        both((c) => c.recover(rs, 1 - recovery, d)); // the other key
        const pubB = native.publicKey(b);
        both((c) => c.ecdh(a, pubB));
        // ECDH is symmetric.
        expect(native.ecdh(b, native.publicKey(a))).toEqual(native.ecdh(a, pubB));
        const compressed = Uint8Array.of(2 | ((pubB[64] ?? 0) & 1), ...pubB.subarray(1, 33));
        both((c) => c.uncompressed(compressed));
        both((c) => c.uncompressed(pubB));
      }),
      { numRuns: 64 },
    );
  });

  it("agree on high-s signatures (recovery takes them, as ecrecover does)", () => {
    fc.assert(
      fc.property(key, digest, (a, d) => {
        const { rs, recovery } = native.sign(d, a);
        const s = BigInt(`0x${Buffer.from(rs.subarray(32)).toString("hex")}`);
        const high = rs.slice();
        high.set(Buffer.from((N - s).toString(16).padStart(64, "0"), "hex"), 32);
        both((c) => c.recover(high, 1 - recovery, d));
      }),
      { numRuns: 16 },
    );
  });

  it("refuse the same bad input", () => {
    const zero = new Uint8Array(32);
    const order = Uint8Array.from(Buffer.from(N.toString(16), "hex"));
    const max = new Uint8Array(32).fill(0xff);
    for (const bad of [zero, order, max]) both((c) => c.isValidSecretKey(bad));
    for (const good of [Uint8Array.of(...new Uint8Array(31), 1), Uint8Array.from(order).fill(1)])
      both((c) => c.isValidSecretKey(good));
    const pub = native.publicKey(Uint8Array.of(...new Uint8Array(31), 7));
    const offCurve = pub.slice();
    offCurve[64] = (offCurve[64] ?? 0) ^ 1;
    both((c) => c.uncompressed(offCurve));
    both((c) => c.ecdh(Uint8Array.of(...new Uint8Array(31), 3), offCurve));
    const xNotOnCurve = Uint8Array.of(2, ...new Uint8Array(31), 5); // x = 5 has no y
    both((c) => c.uncompressed(xNotOnCurve));
    const d = new Uint8Array(32).fill(9);
    both((c) => c.recover(new Uint8Array(64), 0, d)); // r = s = 0
    const rTooBig = new Uint8Array(64).fill(0xff);
    both((c) => c.recover(rTooBig, 1, d));
  });
});
