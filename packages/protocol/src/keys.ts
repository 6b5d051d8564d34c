// Keys, signatures and ECDH. The curve work runs on libsecp256k1 where Node runs and on noble
// elsewhere (curve.ts); the checks and typed errors are here, the same for both.
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { toBytes, type BytesLike } from "./bytes.js";
import { keccak256 } from "./crypto.js";
import { curve } from "./curve.js";
import { EnigmaError, ErrorCode, isEnigmaError } from "./errors.js";
import { bytesToHex, type Hex } from "./hex.js";

/** A secp256k1 key pair; `publicKey` is Discovery's 64-byte form (x || y, no `04` prefix). */
export interface KeyPair {
  privateKey: Uint8Array;
  publicKey: Uint8Array;
}

const SEED_INFO = new TextEncoder().encode("enigma secp256k1 key v1");

/**
 * A fresh random key pair, or with `seed` (at least 16 bytes) a reproducible one for seeded
 * devnets and tests: the secret key is derived with HKDF-SHA256 and reduced into the curve
 * order without bias.
 */
export function generateKeyPair(seed?: Uint8Array): KeyPair {
  const privateKey =
    seed === undefined ? secp256k1.utils.randomSecretKey() : secretKeyFromSeed(seed);
  return { privateKey, publicKey: publicKeyOf(privateKey) };
}

/**
 * The private key `generateKeyPair(seed)` derives, without its public key (for callers that
 * compute the public key with another secp256k1 implementation).
 */
export function secretKeyFromSeed(seed: Uint8Array): Uint8Array {
  if (seed.length < 16) {
    throw new EnigmaError(ErrorCode.InvalidArgument, "a key seed must be at least 16 bytes", {
      details: { length: seed.length },
    });
  }
  return secp256k1.utils.randomSecretKey(hkdf(sha256, seed, undefined, SEED_INFO, 48));
}

/** The 64-byte public key of a 32-byte private key. */
export function publicKeyOf(privateKey: Uint8Array): Uint8Array {
  checkPrivateKey(privateKey);
  return curve.publicKey(privateKey).slice(1);
}

/**
 * Normalises a public key to Discovery's 64-byte form. Accepts 64 bytes, 65 with the `04`
 * prefix, or 33 compressed, as bytes or hex; throws `InvalidPublicKey` unless it is a point
 * on secp256k1.
 */
export function normalizePublicKey(publicKey: BytesLike, what = "publicKey"): Uint8Array {
  let b: Uint8Array;
  try {
    b = toBytes(publicKey, what);
  } catch (cause) {
    throw invalidKey(what, "not hex", cause);
  }
  const sec1 = b.length === 64 ? concat(Uint8Array.of(4), b) : b;
  if (sec1.length !== 65 && sec1.length !== 33) {
    throw invalidKey(what, `${b.length} bytes (expected 64, 65 or 33)`);
  }
  // SEC1 prefixes only: 04 uncompressed, 02/03 compressed (libsecp256k1 would also take the
  // "hybrid" 06/07 form).
  const prefix = sec1[0];
  if (sec1.length === 65 ? prefix !== 4 : prefix !== 2 && prefix !== 3) {
    throw invalidKey(what, "not a SEC1 prefix");
  }
  try {
    return curve.uncompressed(sec1).slice(1);
  } catch (cause) {
    throw invalidKey(what, "not a point on secp256k1", cause);
  }
}

/** The Ethereum address (EIP-55 checksummed) of a public key in any accepted form. */
export function publicKeyToAddress(publicKey: BytesLike): Hex {
  return addressOf(normalizePublicKey(publicKey));
}

/** EIP-55 checksum of a 20-byte address (with or without `0x`); throws on anything else. */
export function toChecksumAddress(address: BytesLike): Hex {
  const hex = bytesToHex(toBytes(address, "address", 20)).slice(2);
  const hash = keccak256(new TextEncoder().encode(hex));
  let out = "0x";
  for (let i = 0; i < 40; i++) {
    const c = hex.charAt(i);
    const nibble = ((hash[i >> 1] ?? 0) >> (i % 2 === 0 ? 4 : 0)) & 0xf;
    out += nibble >= 8 ? c.toUpperCase() : c;
  }
  return out as Hex;
}

/** True when two addresses are the same 20 bytes (case and `0x` ignored). */
export function sameAddress(a: BytesLike, b: BytesLike): boolean {
  const x = toBytes(a, "address", 20);
  const y = toBytes(b, "address", 20);
  return x.every((v, i) => v === y[i]);
}

/**
 * Signs a 32-byte digest (no further hashing) Ethereum style: 65 bytes `r || s || v`,
 * low-s, `v` = 27 + recovery id. Deterministic (RFC 6979).
 */
export function signDigest(privateKey: Uint8Array, digest: Uint8Array): Uint8Array {
  checkPrivateKey(privateKey);
  const d = toBytes(digest, "digest", 32);
  const { rs, recovery } = curve.sign(d, privateKey);
  const out = new Uint8Array(65);
  out.set(rs, 0);
  out[64] = 27 + recovery;
  return out;
}

/**
 * The address that produced a 65-byte `r || s || v` signature over `digest` (`v` may be
 * 0/1 or 27/28). Throws `InvalidSignature` when nothing can be recovered.
 */
