import { createECDH, createHash, createDecipheriv, randomBytes } from "node:crypto";
import {
  SigningKey,
  computeAddress,
  getAddress,
  recoverAddress as ethersRecover,
  keccak256 as ethersKeccak,
  solidityPacked,
} from "ethers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decryptFrom, deriveSharedKey, encryptTo } from "./envelope.js";
import { ErrorCode } from "./errors.js";
import { bytesToHex } from "./hex.js";
import {
  generateKeyPair,
  normalizePublicKey,
  publicKeyOf,
  publicKeyToAddress,
  recoverAddress,
  SignerVerifier,
  signDigest,
  toChecksumAddress,
} from "./keys.js";
import {
  recoverWorkerKeySigner,
  signWorkerKey,
  verifyWorkerKey,
  workerKeyDigest,
  workerKeyMessage,
} from "./workerKey.js";
import { thrownCode } from "./testing.js";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("key pairs and addresses", () => {
  it("64-byte public keys and addresses agree with ethers", () => {
    for (let i = 0; i < 5; i++) {
      const kp = generateKeyPair();
      const sk = new SigningKey(kp.privateKey);
      expect(kp.publicKey.length).toBe(64);
      expect("0x04" + hex(kp.publicKey)).toBe(sk.publicKey);
      expect(publicKeyToAddress(kp.publicKey)).toBe(computeAddress(sk.publicKey));
      expect(publicKeyToAddress(sk.compressedPublicKey)).toBe(computeAddress(sk.publicKey));
    }
  });

  it("derives the same key pair from the same seed, different ones from different seeds", () => {
    const seed = new TextEncoder().encode("devnet seed 0001");
    expect(generateKeyPair(seed)).toEqual(generateKeyPair(seed));
    expect(generateKeyPair(seed).privateKey).not.toEqual(
      generateKeyPair(new TextEncoder().encode("devnet seed 0002")).privateKey,
    );
    expect(thrownCode(() => generateKeyPair(new Uint8Array(8)))).toBe(ErrorCode.InvalidArgument);
  });

  it("checksums addresses like ethers", () => {
    for (let i = 0; i < 20; i++) {
      const a = "0x" + randomBytes(20).toString("hex");
      expect(toChecksumAddress(a)).toBe(getAddress(a));
    }
  });

  it("refuses public keys that are not points on the curve", () => {
    expect(thrownCode(() => normalizePublicKey(new Uint8Array(64)))).toBe(
      ErrorCode.InvalidPublicKey,
    );
    expect(thrownCode(() => normalizePublicKey(new Uint8Array(63)))).toBe(
      ErrorCode.InvalidPublicKey,
    );
    expect(thrownCode(() => normalizePublicKey("xyz"))).toBe(ErrorCode.InvalidPublicKey);
    const kp = generateKeyPair();
    const bad = kp.publicKey.slice();
    bad[63] = (bad[63] ?? 0) ^ 1;
    expect(thrownCode(() => normalizePublicKey(bad))).toBe(ErrorCode.InvalidPublicKey);
  });
});

describe("Ethereum-style signatures", () => {
  it("sign gives the same 65 bytes as ethers, and recovery agrees with ethers", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (digest) => {
        const kp = generateKeyPair();
        const sig = signDigest(kp.privateKey, digest);
        const theirs = new SigningKey(kp.privateKey).sign(digest).serialized;
        expect(bytesToHex(sig)).toBe(theirs);
        expect(recoverAddress(digest, sig)).toBe(ethersRecover(digest, theirs));
        expect(recoverAddress(digest, sig)).toBe(publicKeyToAddress(kp.publicKey));
      }),
      { numRuns: 20 },
    );
  });

  it("accepts v as 0/1, refuses bad lengths and v values", () => {
    const kp = generateKeyPair();
    const d = new Uint8Array(32).fill(9);
    const sig = signDigest(kp.privateKey, d);
    const v01 = sig.slice();
    v01[64] = (v01[64] ?? 27) - 27;
    expect(recoverAddress(d, v01)).toBe(publicKeyToAddress(kp.publicKey));
    const bad = sig.slice();
    bad[64] = 5;
    expect(thrownCode(() => recoverAddress(d, bad))).toBe(ErrorCode.InvalidSignature);
    expect(thrownCode(() => recoverAddress(d, sig.slice(0, 64)))).toBe(ErrorCode.InvalidSignature);
  });
});

