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
export {
  QUOTE_BYTES,
  QUOTE_OFFSETS,
  chainTag,
  decodeQuote,
  enclaveReportData,
  encodeQuote,
} from "./attestation.js";
export type { QuoteFields, AttestationReport, SignedAttestationReport } from "./attestation.js";
export { toBytes } from "./bytes.js";
export type { BytesLike } from "./bytes.js";
export { base64Encode, base64Decode } from "./base64.js";
export { inputsHash, deploymentInputsHash } from "./inputs.js";
export {
  generateKeyPair,
  secretKeyFromSeed,
  publicKeyOf,
  normalizePublicKey,
  publicKeyToAddress,
  toChecksumAddress,
  sameAddress,
  signDigest,
  recoverAddress,
  recoverPublicKey,
  parseSignature,
  SignerVerifier,
} from "./keys.js";
export type { KeyPair, ParsedSignature } from "./keys.js";
export { deriveSharedKey, encryptTo, decryptFrom } from "./envelope.js";
export {
  workerKeyMessage,
  workerKeyDigest,
  signWorkerKey,
  recoverWorkerKeySigner,
  verifyWorkerKey,
} from "./workerKey.js";
export {
  parseFunctionSignature,
  parseAbiTypes,
  encodeArgs,
  encodeValues,
  decodeArgs,
  decodeValues,
} from "./abi.js";
export type { FunctionSignature } from "./abi.js";
export {
  RPC_LIMITS,
  RPC_METHODS,
  TaskResultStatus,
  hexSchema,
  addressSchema,
  bytes32Schema,
  publicKey64Schema,
  signatureSchema,
  payloadSchema,
  taskResultStatusSchema,
  getInfoParamsSchema,
  getInfoResultSchema,
  getWorkerEncryptionKeyParamsSchema,
  getWorkerEncryptionKeyResultSchema,
  workerEncryptionKeySchema,
  deploySecretContractParamsSchema,
  sendTaskInputParamsSchema,
  taskInputResultSchema,
  getTaskStatusParamsSchema,
  getTaskStatusResultSchema,
  taskStatusSchema,
  getTaskResultParamsSchema,
  taskResultSchema,
  getTaskResultResultSchema,
  rpcRequestSchema,
  isRpcMethod,
  parseRpcParams,
  parseRpcResult,
  parseMessage,
  toRpcHex,
} from "./schemas.js";
export type { RpcMethod, RpcParams, RpcResult } from "./schemas.js";
export {
  attestationPolicySchema,
  trustRootSchema,
  attestationReportSchema,
  parseAttestationPolicy,
  parseTrustRoot,
  trustRootToJwk,
  trustRootFromJwk,
  trustRootToSpki,
  trustRootFromSpki,
  trustRootFromPem,
  encodeAttestationReport,
  parseAttestationReport,
  checkRegistrationBinding,
  verifyAttestationReport,
} from "./attestation-verify.js";
export type {
  RsaTrustRoot,
  RsaPublicJwk,
  AttestationPolicy,
  VerifiedAttestation,
} from "./attestation-verify.js";
export {
  MAX_STATE_KEYS_PER_REQUEST,
  stateKeyRequestDigest,
  stateKeyResponseDigest,
  stateKeyRequestSchema,
  stateKeyResponseSchema,
} from "./state-keys.js";
export type { StateKeyRequest, StateKeyResponse } from "./state-keys.js";
export {
  DEFAULT_EPOCH_POLICY,
  DEFAULT_SELECTION,
  EPOCH_POLICIES,
  GROUP_MAX_DRAWS,
  SELECTION_STRATEGIES,
  cappedEpochs,
  checkEpoch,
  checkGroup,
  discoveryEpochs,
  discoverySelection,
  drawDistinct,
  drawWorker,
  getEpochPolicy,
  getSelectionStrategy,
  groupSelection,
  isSelectedWorker,
  listEpochPolicies,
  listSelectionStrategies,
  referenceDraws,
  referenceHistory,
  rotationSelection,
  selectGroup,
  selectWorker,
  selectionContract,
} from "./policy/index.js";
export type {
  DiscoverySelection,
  DrawsHistory,
  EpochLookup,
  EpochPolicy,
  EpochStart,
  EpochWorkers,
  PolicyDescriptor,
  SelectionContract,
  SelectionDraws,
  SelectionEpoch,
  WorkerSelectionStrategy,
  WorkerStanding,
} from "./policy/index.js";
export {
  CONTRACT_ERROR_CODES,
  CONTRACT_REVERT_REASONS,
  contractErrorCode,
  contractErrorName,
} from "./abi/contract-errors.js";
export {
  ENIGMA_EIP712_NAME,
  ENIGMA_EIP712_VERSION,
  enigmaDomain,
  enigmaDomainSeparator,
  MAX_RECEIPTS_PER_BATCH,
  receiptBatchDigest,
  receiptBatchDigestOf,
  receiptHash,
  RECEIPT_BATCH_TYPES,
  WORKERS_PARAMS_TYPES,
} from "./abi/receipts.js";
export type { ChainReceipt } from "./abi/receipts.js";
export { ENIGMA_ABI, ENIGMA_TOKEN_ABI, WORKER_SELECTION_ABI } from "./abi/contracts.js";
export { readTaskRecordLog, TASK_RECORD_CREATED_TOPIC } from "./abi/task-record-log.js";
export type { TaskRecordLog } from "./abi/task-record-log.js";
export { validationIssues } from "./issues.js";
export type { ValidationIssue } from "./issues.js";
