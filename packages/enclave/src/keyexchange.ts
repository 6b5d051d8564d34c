import { randomBytes } from "node:crypto";
import {
  EnigmaError,
  ErrorCode,
  aesDecrypt,
  aesEncrypt,
  bytesToHex,
  concatBytes,
  deriveSharedKey,
  normalizePublicKey,
  publicKeyOf,
  secretKeyFromSeed,
  toBytes,
  type BytesLike,
  type Hex,
} from "@enigma/protocol";
import type { EnclaveIdentity } from "./identity.js";
import { SealedLog } from "./receipt-log.js";
import type { Sealer } from "./sealing.js";

/** Bytes of the enclave's user-key secret. */
export const USER_KEY_SECRET_BYTES = 32;
// Domain separation: this secret derives worker encryption keys and nothing else.
const DERIVATION_LABEL = new TextEncoder().encode("enigma.worker-encryption-key.v1");

export interface KeyExchangeOptions {
  /**
   * The enclave's 32-byte secret from which every worker encryption key is derived. A worker
   * enclave keeps it sealed (`loadOrCreateUserKeySecret`), or derives it from a devnet seed.
   */
  secret: Uint8Array;
  /**
   * Derived keys kept in memory, least recently used dropped first. Default 10,000. Dropping
   * one costs only its derivation again (one key derivation and ECDH) the next time.
   */
  cacheSize?: number;
}

/** What `getWorkerEncryptionKey` returns: the enclave's key for this user and its signature. */
export interface WorkerEncryptionKey {
  /** 64 bytes. */
  workerEncryptionKey: Uint8Array;
  /** 65 bytes `r || s || v` by the enclave signer (DESIGN.md section 5). */
  workerSig: Hex;
}

interface Derived {
  /** The user's 64-byte public key. */
  user: Uint8Array;
  privateKey: Uint8Array;
  publicKey: Uint8Array;
  /** Computed on first use: handing a key out does not need it. */
  sharedKey?: Uint8Array;
  workerSig?: Hex;
}

/**
 * The user side of an enclave. The worker encryption key of a user (their 64-byte public key,
 * the task input's `userDHKey`) is *derived*, not drawn: its private key is
 * `HKDF(secret || label || userPubKey)` on secp256k1, where `secret` never leaves the enclave.
 * So a user gets the same key on every request, and the enclave needs no table of handed-out
 * keys: there is nothing a request can evict, whoever sends it and whatever key it names (see
 * the README's "User keys that cannot be evicted"). Inputs are decrypted, and outputs
 * encrypted, under `sha256(ECDH(derived key, userPubKey))`.
 *
 * @example
 * const kx = new UserKeyExchange(identity, { secret });
 * const { workerEncryptionKey, workerSig } = kx.newKey(userPubKey); // RPC getWorkerEncryptionKey
 * const fn = kx.decrypt(userDHKey, encryptedFn);
 * const out = kx.encrypt(userDHKey, abiEncodedOutput);
 */
export class UserKeyExchange {
  readonly #identity: EnclaveIdentity;
  readonly #secret: Uint8Array;
  readonly #cacheSize: number;
  /** Map order is use order: the first entry is the least recently used. */
  readonly #cache = new Map<string, Derived>();

  constructor(identity: EnclaveIdentity, options: KeyExchangeOptions) {
    this.#identity = identity;
    const secret = options.secret as unknown;
    if (!(secret instanceof Uint8Array) || secret.length !== USER_KEY_SECRET_BYTES) {
      throw new EnigmaError(
        ErrorCode.InvalidArgument,
        `the user-key secret must be ${USER_KEY_SECRET_BYTES} bytes`,
      );
    }
    this.#secret = secret.slice();
    const size = options.cacheSize ?? 10_000;
    if (!Number.isSafeInteger(size) || size <= 0) {
      throw new EnigmaError(ErrorCode.InvalidArgument, "cacheSize must be a positive integer", {
        details: { cacheSize: size },
      });
    }
    this.#cacheSize = size;
  }

  /**
   * The enclave's key for `userPubKey`, signed by the enclave signer: the same for every
   * request naming that key. Throws `InvalidPublicKey` when it is not a secp256k1 point.
   */
  newKey(userPubKey: BytesLike): WorkerEncryptionKey {
    const d = this.#derived(userPubKey);
    d.workerSig ??= this.#identity.signWorkerKey(d.publicKey);
    return { workerEncryptionKey: d.publicKey.slice(), workerSig: d.workerSig };
  }

  /**
   * Decrypts what the user encrypted to their worker encryption key. `DecryptionFailed` when
   * it was encrypted under another key (or altered); `InvalidPublicKey` for a bad user key.
   */
  decrypt(userPubKey: BytesLike, wire: BytesLike): Uint8Array {
    return aesDecrypt(this.#sharedKey(userPubKey), toBytes(wire, "ciphertext"));
  }

  /** Encrypts for the user (the task output) under their shared key. */
  encrypt(userPubKey: BytesLike, plaintext: Uint8Array, iv?: Uint8Array): Uint8Array {
    return aesEncrypt(this.#sharedKey(userPubKey), plaintext, iv);
  }

  /** True when `userPubKey` is a valid key (every valid key has its worker key). */
  has(userPubKey: BytesLike): boolean {
    try {
      normalizePublicKey(userPubKey, "userPubKey");
      return true;
    } catch {
      return false;
    }
  }

  /** Derived keys held in memory now (at most `cacheSize`). */
  get size(): number {
    return this.#cache.size;
  }

  #sharedKey(userPubKey: BytesLike): Uint8Array {
    const d = this.#derived(userPubKey);
    d.sharedKey ??= deriveSharedKey(d.privateKey, d.user);
    return d.sharedKey;
  }

  #derived(userPubKey: BytesLike): Derived {
    const user = normalizePublicKey(userPubKey, "userPubKey");
    const id = bytesToHex(user);
    let d = this.#cache.get(id);
    if (d !== undefined) {
      this.#cache.delete(id); // re-inserted below as the most recently used
    } else {
      const privateKey = secretKeyFromSeed(concatBytes(this.#secret, DERIVATION_LABEL, user));
      d = { user, privateKey, publicKey: publicKeyOf(privateKey) };
    }
    this.#cache.set(id, d);
    while (this.#cache.size > this.#cacheSize) {
      const oldest = this.#cache.entries().next().value;
      if (oldest === undefined) break;
      const [key, dropped] = oldest;
      dropped.privateKey.fill(0);
      dropped.sharedKey?.fill(0);
      this.#cache.delete(key);
    }
    return d;
  }
}

/**
 * The worker enclave's user-key secret kept sealed in `file`: created (random) on first use,
 * the same after every restart, so an input encrypted before a crash decrypts after it.
 */
export function loadOrCreateUserKeySecret(file: string, sealer: Sealer): Uint8Array {
  const log = SealedLog.open(file, sealer, {
    label: "enigma.user-key-secret.v1",
    recordBytes: USER_KEY_SECRET_BYTES,
    max: 1,
  });
  const [kept] = log.values();
  if (kept !== undefined) return kept;
  const secret = new Uint8Array(randomBytes(USER_KEY_SECRET_BYTES));
  log.add(secret);
  return secret;
}