describe("user encryption envelope", () => {
  it("shared key = sha256(02|parity(y) || x), checked against node:crypto ECDH and ethers", () => {
    for (let i = 0; i < 5; i++) {
      const user = generateKeyPair();
      const enclave = generateKeyPair();
      const ecdh = createECDH("secp256k1");
      ecdh.setPrivateKey(user.privateKey);
      const x = ecdh.computeSecret(Buffer.concat([Buffer.of(4), enclave.publicKey]));
      const full = new SigningKey(user.privateKey).computeSharedSecret(
        "0x04" + hex(enclave.publicKey),
      );
      expect(full.slice(4, 68)).toBe(x.toString("hex"));
      const parity = parseInt(full.slice(-2), 16) & 1;
      const expected = createHash("sha256")
        .update(Buffer.concat([Buffer.of(2 | parity), x]))
        .digest();
      expect(hex(deriveSharedKey(user.privateKey, enclave.publicKey))).toBe(
        expected.toString("hex"),
      );
      expect(deriveSharedKey(enclave.privateKey, user.publicKey)).toEqual(
        deriveSharedKey(user.privateKey, enclave.publicKey),
      );
    }
  });

  it("encrypts to a peer in Discovery's wire format, readable by node:crypto", () => {
    const user = generateKeyPair();
    const enclave = generateKeyPair();
    const msg = new TextEncoder().encode("add(uint256,uint256)");
    const wire = encryptTo(user.privateKey, enclave.publicKey, msg);
    const key = deriveSharedKey(user.privateKey, enclave.publicKey);
    const d = createDecipheriv("aes-256-gcm", key, wire.subarray(wire.length - 12));
    d.setAuthTag(wire.subarray(msg.length, msg.length + 16));
    expect(
      new Uint8Array(Buffer.concat([d.update(wire.subarray(0, msg.length)), d.final()])),
    ).toEqual(msg);
    expect(decryptFrom(enclave.privateKey, user.publicKey, bytesToHex(wire).slice(2))).toEqual(msg);
    const other = generateKeyPair();
    expect(thrownCode(() => decryptFrom(other.privateKey, user.publicKey, wire))).toBe(
      ErrorCode.DecryptionFailed,
    );
  });
});

describe("worker encryption-key signature", () => {
  it("signs keccak256(u64be(19) || 'Enigma User Message' || u64be(64) || key) and recovers like ethers", () => {
    const signer = generateKeyPair();
    const key = generateKeyPair().publicKey;
    const message = workerKeyMessage(key);
    // enigma-js 0.3.0 hard-codes this prefix.
    expect(hex(message)).toBe(
      "0000000000000013456e69676d612055736572204d6573736167650000000000000040" + hex(key),
    );
    const digest = ethersKeccak(
      solidityPacked(["uint64", "string", "uint64", "bytes"], [19, "Enigma User Message", 64, key]),
    );
    expect(bytesToHex(workerKeyDigest(key))).toBe(digest);
    const sig = signWorkerKey(signer.privateKey, key);
    const address = publicKeyToAddress(signer.publicKey);
    expect(ethersRecover(digest, sig)).toBe(address);
    expect(recoverWorkerKeySigner(hex(key), sig.slice(2))).toBe(address);
    expect(() => {
      verifyWorkerKey(key, sig, address.toLowerCase().slice(2));
    }).not.toThrow();
  });

  it("refuses a key signed by someone else or a key that was swapped", () => {
    const signer = generateKeyPair();
    const key = generateKeyPair().publicKey;
    const sig = signWorkerKey(signer.privateKey, key);
    const other = publicKeyToAddress(generateKeyPair().publicKey);
    expect(
      thrownCode(() => {
        verifyWorkerKey(key, sig, other);
      }),
    ).toBe(ErrorCode.SignerMismatch);
    const swapped = generateKeyPair().publicKey;
    expect(
      thrownCode(() => {
        verifyWorkerKey(swapped, sig, publicKeyToAddress(signer.publicKey));
      }),
    ).toBe(ErrorCode.SignerMismatch);
  });
});

