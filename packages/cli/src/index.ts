export { main, VERSION } from "./main.js";
export type { CliIo } from "./main.js";
