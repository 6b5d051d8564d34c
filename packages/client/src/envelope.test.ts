import { gunzipSync } from "node:zlib";
import {
  ErrorCode,
  decryptFrom,
  deploymentInputsHash,
  encodeArgs,
  encryptTo,
  generateKeyPair,
  inputsHash,
  signWorkerKey,
  bytesToHex,
  publicKeyToAddress,
} from "@enigma/protocol";
import { rejectedCode } from "@enigma/protocol/testing";
import { describe, expect, it } from "vitest";
import { decryptOutput, encryptCall } from "./envelope.js";
import { defaultGzip } from "./gzip.js";
import { checkWorkerKey } from "./verify.js";

// A stub worker: an enclave encryption key pair and a signing key, seeded.
const worker = generateKeyPair(new Uint8Array(32).fill(1));
const signing = generateKeyPair(new Uint8Array(32).fill(2));
const user = generateKeyPair(new Uint8Array(32).fill(3));
const scAddr = `0x${"ab".repeat(32)}` as const;

describe("encryptCall / decryptOutput", () => {
  it("encrypts fn and args so that the worker decrypts them, and hashes what it sent", () => {
    const call = encryptCall(user, worker.publicKey, "add(uint256,uint256)", [1n, 2n], scAddr);
    const fn = decryptFrom(worker.privateKey, user.publicKey, call.encryptedFn);
    expect(new TextDecoder().decode(fn)).toBe("add(uint256,uint256)");
    const args = decryptFrom(worker.privateKey, user.publicKey, call.encryptedArgs);
    expect(args).toEqual(encodeArgs("add(uint256,uint256)", [1n, 2n]));
    expect(call.inputsHash).toBe(
      inputsHash(call.encryptedFn, call.encryptedArgs, scAddr, user.publicKey),
    );
  });

  it("hashes a deployment over keccak256 of the pre-code", () => {
    const preCode = new Uint8Array([0, 97, 115, 109]);
    const call = encryptCall(user, worker.publicKey, "construct()", [], { preCode });
    expect(call.inputsHash).toBe(
      deploymentInputsHash(call.encryptedFn, call.encryptedArgs, preCode, user.publicKey),
    );
  });

  it("uses a fresh IV per message unless one is given", () => {
    const a = encryptCall(user, worker.publicKey, "f()", [], scAddr);
    const b = encryptCall(user, worker.publicKey, "f()", [], scAddr);
    expect(a.encryptedFn).not.toEqual(b.encryptedFn);
    const iv = { fn: new Uint8Array(12), args: new Uint8Array(12).fill(1) };
    const c = encryptCall(user, worker.publicKey, "f()", [], scAddr, iv);
    const d = encryptCall(user, worker.publicKey, "f()", [], scAddr, iv);
    expect(c).toEqual(d);
  });

  it("decrypts and ABI-decodes an output encrypted back to the user", () => {
    const out = encryptTo(worker.privateKey, user.publicKey, encodeArgs("f(uint256)", [91n]));
    expect(decryptOutput(user, worker.publicKey, out, ["uint256"]).values).toEqual([91n]);
    expect(decryptOutput(user, worker.publicKey, new Uint8Array()).plain).toEqual(new Uint8Array());
  });

  it("fails with DecryptionFailed for an output for another key pair", () => {
    const other = generateKeyPair(new Uint8Array(32).fill(4));
    const out = encryptTo(worker.privateKey, other.publicKey, new Uint8Array([1]));
    expect(() => decryptOutput(user, worker.publicKey, out)).toThrow(
      expect.objectContaining({ code: ErrorCode.DecryptionFailed }) as Error,
    );
  });
});

describe("checkWorkerKey", () => {
  const key = bytesToHex(worker.publicKey);
  const sig = signWorkerKey(signing.privateKey, worker.publicKey);

  it("accepts a key signed by the selected worker", () => {
    expect(() => {
      checkWorkerKey(key, sig, publicKeyToAddress(signing.publicKey));
    }).not.toThrow();
  });

  it("refuses a key signed by another enclave with SignerMismatch", async () => {
    const otherSigner = publicKeyToAddress(user.publicKey);
    expect(
      await rejectedCode(
        Promise.resolve().then(() => {
          checkWorkerKey(key, sig, otherSigner);
        }),
      ),
    ).toBe(ErrorCode.SignerMismatch);
  });
});

describe("defaultGzip", () => {
  it("produces gzip that zlib reads back", async () => {
    const data = new TextEncoder().encode("secret contract ".repeat(100));
    const gz = await defaultGzip(data);
    expect(gz[0]).toBe(0x1f);
    expect(gz[1]).toBe(0x8b);
    expect(new Uint8Array(gunzipSync(gz))).toEqual(data);
  });
});
