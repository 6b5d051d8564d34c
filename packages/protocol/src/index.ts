export { TaskStatus, ENG_DECIMALS, GRAINS_PER_ENG } from "./constants.js";
export { EnigmaError, ErrorCode, errorName, isEnigmaError } from "./errors.js";
export type { EnigmaErrorOptions, ErrorName } from "./errors.js";
export { bytesToHex, hexToBytes } from "./hex.js";
export type { Hex } from "./hex.js";
export { taskId } from "./ids.js";
export { engToGrains, grainsToEng } from "./amounts.js";
export { HOST_FUNCTIONS, CONTRACT_EXPORTS } from "./host.js";
export type { HostFunction } from "./host.js";
export {
  keccak256,
  sha256,
  u64be,
  concatBytes,
  equalBytes,
  aesEncrypt,
  aesDecrypt,
  AES_KEY_BYTES,
  GCM_IV_BYTES,
  GCM_TAG_BYTES,
} from "./crypto.js";
export { QUOTE_BYTES, QUOTE_OFFSETS, encodeQuote, decodeQuote } from "./attestation.js";
export type { QuoteFields, AttestationReport, SignedAttestationReport } from "./attestation.js";
