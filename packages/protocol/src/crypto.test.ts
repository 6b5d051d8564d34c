import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { keccak256 as ethersKeccak } from "ethers";
import { describe, expect, it } from "vitest";
import {
  aesDecrypt,
  aesEncrypt,
  concatBytes,
  equalBytes,
  keccak256,
  sha256,
  u64be,
} from "./crypto.js";
import { ErrorCode, isEnigmaError } from "./errors.js";
import { bytesToHex } from "./hex.js";

describe("hashes", () => {
  it("keccak256 and sha256 agree with ethers and node:crypto", () => {
    for (const len of [0, 1, 31, 32, 33, 135, 136, 137, 1000]) {
      const data = new Uint8Array(randomBytes(len));
      expect(bytesToHex(keccak256(data))).toBe(ethersKeccak(data));
      expect(Buffer.from(sha256(data)).toString("hex")).toBe(
        createHash("sha256").update(data).digest("hex"),
      );
    }
  });
});

describe("u64be / bytes helpers", () => {
  it("encodes big-endian uint64 and refuses what does not fit", () => {
    expect(u64be(19)).toEqual(Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 19));
    expect(u64be(2n ** 64n - 1n)).toEqual(new Uint8Array(8).fill(255));
    expect(() => u64be(-1)).toThrow(/uint64/);
    expect(() => u64be(2n ** 64n)).toThrow(/uint64/);
    expect(concatBytes(Uint8Array.of(1), Uint8Array.of(2, 3))).toEqual(Uint8Array.of(1, 2, 3));
    expect(equalBytes(Uint8Array.of(1, 2), Uint8Array.of(1, 2))).toBe(true);
    expect(equalBytes(Uint8Array.of(1, 2), Uint8Array.of(1, 3))).toBe(false);
    expect(equalBytes(Uint8Array.of(1), Uint8Array.of(1, 3))).toBe(false);
  });
});

describe("AES-256-GCM wire format ciphertext || tag || iv", () => {
  const key = new Uint8Array(randomBytes(32));
  const msg = new TextEncoder().encode("add(uint256,uint256)");

  it("is decrypted by node:crypto, and decrypts what node:crypto produced", () => {
    const wire = aesEncrypt(key, msg);
    expect(wire.length).toBe(msg.length + 16 + 12);
    const iv = wire.subarray(wire.length - 12);
    const tag = wire.subarray(msg.length, msg.length + 16);
    const d = createDecipheriv("aes-256-gcm", key, iv);
    d.setAuthTag(tag);
    expect(
      new Uint8Array(Buffer.concat([d.update(wire.subarray(0, msg.length)), d.final()])),
    ).toEqual(msg);

    const iv2 = randomBytes(12);
    const c = createCipheriv("aes-256-gcm", key, iv2);
    const ct = Buffer.concat([c.update(msg), c.final()]);
    const theirs = new Uint8Array(Buffer.concat([ct, c.getAuthTag(), iv2]));
    expect(aesDecrypt(key, theirs)).toEqual(msg);
  });

  it("uses a fresh IV per message unless one is given", () => {
    expect(aesEncrypt(key, msg)).not.toEqual(aesEncrypt(key, msg));
    const iv = new Uint8Array(12).fill(7);
    expect(aesEncrypt(key, msg, iv)).toEqual(aesEncrypt(key, msg, iv));
  });

  it("refuses a wrong key, any flipped bit, a short input and bad key sizes", () => {
    const wire = aesEncrypt(key, msg);
    const failsWith = (fn: () => unknown, code: number) => {
      try {
        fn();
      } catch (e) {
        return isEnigmaError(e, code as ErrorCode);
      }
      return false;
    };
    expect(failsWith(() => aesDecrypt(new Uint8Array(32), wire), ErrorCode.DecryptionFailed)).toBe(
      true,
    );
    for (let i = 0; i < wire.length; i++) {
      const t = wire.slice();
      t[i] = (t[i] ?? 0) ^ 0x01;
      expect(
        failsWith(() => aesDecrypt(key, t), ErrorCode.DecryptionFailed),
        `byte ${i}`,
      ).toBe(true);
    }
    expect(failsWith(() => aesDecrypt(key, wire.subarray(0, 27)), ErrorCode.DecryptionFailed)).toBe(
      true,
    );
    expect(failsWith(() => aesEncrypt(new Uint8Array(16), msg), ErrorCode.InvalidArgument)).toBe(
      true,
    );
    expect(
      failsWith(() => aesEncrypt(key, msg, new Uint8Array(16)), ErrorCode.InvalidArgument),
    ).toBe(true);
  });
});
