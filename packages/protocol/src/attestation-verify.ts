import { z } from "zod";
import {
  decodeQuote,
  enclaveReportData,
  type AttestationReport,
  type QuoteFields,
  type SignedAttestationReport,
} from "./attestation.js";
import { base64Decode, base64Encode } from "./base64.js";
import { toBytes, type BytesLike } from "./bytes.js";
import { EnigmaError, ErrorCode } from "./errors.js";
import { bytesToHex, type Hex } from "./hex.js";
import { sameAddress, toChecksumAddress } from "./keys.js";
import { validationIssues } from "./issues.js";

/**
 * The attestation service's RSA public key as the `Enigma` contract stores it: big-endian
 * modulus and exponent as hex.
 */
export interface RsaTrustRoot {
  modulus: Hex;
  exponent: Hex;
}

/** An RSA public key as a JSON Web Key (RFC 7517; `n`, `e` base64url). */
export interface RsaPublicJwk {
  kty: "RSA";
  n: string;
  e: string;
  alg?: string;
  ext?: boolean;
  key_ops?: string[];
}

/**
 * What a verifier accepts (DESIGN.md section 6), as data. `"any"` disables an allow-list
 * explicitly (an empty list accepts nothing).
 */
export interface AttestationPolicy {
  /** `isvEnclaveQuoteStatus` values accepted, for example `["OK"]`. */
  readonly acceptedStatuses: readonly string[];
  /** Accept enclaves built in debug mode (SGX_FLAGS_DEBUG). */
  readonly allowDebug: boolean;
  readonly mrenclaves: readonly Hex[] | "any";
  readonly mrsigners: readonly Hex[] | "any";
  readonly minIsvSvn: number;
}

/** A report that passed every check: the report, its quote's fields, and the signer it binds. */
export interface VerifiedAttestation {
  report: AttestationReport;
  quote: QuoteFields;
  /** The enclave signer address, from the first 20 bytes of report_data (checksummed). */
  signer: Hex;
}

const hex = (bytes?: number) =>
  z
    .string()
    .regex(/^(0x)?([0-9a-fA-F]{2})+$/, "must be non-empty hex")
    .refine((s) => bytes === undefined || s.replace(/^0x/, "").length === 2 * bytes, {
      message: `must be ${bytes ?? 0} bytes`,
    })
    .transform((s): Hex => `0x${s.replace(/^0x/, "").toLowerCase()}`);

export const attestationPolicySchema = z.strictObject({
  acceptedStatuses: z.array(z.string().min(1)).min(1, "accept at least one status"),
  allowDebug: z.boolean(),
  mrenclaves: z.union([z.literal("any"), z.array(hex(32))]),
  mrsigners: z.union([z.literal("any"), z.array(hex(32))]),
  minIsvSvn: z.number().int().min(0).max(0xffff),
});

export const trustRootSchema = z.strictObject({
  modulus: hex().refine(
    (m) => {
      const body = m.slice(2).replace(/^(00)+/, "");
      return body.length >= 512 && body.length <= 1024;
    },
    { message: "must be a 2048- to 4096-bit RSA modulus" },
  ),
  exponent: hex().refine(
    (e) => /[1-9a-f]/.test(e.slice(2)) && e.slice(2).replace(/^(00)+/, "").length <= 8,
    {
      message: "must be a non-zero exponent of at most 4 bytes",
    },
  ),
});

export const attestationReportSchema = z.strictObject({
  id: z.string(),
  timestamp: z.string(),
  version: z.number().int().nonnegative(),
  isvEnclaveQuoteStatus: z.string(),
  isvEnclaveQuoteBody: z.string(),
});

/**
 * Validates a policy (throws `InvalidAttestationPolicy` with the issues); returns a frozen
 * copy, which `verifyAttestationReport` then trusts without validating it again.
 */
export function parseAttestationPolicy(input: unknown): AttestationPolicy {
  const r = attestationPolicySchema.safeParse(input);
  if (!r.success) {
    throw new EnigmaError(ErrorCode.InvalidAttestationPolicy, "invalid attestation policy", {
      details: {
        issues: validationIssues(r.error),
      },
    });
  }
  const p = r.data;
  const frozen: AttestationPolicy = Object.freeze({
    ...p,
    acceptedStatuses: Object.freeze([...p.acceptedStatuses]),
    mrenclaves: p.mrenclaves === "any" ? "any" : Object.freeze([...p.mrenclaves]),
    mrsigners: p.mrsigners === "any" ? "any" : Object.freeze([...p.mrsigners]),
  });
  validatedPolicies.add(frozen);
  return frozen;
}

