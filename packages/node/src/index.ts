export { resolveNodeConfig, NodeUserConfigSchema } from "./config.js";
export type { NodeConfig, NodeUserConfig } from "./config.js";
