// Compiles every example secret contract (examples/*.ts) to build/examples/<name>.wasm with
// the same function the CLI uses. The binaries are build output: never committed.
import { mkdir, readdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
// Node >= 22.18 runs TypeScript by stripping types; src/compile.ts keeps to erasable syntax.
import { compileSecretContract } from "../src/compile.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outDir = join(root, "build", "examples");
await mkdir(outDir, { recursive: true });

const examples = (await readdir(join(root, "examples"))).filter((f) => f.endsWith(".ts")).sort();
for (const file of examples) {
  try {
    const { wasm } = await compileSecretContract(join(root, "examples", file));
    await writeFile(join(outDir, `${file.slice(0, -3)}.wasm`), wasm);
  } catch (e) {
    console.error(`secret-contract: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  }
}
console.error(`secret-contract: compiled ${examples.length} example(s) to build/examples/`);
