export { PRESETS, resolveDevnetOptions } from "./presets.js";
export type { DevnetOptions, PresetName } from "./presets.js";
export { NODE_PROCESS_FLAGS, startDevnet } from "./devnet.js";
export type {
  Devnet,
  DevnetChain,
  DevnetInfo,
  DevnetNode,
  FaultyWorkerKind,
  LogLevel,
  NodeRole,
  StartDevnetOptions,
} from "./devnet.js";
export {
  ENG,
  FAULTY_ENCLAVE_MEASUREMENT,
  NODE_SECRETS_FILE,
  checkChainOptions,
  removeDeployment,
  startChain,
} from "./chain.js";
export type {
  Chain,
  ChainDeployment,
  DevnetAccount,
  NodeSecretsFile,
  StartChainOptions,
} from "./chain.js";
export { deployEnigma, readArtifact } from "./deploy.js";
export { SNAPSHOTS, readSnapshot, snapshotDir } from "./snapshot.js";
export type { ChainHistory, DevnetSnapshot, RecordedBlock } from "./snapshot.js";
export type { AttestationParams, EnigmaDeployParams, EnigmaDeployment } from "./deploy.js";
export * from "./faults/index.js";
