// When is the build up to date? scripts/build-state.mjs answers for `pnpm run build` and for
// every `enigma` call (which skips the build when it is). These tests build a small workspace in
// a temporary folder (contracts and three packages: `b` runs with `a`, `c` alone), "build" it
// by writing outputs and recording them as the build does, then change one thing at a time.
import { existsSync } from "node:fs";
import { mkdtemp, mkdir, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  buildParts,
  closure,
  inDependencyOrder,
  inputsFingerprint,
  outputsFingerprint,
  readStamp,
  staleParts,
  stampFile,
  writeStamp,
} from "../../scripts/build-state.mjs";

let root: string;

async function put(path: string, content: string): Promise<void> {
  await mkdir(dirname(join(root, path)), { recursive: true });
  await writeFile(join(root, path), content);
}

function pkg(
  name: string,
  deps: Record<string, string> = {},
  devDeps: Record<string, string> = {},
) {
  return JSON.stringify({
    name,
    scripts: { build: "tsc -b tsconfig.build.json" },
    dependencies: deps,
    devDependencies: devDeps,
  });
}

/** What the build does once a part is built: record its inputs and outputs. */
function recordBuilt(names?: string[]): void {
  const stamp = readStamp(stampFile(root));
  for (const part of buildParts(root)) {
    if (names !== undefined && !names.includes(part.name)) continue;
    stamp[part.name] = { inputs: inputsFingerprint(part), outputs: outputsFingerprint(part) };
  }
  writeStamp(stamp, stampFile(root));
}

/** Names of the stale parts, with why. */
function stale(): Record<string, string> {
  const { stale: s } = staleParts(buildParts(root), readStamp(stampFile(root)));
  return Object.fromEntries(s.map(({ part, reason }) => [part.name, reason]));
}

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "enigma-build-state-"));
  await put("pnpm-workspace.yaml", "packages:\n  - packages/*\n  - test/*\n");
  await put("pnpm-lock.yaml", "lockfileVersion: '9.0'\n");
  await put("tsconfig.base.json", "{}\n");
  await put("hardhat.config.ts", "export default {};\n");
  await put("contracts/Token.sol", "contract Token {}\n");
  await put("artifacts/contracts/Token.sol/Token.json", "{}\n");
  await put("packages/a/package.json", pkg("@x/a"));
  await put("packages/a/src/index.ts", "export const a = 1;\n");
  await put("packages/a/src/index.test.ts", "// a test\n");
  await put("packages/a/dist/index.js", "export const a = 1;\n");
  await put("packages/b/package.json", pkg("@x/b", { "@x/a": "workspace:*" }));
  await put("packages/b/tsconfig.build.json", "{}\n");
  await put("packages/b/src/index.ts", "export { a as b } from '@x/a';\n");
  await put("packages/b/dist/index.js", "export { a as b } from '@x/a';\n");
  await put("packages/c/package.json", pkg("@x/c", {}, { "@x/a": "workspace:*" }));
  await put("packages/c/src/index.ts", "export const c = 3;\n");
  await put("packages/c/dist/index.js", "export const c = 3;\n");
  // A workspace package without a build script is not a part.
  await put("test/e2e/package.json", JSON.stringify({ name: "@x/e2e" }));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("build parts", () => {
  it("are the contracts, then the packages with a build script in dependency order", () => {
    const parts = buildParts(root);
    expect(parts.map((p) => p.name)).toEqual(["contracts", "@x/a", "@x/b", "@x/c"]);
    // What the CLI needs: itself and what it runs with (a devDependency is not that).
    expect(closure(parts, ["@x/b"]).map((p) => p.name)).toEqual(["@x/a", "@x/b"]);
    expect(closure(parts, ["@x/c"]).map((p) => p.name)).toEqual(["@x/c"]);
  });
});