// Policies returned by parseAttestationPolicy (frozen, so they cannot change afterwards).
const validatedPolicies = new WeakSet<AttestationPolicy>();

/** Validates a trust root (throws `InvalidTrustRoot`); returns it with canonical hex. */
export function parseTrustRoot(input: unknown): RsaTrustRoot {
  const r = trustRootSchema.safeParse(input);
  if (!r.success) {
    throw new EnigmaError(ErrorCode.InvalidTrustRoot, "invalid RSA trust root", {
      details: {
        issues: validationIssues(r.error),
      },
    });
  }
  return {
    modulus: bytesToHex(stripZeros(toBytes(r.data.modulus, "modulus"))),
    exponent: bytesToHex(stripZeros(toBytes(r.data.exponent, "exponent"))),
  };
}

export function trustRootToJwk(root: RsaTrustRoot): RsaPublicJwk {
  const r = parseTrustRoot(root);
  return {
    kty: "RSA",
    n: base64Encode(toBytes(r.modulus, "modulus"), true),
    e: base64Encode(toBytes(r.exponent, "exponent"), true),
  };
}

export function trustRootFromJwk(jwk: { kty?: string; n?: string; e?: string }): RsaTrustRoot {
  if (jwk.kty !== "RSA" || typeof jwk.n !== "string" || typeof jwk.e !== "string") {
    throw new EnigmaError(ErrorCode.InvalidTrustRoot, "not an RSA public JWK", {
      details: { kty: jwk.kty },
    });
  }
  return parseTrustRoot({
    modulus: bytesToHex(base64Decode(jwk.n, true, "jwk.n")),
    exponent: bytesToHex(base64Decode(jwk.e, true, "jwk.e")),
  });
}

/** The trust root as DER SubjectPublicKeyInfo (what PEM "PUBLIC KEY" wraps). */
export async function trustRootToSpki(root: RsaTrustRoot): Promise<Uint8Array> {
  const key = await importKey(root, true);
  return new Uint8Array(await globalThis.crypto.subtle.exportKey("spki", key));
}

export async function trustRootFromSpki(spki: Uint8Array): Promise<RsaTrustRoot> {
  let key: WebCryptoKey;
  try {
    key = await globalThis.crypto.subtle.importKey("spki", new Uint8Array(spki), RSA_ALG, true, [
      "verify",
    ]);
  } catch (cause) {
    throw new EnigmaError(ErrorCode.InvalidTrustRoot, "not an RSA SubjectPublicKeyInfo", { cause });
  }
  const jwk = await globalThis.crypto.subtle.exportKey("jwk", key);
  return trustRootFromJwk(jwk);
}

/** The trust root from a PEM `PUBLIC KEY` block. */
export async function trustRootFromPem(pem: string): Promise<RsaTrustRoot> {
  const m = /-----BEGIN PUBLIC KEY-----([\s\S]*?)-----END PUBLIC KEY-----/.exec(pem);
  if (!m) throw new EnigmaError(ErrorCode.InvalidTrustRoot, "no PEM PUBLIC KEY block");
  return trustRootFromSpki(base64Decode((m[1] ?? "").replace(/\s+/g, ""), false, "PEM"));
}

/**
 * The exact report text that is signed: compact JSON, keys in the order `id, timestamp,
 * version, isvEnclaveQuoteStatus, isvEnclaveQuoteBody` (the `Enigma` contract parses this
 * form and no other).
 */
export function encodeAttestationReport(report: AttestationReport): string {
  return JSON.stringify({
    id: report.id,
    timestamp: report.timestamp,
    version: report.version,
    isvEnclaveQuoteStatus: report.isvEnclaveQuoteStatus,
    isvEnclaveQuoteBody: report.isvEnclaveQuoteBody,
  });
}

/**
 * Checks that a report binds `signer` to `custodian` on `chainId` and `enigmaAddress` (its
 * report_data, see `enclaveReportData`), as `Enigma.register` will: a node checks its own
 * enclave's report before it spends a registration transaction. Throws
 * `AttestationBindingMismatch` (319) naming what differs, `AttestationMalformed` for a report
 * that is not one.
 *
 * @example
 * checkRegistrationBinding(enclave.attestation.report, { signer, custodian, chainId, enigmaAddress });
 */
