import { toBytes, type BytesLike } from "./bytes.js";
import { concatBytes, keccak256, u64be } from "./crypto.js";
import { EnigmaError, ErrorCode } from "./errors.js";
import { bytesToHex, type Hex } from "./hex.js";
import { normalizePublicKey, recoverAddress, sameAddress, signDigest } from "./keys.js";

const USER_MESSAGE = new TextEncoder().encode("Enigma User Message");

/**
 * The bytes a worker signs to vouch for an encryption key it hands out (DESIGN.md section 5):
 * `u64be(19) || "Enigma User Message" || u64be(64) || key64`.
 */
export function workerKeyMessage(workerEncryptionKey: BytesLike): Uint8Array {
  const key = normalizePublicKey(workerEncryptionKey, "workerEncryptionKey");
  return concatBytes(u64be(USER_MESSAGE.length), USER_MESSAGE, u64be(key.length), key);
}

/** keccak256 of `workerKeyMessage`: the digest that is signed. */
export function workerKeyDigest(workerEncryptionKey: BytesLike): Uint8Array {
  return keccak256(workerKeyMessage(workerEncryptionKey));
}

/** Signs a worker encryption key with the enclave signing key: 65 bytes `r || s || v`. */
export function signWorkerKey(signingPrivateKey: Uint8Array, workerEncryptionKey: BytesLike): Hex {
  return bytesToHex(signDigest(signingPrivateKey, workerKeyDigest(workerEncryptionKey)));
}

/** The signer address (checksummed) of a worker-key signature. */
export function recoverWorkerKeySigner(workerEncryptionKey: BytesLike, workerSig: BytesLike): Hex {
  return recoverAddress(workerKeyDigest(workerEncryptionKey), workerSig);
}

/**
 * What a client does before encrypting to a worker: the key's signature must recover to the
 * selected worker's signer address; throws `SignerMismatch` otherwise.
 */
export function verifyWorkerKey(
  workerEncryptionKey: BytesLike,
  workerSig: BytesLike,
  expectedSigner: BytesLike,
): void {
  const signer = recoverWorkerKeySigner(workerEncryptionKey, workerSig);
  if (!sameAddress(signer, toBytes(expectedSigner, "expectedSigner", 20))) {
    throw new EnigmaError(
      ErrorCode.SignerMismatch,
      "the worker encryption key is not signed by the selected worker: refuse to send inputs",
      {
        details: {
          recovered: signer,
          expected:
            typeof expectedSigner === "string" ? expectedSigner : bytesToHex(expectedSigner),
        },
      },
    );
  }
}
