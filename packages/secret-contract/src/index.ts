export { compileSecretContract, ASC_FLAGS } from "./compile.js";
export type { CompileResult } from "./compile.js";
export { EXAMPLES, exampleSourcePath, exampleWasmPath } from "./examples.js";
export type { ExampleName } from "./examples.js";