export function checkRegistrationBinding(
  report: string,
  expected: { signer: BytesLike; custodian: BytesLike; chainId: bigint; enigmaAddress: BytesLike },
): void {
  const quote = decodeQuote(base64Decode(parseAttestationReport(report).isvEnclaveQuoteBody));
  const want = enclaveReportData(toBytes(expected.signer, "signer", 20), {
    custodian: toBytes(expected.custodian, "custodian", 20),
    chainId: expected.chainId,
    enigmaAddress: toBytes(expected.enigmaAddress, "enigmaAddress", 20),
  });
  const got = quote.reportData;
  const part = (from: number, to: number) =>
    bytesToHex(got.subarray(from, to)) === bytesToHex(want.subarray(from, to));
  const differs = !part(0, 20)
    ? "signer"
    : !part(20, 40)
      ? "custodian"
      : !part(40, 64)
        ? "chain or Enigma deployment"
        : undefined;
  if (differs !== undefined) {
    throw new EnigmaError(
      ErrorCode.AttestationBindingMismatch,
      `the attestation's report_data names another ${differs} than the one registering it: the enclave must attest for this custodian, chain and deployment`,
      {
        details: {
          differs,
          reportData: bytesToHex(got),
          expected: bytesToHex(want),
        },
      },
    );
  }
}

/** Parses report text; throws `AttestationMalformed` unless it is in the canonical form. */
export function parseAttestationReport(text: string): AttestationReport {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw fail(ErrorCode.AttestationMalformed, "format", "the report is not JSON", {}, cause);
  }
  const r = attestationReportSchema.safeParse(json);
  if (!r.success) {
    throw fail(
      ErrorCode.AttestationMalformed,
      "format",
      "the report lacks a field or has a wrong type",
      {
        issues: validationIssues(r.error),
      },
    );
  }
  if (encodeAttestationReport(r.data) !== text) {
    throw fail(
      ErrorCode.AttestationMalformed,
      "format",
      "the report is not in canonical form (compact JSON, fixed key order)",
    );
  }
  return r.data;
}

/**
 * Verifies a signed attestation report against the attestation service's trust root and a
 * policy, in this order: RSA-2048 PKCS#1 v1.5 SHA-256 signature over the report's UTF-8
 * bytes, canonical JSON, a 432-byte quote, status, debug flag, MRENCLAVE, MRSIGNER, ISVSVN,
 * and (with `expectedSigner`) that report_data starts with that address. Throws a typed
 * error naming the failed check in `details.check`. Runs in browsers (WebCrypto).
 *
 * @example
 * const { signer, quote } = await verifyAttestationReport(worker.report, trustRoot, policy, worker.signer);
 */
