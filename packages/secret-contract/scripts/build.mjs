// Builds the package's contracts, never committed (build/ is build output):
// - every example secret contract (examples/*.ts) to build/examples/<name>.wasm, with the same
//   function the CLI uses;
// - the conformance modules (conformance/*.wat: hand-written modules that behave like
//   eng-wasm contracts) and the hostile corpus (hostile/*.wat: modules written to stall or
//   bloat a worker) to build/conformance/ and build/hostile/, with wabt's assembler.
// A WAT line `;;! repeat N <text>` stands for N copies of <text> (large data segments, long
// functions, huge br_tables without a huge source file).
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import wabtInit from "wabt";
// Node >= 22.18 runs TypeScript by stripping types; src/compile.ts keeps to erasable syntax.
import { compileSecretContract } from "../src/compile.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

async function examples() {
  const outDir = join(root, "build", "examples");
  await mkdir(outDir, { recursive: true });
  const files = (await readdir(join(root, "examples"))).filter((f) => f.endsWith(".ts")).sort();
  for (const file of files) {
    const { wasm } = await compileSecretContract(join(root, "examples", file));
    await writeFile(join(outDir, `${file.slice(0, -3)}.wasm`), wasm);
  }
  return files.length;
}

function expand(text) {
  return text.replace(/^[ \t]*;;! repeat (\d+) (.*)$/gm, (_, n, body) =>
    Array.from({ length: Number(n) }, () => body).join("\n"),
  );
}

async function wat(wabt, dir) {
  const outDir = join(root, "build", dir);
  await mkdir(outDir, { recursive: true });
  const files = (await readdir(join(root, dir))).filter((f) => f.endsWith(".wat")).sort();
  for (const file of files) {
    const source = expand(await readFile(join(root, dir, file), "utf8"));
    const module = wabt.parseWat(file, source, { bulk_memory: true, reference_types: true });
    try {
      module.validate();
      const { buffer } = module.toBinary({});
      await writeFile(join(outDir, `${file.slice(0, -4)}.wasm`), buffer);
    } finally {
      module.destroy();
    }
  }
  return files.length;
}

try {
  const n = await examples();
  const wabt = await wabtInit();
  const c = await wat(wabt, "conformance");
  const h = await wat(wabt, "hostile");
  console.error(
    `secret-contract: compiled ${n} example(s), assembled ${c} conformance and ${h} hostile module(s) to build/`,
  );
} catch (e) {
  console.error(`secret-contract: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
}
