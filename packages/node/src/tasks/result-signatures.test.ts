import {
  bytesToHex,
  generateKeyPair,
  keccak256,
  publicKeyToAddress,
  signDigest,
} from "@enigma/protocol";
import { describe, expect, it } from "vitest";
import { ResultSignatures } from "./result-signatures.js";

describe("ResultSignatures", () => {
  it("accepts its signer's signature and nothing else (other signer, other digest, flipped v)", () => {
    const a = generateKeyPair();
    const b = generateKeyPair();
    const digest = keccak256(new TextEncoder().encode("receipt"));
    const sig = bytesToHex(signDigest(a.privateKey, digest));
    const addrA = publicKeyToAddress(a.publicKey);
    const s = new ResultSignatures();
    expect(s.isSignedBy(digest, sig, addrA)).toBe(true);
    expect(s.isSignedBy(digest, sig, addrA)).toBe(true); // cached key
    expect(s.isSignedBy(digest, sig, publicKeyToAddress(b.publicKey))).toBe(false);
    expect(s.isSignedBy(keccak256(digest), sig, addrA)).toBe(false);
    const bytes = Buffer.from(sig.slice(2), "hex");
    bytes[64] = (bytes[64] ?? 27) === 27 ? 28 : 27;
    expect(s.isSignedBy(digest, bytesToHex(bytes), addrA)).toBe(false);
    expect(s.isSignedBy(digest, `0x${"00".repeat(65)}`, addrA)).toBe(false);
  });
});
