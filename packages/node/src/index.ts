export { resolveNodeConfig, NodeUserConfigSchema, NODE_PRESETS } from "./config.js";
export type { NodeConfig, NodeUserConfig, NodePreset } from "./config.js";
export { NodeStore, TASK_TRANSITIONS } from "./store/store.js";
export type {
  MessageKind,
  NodeStoreOptions,
  StoredCode,
  StoredDelta,
  TaskUpdate,
} from "./store/store.js";
export type { BytesInput, MetaValue, StoredTask, TaskResultData } from "./store/codec.js";
export { createLogger, silentLogger, NodeMetrics } from "./observability.js";
export type { Logger, LoggerOptions, NodeMetricsOptions } from "./observability.js";
export { RPC_SERVER_BOUNDS, RpcServer } from "./rpc/server.js";
export type { RpcHandlers, RpcServerOptions, RpcWireResult } from "./rpc/server.js";
export { EnigmaNode, enclaveSeedOf } from "./node.js";
export type { EnigmaNodeOptions, NodeEndpoints } from "./node.js";
export { loadNodeConfig, runNode } from "./run.js";
export { TOPICS, PROTOCOLS } from "./messages.js";
export { EnigmaChain, WorkerStatus } from "./chain/enigma-chain.js";
export { NodeSelection, SELECTION_CACHE_MAX } from "./selection.js";
export type { NodePolicy } from "./context.js";
export type {
  ChainEvent,
  ChainOptions,
  EpochInfo,
  SecretContractInfo,
  TaskRecordInfo,
  WorkerInfo,
} from "./chain/enigma-chain.js";
export { TaskTraceLog, TRACE_STAGES, noTrace } from "./trace/trace.js";
export type {
  SequencedTraceEvent,
  TaskTraceLogOptions,
  TaskTracer,
  TraceEvent,
  TraceStage,
} from "./trace/trace.js";
