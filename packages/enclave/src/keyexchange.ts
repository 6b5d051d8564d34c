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
  /** Keys kept at most, over all users; the oldest is dropped first. Default 10,000 (about 1 MB). */
  maxKeys?: number;
  /**
   * Keys kept at most for one user key; its oldest is dropped first. Default 16: Discovery's
   * client asks a new key for every task under one user key pair, and may have several tasks
   * in flight at once.
   */
  maxKeysPerUser?: number;
  /** How long a handed-out key can be used, in ms. Default 30 minutes. */
  ttlMs?: number;
  /** Clock, in ms (tests). */
  now?: () => number;
  /** Makes the enclave keys reproducible (seeded devnets); random otherwise. */
  seed?: Uint8Array;
  /** Keys held before a restart, oldest first (expired ones are skipped). */
  restore?: Iterable<HeldUserKey>;
  /** Called with every new key before it is handed out (the enclave seals it to disk). */
  persist?: (key: HeldUserKey) => void;
}

/** A key the enclave holds for a user: what it needs to decrypt and encrypt for them. */
export interface HeldUserKey {
  /** The user's 64-byte public key. */
  userPubKey: Uint8Array;
  /** The 32-byte shared key derived with the enclave's per-request key pair. */
  sharedKey: Uint8Array;
  expiresAt: number;
}

/** Bytes of an encoded `HeldUserKey`: user key, shared key, u64be expiry. */
export const HELD_USER_KEY_BYTES = 64 + 32 + 8;

export function encodeHeldUserKey(k: HeldUserKey): Uint8Array {
  return concatBytes(k.userPubKey, k.sharedKey, u64be(BigInt(k.expiresAt)));
}

