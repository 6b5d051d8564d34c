import { createDecipheriv } from "node:crypto";
import { sha256 } from "@noble/hashes/sha2.js";
import { ErrorCode, isEnigmaError } from "@enigma/protocol";
import { describe, expect, it } from "vitest";
import { Sealer } from "./sealing.js";

const platformA = new Uint8Array(32).fill(1);
const platformB = new Uint8Array(32).fill(2);
const secret = new TextEncoder().encode("signing key material");

function rejected(fn: () => unknown): boolean {
  try {
    fn();
  } catch (e) {
    return isEnigmaError(e, ErrorCode.SealedDataRejected);
  }
  return false;
}

describe("Sealer", () => {
  it("round-trips on the same platform, with a fresh IV each time", () => {
    const s = new Sealer(platformA);
    const a = s.seal("identity", secret);
    const b = s.seal("identity", secret);
    expect(a).not.toEqual(b);
    expect(new Sealer(platformA).unseal("identity", a)).toEqual(secret);
  });

  it("is plain AES-256-GCM underneath (checked with node:crypto)", () => {
    const blob = new Sealer(platformA).seal("identity", secret);
    const key = sha256(
      new Uint8Array([...new TextEncoder().encode("enigma-seal-key"), ...platformA]),
    );
    const iv = blob.subarray(13, 25);
    const body = blob.subarray(25);
    const d = createDecipheriv("aes-256-gcm", key, iv);
    d.setAAD(new Uint8Array([...new TextEncoder().encode("identity"), 0, ...blob.subarray(0, 25)]));
    d.setAuthTag(body.subarray(body.length - 16));
    const pt = Buffer.concat([d.update(body.subarray(0, body.length - 16)), d.final()]);
    expect(new Uint8Array(pt)).toEqual(secret);
  });

  it("refuses a blob sealed on another platform", () => {
    const blob = new Sealer(platformA).seal("identity", secret);
    expect(rejected(() => new Sealer(platformB).unseal("identity", blob))).toBe(true);
  });

  it("refuses every single-bit tampering and a wrong label", () => {
    const s = new Sealer(platformA);
    const blob = s.seal("identity", secret);
    for (let bit = 0; bit < blob.length * 8; bit++) {
      const t = blob.slice();
      t[bit >> 3] = (t[bit >> 3] ?? 0) ^ (1 << (bit & 7));
      expect(
        rejected(() => s.unseal("identity", t)),
        `bit ${bit}`,
      ).toBe(true);
    }
    expect(rejected(() => s.unseal("state-key", blob))).toBe(true);
    expect(rejected(() => s.unseal("identity", blob.subarray(0, 20)))).toBe(true);
  });

  it("requires a 32-byte platform key", () => {
    expect(() => new Sealer(new Uint8Array(16))).toThrow(/32 bytes/);
  });
});
