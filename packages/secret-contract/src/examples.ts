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
