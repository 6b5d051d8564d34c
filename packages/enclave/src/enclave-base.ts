// What the worker and principal enclaves share: the platform (its sealing key kept in the
// enclave directory), the sealed identity, the attestation obtained at start, and signatures
// over fixed message formats only (EIP-712 for the Enigma contract, the peer-identity message).
// There is deliberately no "sign this digest" entry point: it would let code outside the
// enclave sign a receipt batch the enclave never produced.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import {
  EnigmaError,
  ErrorCode,
  base64Encode,
  concatBytes,
  enigmaDomainSeparator,
  keccak256,
  parseAttestationReport,
  toBytes,
  toChecksumAddress,
  type Hex,
  type SignedAttestationReport,
} from "@enigma/protocol";
import { TypedDataEncoder, type TypedDataField } from "ethers";
import { SIMULATED_ENCLAVE_MEASUREMENT } from "./attestation-service.js";
import { EnclaveIdentity, loadOrCreatePlatformKey, type EnclaveMeasurement } from "./identity.js";
import { Sealer } from "./sealing.js";

/**
 * Obtains an attestation report for a 432-byte quote, e.g. `(q) => service.attest(q)` with a
 * `SimulatedAttestationService`, or a call to a remote one.
 */
export interface EnclaveAttester {
  (quote: Uint8Array): SignedAttestationReport | Promise<SignedAttestationReport>;
}

/** File name of the simulated CPU's sealing key inside an enclave directory. */
export const PLATFORM_KEY_FILE = "platform.key";

export interface PlatformOptions {
  dir: string;
  seed?: Uint8Array | undefined;
  attest: EnclaveAttester;
  measurement?: EnclaveMeasurement | undefined;
  /**
   * The account allowed to register this enclave on `Enigma` at `enigmaAddress` on `chainId`:
   * the attestation's report_data names it (`enclaveReportData`), and `register` refuses the
   * report from anyone else. Without it the report names only the signer (it cannot register).
   */
  custodian?: string | undefined;
  chainId: bigint;
  enigmaAddress: string;
}

export interface Platform {
  sealer: Sealer;
  identity: EnclaveIdentity;
  attestation: SignedAttestationReport;
}

/**
 * Opens an enclave directory: the platform key (created on first use), the sealed identity
 * (the same after a restart; seeded when `seed` is given) and a fresh attestation whose
 * report_data names the identity's signer (and `custodian`, chain and contract). Throws `AttestationSignerMismatch` when the
 * attester answers for another quote.
 */
export async function openPlatform(o: PlatformOptions): Promise<Platform> {
  await mkdir(o.dir, { recursive: true });
  const sealer = new Sealer(await loadOrCreatePlatformKey(join(o.dir, PLATFORM_KEY_FILE)));
  const identity = await EnclaveIdentity.loadOrCreate(
    o.dir,
    sealer,
    o.seed === undefined ? {} : { seed: o.seed },
  );
  const quote = identity.quote(
    o.measurement ?? SIMULATED_ENCLAVE_MEASUREMENT,
    o.custodian === undefined
      ? undefined
      : {
          custodian: toBytes(o.custodian, "custodian", 20),
          chainId: o.chainId,
          enigmaAddress: toBytes(o.enigmaAddress, "enigmaAddress", 20),
        },
  );
  const attestation = await o.attest(quote);
  // The report must be about this quote; its signature is checked by whoever relies on it
  // (the Enigma contract, clients, the principal), who hold the trust root.
  if (parseAttestationReport(attestation.report).isvEnclaveQuoteBody !== base64Encode(quote)) {
    throw new EnigmaError(
      ErrorCode.AttestationSignerMismatch,
      "the attestation service answered for another quote than this enclave's",
      { details: { signer: identity.signer } },
    );
  }
  return { sealer, identity, attestation: { ...attestation } };
}

/** keccak256 of `seed || label`: independent sub-seeds from one devnet seed. */
export function subSeed(seed: Uint8Array, label: string): Uint8Array {
  return keccak256(concatBytes(seed, new TextEncoder().encode(label)));
}

// ethers wants mutable field lists; the protocol's constants are readonly.
function mutableTypes(
  types: Readonly<Record<string, readonly TypedDataField[]>>,
): Record<string, TypedDataField[]> {
  return Object.fromEntries(Object.entries(types).map(([k, v]) => [k, [...v]]));
}

/**
 * EIP-712 under the Enigma domain (`enigmaDomain(chainId, enigmaAddress)`): the digest a
 * contract's `_hashTypedDataV4` computes for a value of `types`.
 */
export class Eip712 {
  readonly chainId: bigint;
  /** The `Enigma` contract's address, checksummed. */
  readonly verifyingContract: Hex;
  readonly #domainSeparator: Uint8Array;
  readonly #encoders = new Map<object, TypedDataEncoder>();

  constructor(chainId: bigint, enigmaAddress: string) {
    if (typeof chainId !== "bigint" || chainId < 0n) {
      throw new EnigmaError(ErrorCode.InvalidArgument, "chainId must be a non-negative bigint", {
        details: { chainId: String(chainId) },
      });
    }
    this.chainId = chainId;
    this.verifyingContract = toChecksumAddress(toBytes(enigmaAddress, "enigmaAddress", 20));
    this.#domainSeparator = enigmaDomainSeparator(chainId, this.verifyingContract);
  }

  encoder(types: Readonly<Record<string, readonly TypedDataField[]>>): TypedDataEncoder {
    let e = this.#encoders.get(types);
    if (e === undefined) {
      e = TypedDataEncoder.from(mutableTypes(types));
      this.#encoders.set(types, e);
    }
    return e;
  }

  /** `keccak256(0x1901 || domainSeparator || hashStruct(value))`. */
  digest(
    types: Readonly<Record<string, readonly TypedDataField[]>>,
    value: Record<string, unknown>,
  ): Uint8Array {
    const structHash = toBytes(this.encoder(types).hash(value), "structHash");
    return keccak256(concatBytes(Uint8Array.of(0x19, 0x01), this.#domainSeparator, structHash));
  }
}

/**
 * The digest an enclave signs to own a libp2p peer id:
 * `keccak256(utf8("Enigma Peer Identity\n" + peerId))` (the node's `identityDigest`).
 */
export function peerIdentityDigest(peerId: string): Uint8Array {
  if (typeof peerId !== "string" || peerId.length === 0 || peerId.length > 256) {
    throw new EnigmaError(ErrorCode.InvalidArgument, "peerId must be a non-empty string");
  }
  return keccak256(new TextEncoder().encode(`Enigma Peer Identity\n${peerId}`));
}
