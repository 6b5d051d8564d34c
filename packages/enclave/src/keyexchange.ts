import {
  EnigmaError,
  ErrorCode,
  aesDecrypt,
  aesEncrypt,
  bytesToHex,
  concatBytes,
  deriveSharedKey,
  generateKeyPair,
  normalizePublicKey,
  toBytes,
  u64be,
  type BytesLike,
  type Hex,
} from "@enigma/protocol";
import type { EnclaveIdentity } from "./identity.js";

export interface KeyExchangeOptions {
  /** Keys kept at most; the oldest is dropped first. Default 10,000 (about 1 MB). */
  maxKeys?: number;
  /** How long a handed-out key can be used, in ms. Default 30 minutes. */
  ttlMs?: number;
  /** Clock, in ms (tests). */
  now?: () => number;
  /** Makes the enclave keys reproducible (seeded devnets); random otherwise. */
  seed?: Uint8Array;
}

/** What `getWorkerEncryptionKey` returns: a fresh enclave public key and its signature. */
export interface WorkerEncryptionKey {
  /** 64 bytes. */
  workerEncryptionKey: Uint8Array;
  /** 65 bytes `r || s || v` by the enclave signer (DESIGN.md section 5). */
  workerSig: Hex;
  /** When the key stops being accepted, ms since the epoch. */
  expiresAt: number;
}

interface Entry {
  sharedKey: Uint8Array;
  expiresAt: number;
}

/**
 * The user side of an enclave: per request a fresh encryption key pair, signed by the
 * enclave signer; later the task inputs the user encrypted under it are decrypted here, and
 * the output is encrypted back with the same shared key. Keys are indexed by the user's
 * 64-byte public key (the `userDHKey` of the task input), held only as the derived shared
 * key, and bounded in number and age.
 *
 * @example
 * const kx = new UserKeyExchange(identity);
 * const { workerEncryptionKey, workerSig } = kx.newKey(userPubKey); // RPC getWorkerEncryptionKey
 * const fn = kx.decrypt(userDHKey, encryptedFn);
 * const out = kx.encrypt(userDHKey, abiEncodedOutput);
 */
export class UserKeyExchange {
  readonly #identity: EnclaveIdentity;
  readonly #keys = new Map<string, Entry>();
  readonly #maxKeys: number;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #seed: Uint8Array | undefined;
  #counter = 0n;

  constructor(identity: EnclaveIdentity, options: KeyExchangeOptions = {}) {
    this.#identity = identity;
    this.#maxKeys = positiveInt("maxKeys", options.maxKeys ?? 10_000);
    this.#ttlMs = positiveInt("ttlMs", options.ttlMs ?? 30 * 60_000);
    this.#now = options.now ?? Date.now;
    this.#seed = options.seed?.slice();
  }

  /**
   * A fresh key for `userPubKey` (replacing any earlier one for it). Throws
   * `InvalidPublicKey` when the user's key is not a secp256k1 point.
   */
  newKey(userPubKey: BytesLike): WorkerEncryptionKey {
    const user = normalizePublicKey(userPubKey, "userPubKey");
    this.prune();
    const pair =
      this.#seed === undefined
        ? generateKeyPair()
        : generateKeyPair(concatBytes(this.#seed, u64be(this.#counter++), user));
    const expiresAt = this.#now() + this.#ttlMs;
    const id = bytesToHex(user);
    this.#keys.delete(id); // re-insert at the end: Map order is age order
    this.#keys.set(id, { sharedKey: deriveSharedKey(pair.privateKey, user), expiresAt });
    pair.privateKey.fill(0);
    while (this.#keys.size > this.#maxKeys) {
      const oldest = this.#keys.keys().next();
      if (oldest.done === true) break;
      this.#keys.delete(oldest.value);
    }
    return {
      workerEncryptionKey: pair.publicKey,
      workerSig: this.#identity.signWorkerKey(pair.publicKey),
      expiresAt,
    };
  }

  /** Decrypts what the user encrypted to the key handed out for `userPubKey`. */
  decrypt(userPubKey: BytesLike, wire: BytesLike): Uint8Array {
    return aesDecrypt(this.#entry(userPubKey).sharedKey, toBytes(wire, "ciphertext"));
  }

  /** Encrypts for the user (the task output), under the same shared key. */
  encrypt(userPubKey: BytesLike, plaintext: Uint8Array, iv?: Uint8Array): Uint8Array {
    return aesEncrypt(this.#entry(userPubKey).sharedKey, plaintext, iv);
  }

  /** True while a key for `userPubKey` is held and not expired. */
  has(userPubKey: BytesLike): boolean {
    try {
      this.#entry(userPubKey);
      return true;
    } catch {
      return false;
    }
  }

  /** Forgets the key for `userPubKey` (for example once the task's output is encrypted). */
  release(userPubKey: BytesLike): boolean {
    const id = bytesToHex(normalizePublicKey(userPubKey, "userPubKey"));
    const e = this.#keys.get(id);
    e?.sharedKey.fill(0);
    return this.#keys.delete(id);
  }

  /** Drops expired keys; returns how many. */
  prune(): number {
    const now = this.#now();
    let n = 0;
    for (const [id, e] of this.#keys) {
      // Insertion order is issue order and the TTL is fixed: the first live key ends the scan.
      if (e.expiresAt > now) break;
      e.sharedKey.fill(0);
      this.#keys.delete(id);
      n++;
    }
    return n;
  }

  /** Keys currently held (expired ones included until pruned). */
  get size(): number {
    return this.#keys.size;
  }

  #entry(userPubKey: BytesLike): Entry {
    const id = bytesToHex(normalizePublicKey(userPubKey, "userPubKey"));
    const e = this.#keys.get(id);
    if (e === undefined || e.expiresAt <= this.#now()) {
      throw new EnigmaError(
        ErrorCode.KeyExchangeKeyUnknown,
        "no live worker encryption key for this user key: ask getWorkerEncryptionKey again",
        { details: { userPubKey: id, reason: e === undefined ? "unknown" : "expired" } },
      );
    }
    return e;
  }
}

function positiveInt(name: string, v: number): number {
  if (!Number.isSafeInteger(v) || v <= 0) {
    throw new EnigmaError(ErrorCode.InvalidArgument, `${name} must be a positive integer`, {
      details: { [name]: v },
    });
  }
  return v;
}
