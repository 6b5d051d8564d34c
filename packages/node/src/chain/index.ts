// `@enigma/node/chain`: the node's typed view of the Enigma contract alone (protocol and ethers,
// nothing else). Read-only tools such as `enigma epoch` import it here so that they do not load
// libp2p, LevelDB and the enclave with the rest of the node (about 0.2 s per command).
export { EnigmaChain, WorkerStatus } from "./enigma-chain.js";
// Selection over the chain's epochs (protocol only): `enigma epoch` shows the groups with it.
export { NodeSelection, SELECTION_CACHE_MAX, type EpochSource } from "../selection.js";
export type {
  ChainEvent,
  ChainOptions,
  EpochInfo,
  SecretContractInfo,
  TaskRecordInfo,
  WorkerInfo,
} from "./enigma-chain.js";
