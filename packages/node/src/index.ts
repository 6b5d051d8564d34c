export { resolveNodeConfig, NodeUserConfigSchema } from "./config.js";
export type { NodeConfig, NodeUserConfig } from "./config.js";
export { NodeStore, TASK_TRANSITIONS } from "./store/store.js";
export type { NodeStoreOptions, StoredCode, StoredDelta, TaskUpdate } from "./store/store.js";
export type { BytesInput, MetaValue, StoredTask, TaskResultData } from "./store/codec.js";
