import { gcm } from "@noble/ciphers/aes.js";
import { randomBytes } from "@noble/ciphers/utils.js";
import { sha256 } from "@noble/hashes/sha2.js";
import {
  concatBytes as concat,
  EnigmaError,
  equalBytes as equal,
  ErrorCode,
} from "@enigma/protocol";

/** Sealed blob layout: magic(4) | version(1) | platform id(8) | iv(12) | ciphertext+tag. */
const MAGIC = new Uint8Array([0x45, 0x53, 0x45, 0x4c]); // "ESEL"
const VERSION = 1;
const HEADER = MAGIC.length + 1 + 8 + 12;

/**
 * Seals data to one platform, like SGX's sealing key: only the same platform key can unseal
 * it, and any change to the blob or its label is detected. The label (for example
 * "identity") is authenticated, so a blob sealed for one purpose cannot be used for another.
 */
export class Sealer {
  readonly #key: Uint8Array;
  readonly #platformId: Uint8Array;

  /** @param platformKey 32 secret bytes that stand for the CPU's sealing key. */
  constructor(platformKey: Uint8Array) {
    if (platformKey.length !== 32) {
      throw new EnigmaError(
        ErrorCode.InvalidArgument,
        "the platform sealing key must be 32 bytes",
        {
          details: { length: platformKey.length },
        },
      );
    }
    this.#key = sha256(concat(new TextEncoder().encode("enigma-seal-key"), platformKey));
    this.#platformId = sha256(
      concat(new TextEncoder().encode("enigma-platform-id"), platformKey),
    ).slice(0, 8);
  }

  seal(label: string, plaintext: Uint8Array): Uint8Array {
    const iv = randomBytes(12);
    const header = concat(MAGIC, Uint8Array.of(VERSION), this.#platformId, iv);
    const ct = gcm(this.#key, iv, aad(label, header)).encrypt(plaintext);
    return concat(header, ct);
  }

  /** Throws `SealedDataRejected` for a blob from another platform, another label, or tampered. */
  unseal(label: string, blob: Uint8Array): Uint8Array {
    const reject = (reason: string): never => {
      throw new EnigmaError(ErrorCode.SealedDataRejected, `sealed data rejected: ${reason}`, {
        details: { label },
      });
    };
    if (blob.length < HEADER + 16) reject("too short");
    if (!equal(blob.subarray(0, 4), MAGIC) || blob[4] !== VERSION)
      reject("not a sealed blob of this format");
    if (!equal(blob.subarray(5, 13), this.#platformId)) reject("sealed on another platform");
    const header = blob.subarray(0, HEADER);
    const iv = blob.subarray(13, HEADER);
    try {
      return gcm(this.#key, iv, aad(label, header)).decrypt(blob.subarray(HEADER));
    } catch (cause) {
      throw new EnigmaError(
        ErrorCode.SealedDataRejected,
        "sealed data rejected: authentication failed (tampered or wrong label)",
        {
          details: { label },
          cause,
        },
      );
    }
  }
}

function aad(label: string, header: Uint8Array): Uint8Array {
  return concat(new TextEncoder().encode(label), Uint8Array.of(0), header);
}