describe("staleParts", () => {
  it("builds everything in a checkout that never built, then nothing", () => {
    expect(stale()).toEqual({
      contracts: "not built here yet",
      "@x/a": "not built here yet",
      "@x/b": "not built here yet",
      "@x/c": "not built here yet",
    });
    recordBuilt();
    expect(stale()).toEqual({});
  });

  it("goes by content: a touched file is not a change, an edited one is, with what uses it", async () => {
    recordBuilt();
    const later = new Date(Date.now() + 60_000);
    await utimes(join(root, "packages/a/src/index.ts"), later, later);
    expect(stale()).toEqual({});

    await put("packages/a/src/index.ts", "export const a = 2;\n");
    expect(stale()).toEqual({ "@x/a": "sources changed", "@x/b": "@x/a is rebuilt" });
  });

  it("finds a change made with an old timestamp (a restored or copied file)", async () => {
    recordBuilt();
    await put("packages/c/src/index.ts", "export const c = 4;\n");
    const old = new Date("2001-01-01");
    await utimes(join(root, "packages/c/src/index.ts"), old, old);
    expect(stale()).toEqual({ "@x/c": "sources changed" });
  });

  it("counts a package's tsconfig, the shared compiler options and the lockfile as inputs", async () => {
    recordBuilt();
    await put("packages/b/tsconfig.build.json", '{ "compilerOptions": { "strict": true } }\n');
    expect(stale()).toEqual({ "@x/b": "sources changed" });
    recordBuilt();

    await put("tsconfig.base.json", '{ "compilerOptions": { "target": "ES2024" } }\n');
    expect(Object.keys(stale())).toEqual(["@x/a", "@x/b", "@x/c"]);
    recordBuilt();

    // A dependency's new version (solc, OpenZeppelin, TypeScript...) rebuilds everything.
    await put("pnpm-lock.yaml", "lockfileVersion: '9.0'\n# another version\n");
    expect(Object.keys(stale())).toEqual(["contracts", "@x/a", "@x/b", "@x/c"]);
  });

  it("ignores tests and docs (no tsconfig.build.json compiles them)", async () => {
    recordBuilt();
    await put("packages/a/src/index.test.ts", "// another test\n");
    await put("packages/a/README.md", "# a\n");
    expect(stale()).toEqual({});
  });

  it("rebuilds the contracts alone when a contract or the Hardhat config changes", async () => {
    recordBuilt();
    await put("contracts/Token.sol", "contract Token { uint x; }\n");
    expect(stale()).toEqual({ contracts: "sources changed" });
    recordBuilt();
    await put("hardhat.config.ts", "export default { solidity: '0.8.30' };\n");
    expect(stale()).toEqual({ contracts: "sources changed" });
  });

  it("does not trust a dist/ another branch's build wrote, even when the sources are back", async () => {
    // Built here on this branch...
    recordBuilt();
    // ...then another branch's sources were built by something else (a plain `tsc -b`,
    // `pnpm --filter`): dist/ changed, the record did not...
    await put("packages/a/src/index.ts", "export const a = 'other branch';\n");
    await put("packages/a/dist/index.js", "export const a = 'other branch';\n");
    // ...and this branch is checked out again: same sources as recorded, foreign output.
    await put("packages/a/src/index.ts", "export const a = 1;\n");
    expect(stale()).toEqual({
      "@x/a": "its output was written by another build",
      "@x/b": "@x/a is rebuilt",
    });
  });

  it("rebuilds a part whose output is gone", async () => {
    recordBuilt();
    await rm(join(root, "packages/c/dist"), { recursive: true });
    expect(stale()).toEqual({ "@x/c": "its output was written by another build" });
    await rm(join(root, "artifacts"), { recursive: true });
    expect(Object.keys(stale())).toEqual(["contracts", "@x/c"]);
  });

  it("keeps the parts built before a failure (recorded part by part)", async () => {
    await put("packages/a/src/index.ts", "export const a = 5;\n");
    recordBuilt(["contracts", "@x/a"]);
    expect(Object.keys(stale())).toEqual(["@x/b", "@x/c"]);
  });

  it("treats a missing or foreign record as nothing built", async () => {
    recordBuilt();
    await writeFile(stampFile(root), "not json");
    expect(Object.keys(stale())).toHaveLength(4);
    await writeFile(stampFile(root), JSON.stringify({ version: 0, parts: {} }));
    expect(Object.keys(stale())).toHaveLength(4);
  });
});

