export { PRESETS, resolveDevnetOptions } from "./presets.js";
export type { DevnetOptions, PresetName } from "./presets.js";
