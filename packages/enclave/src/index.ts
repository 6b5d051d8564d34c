export { Sealer } from "./sealing.js";
export { ContractRuntime, MAX_TASK_GAS_LIMIT, functionNameOf } from "./runtime/execute.js";
export {
  InlineExecutor,
  ThreadExecutor,
  DEFAULT_DEADLINE,
  newStateId,
} from "./runtime/executor.js";
export type {
  ContractExecutor,
  Deadline,
  ExecutorJob,
  ThreadExecutorOptions,
} from "./runtime/executor.js";
export { LocalContract, LOCAL_CONTRACT_FILE } from "./runtime/local-contract.js";
export { inspectContract } from "./runtime/inspect.js";
export type { ContractInspection } from "./runtime/inspect.js";
export { canonicalJson, JsonValueError } from "./runtime/json-value.js";
export type {
  ExecutionRequest,
  ExecutionResult,
  ExecutionSuccess,
  ExecutionFailure,
  ExecutionError,
  PreparedContract,
  RuntimeOptions,
} from "./runtime/execute.js";
export { DeployedContract } from "./runtime/contract.js";
export type { ExecutorLike, TaskInput, TaskOutcome } from "./runtime/contract.js";
export {
  DEFAULT_EXECUTION_LIMITS,
  HOST_GAS,
  HOST_WORK,
  UNKNOWN_FUNCTION_MARKER,
} from "./runtime/host.js";
export type { EthCall, ExecutionLimits } from "./runtime/host.js";
export { DEFAULT_LIMITS, GAS_COSTS, prepareCode } from "./runtime/metering.js";
export type { RuntimeLimits, PreparedCode } from "./runtime/metering.js";
export { ContractState } from "./state/state.js";
export type { StateChange, StateChanges, StateView } from "./state/state.js";
export {
  ZERO_HASH,
  encodeDelta,
  decodeDelta,
  encryptDelta,
  decryptDelta,
  rebuildState,
} from "./state/deltas.js";
export type { DeltaRecord, EncryptedDelta, RebuildOptions, RebuiltState } from "./state/deltas.js";
export { EnclaveIdentity, IDENTITY_FILE, loadOrCreatePlatformKey } from "./identity.js";
export type { EnclaveMeasurement } from "./identity.js";
export {
  SimulatedAttestationService,
  SIMULATED_ENCLAVE_MEASUREMENT,
  devnetAttestationPolicy,
} from "./attestation-service.js";
export type { AttestOptions } from "./attestation-service.js";
export { checkQuote } from "./attestation-service.js";
export {
  ATTESTATION_REPORT_PATH,
  ATTESTATION_TRUST_ROOT_PATH,
  AttestationServer,
  fetchTrustRoot,
  remoteAttester,
} from "./attestation-server.js";
export type { AttestationServerOptions, RemoteAttesterOptions } from "./attestation-server.js";
export { UserKeyExchange } from "./keyexchange.js";
export type { KeyExchangeOptions, WorkerEncryptionKey } from "./keyexchange.js";
export { StateKeyAuthority, StateKeyStore, MASTER_FILE } from "./statekeys.js";
export type { StateKeyHolder, StateKeyAuthorityOptions, StateKeyAuthorizer } from "./statekeys.js";
export { WorkerEnclave, STATE_KEYS_FILE, RECEIPTS_FILE } from "./worker-enclave.js";
export { EnclaveDebug } from "./debug.js";
export type { DebugStateEntry, DebugTaskInput } from "./debug.js";
export type {
  WorkerEnclaveOptions,
  EnclaveTaskInput,
  EnclaveTaskResult,
  EnclaveDelta,
} from "./worker-enclave.js";
export { PrincipalEnclave } from "./principal-enclave.js";
export type { PrincipalEnclaveOptions } from "./principal-enclave.js";
export { PLATFORM_KEY_FILE, peerIdentityDigest } from "./enclave-base.js";
export type { EnclaveAttester } from "./enclave-base.js";
