export { NodeRpcClient } from "./rpc.js";
export type { RpcClientOptions } from "./rpc.js";