describe("the build's order (inDependencyOrder)", () => {
  // contracts and @x/a stand alone; @x/b builds after @x/a; @x/c after @x/a and @x/b (and after
  // @x/z, which is up to date: not among the parts to build).
  const parts = [
    { name: "contracts", after: [] },
    { name: "@x/a", after: [] },
    { name: "@x/b", after: ["@x/a"] },
    { name: "@x/c", after: ["@x/a", "@x/b", "@x/z"] },
  ];

  /** A step the test finishes by hand, recording what ran at once. */
  function steps() {
    const log: string[] = [];
    const open = new Map<string, { ok: () => void; fail: (e: Error) => void }>();
    let peak = 0;
    const step = (p: { name: string }) =>
      new Promise<void>((ok, fail) => {
        log.push(`start ${p.name}`);
        open.set(p.name, { ok, fail });
        peak = Math.max(peak, open.size);
      });
    const settled = () => new Promise((r) => setImmediate(r));
    const finish = async (name: string, error?: Error) => {
      const s = open.get(name);
      if (s === undefined) throw new Error(`${name} is not running (${log.join(", ")})`);
      open.delete(name);
      log.push(`${error ? "fail" : "end"} ${name}`);
      if (error) s.fail(error);
      else s.ok();
      await settled();
    };
    return { log, step, finish, settled, running: () => [...open.keys()], peak: () => peak };
  }

  it("starts a part only after the parts it builds after, width at a time", async () => {
    const s = steps();
    const done = inDependencyOrder(parts, 2, s.step);
    await s.settled();
    expect(s.running()).toEqual(["contracts", "@x/a"]);
    await s.finish("@x/a");
    expect(s.running()).toEqual(["contracts", "@x/b"]);
    await s.finish("@x/b");
    expect(s.running()).toEqual(["contracts", "@x/c"]);
    await s.finish("contracts");
    await s.finish("@x/c");
    await done;
    expect(s.peak()).toBe(2);
  });

  it("with width 1 is the build order, one part at a time", async () => {
    const s = steps();
    const done = inDependencyOrder(parts, 1, s.step);
    for (const name of ["contracts", "@x/a", "@x/b", "@x/c"]) {
      await s.settled();
      expect(s.running()).toEqual([name]);
      await s.finish(name);
    }
    await done;
    expect(s.peak()).toBe(1);
  });

  it("after a failure starts nothing more, lets the running parts finish, then throws", async () => {
    const s = steps();
    const done = inDependencyOrder(parts, 2, s.step);
    const outcome = done.then(
      () => "resolved",
      (e: unknown) => (e instanceof Error ? e.message : String(e)),
    );
    await s.settled();
    await s.finish("@x/a", new Error("tsc failed"));
    // @x/b waits for @x/a: it never starts; contracts, already running, ends first.
    expect(s.running()).toEqual(["contracts"]);
    let ended = false;
    void outcome.then(() => (ended = true));
    await s.settled();
    expect(ended).toBe(false);
    await s.finish("contracts");
    expect(await outcome).toBe("tsc failed");
    expect(s.log).toEqual(["start contracts", "start @x/a", "fail @x/a", "end contracts"]);
  });

  it("refuses parts that wait for each other instead of waiting forever", async () => {
    const looped = [
      { name: "@x/a", after: ["@x/b"] },
      { name: "@x/b", after: ["@x/a"] },
    ];
    const s = steps();
    await expect(inDependencyOrder(looped, 2, s.step)).rejects.toThrow(
      "parts wait for each other: @x/a, @x/b",
    );
    expect(s.log).toEqual([]);
  });
});

describe("`./scripts/pnpm enigma`", () => {
  it("runs what package.json's enigma script runs (the wrapper skips pnpm's start-up)", async () => {
    const repo = fileURLToPath(new URL("../../", import.meta.url));
    const manifest = JSON.parse(await readFile(join(repo, "package.json"), "utf8")) as {
      scripts: Record<string, string>;
    };
    const wrapper = await readFile(join(repo, "scripts/pnpm"), "utf8");
    expect(manifest.scripts["enigma"]).toBe("node scripts/enigma.mjs");
    expect(wrapper).toContain('exec node scripts/enigma.mjs "$@"');
  });
});

describe("this repository's tsconfig.build.json files", () => {
  // `tsc -b` re-checks a package against the packages it references: each must reference
  // exactly the TypeScript workspace packages it runs with, or a changed dependency goes
  // unnoticed (a package built by another tool, without tsconfig.build.json, is left out).
  it("reference exactly the workspace packages each package depends on", async () => {
    const repo = fileURLToPath(new URL("../../", import.meta.url));
    const parts = buildParts(repo).filter((p) => existsSync(join(p.dir, "tsconfig.build.json")));
    expect(parts.length).toBeGreaterThan(5);
    const dirOf = new Map(parts.map((p) => [p.name, p.dir]));
    for (const p of parts) {
      const file = join(p.dir, "tsconfig.build.json");
      const parsed = ts.parseConfigFileTextToJson(file, await readFile(file, "utf8"));
      expect(parsed.error, file).toBeUndefined();
      const c = parsed.config as {
        references?: { path: string }[];
        compilerOptions?: { composite?: boolean };
      };
      expect(c.compilerOptions?.composite, `${file}: composite`).toBe(true);
      const referenced = (c.references ?? []).map((r) => join(p.dir, dirname(r.path))).sort();
      const expected = p.deps.flatMap((d) => dirOf.get(d) ?? []).sort();
      expect(referenced, file).toEqual(expected);
    }
  });
});
