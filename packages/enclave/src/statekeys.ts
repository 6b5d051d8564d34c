import { randomBytes } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  EnigmaError,
  ErrorCode,
  aesDecrypt,
  aesEncrypt,
  bytesToHex,
  concatBytes,
  isEnigmaError,
  parseMessage,
  recoverAddress,
  sameAddress,
  stateKeyRequestDigest,
  stateKeyRequestSchema,
  stateKeyResponseDigest,
  stateKeyResponseSchema,
  toBytes,
  verifyAttestationReport,
  type AttestationPolicy,
  type BytesLike,
  type Hex,
  type RsaTrustRoot,
  type SignedAttestationReport,
  type StateKeyRequest,
  type StateKeyResponse,
} from "@enigma/protocol";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import type { EnclaveIdentity } from "./identity.js";
import type { Sealer } from "./sealing.js";

/**
 * Something that holds contract state keys and uses them without showing them: the
 * principal's `StateKeyAuthority` and a worker's `StateKeyStore`.
 */
export interface StateKeyHolder {
  has(contractAddress: BytesLike): boolean;
  /** AES-256-GCM under the contract's state key, wire `ciphertext || tag || iv`. */
  encrypt(contractAddress: BytesLike, plaintext: Uint8Array, iv?: Uint8Array): Uint8Array;
  decrypt(contractAddress: BytesLike, wire: Uint8Array): Uint8Array;
}

// The raw key is reachable only through this symbol, which the package index does not
// export: code inside the enclave (delta encryption) can use it, code outside cannot.
const RAW_KEY = Symbol("enigma.stateKey.raw");
interface RawKeyAccess {
  [RAW_KEY](contractAddress: Uint8Array): Uint8Array;
}

/**
 * Runs `fn` with a contract's raw state key. Enclave-internal: for code in this package
 * that takes a key (for example `encryptDelta`); not exported from the package index.
 */
export function withStateKey<T>(
  holder: StateKeyHolder,
  contractAddress: BytesLike,
  fn: (stateKey: Uint8Array) => T,
): T {
  return fn((holder as StateKeyHolder & RawKeyAccess)[RAW_KEY](address(contractAddress)));
}

export interface StateKeyAuthorityOptions {
  /** The attestation service's public key. */
  trustRoot: RsaTrustRoot;
  /** What a requesting enclave must satisfy. */
  policy: AttestationPolicy;
}

/** Decides whether `signer` may receive the key of `contractAddress` (e.g. is it selected). */
export type StateKeyAuthorizer = (signer: Hex, contractAddress: Hex) => boolean | Promise<boolean>;

const MASTER_LABEL = "enigma.statekeys.master.v1";
/** File name of the principal's sealed master secret. */
export const MASTER_FILE = "statekeys-master.sealed";
const KDF_SALT = new TextEncoder().encode("enigma state key v1");

/**
 * The principal's side: one 32-byte state key per secret contract, derived with HKDF-SHA256
 * from a sealed 32-byte master secret and the contract address, handed out only to an
 * attested enclave and only encrypted to its key-exchange key.
 */
export class StateKeyAuthority implements StateKeyHolder, RawKeyAccess {
  readonly #identity: EnclaveIdentity;
  readonly #master: Uint8Array;
  readonly #trustRoot: RsaTrustRoot;
  readonly #policy: AttestationPolicy;

  private constructor(
    identity: EnclaveIdentity,
    master: Uint8Array,
    options: StateKeyAuthorityOptions,
  ) {
    this.#identity = identity;
    this.#master = master;
    this.#trustRoot = options.trustRoot;
    this.#policy = options.policy;
  }

  /** A new authority with a random master secret, or one derived from `seed` (devnets). */
  static generate(
    identity: EnclaveIdentity,
    options: StateKeyAuthorityOptions & { seed?: Uint8Array },
  ): StateKeyAuthority {
    const master =
      options.seed === undefined
        ? new Uint8Array(randomBytes(32))
        : hkdf(sha256, options.seed, KDF_SALT, new TextEncoder().encode("master"), 32);
    return new StateKeyAuthority(identity, master, options);
  }

