// What a module is, as the runtime sees it (`enigma sc inspect`): its imports and exports, the
// interface it was built against, and whether the runtime accepts it, and if not, why.
import { HOST_FUNCTIONS, isEnigmaError } from "@enigma/protocol";
import { DEFAULT_LIMITS, prepareCode, type RuntimeLimits } from "./metering.js";

export interface ContractInspection {
  bytes: number;
  imports: { module: string; name: string; kind: string; hostFunction: boolean }[];
  exports: { name: string; kind: string }[];
  /**
   * `eng-wasm`: a secret contract of Discovery's kind (exports `call`, imports only the host
   * interface); `eng-wasm (Rust)` when the Rust toolchain's own exports are there too;
   * `none` when the module does not look like a secret contract at all.
   */
  interface: "eng-wasm" | "eng-wasm (Rust)" | "none";
  /** Host functions it imports that the runtime does not serve (older eng-wasm names). */
  unknownImports: string[];
  /** Whether the runtime deploys it, and otherwise the typed reason. */
  accepted: boolean;
  refusal?: { code: number; message: string };
  memory?: { initialPages: number; maxPages?: number; imported: boolean };
}

const RUST_EXPORTS = [
  "__heap_base",
  "__data_end",
  "__indirect_function_table",
  "rust_eh_personality",
];

/** Inspects `code`; never throws (a module that is not WebAssembly is refused, with why). */
export function inspectContract(
  code: Uint8Array,
  limits: RuntimeLimits = DEFAULT_LIMITS,
): ContractInspection {
  let imports: ContractInspection["imports"] = [];
  let exports: ContractInspection["exports"] = [];
  let module: WebAssembly.Module | undefined;
  try {
    module = new WebAssembly.Module(code as Uint8Array<ArrayBuffer>);
  } catch {
    module = undefined;
  }
  if (module !== undefined) {
    imports = WebAssembly.Module.imports(module).map((i) => ({
      module: i.module,
      name: i.name,
      kind: i.kind,
      hostFunction:
        i.module === "env" && i.kind === "function" && Object.hasOwn(HOST_FUNCTIONS, i.name),
    }));
    exports = WebAssembly.Module.exports(module).map((e) => ({ name: e.name, kind: e.kind }));
  }
  const unknownImports = imports
    .filter(
      (i) => !i.hostFunction && !(i.module === "env" && i.name === "memory" && i.kind === "memory"),
    )
    .map((i) => `${i.module}.${i.name} (${i.kind})`);
  const exportsCall = exports.some((e) => e.name === "call" && e.kind === "function");
  const rust = RUST_EXPORTS.some((n) => exports.some((e) => e.name === n));
  const allEnv = imports.every((i) => i.module === "env");
  const iface: ContractInspection["interface"] =
    module === undefined || !exportsCall || !allEnv
      ? "none"
      : rust
        ? "eng-wasm (Rust)"
        : "eng-wasm";
  let refusal: ContractInspection["refusal"];
  let memory: ContractInspection["memory"];
  try {
    const prepared = prepareCode(code, limits);
    memory = {
      initialPages: prepared.memoryPages,
      imported: imports.some((i) => i.kind === "memory"),
    };
  } catch (e) {
    refusal = isEnigmaError(e)
      ? { code: e.code, message: e.message }
      : { code: -1, message: e instanceof Error ? e.message : String(e) };
  }
  return {
    bytes: code.length,
    imports,
    exports,
    interface: iface,
    unknownImports,
    accepted: refusal === undefined,
    ...(refusal === undefined ? {} : { refusal }),
    ...(memory === undefined ? {} : { memory }),
  };
}
