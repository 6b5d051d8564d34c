export { PRESETS, resolveDevnetOptions } from "./presets.js";
export type { DevnetOptions, PresetName } from "./presets.js";
export { ENG, startDevnet } from "./devnet.js";
export type {
  Devnet,
  DevnetAccount,
  DevnetChain,
  DevnetInfo,
  DevnetNode,
  LogLevel,
  NodeRole,
  StartDevnetOptions,
} from "./devnet.js";
export { deployEnigma, readArtifact } from "./deploy.js";
export type { AttestationParams, EnigmaDeployParams, EnigmaDeployment } from "./deploy.js";
