// Kept for the imports that predate the policy module: worker selection now lives in
// `policy/` (strategies, epoch policies and their registry).
export {
  discoverySelection,
  drawWorker,
  selectWorker,
  type EpochWorkers,
  type WorkerSelectionStrategy,
} from "./policy/index.js";