export function decodeHeldUserKey(b: Uint8Array): HeldUserKey {
  if (b.length !== HELD_USER_KEY_BYTES) {
    throw new EnigmaError(
      ErrorCode.InvalidArgument,
      `a held user key is ${HELD_USER_KEY_BYTES} bytes`,
    );
  }
  const expiry = new DataView(b.buffer, b.byteOffset + 96, 8).getBigUint64(0);
  return { userPubKey: b.slice(0, 64), sharedKey: b.slice(64, 96), expiresAt: Number(expiry) };
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

interface Key {
  sharedKey: Uint8Array;
  expiresAt: number;
}

/**
 * The user side of an enclave: per request a fresh encryption key pair, signed by the
 * enclave signer; later the task inputs the user encrypted under it are decrypted here, and
 * the output is encrypted back with the same shared key. Keys are indexed by the user's
 * 64-byte public key (the `userDHKey` of the task input), held only as the derived shared
 * key, and bounded in number and age. A user key can hold several live keys (one per task
 * in flight); a ciphertext names none, so the key whose AES-GCM tag verifies is the one.
 *
 * @example
 * const kx = new UserKeyExchange(identity);
 * const { workerEncryptionKey, workerSig } = kx.newKey(userPubKey); // RPC getWorkerEncryptionKey
 * const fn = kx.decrypt(userDHKey, encryptedFn);
 * const out = kx.encrypt(userDHKey, abiEncodedOutput, undefined, encryptedFn); // same key as fn
 */
export class UserKeyExchange {
  readonly #identity: EnclaveIdentity;
  /** Per user key, its keys newest first; map order is the order of each user's newest key. */
  readonly #users = new Map<string, Key[]>();
  #size = 0;
  readonly #maxKeys: number;
  readonly #maxPerUser: number;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #seed: Uint8Array | undefined;
  readonly #persist: ((key: HeldUserKey) => void) | undefined;
  #counter = 0n;

  constructor(identity: EnclaveIdentity, options: KeyExchangeOptions = {}) {
    this.#identity = identity;
    this.#maxKeys = positiveInt("maxKeys", options.maxKeys ?? 10_000);
    this.#maxPerUser = positiveInt("maxKeysPerUser", options.maxKeysPerUser ?? 16);
    this.#ttlMs = positiveInt("ttlMs", options.ttlMs ?? 30 * 60_000);
    this.#now = options.now ?? Date.now;
    this.#seed = options.seed?.slice();
    this.#persist = options.persist;
    const now = this.#now();
    for (const k of options.restore ?? []) {
      if (k.expiresAt > now) this.#hold(bytesToHex(k.userPubKey), k.sharedKey.slice(), k.expiresAt);
    }
  }

  /**
   * A fresh key for `userPubKey`, held next to the user's earlier live ones. Throws
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
    const sharedKey = deriveSharedKey(pair.privateKey, user);
    pair.privateKey.fill(0);
    // Kept before it is handed out: a task encrypted to it survives a restart of the enclave.
    this.#persist?.({ userPubKey: user, sharedKey, expiresAt });
    this.#hold(bytesToHex(user), sharedKey, expiresAt);
    return {
      workerEncryptionKey: pair.publicKey,
      workerSig: this.#identity.signWorkerKey(pair.publicKey),
      expiresAt,
    };
  }

  /**
   * Decrypts what the user encrypted to one of the keys handed out for `userPubKey`.
   * `DecryptionFailed` when none opens it; `KeyExchangeKeyUnknown` when none is live.
   */
  decrypt(userPubKey: BytesLike, wire: BytesLike): Uint8Array {
    const bytes = toBytes(wire, "ciphertext");
    return this.#opening(userPubKey, bytes).plaintext;
  }

  /**
   * Encrypts for the user (the task output) under the key that opens `sealedWith` (one of
   * the task's inputs), or under the user's newest key without it.
   */
  encrypt(
    userPubKey: BytesLike,
    plaintext: Uint8Array,
    iv?: Uint8Array,
    sealedWith?: BytesLike,
  ): Uint8Array {
    const key =
      sealedWith === undefined
        ? this.#live(userPubKey)[0]
        : this.#opening(userPubKey, toBytes(sealedWith, "ciphertext")).key;
    if (key === undefined) throw unknownKey(userPubKey, "unknown");
    return aesEncrypt(key.sharedKey, plaintext, iv);
  }

  /** True while a key for `userPubKey` is held and not expired. */
  has(userPubKey: BytesLike): boolean {
    try {
      this.#live(userPubKey);
      return true;
    } catch {
      return false;
    }
  }

  /** Forgets every key for `userPubKey`. */
  release(userPubKey: BytesLike): boolean {
    const id = bytesToHex(normalizePublicKey(userPubKey, "userPubKey"));
    const keys = this.#users.get(id);
    if (keys === undefined) return false;
    while (keys.length > 0) this.#dropOldest(keys);
    return this.#users.delete(id);
  }

  /** Drops expired keys; returns how many. */
  prune(): number {
    const now = this.#now();
    let n = 0;
    for (const [id, keys] of this.#users) {
      // Map order is newest-key order and the TTL is fixed: the first user whose newest key
      // is live ends the scan (older expired keys of live users are skipped when read).
      if ((keys[0]?.expiresAt ?? 0) > now) break;
      n += keys.length;
      while (keys.length > 0) this.#dropOldest(keys);
      this.#users.delete(id);
    }
    return n;
  }

  /** Keys currently held (expired ones included until pruned). */
  get size(): number {
    return this.#size;
  }

  #hold(id: string, sharedKey: Uint8Array, expiresAt: number): void {
    const keys = this.#users.get(id) ?? [];
    this.#users.delete(id); // re-insert at the end: map order is newest-key order
    keys.unshift({ sharedKey, expiresAt });
    this.#size++;
    while (keys.length > this.#maxPerUser) this.#dropOldest(keys);
    this.#users.set(id, keys);
    while (this.#size > this.#maxKeys) {
      const [oldestId, oldest] = this.#users.entries().next().value ?? [];
      if (oldestId === undefined || oldest === undefined) break;
      this.#dropOldest(oldest);
      if (oldest.length === 0) this.#users.delete(oldestId);
    }
  }

  #dropOldest(keys: Key[]): void {
    const k = keys.pop();
    if (k === undefined) return;
    k.sharedKey.fill(0);
    this.#size--;
  }

  /** The user's live keys, newest first; throws `KeyExchangeKeyUnknown` when there is none. */
  #live(userPubKey: BytesLike): Key[] {
    const id = bytesToHex(normalizePublicKey(userPubKey, "userPubKey"));
    const keys = this.#users.get(id);
    const now = this.#now();
    const live = keys?.filter((k) => k.expiresAt > now) ?? [];
    if (live.length === 0) throw unknownKey(id, keys === undefined ? "unknown" : "expired");
    return live;
  }

  #opening(userPubKey: BytesLike, wire: Uint8Array): { key: Key; plaintext: Uint8Array } {
    let failure: unknown;
    for (const key of this.#live(userPubKey)) {
      try {
        return { key, plaintext: aesDecrypt(key.sharedKey, wire) };
      } catch (e) {
        failure ??= e; // the tag did not verify under this key: try the next one
      }
    }
    throw failure;
  }
}

function unknownKey(userPubKey: BytesLike, reason: "unknown" | "expired"): EnigmaError {
  const id = typeof userPubKey === "string" ? userPubKey : bytesToHex(toBytes(userPubKey, "key"));
  return new EnigmaError(
    ErrorCode.KeyExchangeKeyUnknown,
    "no live worker encryption key for this user key: ask getWorkerEncryptionKey again",
    { details: { userPubKey: id, reason } },
  );
}

function positiveInt(name: string, v: number): number {
  if (!Number.isSafeInteger(v) || v <= 0) {
    throw new EnigmaError(ErrorCode.InvalidArgument, `${name} must be a positive integer`, {
      details: { [name]: v },
    });
  }
  return v;
}
