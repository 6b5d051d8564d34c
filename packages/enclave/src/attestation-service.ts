import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign,
  type KeyObject,
} from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import {
  EnigmaError,
  ErrorCode,
  base64Encode,
  bytesToHex,
  QUOTE_BYTES,
  decodeQuote,
  encodeAttestationReport,
  parseAttestationPolicy,
  trustRootFromJwk,
  type AttestationPolicy,
  type Hex,
  type QuoteFields,
  type RsaTrustRoot,
  type SignedAttestationReport,
} from "@enigma/protocol";
import { sha256 } from "@noble/hashes/sha2.js";
import type { EnclaveIdentity, EnclaveMeasurement } from "./identity.js";

const enc = new TextEncoder();

/**
 * The measurement of the simulated enclave build: fixed values, so that every devnet node
 * runs "the same enclave" and a policy can allow-list it.
 */
export const SIMULATED_ENCLAVE_MEASUREMENT: Readonly<EnclaveMeasurement> = Object.freeze({
  mrenclave: sha256(enc.encode("enigma simulated enclave v1")),
  mrsigner: sha256(enc.encode("enigma simulated enclave signer v1")),
  isvProdId: 0,
  isvSvn: 1,
  debug: false,
});

/** The policy a devnet uses: status OK, no debug enclaves, the simulated build only. */
export function devnetAttestationPolicy(): AttestationPolicy {
  return parseAttestationPolicy({
    acceptedStatuses: ["OK"],
    allowDebug: false,
    mrenclaves: [bytesToHex(SIMULATED_ENCLAVE_MEASUREMENT.mrenclave)],
    mrsigners: [bytesToHex(SIMULATED_ENCLAVE_MEASUREMENT.mrsigner)],
    minIsvSvn: SIMULATED_ENCLAVE_MEASUREMENT.isvSvn,
  });
}

export interface AttestOptions {
  /** `isvEnclaveQuoteStatus`; "OK" unless a test wants another (e.g. "GROUP_OUT_OF_DATE"). */
  status?: string;
  /** Report time; now by default. */
  timestamp?: Date;
  /** Report id; random by default. */
  id?: string;
}

/**
 * What the simulated service checks of a quote before it signs a report over it, as IAS
 * checks a quote's structure: 432 bytes, an EPID quote (version 2 or 3, signature type 0 or 1),
 * a measured enclave (MRENCLAVE and MRSIGNER not zero) and report data that names a signer (its
 * first 20 bytes not zero). Whether a measurement is acceptable is the relying party's policy,
 * not the service's. Throws `AttestationQuoteRejected` naming the failed check.
 */
export function checkQuote(quote: Uint8Array): QuoteFields {
  const reject = (check: string, message: string): never => {
    throw new EnigmaError(
      ErrorCode.AttestationQuoteRejected,
      `not a well-formed quote: ${message}`,
      {
        details: { check },
      },
    );
  };
  if (!(quote instanceof Uint8Array) || quote.length !== QUOTE_BYTES) {
    reject("length", `a quote is ${QUOTE_BYTES} bytes`);
  }
  const q = decodeQuote(quote);
  if (q.version !== 2 && q.version !== 3) reject("version", `quote version ${q.version}`);
  if (q.signType !== 0 && q.signType !== 1) reject("signType", `signature type ${q.signType}`);
  const zero = (b: Uint8Array) => b.every((x) => x === 0);
  if (zero(q.mrenclave)) reject("mrenclave", "MRENCLAVE is zero");
  if (zero(q.mrsigner)) reject("mrsigner", "MRSIGNER is zero");
  if (zero(q.reportData.subarray(0, 20))) reject("reportData", "report_data names no signer");
  return q;
}

/**
 * The simulated Intel Attestation Service: an RSA-2048 key (the devnet's trust root, given
 * to the `Enigma` contract and to clients) that signs IAS-style JSON reports over quotes
 * (RSASSA-PKCS1-v1_5, SHA-256, over the report's UTF-8 bytes).
 *
 * @example
 * const ias = await SimulatedAttestationService.loadOrCreate(".devnet/ias.pem");
 * const signed = ias.attestEnclave(identity); // { report, signature } for register()
 */
export class SimulatedAttestationService {
  readonly #key: KeyObject;
  /** The RSA public key as the contract stores it. */
  readonly trustRoot: RsaTrustRoot;

  private constructor(key: KeyObject) {
    if (key.asymmetricKeyType !== "rsa" || (key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) {
      throw new EnigmaError(
        ErrorCode.InvalidTrustRoot,
        "the attestation service needs an RSA key of at least 2048 bits",
        {
          details: { type: key.asymmetricKeyType },
        },
      );
    }
    this.#key = key;
    this.trustRoot = trustRootFromJwk(createPublicKey(key).export({ format: "jwk" }));
  }

  /** A service with a fresh RSA-2048 key (about 50-200 ms). */
  static generate(): SimulatedAttestationService {
    return new SimulatedAttestationService(
      generateKeyPairSync("rsa", { modulusLength: 2048, publicExponent: 0x10001 }).privateKey,
    );
  }

  /** A service from a PKCS#8 (or PKCS#1) PEM private key. */
  static fromPem(pem: string): SimulatedAttestationService {
    let key: KeyObject;
    try {
      key = createPrivateKey(pem);
    } catch (cause) {
      throw new EnigmaError(ErrorCode.InvalidTrustRoot, "not a PEM RSA private key", { cause });
    }
    return new SimulatedAttestationService(key);
  }

  /** The service whose key is kept in `file` (PEM, mode 0600), created on first use. */
  static async loadOrCreate(file: string): Promise<SimulatedAttestationService> {
    try {
      return SimulatedAttestationService.fromPem(await readFile(file, "utf8"));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
    const service = SimulatedAttestationService.generate();
    await mkdir(dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, service.exportPem(), { mode: 0o600 });
    await rename(tmp, file);
    return service;
  }

  /** The private key as PKCS#8 PEM, for persistence (this is the service, not an enclave). */
  exportPem(): string {
    return this.#key.export({ format: "pem", type: "pkcs8" }).toString();
  }

  /** The trust root as a PEM `PUBLIC KEY`. */
  publicKeyPem(): string {
    return createPublicKey(this.#key).export({ format: "pem", type: "spki" }).toString();
  }

  /**
   * Signs a report over a 432-byte quote. The report text is the canonical compact JSON the
   * contract parses (`encodeAttestationReport`).
   */
  attest(quote: Uint8Array, options: AttestOptions = {}): SignedAttestationReport {
    checkQuote(quote);
    const report = encodeAttestationReport({
      id: options.id ?? BigInt(bytesToHex(randomBytes(16))).toString(),
      // IAS prints microseconds and no zone.
      timestamp: (options.timestamp ?? new Date()).toISOString().replace("Z", "000"),
      version: 3,
      isvEnclaveQuoteStatus: options.status ?? "OK",
      isvEnclaveQuoteBody: base64Encode(quote),
    });
    const signature: Hex = bytesToHex(sign("sha256", enc.encode(report), this.#key));
    return { report, signature };
  }

  /** Attests an enclave identity running the simulated build (or `measurement`). */
  attestEnclave(
    identity: EnclaveIdentity,
    measurement: EnclaveMeasurement = SIMULATED_ENCLAVE_MEASUREMENT,
    options: AttestOptions = {},
  ): SignedAttestationReport {
    return this.attest(identity.quote(measurement), options);
  }
}