export async function verifyAttestationReport(
  signed: SignedAttestationReport,
  trustRoot: RsaTrustRoot,
  policy: AttestationPolicy,
  expectedSigner?: BytesLike,
): Promise<VerifiedAttestation> {
  const pol = validatedPolicies.has(policy) ? policy : parseAttestationPolicy(policy);
  if (typeof signed.report !== "string" || typeof signed.signature !== "string") {
    throw fail(ErrorCode.AttestationMalformed, "format", "report and signature must be strings");
  }
  const key = await importKey(trustRoot, false);
  let signature: Uint8Array;
  try {
    signature = toBytes(signed.signature, "signature");
  } catch (cause) {
    throw fail(
      ErrorCode.AttestationSignatureInvalid,
      "signature",
      "the signature is not hex",
      {},
      cause,
    );
  }
  const ok = await globalThis.crypto.subtle.verify(
    RSA_ALG,
    key,
    new Uint8Array(signature),
    new TextEncoder().encode(signed.report),
  );
  if (!ok) {
    throw fail(
      ErrorCode.AttestationSignatureInvalid,
      "signature",
      "the report is not signed by the attestation service's trust root",
    );
  }

  const report = parseAttestationReport(signed.report);
  let quote: QuoteFields;
  try {
    quote = decodeQuote(base64Decode(report.isvEnclaveQuoteBody, false, "isvEnclaveQuoteBody"));
  } catch (cause) {
    throw fail(
      ErrorCode.AttestationMalformed,
      "quote",
      "isvEnclaveQuoteBody is not base64 of a 432-byte quote",
      {},
      cause,
    );
  }

  if (!pol.acceptedStatuses.includes(report.isvEnclaveQuoteStatus)) {
    throw fail(
      ErrorCode.AttestationStatusRejected,
      "status",
      `quote status ${report.isvEnclaveQuoteStatus} is not accepted`,
      {
        status: report.isvEnclaveQuoteStatus,
        accepted: pol.acceptedStatuses,
      },
    );
  }
  if (quote.debug && !pol.allowDebug) {
    throw fail(
      ErrorCode.AttestationDebugRejected,
      "debug",
      "the enclave runs in debug mode, which the policy refuses",
    );
  }
  const mrenclave = bytesToHex(quote.mrenclave);
  if (pol.mrenclaves !== "any" && !pol.mrenclaves.includes(mrenclave)) {
    throw fail(
      ErrorCode.AttestationMrenclaveRejected,
      "mrenclave",
      "MRENCLAVE is not in the allow-list",
      { mrenclave },
    );
  }
  const mrsigner = bytesToHex(quote.mrsigner);
  if (pol.mrsigners !== "any" && !pol.mrsigners.includes(mrsigner)) {
    throw fail(
      ErrorCode.AttestationMrsignerRejected,
      "mrsigner",
      "MRSIGNER is not in the allow-list",
      { mrsigner },
    );
  }
  if (quote.isvSvn < pol.minIsvSvn) {
    throw fail(
      ErrorCode.AttestationIsvSvnTooLow,
      "isvSvn",
      `ISVSVN ${quote.isvSvn} is below the minimum ${pol.minIsvSvn}`,
      {
        isvSvn: quote.isvSvn,
        minIsvSvn: pol.minIsvSvn,
      },
    );
  }
  const signer = toChecksumAddress(quote.reportData.slice(0, 20));
  if (
    expectedSigner !== undefined &&
    !sameAddress(signer, toBytes(expectedSigner, "expectedSigner", 20))
  ) {
    throw fail(
      ErrorCode.AttestationSignerMismatch,
      "signer",
      "the report attests another enclave signer",
      {
        attested: signer,
        expected: typeof expectedSigner === "string" ? expectedSigner : bytesToHex(expectedSigner),
      },
    );
  }
  return { report, quote, signer };
}

// lib is ES2023 (no DOM): name WebCrypto's key type through the global the runtime provides.
type WebCryptoKey =
  Awaited<ReturnType<typeof globalThis.crypto.subtle.generateKey>> extends infer K
    ? K extends { publicKey: infer P }
      ? P
      : K
    : never;

const RSA_ALG = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } as const;

// Imported keys are cached (by modulus and exponent), so that a client checking many
// workers against one trust root imports it once; the cache is small and bounded.
const keyCache = new Map<string, Promise<WebCryptoKey>>();
const KEY_CACHE_MAX = 8;

async function importKey(root: RsaTrustRoot, extractable: boolean): Promise<WebCryptoKey> {
  // Keyed by the text as given, so that a cache hit costs no parsing (about 0.2 ms).
  const id = `${root.modulus}.${root.exponent}.${extractable}`;
  let key = keyCache.get(id);
  if (key === undefined) {
    const jwk = trustRootToJwk(root); // validates; throws InvalidTrustRoot
    key = globalThis.crypto.subtle.importKey("jwk", { ...jwk, ext: true }, RSA_ALG, extractable, [
      "verify",
    ]);
    if (keyCache.size >= KEY_CACHE_MAX) {
      const oldest = keyCache.keys().next();
      if (oldest.done !== true) keyCache.delete(oldest.value);
    }
    keyCache.set(id, key);
  }
  try {
    return await key;
  } catch (cause) {
    keyCache.delete(id);
    throw new EnigmaError(ErrorCode.InvalidTrustRoot, "the trust root is not a usable RSA key", {
      cause,
    });
  }
}

function stripZeros(b: Uint8Array): Uint8Array {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.slice(i);
}

function fail(
  code: ErrorCode,
  check: string,
  message: string,
  details: Record<string, unknown> = {},
  cause?: unknown,
): EnigmaError {
  return new EnigmaError(code, `attestation rejected (${check}): ${message}`, {
    details: { check, ...details },
    cause,
  });
}
