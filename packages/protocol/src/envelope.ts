import { toBytes, type BytesLike } from "./bytes.js";
import { aesDecrypt, aesEncrypt, sha256 } from "./crypto.js";
import { ecdhPoint } from "./keys.js";

/**
 * Discovery's user envelope key (DESIGN.md section 5): `sha256(compressed ECDH point)`, the
 * point being `0x02 | parity(y)` followed by x. Both sides get the same 32 bytes:
 * `deriveSharedKey(userPriv, enclavePub) == deriveSharedKey(enclavePriv, userPub)`.
 */
export function deriveSharedKey(privateKey: Uint8Array, peerPublicKey: BytesLike): Uint8Array {
  return sha256(ecdhPoint(privateKey, peerPublicKey));
}

/**
 * Encrypts to a peer: AES-256-GCM under `deriveSharedKey`, wire `ciphertext || tag || iv`.
 *
 * @example
 * const user = generateKeyPair();
 * const encFn = encryptTo(user.privateKey, workerEncryptionKey, utf8("add(uint256,uint256)"));
 */
export function encryptTo(
  privateKey: Uint8Array,
  peerPublicKey: BytesLike,
  plaintext: BytesLike,
  iv?: Uint8Array,
): Uint8Array {
  return aesEncrypt(
    deriveSharedKey(privateKey, peerPublicKey),
    toBytes(plaintext, "plaintext"),
    iv,
  );
}

/** Inverse of `encryptTo`; throws `DecryptionFailed` for a wrong key pair or tampering. */
export function decryptFrom(
  privateKey: Uint8Array,
  peerPublicKey: BytesLike,
  wire: BytesLike,
): Uint8Array {
  return aesDecrypt(deriveSharedKey(privateKey, peerPublicKey), toBytes(wire, "ciphertext"));
}
