import { createDecipheriv } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
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
import { thrownCode } from "@enigma/protocol/testing";
import { describe, expect, it } from "vitest";
import { EnclaveIdentity } from "./identity.js";
import { UserKeyExchange, loadOrCreateUserKeySecret } from "./keyexchange.js";
import { Sealer } from "./sealing.js";

const id = EnclaveIdentity.generate(new TextEncoder().encode("key exchange test seed"));
const utf8 = (s: string) => new TextEncoder().encode(s);
const secret = new Uint8Array(32).fill(0x5e);

describe("UserKeyExchange", () => {
  it("runs the client flow: signed key, encrypted inputs, encrypted output", () => {
    const kx = new UserKeyExchange(id, { secret });
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

  it("gives a user the same key on every request: tasks in flight under one user key all open", () => {
    const kx = new UserKeyExchange(id, { secret });
    const user = generateKeyPair();
    const a = kx.newKey(user.publicKey);
    const b = kx.newKey(toRpcHex(user.publicKey));
    expect(b).toEqual(a);
    const toA = encryptTo(user.privateKey, a.workerEncryptionKey, utf8("a"));
    const toB = encryptTo(user.privateKey, b.workerEncryptionKey, utf8("b"));
    expect(kx.decrypt(user.publicKey, toA)).toEqual(utf8("a"));
    expect(kx.decrypt(user.publicKey, toB)).toEqual(utf8("b"));
    // Other users, and another enclave secret, get other keys.
    expect(kx.newKey(generateKeyPair().publicKey).workerEncryptionKey).not.toEqual(
      a.workerEncryptionKey,
    );
    const other = new UserKeyExchange(id, { secret: new Uint8Array(32).fill(1) });
    expect(other.newKey(user.publicKey).workerEncryptionKey).not.toEqual(a.workerEncryptionKey);
    expect(() => new UserKeyExchange(id, { secret: new Uint8Array(31) })).toThrow(/32 bytes/);
    expect(() => new UserKeyExchange(id, { secret, cacheSize: 0 })).toThrow(/cacheSize/);
  });

  it("refuses inputs from another user key and keys that are not curve points", () => {
    const kx = new UserKeyExchange(id, { secret });
    const user = generateKeyPair();
    const mallory = generateKeyPair();
    const { workerEncryptionKey } = kx.newKey(user.publicKey);
    const forged = encryptTo(mallory.privateKey, workerEncryptionKey, utf8("x"));
    expect(thrownCode(() => kx.decrypt(user.publicKey, forged))).toBe(ErrorCode.DecryptionFailed);
    expect(thrownCode(() => kx.decrypt(mallory.publicKey, forged))).toBe(
      ErrorCode.DecryptionFailed,
    );
    expect(thrownCode(() => kx.newKey(new Uint8Array(64)))).toBe(ErrorCode.InvalidPublicKey);
    expect(kx.has(new Uint8Array(64))).toBe(false);
    expect(kx.has(user.publicKey)).toBe(true);
  });

  it("holds a bounded number of derived keys; dropping one only costs its derivation again", () => {
    const kx = new UserKeyExchange(id, { secret, cacheSize: 4 });
    const victim = generateKeyPair();
    const { workerEncryptionKey } = kx.newKey(victim.publicKey);
    const msg = encryptTo(victim.privateKey, workerEncryptionKey, utf8("still mine"));
    for (let i = 0; i < 20; i++) kx.newKey(generateKeyPair().publicKey);
    expect(kx.size).toBe(4);
    expect(kx.decrypt(victim.publicKey, msg)).toEqual(utf8("still mine"));
  });

  it("survives a restart: the same sealed secret gives the same keys", async () => {
    const dir = await mkdtemp(join(tmpdir(), "kx-secret-"));
    try {
      const sealer = new Sealer(new Uint8Array(32).fill(9));
      const file = join(dir, "secret.sealed");
      const first = loadOrCreateUserKeySecret(file, sealer);
      const user = generateKeyPair();
      const { workerEncryptionKey } = new UserKeyExchange(id, { secret: first }).newKey(
        user.publicKey,
      );
      const msg = encryptTo(user.privateKey, workerEncryptionKey, utf8("after a restart"));
      // A restarted enclave: the secret from the file, nothing else.
      const again = new UserKeyExchange(id, { secret: loadOrCreateUserKeySecret(file, sealer) });
      expect(again.decrypt(user.publicKey, msg)).toEqual(utf8("after a restart"));
      // The file is sealed to the platform: another platform, or a changed byte, is refused.
      const other = new Sealer(new Uint8Array(32).fill(8));
      expect(thrownCode(() => loadOrCreateUserKeySecret(file, other))).toBe(
        ErrorCode.SealedDataRejected,
      );
      const bytes = await readFile(file);
      bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 1;
      await writeFile(file, bytes);
      expect(thrownCode(() => loadOrCreateUserKeySecret(file, sealer))).toBe(
        ErrorCode.SealedDataRejected,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
