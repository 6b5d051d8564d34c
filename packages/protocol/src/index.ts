export { TaskStatus, ENG_DECIMALS, GRAINS_PER_ENG } from "./constants.js";
export { EnigmaError, ErrorCode, errorName, isEnigmaError } from "./errors.js";
export type { EnigmaErrorOptions, ErrorName } from "./errors.js";
export { bytesToHex, hexToBytes } from "./hex.js";
export type { Hex } from "./hex.js";
export { taskId } from "./ids.js";
export { engToGrains, grainsToEng } from "./amounts.js";
export { HOST_FUNCTIONS, CONTRACT_EXPORTS } from "./host.js";
export type { HostFunction } from "./host.js";
