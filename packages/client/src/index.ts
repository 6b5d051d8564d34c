export { EnigmaClient, isNonceRace } from "./client.js";
export type { EnigmaClientOptions, TaskOptions, ChainTaskStatus } from "./client.js";
export { TaskHandle } from "./task.js";
export type { TaskEvent, TaskEventType, TaskResult, TaskReceipt, TaskTimings } from "./task.js";
export { encryptCall, encryptCallWith, decryptOutput, decryptOutputWith } from "./envelope.js";
export type { EncryptedCall } from "./envelope.js";
export type { Epoch } from "./epoch.js";
export { fromChainError, fromRpcError } from "./errors.js";
export { defaultGzip } from "./gzip.js";
export type { Gzip } from "./gzip.js";
export {
  AttestationCache,
  checkWorkerKey,
  readRegisteredReport,
  verifyWorkerAttestation,
} from "./verify.js";
export type { ReportSource } from "./verify.js";
export { NodeRpcClient } from "./rpc.js";
export type { RpcClientOptions } from "./rpc.js";
export { NodeSocket, nodeWsUrl } from "./ws.js";
export type { WebSocketFactory, WebSocketLike, TaskStatusNotification } from "./ws.js";