// Produced by Discovery's own client, enigma-js 0.3.0 (`utils.getDerivedKey`,
// `utils.encryptMessage` with a fixed IV), from test/compat's installed copy.
describe("known answers from enigma-js 0.3.0", () => {
  const userPriv = Uint8Array.from(
    Buffer.from("1737611edbedec5546e1457769f900b8d7daef442d966e60949decd63f9dd86f", "hex"),
  );
  // The public key of private key 0x22...22.
  const enclavePub =
    "466d7fcae563e5cb09a0d1870bb580344804617879a14949cf22285f1bae3f27" +
    "6728176c3c6431f8eeda4538dc37c865e2784f3a9e77d044f33e407797e1278a";

  it("derived key and encrypted function name", () => {
    expect(hex(deriveSharedKey(userPriv, enclavePub))).toBe(
      "fdeb89e22cacb8977553548dc00127435e2b43ed94a778ef608ce147148978c0",
    );
    const iv = Uint8Array.from(Buffer.from("000102030405060708090a0b", "hex"));
    expect(
      hex(encryptTo(userPriv, enclavePub, new TextEncoder().encode("add(uint256,uint256)"), iv)),
    ).toBe(
      "56792a0f5441ad23b4044c16d25a734cc4e20ddaa54ab8a85adcfbe82d4d7f8548f142be000102030405060708090a0b",
    );
    const enclavePriv = new Uint8Array(32).fill(0x22);
    expect(hex(deriveSharedKey(enclavePriv, publicKeyOf(userPriv)))).toBe(
      "fdeb89e22cacb8977553548dc00127435e2b43ed94a778ef608ce147148978c0",
    );
  });

  it("worker-key signature, as enigma-js recovers it (eth-crypto over soliditySha3)", () => {
    const sig = signWorkerKey(new Uint8Array(32).fill(0x33), enclavePub);
    expect(sig).toBe(
      "0x1e0d4dabfbe268facff9c3593bf9e83f32eda2aab5db943769fcf93df3d0bf89" +
        "4c4a86f58b47195209b0312a6a7e21a8482de743aafb4581aff5da866be9d4b01c",
    );
    // eth-crypto 1.9 (enigma-js's dependency) recovered this address from that signature.
    expect(recoverWorkerKeySigner(enclavePub, sig.slice(2))).toBe(
      "0x5CbDd86a2FA8Dc4bDdd8a8f69dBa48572EeC07FB",
    );
  });
});

describe("SignerVerifier", () => {
  it("agrees with recoverAddress on the first and on later signatures of a signer", () => {
    const signers = new SignerVerifier();
    const kp = generateKeyPair();
    const me = publicKeyToAddress(kp.publicKey);
    const other = publicKeyToAddress(generateKeyPair().publicKey);
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (digest) => {
        const sig = signDigest(kp.privateKey, digest);
        expect(signers.isSignedBy(digest, sig, me)).toBe(true);
        expect(signers.isSignedBy(digest, sig, other)).toBe(false);
        // v as 0/1, like recoverAddress.
        const v01 = sig.slice();
        v01[64] = (v01[64] ?? 27) - 27;
        expect(signers.isSignedBy(digest, v01, me)).toBe(true);
      }),
      { numRuns: 30 },
    );
  });

  it("refuses a flipped recovery bit, another digest, tampered r or s, and zero or overflowing r/s, as recovery does", () => {
    const kp = generateKeyPair();
    const me = publicKeyToAddress(kp.publicKey);
    const d = new Uint8Array(32).fill(3);
    const sig = signDigest(kp.privateKey, d);
    // One verifier that knows the key (the fast path), one that does not (recovery).
    const warm = new SignerVerifier();
    expect(warm.isSignedBy(d, sig, me)).toBe(true);
    const cases: [string, Uint8Array, Uint8Array][] = [];
    const flipped = sig.slice();
    flipped[64] = sig[64] === 27 ? 28 : 27;
    cases.push(["flipped v", d, flipped]);
    cases.push(["other digest", new Uint8Array(32).fill(4), sig]);
    const badR = sig.slice();
    badR[5] = (badR[5] ?? 0) ^ 1;
    cases.push(["tampered r", d, badR]);
    const badS = sig.slice();
    badS[40] = (badS[40] ?? 0) ^ 1;
    cases.push(["tampered s", d, badS]);
    const zeroS = sig.slice();
    zeroS.fill(0, 32, 64);
    cases.push(["s = 0", d, zeroS]);
    const bigR = sig.slice();
    bigR.fill(0xff, 0, 32);
    cases.push(["r >= n", d, bigR]);
    for (const [what, digest, s] of cases) {
      const recovered = (() => {
        try {
          return recoverAddress(digest, s) === me;
        } catch {
          return false;
        }
      })();
      expect(recovered, what).toBe(false);
      expect(warm.isSignedBy(digest, s, me), what).toBe(false);
      const cold = new SignerVerifier();
      const coldResult = (() => {
        try {
          return cold.isSignedBy(digest, s, me);
        } catch {
          return false;
        }
      })();
      expect(coldResult, what).toBe(false);
    }
    expect(thrownCode(() => warm.isSignedBy(d, sig.slice(0, 64), me))).toBe(
      ErrorCode.InvalidSignature,
    );
  });

  it("forgets the oldest signer beyond its bound and still answers right", () => {
    const signers = new SignerVerifier(2);
    const keys = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
    const d = new Uint8Array(32).fill(1);
    for (let round = 0; round < 2; round++) {
      for (const kp of keys) {
        const sig = signDigest(kp.privateKey, d);
        expect(signers.isSignedBy(d, sig, publicKeyToAddress(kp.publicKey))).toBe(true);
      }
    }
  });
});
