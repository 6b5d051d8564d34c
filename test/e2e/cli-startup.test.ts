// What the built `enigma` command loads before it answers. `--help` and the read-only network
// commands (`epoch`, `worker list`, `task status`) must not load the heavy parts of the stack
// (Hardhat, libp2p, LevelDB, the AssemblyScript compiler, the node's logger and metrics): each
// command loads those itself when it runs (`devnet up`, `node start`, `sc compile`...). Loading
// them all cost about 0.3 s of CPU on every call (1,130 modules instead of about 380); the
// timings themselves are reported by `pnpm bench:cli`, not asserted here.
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const bin = fileURLToPath(new URL("../../packages/cli/bin/enigma.js", import.meta.url));

/** Packages that no command needs before it runs (matched against loaded module URLs). */
const HEAVY = [
  "hardhat",
  "@nomicfoundation/edr",
  "libp2p",
  "@libp2p/",
  "@chainsafe/libp2p-",
  "classic-level",
  "level",
  "assemblyscript",
  "binaryen",
  "pino",
  "prom-client",
];
// A package folder inside pnpm's store: node_modules/.pnpm/<id>/node_modules/<name>/...
const packageOf = (url: string): string | undefined =>
  /node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*node_modules\/)/.exec(url)?.[1];

let dir: string;
let hooks: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "enigma-cli-startup-"));
  hooks = join(dir, "record-loads.mjs");
  // Records every module the process loads and writes the list when it exits.
  await writeFile(
    hooks,
    `import module from "node:module";
import { writeFileSync } from "node:fs";
const seen = [];
module.registerHooks({ load(url, context, next) { seen.push(url); return next(url, context); } });
process.on("exit", () => writeFileSync(process.env.LOADED_LIST, seen.join("\\n")));
`,
  );
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs the built command; resolves to its exit code, stderr and the module URLs it loaded. */
async function loads(args: string[]): Promise<{ code: number; stderr: string; urls: string[] }> {
  const list = join(dir, `loaded-${args[0] ?? "none"}.txt`);
  const result = await run(
    process.execPath,
    ["--import", pathToFileURL(hooks).href, bin, ...args],
    { env: { ...process.env, LOADED_LIST: list } },
  ).then(
    (r) => ({ code: 0, stderr: r.stderr }),
    (e: unknown) => {
      const f = e as { code: number; stderr: string };
      return { code: f.code, stderr: f.stderr };
    },
  );
  const urls = (await readFile(list, "utf8")).split("\n").filter((u) => u !== "");
  return { ...result, urls };
}

function heavyIn(urls: string[]): string[] {
  const found = new Set<string>();
  for (const u of urls) {
    const name = packageOf(u);
    if (
      name !== undefined &&
      HEAVY.some((h) => (h.endsWith("/") || h.endsWith("-") ? name.startsWith(h) : name === h))
    ) {
      found.add(name);
    }
    // The full entry points of the node and the devnet (their light subpaths are fine).
    if (/packages\/(node|devnet)\/dist\/index\.js$/.test(u))
      found.add(u.replace(/.*packages\//, "packages/"));
  }
  return [...found].sort();
}

describe("the built enigma command's start-up", () => {
  it("prints --help without loading Hardhat, libp2p, LevelDB or a compiler", async () => {
    const r = await loads(["--help"]);
    expect(r.code).toBe(0);
    expect(r.urls.length).toBeGreaterThan(50);
    expect(heavyIn(r.urls)).toEqual([]);
  });

  it("gets to the network for `epoch` and `worker list` with the chain view alone", async () => {
    // Nothing listens on port 1: the command fails at its first request, after everything it
    // imports up front is loaded.
    const flags = [
      "--rpc",
      "http://127.0.0.1:1",
      "--enigma",
      `0x${"11".repeat(20)}`,
      "--token",
      `0x${"22".repeat(20)}`,
    ];
    for (const args of [
      ["epoch", ...flags],
      ["worker", "list", ...flags],
    ]) {
      const r = await loads(args);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/^enigma: cannot reach the chain at http:\/\/127\.0\.0\.1:1/);
      expect(heavyIn(r.urls), args.join(" ")).toEqual([]);
    }
  });

  it("loads the whole node for `node start` (the check above would see it)", async () => {
    const r = await loads([
      "node",
      "start",
      "--config",
      join(dir, "missing.json"),
      "--check-config",
    ]);
    expect(r.code).toBe(1);
    expect(heavyIn(r.urls)).toEqual(
      expect.arrayContaining(["libp2p", "classic-level", "packages/node/dist/index.js"]),
    );
  });
});
