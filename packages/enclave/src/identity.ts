import { randomBytes } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  EnigmaError,
  ErrorCode,
  bytesToHex,
  concatBytes,
  decryptFrom,
  enclaveReportData,
  encodeQuote,
  encryptTo,
  generateKeyPair,
  hexToBytes,
  publicKeyOf,
  publicKeyToAddress,
  sameAddress,
  signDigest,
  workerKeyDigest,
  type BytesLike,
  type Hex,
} from "@enigma/protocol";
import { Sealer } from "./sealing.js";

/** What the simulated CPU measures about an enclave build (DESIGN.md section 6). */
export interface EnclaveMeasurement {
  mrenclave: Uint8Array; // 32
  mrsigner: Uint8Array; // 32
  isvProdId: number;
  isvSvn: number;
  debug: boolean;
}

const SEAL_LABEL = "enigma.identity.v1";
const FORMAT = 1;
/** File name of the sealed identity inside a node's data directory. */
export const IDENTITY_FILE = "identity.sealed";

/**
 * An enclave's identity: a secp256k1 signing key, whose Ethereum address is the worker's
 * `signer` (on-chain registration, receipts, worker-key signatures), and a separate
 * secp256k1 key-exchange key (state-key transfer between enclaves). The private keys never
 * leave this object: there is no getter, signing and ECDH happen here, and they are
 * persisted only sealed to the platform.
 *
 * @example
 * const id = await EnclaveIdentity.loadOrCreate(dataDir, platformKey);
 * id.signer; // "0x..." — the address registered on Ethereum
 */
export class EnclaveIdentity {
  readonly #signingKey: Uint8Array;
  readonly #exchangeKey: Uint8Array;
  readonly #signingPublicKey: Uint8Array;
  readonly #exchangePublicKey: Uint8Array;
  /** The signing key's Ethereum address (EIP-55). */
  readonly signer: Hex;

