import { keccak256 } from "./crypto.js";
import { EnigmaError, ErrorCode } from "./errors.js";
import { hexToBytes } from "./hex.js";

/**
 * The simulated SGX quote (DESIGN.md section 6): 432 bytes laid out like SGX's, so that code
 * written against real quotes reads the same offsets. Integers are little-endian as in SGX.
 */
export const QUOTE_BYTES = 432;
export const QUOTE_OFFSETS = Object.freeze({
  version: 0, // u16
  signType: 2, // u16
  /** Report body attributes.flags (u64); bit 1 (0x02) is SGX_FLAGS_DEBUG. */
  attributesFlags: 96,
  mrenclave: 112, // 32 bytes
  mrsigner: 176, // 32 bytes
  isvProdId: 304, // u16
  isvSvn: 306, // u16
  /** 64 bytes; the first 20 are the enclave signer's Ethereum address. */
  reportData: 368,
});
const SGX_FLAGS_DEBUG = 0x02;

export interface QuoteFields {
  version: number;
  signType: number;
  debug: boolean;
  mrenclave: Uint8Array; // 32
  mrsigner: Uint8Array; // 32
  isvProdId: number;
  isvSvn: number;
  reportData: Uint8Array; // 64
}

/** The IAS-style JSON report the simulated attestation service signs. */
export interface AttestationReport {
  id: string;
  timestamp: string;
  version: number;
  isvEnclaveQuoteStatus: string;
  /** base64 of the 432-byte quote. */
  isvEnclaveQuoteBody: string;
}

/**
 * A report as a worker submits it: the exact JSON text that was signed (its UTF-8 bytes are
 * what RSA-2048 PKCS#1 v1.5 SHA-256 covers) and the signature as 0x hex.
 */
export interface SignedAttestationReport {
  report: string;
  signature: `0x${string}`;
}

function fixed(name: string, b: Uint8Array, len: number): Uint8Array {
  if (b.length !== len) {
    throw new EnigmaError(ErrorCode.InvalidArgument, `${name} must be ${len} bytes`, {
      details: { length: b.length },
    });
  }
  return b;
}

function u16(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff) {
    throw new EnigmaError(ErrorCode.InvalidArgument, `${name} must be a uint16`, {
      details: { value: v },
    });
  }
  return v;
}

/** Lays out a quote. `reportData` may be shorter than 64 bytes (zero-padded). */
export function encodeQuote(f: QuoteFields): Uint8Array {
  const q = new Uint8Array(QUOTE_BYTES);
  const dv = new DataView(q.buffer);
  dv.setUint16(QUOTE_OFFSETS.version, u16("version", f.version), true);
  dv.setUint16(QUOTE_OFFSETS.signType, u16("signType", f.signType), true);
  dv.setBigUint64(QUOTE_OFFSETS.attributesFlags, f.debug ? BigInt(SGX_FLAGS_DEBUG) : 0n, true);
  q.set(fixed("mrenclave", f.mrenclave, 32), QUOTE_OFFSETS.mrenclave);
  q.set(fixed("mrsigner", f.mrsigner, 32), QUOTE_OFFSETS.mrsigner);
  dv.setUint16(QUOTE_OFFSETS.isvProdId, u16("isvProdId", f.isvProdId), true);
  dv.setUint16(QUOTE_OFFSETS.isvSvn, u16("isvSvn", f.isvSvn), true);
  if (f.reportData.length > 64) {
    throw new EnigmaError(ErrorCode.InvalidArgument, "reportData must be at most 64 bytes", {
      details: { length: f.reportData.length },
    });
  }
  q.set(f.reportData, QUOTE_OFFSETS.reportData);
  return q;
}

/** Reads a quote's fields; throws `InvalidArgument` when it is not 432 bytes. */
export function decodeQuote(q: Uint8Array): QuoteFields {
  fixed("quote", q, QUOTE_BYTES);
  const dv = new DataView(q.buffer, q.byteOffset, q.byteLength);
  return {
    version: dv.getUint16(QUOTE_OFFSETS.version, true),
    signType: dv.getUint16(QUOTE_OFFSETS.signType, true),
    debug: (dv.getBigUint64(QUOTE_OFFSETS.attributesFlags, true) & BigInt(SGX_FLAGS_DEBUG)) !== 0n,
    mrenclave: q.slice(QUOTE_OFFSETS.mrenclave, QUOTE_OFFSETS.mrenclave + 32),
    mrsigner: q.slice(QUOTE_OFFSETS.mrsigner, QUOTE_OFFSETS.mrsigner + 32),
    isvProdId: dv.getUint16(QUOTE_OFFSETS.isvProdId, true),
    isvSvn: dv.getUint16(QUOTE_OFFSETS.isvSvn, true),
    reportData: q.slice(QUOTE_OFFSETS.reportData, QUOTE_OFFSETS.reportData + 64),
  };
}

/**
 * The 24 bytes by which a registration report names a chain and an `Enigma` contract:
 * `keccak256(abi.encode(uint256 chainId, address enigma))[0:24]` (`Attestation.chainTag`).
 */
export function chainTag(chainId: bigint, enigmaAddress: Uint8Array): Uint8Array {
  if (chainId < 0n || chainId >= 1n << 256n) {
    throw new EnigmaError(ErrorCode.InvalidArgument, "chainId must be a uint256", {
      details: { chainId: String(chainId) },
    });
  }
  const word = new Uint8Array(64);
  word.set(hexToBytes(`0x${chainId.toString(16).padStart(64, "0")}`), 0);
  word.set(fixed("enigmaAddress", enigmaAddress, 20), 44);
  return keccak256(word).slice(0, 24);
}

/**
 * The report_data of an enclave's attestation: its signer (20 bytes), then, when it is bound
 * for registration, the custodian account that may register it (20) and the `chainTag` of the
 * chain and contract (24). `Enigma.register` refuses a report bound to anyone else, so nobody
 * can register an enclave for somebody else (DESIGN.md section 6, contracts/README.md).
 */
export function enclaveReportData(
  signer: Uint8Array,
  binding?: { custodian: Uint8Array; chainId: bigint; enigmaAddress: Uint8Array },
): Uint8Array {
  const data = new Uint8Array(binding === undefined ? 20 : 64);
  data.set(fixed("signer", signer, 20), 0);
  if (binding !== undefined) {
    data.set(fixed("custodian", binding.custodian, 20), 20);
    data.set(chainTag(binding.chainId, binding.enigmaAddress), 40);
  }
  return data;
}