export function recoverAddress(digest: BytesLike, signature: BytesLike): Hex {
  return addressOf(recoverPublicKey(digest, signature));
}

/**
 * The 64-byte public key (x || y) that produced a 65-byte `r || s || v` signature over
 * `digest` (`v` 27/28 or 0/1). Throws `InvalidSignature` when nothing can be recovered.
 */
export function recoverPublicKey(digest: BytesLike, signature: BytesLike): Uint8Array {
  return recoverParsed(toBytes(digest, "digest", 32), parseSignature(signature));
}

function recoverParsed(d: Uint8Array, sig: ParsedSignature): Uint8Array {
  try {
    return curve.recover(sig.rs, sig.recovery, d).slice(1);
  } catch (cause) {
    throw new EnigmaError(ErrorCode.InvalidSignature, "no public key recovers from signature", {
      cause,
    });
  }
}

/** The checksummed address of a 64-byte public key already known to be on the curve. */
function addressOf(publicKey64: Uint8Array): Hex {
  return toChecksumAddress(bytesToHex(keccak256(publicKey64).subarray(12)));
}

/** A 65-byte `r || s || v` signature, split. */
export interface ParsedSignature {
  /** r || s */
  rs: Uint8Array;
  /** 0 or 1 */
  recovery: number;
}

/**
 * Splits a 65-byte `r || s || v` signature (`v` 27/28 or 0/1); `InvalidSignature` when it is
 * not one. The one reading of a signature's bytes.
 */
export function parseSignature(signature: BytesLike): ParsedSignature {
  let sig: Uint8Array;
  try {
    sig = toBytes(signature, "signature", 65);
  } catch (cause) {
    throw new EnigmaError(ErrorCode.InvalidSignature, "a signature must be 65 bytes r||s||v", {
      cause,
    });
  }
  const v = sig[64] ?? 0;
  const recovery = v >= 27 ? v - 27 : v;
  if (recovery !== 0 && recovery !== 1) {
    throw new EnigmaError(ErrorCode.InvalidSignature, "signature v must be 27 or 28 (or 0/1)", {
      details: { v },
    });
  }
  return { rs: sig.subarray(0, 64), recovery };
}

/**
 * Checks that signatures are by given addresses (a node checks every gossiped result): by
 * recovery, with recovered keys mapped to their address through a cache of up to
 * `maxSigners` keys (keccak per signer, not per check; a node hears a few workers). Accepts
 * exactly what `recoverAddress` + comparison (and the chain's ecrecover) accept, recovery bit
 * included; a signature that recovers nothing is `false`, one that is not 65 bytes with `v`
 * 27/28 or 0/1 throws `InvalidSignature`.
 *
 * @example
 * const signers = new SignerVerifier();
 * if (!signers.isSignedBy(digest, result.signature, result.workerAddress)) reject();
 */
export class SignerVerifier {
  readonly #addresses = new Map<string, Hex>();
  readonly #max: number;

  constructor(maxSigners = 1024) {
    this.#max = maxSigners;
  }

  /** Whether `signature` (65 bytes r||s||v) over `digest` is `address`'s. */
  isSignedBy(digest: BytesLike, signature: BytesLike, address: BytesLike): boolean {
    const d = toBytes(digest, "digest", 32);
    const sig = parseSignature(signature);
    let pub: Uint8Array;
    try {
      pub = recoverParsed(d, sig);
    } catch (e) {
      if (isEnigmaError(e, ErrorCode.InvalidSignature)) return false;
      throw e;
    }
    const key = bytesToHex(pub);
    let signer = this.#addresses.get(key);
    if (signer === undefined) {
      signer = bytesToHex(keccak256(pub).subarray(12));
      if (this.#addresses.size >= this.#max) {
        const oldest = this.#addresses.keys().next();
        if (oldest.done !== true) this.#addresses.delete(oldest.value);
      }
      this.#addresses.set(key, signer);
    }
    return sameAddress(signer, address);
  }
}

/**
 * The raw ECDH point `privateKey * peer` in compressed form (33 bytes: `02|parity(y)` then x).
 * Internal to the envelope and enclave; callers want `deriveSharedKey`.
 */
export function ecdhPoint(privateKey: Uint8Array, peerPublicKey: BytesLike): Uint8Array {
  checkPrivateKey(privateKey);
  const sec1 = concat(Uint8Array.of(4), normalizePublicKey(peerPublicKey, "peerPublicKey"));
  return curve.ecdh(privateKey, sec1);
}

function checkPrivateKey(privateKey: Uint8Array): void {
  const valid =
    privateKey instanceof Uint8Array &&
    privateKey.length === 32 &&
    curve.isValidSecretKey(privateKey);
  if (!valid) {
    throw new EnigmaError(ErrorCode.InvalidArgument, "a private key must be 32 bytes in [1, n-1]", {
      details: { length: (privateKey as Uint8Array | undefined)?.length },
    });
  }
}

function invalidKey(what: string, reason: string, cause?: unknown): EnigmaError {
  return new EnigmaError(ErrorCode.InvalidPublicKey, `${what} is not a secp256k1 public key`, {
    details: { what, reason },
    cause,
  });
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
