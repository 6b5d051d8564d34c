export { compileSecretContract, ASC_FLAGS } from "./compile.js";
export type { CompileResult } from "./compile.js";
export {
  EXAMPLES,
  exampleSourcePath,
  exampleWasmPath,
  CONFORMANCE,
  conformanceWasmPath,
  HOSTILE,
  hostileWasmPath,
} from "./examples.js";
export type { ExampleName, ConformanceName, HostileName } from "./examples.js";
