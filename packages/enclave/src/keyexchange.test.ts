import { createDecipheriv } from "node:crypto";
import {
  ErrorCode,
  decryptFrom,
  deriveSharedKey,
  encryptTo,
  generateKeyPair,
  inputsHash,
  recoverWorkerKeySigner,
  toRpcHex,
  verifyWorkerKey,
} from "@enigma/protocol";
import { describe, expect, it } from "vitest";
import { EnclaveIdentity } from "./identity.js";
import {
  HELD_USER_KEY_BYTES,
  UserKeyExchange,
  decodeHeldUserKey,
  encodeHeldUserKey,
} from "./keyexchange.js";
import { thrownCode } from "@enigma/protocol/testing";

const id = EnclaveIdentity.generate(new TextEncoder().encode("key exchange test seed"));
const utf8 = (s: string) => new TextEncoder().encode(s);

describe("UserKeyExchange", () => {
  it("runs the client flow: signed key, encrypted inputs, encrypted output", () => {
    const kx = new UserKeyExchange(id);
    const user = generateKeyPair();
    // enigma-js sends the key as un-prefixed hex.
    const { workerEncryptionKey, workerSig } = kx.newKey(toRpcHex(user.publicKey));
    expect(workerEncryptionKey.length).toBe(64);
    expect(recoverWorkerKeySigner(workerEncryptionKey, workerSig)).toBe(id.signer);
    verifyWorkerKey(workerEncryptionKey, workerSig, id.signer);

    const encFn = encryptTo(user.privateKey, workerEncryptionKey, utf8("add(uint256,uint256)"));
    const encArgs = encryptTo(user.privateKey, workerEncryptionKey, new Uint8Array(64).fill(3));
    expect(kx.decrypt(user.publicKey, encFn)).toEqual(utf8("add(uint256,uint256)"));
    expect(kx.decrypt(user.publicKey, encArgs)).toEqual(new Uint8Array(64).fill(3));
    // The inputs hash the record commits to is computed over the same bytes.
    expect(inputsHash(encFn, encArgs, new Uint8Array(32), user.publicKey)).toMatch(
      /^0x[0-9a-f]{64}$/,
    );

    const out = kx.encrypt(user.publicKey, Uint8Array.of(91));
    expect(decryptFrom(user.privateKey, workerEncryptionKey, out)).toEqual(Uint8Array.of(91));
    // Independently: node:crypto with the user's derived key.
    const key = deriveSharedKey(user.privateKey, workerEncryptionKey);
    const d = createDecipheriv("aes-256-gcm", key, out.subarray(out.length - 12));
    d.setAuthTag(out.subarray(1, 17));
    expect([...Buffer.concat([d.update(out.subarray(0, 1)), d.final()])]).toEqual([91]);
  });

  it("hands out a fresh key per request; every live key of a user key opens what was sent to it", () => {
    const kx = new UserKeyExchange(id, { maxKeysPerUser: 2 });
    const user = generateKeyPair();
    const a = kx.newKey(user.publicKey);
    const b = kx.newKey(user.publicKey);
    expect(a.workerEncryptionKey).not.toEqual(b.workerEncryptionKey);
    expect(kx.size).toBe(2);
    // Two tasks in flight under one user key (as Discovery's client does): both open, and
    // each output goes back under the key its input came with.
    const toA = encryptTo(user.privateKey, a.workerEncryptionKey, utf8("a"));
    const toB = encryptTo(user.privateKey, b.workerEncryptionKey, utf8("b"));
    expect(kx.decrypt(user.publicKey, toA)).toEqual(utf8("a"));
    expect(kx.decrypt(user.publicKey, toB)).toEqual(utf8("b"));
    const outA = kx.encrypt(user.publicKey, utf8("out a"), undefined, toA);
    expect(decryptFrom(user.privateKey, a.workerEncryptionKey, outA)).toEqual(utf8("out a"));
    expect(() => decryptFrom(user.privateKey, b.workerEncryptionKey, outA)).toThrow();
    // Without the input, the newest key.
    const outB = kx.encrypt(user.publicKey, utf8("out b"));
    expect(decryptFrom(user.privateKey, b.workerEncryptionKey, outB)).toEqual(utf8("out b"));
    // A third key pushes out the oldest of this user (maxKeysPerUser 2).
    kx.newKey(user.publicKey);
    expect(kx.size).toBe(2);
    expect(thrownCode(() => kx.decrypt(user.publicKey, toA))).toBe(ErrorCode.DecryptionFailed);
    expect(kx.decrypt(user.publicKey, toB)).toEqual(utf8("b"));
    expect(() => new UserKeyExchange(id, { maxKeysPerUser: 0 })).toThrow(/maxKeysPerUser/);
  });

  it("refuses inputs from another user key and unknown keys", () => {
    const kx = new UserKeyExchange(id);
    const user = generateKeyPair();
    const mallory = generateKeyPair();
    const { workerEncryptionKey } = kx.newKey(user.publicKey);
    const forged = encryptTo(mallory.privateKey, workerEncryptionKey, utf8("x"));
    expect(thrownCode(() => kx.decrypt(user.publicKey, forged))).toBe(ErrorCode.DecryptionFailed);
    expect(thrownCode(() => kx.decrypt(mallory.publicKey, forged))).toBe(
      ErrorCode.KeyExchangeKeyUnknown,
    );
    expect(thrownCode(() => kx.newKey(new Uint8Array(64)))).toBe(ErrorCode.InvalidPublicKey);
  });

  it("expires keys and bounds their number", () => {
    let now = 1_000;
    const kx = new UserKeyExchange(id, { ttlMs: 100, maxKeys: 3, now: () => now });
    const users = Array.from({ length: 5 }, () => generateKeyPair());
    for (const u of users) kx.newKey(u.publicKey);
    expect(kx.size).toBe(3);
    expect(users.map((u) => kx.has(u.publicKey))).toEqual([false, false, true, true, true]);
    now += 100;
    expect(kx.has(users[4]?.publicKey ?? "")).toBe(false);
    expect(thrownCode(() => kx.encrypt(users[4]?.publicKey ?? "", utf8("x")))).toBe(
      ErrorCode.KeyExchangeKeyUnknown,
    );
    expect(kx.prune()).toBe(3);
    expect(kx.size).toBe(0);
    const u = generateKeyPair();
    kx.newKey(u.publicKey);
    expect(kx.release(u.publicKey)).toBe(true);
    expect(kx.has(u.publicKey)).toBe(false);
    expect(() => new UserKeyExchange(id, { maxKeys: 0 })).toThrow(/maxKeys/);
  });

  it("hands each new key to persist before returning it, and restores held keys", () => {
    let now = 1_000;
    const kept: Uint8Array[] = [];
    const user = generateKeyPair();
    const kx = new UserKeyExchange(id, {
      ttlMs: 100,
      now: () => now,
      persist: (k) => kept.push(encodeHeldUserKey(k)),
    });
    const { workerEncryptionKey } = kx.newKey(user.publicKey);
    expect(kept).toHaveLength(1);
    expect(kept[0]).toHaveLength(HELD_USER_KEY_BYTES);
    const msg = encryptTo(user.privateKey, workerEncryptionKey, utf8("after a restart"));
    // A new exchange (a restarted enclave) restored from what was persisted opens it.
    const restored = new UserKeyExchange(id, {
      ttlMs: 100,
      now: () => now,
      restore: kept.map(decodeHeldUserKey),
    });
    expect(restored.decrypt(user.publicKey, msg)).toEqual(utf8("after a restart"));
    // Expired keys are not restored.
    now += 100;
    const late = new UserKeyExchange(id, { now: () => now, restore: kept.map(decodeHeldUserKey) });
    expect(late.has(user.publicKey)).toBe(false);
    expect(() => decodeHeldUserKey(new Uint8Array(3))).toThrow(/bytes/);
  });

  it("is reproducible with a seed", () => {
    const seed = utf8("seeded devnet kx 01");
    const user = generateKeyPair(utf8("user key seed 0001"));
    const a = new UserKeyExchange(id, { seed }).newKey(user.publicKey);
    const b = new UserKeyExchange(id, { seed }).newKey(user.publicKey);
    expect(a.workerEncryptionKey).toEqual(b.workerEncryptionKey);
    expect(a.workerSig).toBe(b.workerSig);
  });
});