  private constructor(signingKey: Uint8Array, exchangeKey: Uint8Array) {
    this.#signingKey = signingKey;
    this.#exchangeKey = exchangeKey;
    this.#signingPublicKey = publicKeyOf(signingKey);
    this.#exchangePublicKey = publicKeyOf(exchangeKey);
    this.signer = publicKeyToAddress(this.#signingPublicKey);
  }

  /**
   * A new identity: random, or with `seed` (at least 16 bytes) reproducible, for seeded
   * devnets where worker addresses must be the same on every run.
   */
  static generate(seed?: Uint8Array): EnclaveIdentity {
    if (seed === undefined) {
      return new EnclaveIdentity(generateKeyPair().privateKey, generateKeyPair().privateKey);
    }
    const enc = new TextEncoder();
    return new EnclaveIdentity(
      generateKeyPair(concatBytes(seed, enc.encode("/enigma/identity/signing"))).privateKey,
      generateKeyPair(concatBytes(seed, enc.encode("/enigma/identity/exchange"))).privateKey,
    );
  }

  /** Restores an identity from `seal`'s output; throws `SealedDataRejected`. */
  static unseal(sealer: Sealer, blob: Uint8Array): EnclaveIdentity {
    const plain = sealer.unseal(SEAL_LABEL, blob);
    if (plain.length !== 65 || plain[0] !== FORMAT) {
      throw new EnigmaError(ErrorCode.SealedDataRejected, "sealed identity has an unknown format", {
        details: { length: plain.length },
      });
    }
    return new EnclaveIdentity(plain.slice(1, 33), plain.slice(33, 65));
  }

  /**
   * The identity kept in `dir/identity.sealed`, created (and sealed) on first start, the same
   * after every restart. A blob sealed on another platform or altered is refused with
   * `SealedDataRejected` (never silently replaced: that would change the worker's address).
   * With `seed`, the stored identity must be the seeded one (`IdentityMismatch` otherwise).
   */
  static async loadOrCreate(
    dir: string,
    platformKey: Uint8Array | Sealer,
    options: { seed?: Uint8Array } = {},
  ): Promise<EnclaveIdentity> {
    const sealer = platformKey instanceof Sealer ? platformKey : new Sealer(platformKey);
    const file = join(dir, IDENTITY_FILE);
    const blob = await readIfExists(file);
    if (blob !== undefined) {
      const id = EnclaveIdentity.unseal(sealer, blob);
      if (options.seed !== undefined) {
        const expected = EnclaveIdentity.generate(options.seed);
        if (!sameAddress(expected.signer, id.signer)) {
          throw new EnigmaError(
            ErrorCode.IdentityMismatch,
            "the sealed identity on disk is not the one this seed gives: remove the data directory or drop the seed",
            { details: { file, stored: id.signer, seeded: expected.signer } },
          );
        }
      }
      return id;
    }
    const id = EnclaveIdentity.generate(options.seed);
    await mkdir(dir, { recursive: true });
    await writeAtomic(file, id.seal(sealer));
    return id;
  }

  /** The identity sealed to the platform (label-bound AES-256-GCM, see `Sealer`). */
  seal(sealer: Sealer): Uint8Array {
    return sealer.seal(
      SEAL_LABEL,
      concatBytes(Uint8Array.of(FORMAT), this.#signingKey, this.#exchangeKey),
    );
  }

  /** The signing public key, 64 bytes. */
  get signingPublicKey(): Uint8Array {
    return this.#signingPublicKey.slice();
  }

  /** The key-exchange public key, 64 bytes (what another enclave encrypts state keys to). */
  get keyExchangePublicKey(): Uint8Array {
    return this.#exchangePublicKey.slice();
  }

  /** Signs a 32-byte digest with the signing key: 65 bytes `r || s || v` (v = 27/28). */
  sign(digest: Uint8Array): Uint8Array {
    return signDigest(this.#signingKey, digest);
  }

  /** Signs a worker encryption key (DESIGN.md section 5 message format). */
  signWorkerKey(workerEncryptionKey: BytesLike): Hex {
    return bytesToHex(signDigest(this.#signingKey, workerKeyDigest(workerEncryptionKey)));
  }

  /** Encrypts to another key holder with the key-exchange key (ECDH + AES-256-GCM). */
  encryptTo(peerPublicKey: BytesLike, plaintext: Uint8Array, iv?: Uint8Array): Uint8Array {
    return encryptTo(this.#exchangeKey, peerPublicKey, plaintext, iv);
  }

  /** Inverse of the peer's `encryptTo`; throws `DecryptionFailed`. */
  decryptFrom(peerPublicKey: BytesLike, wire: Uint8Array): Uint8Array {
    return decryptFrom(this.#exchangeKey, peerPublicKey, wire);
  }

  /**
   * This enclave's 432-byte quote for `measurement`, with report_data = the signer address,
   * then, when `binding` is given, the custodian account that may register it on `Enigma` and
   * the chain and contract (`enclaveReportData`); zeros after. What the attestation service
   * signs.
   */
  quote(
    measurement: EnclaveMeasurement,
    binding?: { custodian: Uint8Array; chainId: bigint; enigmaAddress: Uint8Array },
  ): Uint8Array {
    return encodeQuote({
      version: 3,
      signType: 1,
      ...measurement,
      reportData: enclaveReportData(hexToBytes(this.signer), binding),
    });
  }

  /** Public parts only: a log line or `JSON.stringify` can never carry a private key. */
  toJSON(): { signer: Hex; signingPublicKey: Hex; keyExchangePublicKey: Hex } {
    return {
      signer: this.signer,
      signingPublicKey: bytesToHex(this.#signingPublicKey),
      keyExchangePublicKey: bytesToHex(this.#exchangePublicKey),
    };
  }
}

/**
 * The platform sealing key kept in `file` (32 raw bytes), created on first use with mode
 * 0600. It stands for the CPU's fused key: a copy of the data directory without it (or
 * with another platform's) cannot be unsealed.
 */
export async function loadOrCreatePlatformKey(file: string): Promise<Uint8Array> {
  const existing = await readIfExists(file);
  if (existing !== undefined) {
    if (existing.length !== 32) {
      throw new EnigmaError(ErrorCode.InvalidConfig, "a platform key file must hold 32 bytes", {
        details: { file, length: existing.length },
      });
    }
    return existing;
  }
  const key = new Uint8Array(randomBytes(32));
  await writeAtomic(file, key);
  return key;
}

async function readIfExists(file: string): Promise<Uint8Array | undefined> {
  try {
    return new Uint8Array(await readFile(file));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}

// Write then rename, so that a crash never leaves a half-written identity behind.
async function writeAtomic(file: string, data: Uint8Array): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, data, { mode: 0o600 });
  await rename(tmp, file);
}
