import {
  ErrorCode,
  deriveSharedKey as nobleSharedKey,
  generateKeyPair,
  keccak256,
  publicKeyOf as noblePublicKey,
  recoverAddress as nobleRecover,
  signDigest as nobleSign,
} from "@enigma/protocol";
import { describe, expect, it } from "vitest";
import { deriveSharedKey, publicKeyOf, recoverAddress, signDigest } from "./secp256k1.js";

// libsecp256k1 stands in for noble on the enclave's hot paths: every output must be the same.
const seed = (i: number) => new TextEncoder().encode(`enigma secp256k1 agreement ${i}`);
const code = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return (e as { code?: unknown }).code;
  }
  return undefined;
};

describe("libsecp256k1 agrees with @enigma/protocol (noble)", () => {
  it("on public keys, signatures, recovery and shared keys", () => {
    for (let i = 0; i < 64; i++) {
      const a = generateKeyPair(seed(i));
      const b = generateKeyPair(seed(1000 + i));
      const digest = keccak256(seed(2000 + i));
      expect(publicKeyOf(a.privateKey)).toEqual(noblePublicKey(a.privateKey));
      const sig = signDigest(a.privateKey, digest);
      expect(sig).toEqual(nobleSign(a.privateKey, digest));
      expect(recoverAddress(digest, sig)).toBe(nobleRecover(digest, sig));
      // v as 0/1 too
      const raw = sig.slice();
      raw[64] = (raw[64] ?? 27) - 27;
      expect(recoverAddress(digest, raw)).toBe(nobleRecover(digest, raw));
      expect(deriveSharedKey(a.privateKey, b.publicKey)).toEqual(
        nobleSharedKey(a.privateKey, b.publicKey),
      );
      // Both sides of the exchange get the same key.
      expect(deriveSharedKey(b.privateKey, a.publicKey)).toEqual(
        deriveSharedKey(a.privateKey, b.publicKey),
      );
    }
  });

  it("refuses bad input with the same typed errors", () => {
    const a = generateKeyPair(seed(1));
    const digest = keccak256(seed(2));
    const zero = new Uint8Array(32);
    const order = Uint8Array.from(
      Buffer.from("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141", "hex"),
    );
    for (const bad of [zero, order, new Uint8Array(31)]) {
      expect(code(() => publicKeyOf(bad))).toBe(code(() => noblePublicKey(bad)));
      expect(code(() => signDigest(bad, digest))).toBe(ErrorCode.InvalidArgument);
      expect(code(() => deriveSharedKey(bad, a.publicKey))).toBe(ErrorCode.InvalidArgument);
    }
    const offCurve = a.publicKey.slice();
    offCurve[63] = (offCurve[63] ?? 0) ^ 1;
    expect(code(() => deriveSharedKey(a.privateKey, offCurve))).toBe(ErrorCode.InvalidPublicKey);
    expect(code(() => deriveSharedKey(a.privateKey, offCurve))).toBe(
      code(() => nobleSharedKey(a.privateKey, offCurve)),
    );
    const sig = signDigest(a.privateKey, digest);
    for (const broken of [
      sig.slice(0, 64), // no v
      Uint8Array.from([...sig.slice(0, 64), 29]), // v out of range
      Uint8Array.from([...new Uint8Array(64), 27]), // r = s = 0
    ]) {
      expect(code(() => recoverAddress(digest, broken))).toBe(ErrorCode.InvalidSignature);
      expect(code(() => nobleRecover(digest, broken))).toBe(ErrorCode.InvalidSignature);
    }
  });
});
