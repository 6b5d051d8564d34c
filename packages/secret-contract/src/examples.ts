import { fileURLToPath } from "node:url";

/** The example secret contracts shipped with the SDK. */
export const EXAMPLES = Object.freeze([
  "counter",
  "calculator",
  "millionaires",
  "voting",
  "coin_flip",
  "auction",
  "token",
] as const);
export type ExampleName = (typeof EXAMPLES)[number];

/** Path of an example's AssemblyScript source. */
export function exampleSourcePath(name: ExampleName): string {
  return fileURLToPath(new URL(`../examples/${name}.ts`, import.meta.url));
}

/** Path of an example's compiled module (present after the package build). */
export function exampleWasmPath(name: ExampleName): string {
  return fileURLToPath(new URL(`../build/examples/${name}.wasm`, import.meta.url));
}

/** The hand-written conformance modules (WAT, behaving like eng-wasm contracts). */
export const CONFORMANCE = Object.freeze(["calculator", "store", "bridge", "large"] as const);
export type ConformanceName = (typeof CONFORMANCE)[number];

/** Path of a conformance module, assembled by the package build. */
export function conformanceWasmPath(name: ConformanceName): string {
  return fileURLToPath(new URL(`../build/conformance/${name}.wasm`, import.meta.url));
}

/** The hostile module corpus (WAT, written to stall or bloat a worker). */
export const HOSTILE = Object.freeze([
  "big_tables",
  "br_table_loop",
  "deep_recursion",
  "encrypt_loop",
  "eprint_loop",
  "giant_function",
  "grow_loop",
  "host_call_loop",
  "many_locals",
  "memory_copy_loop",
  "memory_init_loop",
  "rand_16mib",
  "rand_loop",
  "read_state_loop",
  "spin",
  "start_loop",
  "table_copy_loop",
  "table_fill_loop",
  "write_state_loop",
] as const);
export type HostileName = (typeof HOSTILE)[number];

/** Path of a module of the hostile corpus, assembled by the package build. */
export function hostileWasmPath(name: HostileName): string {
  return fileURLToPath(new URL(`../build/hostile/${name}.wasm`, import.meta.url));
}
