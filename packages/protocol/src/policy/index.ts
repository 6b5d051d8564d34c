// The policy module: worker-selection strategies and epoch policies, one registry of both.
export type {
  DrawsHistory,
  EpochLookup,
  EpochPolicy,
  EpochStart,
  EpochWorkers,
  SelectionDraws,
  SelectionEpoch,
  WorkerSelectionStrategy,
  WorkerStanding,
} from "./types.js";
export { checkEpoch, drawWorker, referenceDraws, referenceHistory } from "./draws.js";
export { discoverySelection } from "./discovery.js";
export type { DiscoverySelection } from "./discovery.js";
export { GROUP_MAX_DRAWS, drawDistinct, groupSelection } from "./group.js";
export { rotationSelection } from "./rotation.js";
export { cappedEpochs, discoveryEpochs } from "./epochs.js";
export { checkGroup, isSelectedWorker, selectGroup, selectWorker } from "./select.js";
export {
  DEFAULT_EPOCH_POLICY,
  DEFAULT_SELECTION,
  EPOCH_POLICIES,
  SELECTION_STRATEGIES,
  getEpochPolicy,
  getSelectionStrategy,
  listEpochPolicies,
  listSelectionStrategies,
  selectionContract,
} from "./registry.js";
export type { PolicyDescriptor, SelectionContract } from "./registry.js";