  /** The authority whose master secret is sealed in `dir`, created on first start. */
  static async loadOrCreate(
    dir: string,
    sealer: Sealer,
    identity: EnclaveIdentity,
    options: StateKeyAuthorityOptions & { seed?: Uint8Array },
  ): Promise<StateKeyAuthority> {
    const file = join(dir, MASTER_FILE);
    let blob: Uint8Array | undefined;
    try {
      blob = new Uint8Array(await readFile(file));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
    if (blob !== undefined) {
      const master = sealer.unseal(MASTER_LABEL, blob);
      if (master.length !== 32) {
        throw new EnigmaError(
          ErrorCode.SealedDataRejected,
          "sealed master secret has a wrong size",
        );
      }
      return new StateKeyAuthority(identity, master, options);
    }
    const authority = StateKeyAuthority.generate(identity, options);
    await mkdir(dir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, sealer.seal(MASTER_LABEL, authority.#master), { mode: 0o600 });
    await rename(tmp, file);
    return authority;
  }

  /** The principal's signer address (what the `Enigma` contract knows as principal). */
  get signer(): Hex {
    return this.#identity.signer;
  }

  /**
   * Answers a state-key request: checks its shape, that its signature recovers to a signer
   * whose attestation passes the verifier (trust root and policy) for that same signer, and
   * `authorize` for each contract; then returns each key encrypted to the requester's
   * key-exchange key, signed by the principal. Throws `StateKeyRequestRefused` (the cause
   * names the failed check) and changes nothing.
   */
  async issue(request: StateKeyRequest, authorize?: StateKeyAuthorizer): Promise<StateKeyResponse> {
    let req;
    try {
      req = parseMessage(stateKeyRequestSchema, request, "state key request");
    } catch (cause) {
      throw refused("malformed request", {}, cause);
    }
    let signer: Hex;
    try {
      signer = recoverAddress(
        stateKeyRequestDigest(req.keyExchangePublicKey, req.contractAddresses),
        req.signature,
      );
    } catch (cause) {
      throw refused("the request signature is invalid", {}, cause);
    }
    try {
      await verifyAttestationReport(req.attestation, this.#trustRoot, this.#policy, signer);
    } catch (cause) {
      const check = isEnigmaError(cause) ? cause.details.check : undefined;
      throw refused(
        "the requester is not an attested enclave for this signer",
        { signer, check },
        cause,
      );
    }
    if (authorize !== undefined) {
      for (const c of req.contractAddresses) {
        if (!(await authorize(signer, c))) {
          throw refused("the requester may not receive this contract's state key", {
            signer,
            contractAddress: c,
          });
        }
      }
    }
    const keys = req.contractAddresses.map((contractAddress) => ({
      contractAddress,
      encryptedKey: bytesToHex(
        this.#identity.encryptTo(
          req.keyExchangePublicKey,
          this.#derive(toBytes(contractAddress, "contractAddress")),
        ),
      ),
    }));
    const unsigned = {
      principal: this.#identity.signer,
      principalKeyExchangePublicKey: bytesToHex(this.#identity.keyExchangePublicKey),
      recipient: signer,
      keys,
    };
    return {
      ...unsigned,
      signature: bytesToHex(this.#identity.sign(stateKeyResponseDigest(unsigned))),
    };
  }

  has(contractAddress: BytesLike): boolean {
    address(contractAddress);
    return true;
  }

  encrypt(contractAddress: BytesLike, plaintext: Uint8Array, iv?: Uint8Array): Uint8Array {
    return aesEncrypt(this.#derive(address(contractAddress)), plaintext, iv);
  }

  decrypt(contractAddress: BytesLike, wire: Uint8Array): Uint8Array {
    return aesDecrypt(this.#derive(address(contractAddress)), wire);
  }

  [RAW_KEY](contractAddress: Uint8Array): Uint8Array {
    return this.#derive(contractAddress);
  }

  #derive(contractAddress: Uint8Array): Uint8Array {
    return hkdf(sha256, this.#master, KDF_SALT, contractAddress, 32);
  }
}

const STORE_LABEL = "enigma.statekeys.store.v1";

/**
 * A worker enclave's state keys: asks the principal (`createRequest`), takes in its answer
 * (`accept`), and keeps the keys inside. They can be sealed to the platform across restarts.
 */
export class StateKeyStore implements StateKeyHolder, RawKeyAccess {
  readonly #identity: EnclaveIdentity;
  readonly #keys = new Map<string, Uint8Array>();

  constructor(identity: EnclaveIdentity) {
    this.#identity = identity;
  }

  /** A request for `contractAddresses`, signed by this enclave, carrying its attestation. */
  createRequest(
    attestation: SignedAttestationReport,
    contractAddresses: readonly BytesLike[],
  ): StateKeyRequest {
    const addresses = contractAddresses.map((a) => bytesToHex(address(a)));
    const kx = this.#identity.keyExchangePublicKey;
    return {
      attestation: { report: attestation.report, signature: attestation.signature },
      keyExchangePublicKey: bytesToHex(kx),
      contractAddresses: addresses,
      signature: bytesToHex(this.#identity.sign(stateKeyRequestDigest(kx, addresses))),
    };
  }

  /**
   * Takes in a principal's answer: it must be signed by `expectedPrincipal`, addressed to
   * this enclave, and every key must decrypt. All or nothing; returns the contract
   * addresses now held. Throws `SignerMismatch`, `InvalidSignature` or `DecryptionFailed`.
   */
  accept(response: StateKeyResponse, expectedPrincipal: BytesLike): Hex[] {
    const res = parseMessage(stateKeyResponseSchema, response, "state key response");
    const signer = recoverAddress(stateKeyResponseDigest(res), res.signature);
    if (
      !sameAddress(signer, toBytes(expectedPrincipal, "expectedPrincipal", 20)) ||
      !sameAddress(signer, res.principal)
    ) {
      throw new EnigmaError(
        ErrorCode.SignerMismatch,
        "the state keys are not signed by the principal",
        {
          details: { recovered: signer, principal: res.principal },
        },
      );
    }
    if (!sameAddress(res.recipient, this.#identity.signer)) {
      throw new EnigmaError(
        ErrorCode.SignerMismatch,
        "the state keys are addressed to another enclave",
        {
          details: { recipient: res.recipient, self: this.#identity.signer },
        },
      );
    }
    const decrypted = res.keys.map((k) => {
      const key = this.#identity.decryptFrom(
        res.principalKeyExchangePublicKey,
        toBytes(k.encryptedKey, "encryptedKey"),
      );
      if (key.length !== 32) {
        throw new EnigmaError(ErrorCode.DecryptionFailed, "a state key must be 32 bytes", {
          details: { contractAddress: k.contractAddress },
        });
      }
      return [k.contractAddress, key] as const;
    });
    for (const [a, key] of decrypted) this.#keys.set(a, key);
    return decrypted.map(([a]) => a);
  }

  has(contractAddress: BytesLike): boolean {
    return this.#keys.has(bytesToHex(address(contractAddress)));
  }

  encrypt(contractAddress: BytesLike, plaintext: Uint8Array, iv?: Uint8Array): Uint8Array {
    return aesEncrypt(this[RAW_KEY](address(contractAddress)), plaintext, iv);
  }

  decrypt(contractAddress: BytesLike, wire: Uint8Array): Uint8Array {
    return aesDecrypt(this[RAW_KEY](address(contractAddress)), wire);
  }

  [RAW_KEY](contractAddress: Uint8Array): Uint8Array {
    const key = this.#keys.get(bytesToHex(contractAddress));
    if (key === undefined) {
      throw new EnigmaError(
        ErrorCode.StateKeyUnknown,
        "this enclave holds no state key for the contract: request it from the principal",
        {
          details: { contractAddress: bytesToHex(contractAddress) },
        },
      );
    }
    return key;
  }

  /** Contract addresses whose keys are held. */
  contracts(): Hex[] {
    return [...this.#keys.keys()] as Hex[];
  }

  /** All held keys, sealed to the platform. */
  seal(sealer: Sealer): Uint8Array {
    return sealer.seal(
      STORE_LABEL,
      concatBytes(...[...this.#keys].flatMap(([a, k]) => [toBytes(a, "contractAddress"), k])),
    );
  }

  /** A store with the keys of `seal`'s output; throws `SealedDataRejected`. */
  static unseal(identity: EnclaveIdentity, sealer: Sealer, blob: Uint8Array): StateKeyStore {
    const plain = sealer.unseal(STORE_LABEL, blob);
    if (plain.length % 64 !== 0) {
      throw new EnigmaError(ErrorCode.SealedDataRejected, "sealed state keys have a wrong size");
    }
    const store = new StateKeyStore(identity);
    for (let o = 0; o < plain.length; o += 64) {
      store.#keys.set(bytesToHex(plain.subarray(o, o + 32)), plain.slice(o + 32, o + 64));
    }
    return store;
  }
}

function address(a: BytesLike): Uint8Array {
  return toBytes(a, "contractAddress", 32);
}

function refused(
  reason: string,
  details: Record<string, unknown> = {},
  cause?: unknown,
): EnigmaError {
  return new EnigmaError(ErrorCode.StateKeyRequestRefused, `state key request refused: ${reason}`, {
    details: { reason, ...details },
    cause,
  });
}
