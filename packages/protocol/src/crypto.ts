import { gcm } from "@noble/ciphers/aes.js";
import { randomBytes } from "@noble/ciphers/utils.js";
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { EnigmaError, ErrorCode } from "./errors.js";

/** keccak256 of bytes. */
export function keccak256(data: Uint8Array): Uint8Array {
  return keccak_256(data);
}

/** sha256 of bytes. */
export function sha256(data: Uint8Array): Uint8Array {
  return nobleSha256(data);
}

/** Bytes of `n` as a big-endian uint64. */
export function u64be(n: number | bigint): Uint8Array {
  const v = BigInt(n);
  if (v < 0n || v >= 2n ** 64n) {
    throw new EnigmaError(ErrorCode.InvalidArgument, "value does not fit in uint64", {
      details: { value: v.toString() },
    });
  }
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, v);
  return out;
}

export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

export const AES_KEY_BYTES = 32;
export const GCM_TAG_BYTES = 16;
export const GCM_IV_BYTES = 12;

/**
 * AES-256-GCM with Enigma's wire layout `ciphertext || tag(16) || iv(12)` and no associated
 * data (DESIGN.md section 5). Used for user payloads, outputs, and state deltas under a
 * contract's state key. `iv` is random unless given (tests, seeded devnets).
 */
export function aesEncrypt(
  key: Uint8Array,
  plaintext: Uint8Array,
  iv: Uint8Array = randomBytes(GCM_IV_BYTES),
): Uint8Array {
  checkKey(key);
  if (iv.length !== GCM_IV_BYTES) {
    throw new EnigmaError(ErrorCode.InvalidArgument, `the IV must be ${GCM_IV_BYTES} bytes`, {
      details: { length: iv.length },
    });
  }
  return concatBytes(gcm(key, iv).encrypt(plaintext), iv);
}

/** Inverse of `aesEncrypt`; throws `DecryptionFailed` on a wrong key or any tampering. */
export function aesDecrypt(key: Uint8Array, wire: Uint8Array): Uint8Array {
  checkKey(key);
  if (wire.length < GCM_TAG_BYTES + GCM_IV_BYTES) {
    throw new EnigmaError(
      ErrorCode.DecryptionFailed,
      "ciphertext too short for ciphertext || tag || iv",
      {
        details: { length: wire.length },
      },
    );
  }
  const iv = wire.subarray(wire.length - GCM_IV_BYTES);
  try {
    return gcm(key, iv).decrypt(wire.subarray(0, wire.length - GCM_IV_BYTES));
  } catch (cause) {
    throw new EnigmaError(
      ErrorCode.DecryptionFailed,
      "decryption failed: wrong key or tampered ciphertext",
      { cause },
    );
  }
}

function checkKey(key: Uint8Array): void {
  if (key.length !== AES_KEY_BYTES) {
    throw new EnigmaError(
      ErrorCode.InvalidArgument,
      `an AES-256 key must be ${AES_KEY_BYTES} bytes`,
      {
        details: { length: key.length },
      },
    );
  }
}
