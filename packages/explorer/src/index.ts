// `@enigma/explorer`: a devnet's explorer, a web page served by the devnet's process and built
// from the chain and the nodes' own endpoints (see README.md).
export { startExplorer } from "./server.js";
export type { Explorer, ExplorerOptions } from "./server.js";
export type { ExplorerNode } from "./collector.js";
export type * from "./model.js";
