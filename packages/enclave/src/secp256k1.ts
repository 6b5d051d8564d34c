// The enclave's secp256k1 work on libsecp256k1 (the `secp256k1` package: a prebuilt native
// binding, which falls back to a JavaScript implementation itself where no binary fits), with
// exactly the inputs, outputs and typed errors of `@enigma/protocol`'s noble-based functions.
// A worker does this work for every task (a worker key derived and signed per user key, one
// ECDH, one receipt signature); noble took ~2.5 ms of it per task on this machine, libsecp256k1
// ~0.1 ms (measured: ECDH 1,570 -> 41 us, sign 362 -> 29 us, public key 269 -> 20 us). Nodes
// and enclaves are Node-only; the client keeps noble (it also runs in browsers).
import { createRequire } from "node:module";
import {
  EnigmaError,
  ErrorCode,
  bytesToHex,
  keccak256,
  normalizePublicKey,
  parseSignature,
  toBytes,
  toChecksumAddress,
  type BytesLike,
  type Hex,
} from "@enigma/protocol";

interface Native {
  privateKeyVerify(privateKey: Uint8Array): boolean;
  publicKeyCreate(privateKey: Uint8Array, compressed?: boolean): Uint8Array;
  ecdsaSign(digest: Uint8Array, privateKey: Uint8Array): { signature: Uint8Array; recid: number };
  ecdsaRecover(
    signature: Uint8Array,
    recid: number,
    digest: Uint8Array,
    compressed?: boolean,
  ): Uint8Array;
  /** sha256 of the compressed shared point (libsecp256k1's default ECDH hash). */
  ecdh(publicKey: Uint8Array, privateKey: Uint8Array): Uint8Array;
}

const native = createRequire(import.meta.url)("secp256k1") as Native;

function checkPrivateKey(privateKey: Uint8Array): void {
  if (
    !(privateKey instanceof Uint8Array) ||
    privateKey.length !== 32 ||
    !native.privateKeyVerify(privateKey)
  ) {
    throw new EnigmaError(ErrorCode.InvalidArgument, "a private key must be 32 bytes in [1, n-1]", {
      details: { length: (privateKey as Uint8Array | undefined)?.length },
    });
  }
}

/** `publicKeyOf`: the 64-byte public key (x || y) of a 32-byte private key. */
export function publicKeyOf(privateKey: Uint8Array): Uint8Array {
  checkPrivateKey(privateKey);
  return native.publicKeyCreate(privateKey, false).slice(1);
}

/** `signDigest`: 65 bytes `r || s || v` (low-s, v = 27 + recovery id, RFC 6979). */
export function signDigest(privateKey: Uint8Array, digest: Uint8Array): Uint8Array {
  checkPrivateKey(privateKey);
  const d = toBytes(digest, "digest", 32);
  const { signature, recid } = native.ecdsaSign(d, privateKey);
  const out = new Uint8Array(65);
  out.set(signature, 0);
  out[64] = 27 + recid;
  return out;
}

/** `deriveSharedKey`: sha256 of the compressed ECDH point (Discovery's user envelope key). */
export function deriveSharedKey(privateKey: Uint8Array, peerPublicKey: BytesLike): Uint8Array {
  checkPrivateKey(privateKey);
  const pub = normalizePublicKey(peerPublicKey, "peerPublicKey");
  const sec1 = new Uint8Array(65);
  sec1[0] = 4;
  sec1.set(pub, 1);
  return native.ecdh(sec1, privateKey);
}

/** `recoverAddress`: the checksummed address behind a 65-byte `r || s || v` signature. */
export function recoverAddress(digest: BytesLike, signature: BytesLike): Hex {
  const pub = recoverPublicKey(digest, signature);
  return toChecksumAddress(bytesToHex(keccak256(pub).subarray(12)));
}

/**
 * The 64-byte public key behind a 65-byte `r || s || v` signature over `digest` (`v` 27/28 or
 * 0/1); `InvalidSignature` when none recovers.
 */
export function recoverPublicKey(digest: BytesLike, signature: BytesLike): Uint8Array {
  const d = toBytes(digest, "digest", 32);
  const { rs, recovery } = parseSignature(signature);
  try {
    return native.ecdsaRecover(rs, recovery, d, false).slice(1);
  } catch (cause) {
    throw new EnigmaError(ErrorCode.InvalidSignature, "no public key recovers from signature", {
      cause,
    });
  }
}

/** The functions above as one object (`@enigma/enclave` exports it for nodes). */
export const secp256k1Native = Object.freeze({
  publicKeyOf,
  signDigest,
  deriveSharedKey,
  recoverAddress,
  recoverPublicKey,
});
