import { readFile } from "node:fs/promises";
import { dirname, relative, resolve } from "node:path";

export interface CompileResult {
  /** The module, ready for the enclave to deploy. */
  wasm: Uint8Array<ArrayBuffer>;
  /** The compiler's diagnostics (warnings; errors when `wasm` is missing). */
  diagnostics: string;
}

/**
 * Flags every secret contract is compiled with: no GC (a call is short-lived) and no
 * `env.abort` import (an abort traps instead), so a module imports only the host interface.
 */
export const ASC_FLAGS: readonly string[] = [
  "--optimizeLevel",
  "3",
  "--shrinkLevel",
  "1",
  "--runtime",
  "stub",
  "--use",
  "abort=",
  "--noAssert",
];

/**
 * The part of the compiler's API used here. The module is named through a variable so that
 * TypeScript does not load its declarations: they declare AssemblyScript's own globals, which
 * would change the standard library's types for every program that imports this package.
 */
interface AscApi {
  main(
    argv: string[],
    options: {
      stdout: { write(chunk: string | Uint8Array): boolean };
      stderr: { write(chunk: string | Uint8Array): boolean };
      writeFile(name: string, contents: string | Uint8Array): void;
    },
  ): Promise<{ error: Error | null }>;
}
const ASC_MODULE: string = "assemblyscript/asc";

/**
 * Compiles an AssemblyScript secret contract to WebAssembly in memory.
 * Throws an Error whose message holds the compiler's diagnostics when compilation fails.
 *
 * @example
 * const { wasm } = await compileSecretContract("examples/counter.ts");
 */
export async function compileSecretContract(sourceFile: string): Promise<CompileResult> {
  const abs = resolve(sourceFile);
  await readFile(abs); // a clear ENOENT before the compiler's own message
  const baseDir = dirname(abs);
  let wasm: Uint8Array<ArrayBuffer> | undefined;
  let diagnostics = "";
  const sink = {
    write(chunk: string | Uint8Array): boolean {
      diagnostics += typeof chunk === "string" ? chunk : new TextDecoder().decode(chunk);
      return true;
    },
  };
  // Imported on first use: the compiler costs about 1 s to load, and at import time it reads
  // `--wasm <path>` from process.argv (to load itself as WebAssembly), which would capture
  // `enigma sc exec --wasm <file>`.
  const { default: asc } = (await import(ASC_MODULE)) as { default: AscApi };
  const { error } = await asc.main(
    [
      relative(baseDir, abs),
      "--baseDir",
      baseDir,
      "--outFile",
      "out.wasm",
      "--noColors",
      ...ASC_FLAGS,
    ],
    {
      stdout: sink,
      stderr: sink,
      writeFile(name: string, contents: string | Uint8Array) {
        if (name.endsWith(".wasm") && typeof contents !== "string") wasm = new Uint8Array(contents);
      },
    },
  );
  if (error !== null || wasm === undefined) {
    throw new Error(
      `cannot compile ${sourceFile}: ${error?.message ?? "no output"}\n${diagnostics}`.trimEnd(),
    );
  }
  return { wasm, diagnostics };
}
