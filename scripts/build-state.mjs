// @ts-check
/**
 * Is the build up to date? The one answer `scripts/build.mjs` (the root `build`) and
 * `scripts/enigma.mjs` (the `enigma` command from this checkout) both rely on.
 *
 * The build has parts: the contracts (Hardhat: `contracts/` -> `artifacts/`) and every workspace
 * package with a `build` script (its folder -> `dist/`, `build/`). A part is up to date when
 *   - the content of its inputs hashes to what it hashed to when the part was last built here
 *     (sources, tsconfigs, package.json, the lockfile, the shared tsconfig.base.json); content,
 *     not timestamps, so a checkout, a stash or a copy that keeps old mtimes cannot fool it;
 *   - its outputs are exactly the files that build left (path, size, mtime): a `dist/` written
 *     by anything else since (another branch's build, a plain `tsc`, `pnpm clean`) makes the
 *     part stale even when the sources match again;
 *   - and none of the workspace packages it depends on is stale.
 * Both fingerprints of every part built are kept in `node_modules/.cache/enigma-build.json`.
 * Checking the whole workspace reads about 2 MB and takes 20-40 ms, so `enigma` checks on
 * every call.
 *
 * Node built-ins only: this runs before anything is built.
 */
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

/** This checkout's root. */
export const ROOT = fileURLToPath(new URL("..", import.meta.url));
const STAMP_VERSION = 1;

/** The contracts part's name (package parts are named after their package). */
export const CONTRACTS = "contracts";

/**
 * @typedef {object} Part
 * @property {string} name `contracts` or the package name
 * @property {string} root the checkout's root (fingerprints use paths relative to it)
 * @property {string} dir the package's folder (`contracts/` for the contracts)
 * @property {() => string[]} inputs absolute paths of the files the part is built from
 * @property {() => string[]} outputs absolute paths of the files its build leaves
 * @property {string[]} deps workspace packages it runs with (`dependencies`): when one is
 *   rebuilt, so is this part
 * @property {string[]} after workspace packages that build before it (`devDependencies` too)
 */

/** @typedef {Record<string, { inputs: string; outputs: string }>} Stamp */

// Folders that are never inputs: installed packages, build output, caches.
const SKIP_DIRS = new Set(["node_modules", "dist", "build", "coverage", ".cache"]);
// Files that are never inputs: tests (excluded from every tsconfig.build.json), docs, buildinfo.
const SKIP_FILE = /(\.test\.ts|\.md|\.tsbuildinfo)$/;

/** The file that records what was built, in a checkout. */
export const stampFile = (root = ROOT) => join(root, "node_modules", ".cache", "enigma-build.json");

/**
 * Every file under `dir` (recursively), absolute paths, sorted; only inputs (no SKIP_DIRS, no
 * SKIP_FILE) unless `all`.
 */
function walk(/** @type {string} */ dir, all = false) {
  /** @type {string[]} */
  const out = [];
  /** @param {string} d */
  const visit = (d) => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        if (all || !SKIP_DIRS.has(e.name)) visit(p);
      } else if (e.isFile() && (all || !SKIP_FILE.test(e.name))) {
        out.push(p);
      }
    }
  };
  visit(dir);
  return out.sort();
}

/** The package folders pnpm-workspace.yaml lists (`dir/*` patterns, the only kind we use). */
function workspaceDirs(/** @type {string} */ root) {
  const yaml = readFileSync(join(root, "pnpm-workspace.yaml"), "utf8");
  const block = /^packages:[ \t]*\r?\n((?:[ \t]+-.*\r?\n?)+)/m.exec(yaml)?.[1] ?? "";
  /** @type {string[]} */
  const dirs = [];
  for (const m of block.matchAll(/-\s*["']?([^"'\s]+)["']?/g)) {
    const pattern = m[1] ?? "";
    if (!pattern.endsWith("/*")) continue;
    const base = join(root, pattern.slice(0, -2));
    if (!existsSync(base)) continue;
    for (const name of readdirSync(base).sort()) {
      if (existsSync(join(base, name, "package.json"))) dirs.push(join(base, name));
    }
  }
  return dirs;
}

/** @param {Record<string, string> | undefined} deps */
const workspaceDeps = (deps) =>
  Object.entries(deps ?? {})
    .filter(([, v]) => v.startsWith("workspace:"))
    .map(([k]) => k);

/**
 * The parts of the build of the checkout at `root`: contracts first, then the packages that
 * have a `build` script, in dependency order.
 * @returns {Part[]}
 */
export function buildParts(root = ROOT) {
  // Inputs of every package: the shared compiler options and every dependency's exact version.
  const shared = ["tsconfig.base.json", "pnpm-lock.yaml"].map((f) => join(root, f));
  /** @type {Part[]} */
  const packages = [];
  for (const dir of workspaceDirs(root)) {
    /** @type {{ name: string; scripts?: Record<string, string>; dependencies?: Record<string, string>; devDependencies?: Record<string, string> }} */
    const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
    if (pkg.scripts?.["build"] === undefined) continue;
    const deps = workspaceDeps(pkg.dependencies);
    packages.push({
      name: pkg.name,
      root,
      dir,
      inputs: () => [...walk(dir), ...shared],
      outputs: () => [...walk(join(dir, "dist"), true), ...walk(join(dir, "build"), true)],
      deps,
      after: [...deps, ...workspaceDeps(pkg.devDependencies)],
    });
  }
  /** @type {Part} */
  const contracts = {
    name: CONTRACTS,
    root,
    dir: join(root, "contracts"),
    inputs: () => [
      ...walk(join(root, "contracts")),
      join(root, "hardhat.config.ts"),
      // Hook files hardhat.config.ts loads.
      ...walk(join(root, "scripts")).filter((f) => /[/\\]hardhat-[^/\\]*\.ts$/.test(f)),
      join(root, "pnpm-lock.yaml"),
    ],
    outputs: () => walk(join(root, "artifacts"), true),
    deps: [],
    after: [],
  };
  return [contracts, ...topological(packages)];
}

/** @param {Part[]} parts */
function topological(parts) {
  const byName = new Map(parts.map((p) => [p.name, p]));
  /** @type {Part[]} */
  const out = [];
  const seen = new Set();
  /** @param {Part} p */
  const visit = (p) => {
    if (seen.has(p.name)) return;
    seen.add(p.name);
    for (const d of p.after) {
      const dep = byName.get(d);
      if (dep !== undefined) visit(dep);
    }
    out.push(p);
  };
  for (const p of parts) visit(p);
  return out;
}

/**
 * The parts `names` need (themselves and the workspace packages they run with), in build order.
 * @param {Part[]} parts
 * @param {string[]} names
 */
export function closure(parts, names) {
  const byName = new Map(parts.map((p) => [p.name, p]));
  const want = new Set();
  /** @param {string} n */
  const add = (n) => {
    const p = byName.get(n);
    if (p === undefined || want.has(n)) return;
    want.add(n);
    for (const d of p.deps) add(d);
  };
  for (const n of names) add(n);
  return parts.filter((p) => want.has(p.name));
}

/** Hash of the inputs' paths and contents. */
export function inputsFingerprint(/** @type {Part} */ part) {
  const h = createHash("sha256");
  for (const f of part.inputs()) {
    let content;
    try {
      content = readFileSync(f);
    } catch {
      content = "\0missing";
    }
    h.update(relative(part.root, f)).update("\0").update(content).update("\0");
  }
  return h.digest("hex");
}

/** Hash of the outputs' paths, sizes and modification times (no content: dist/ is large). */
export function outputsFingerprint(/** @type {Part} */ part) {
  const files = part.outputs();
  if (files.length === 0) return "none";
  const h = createHash("sha256");
  for (const f of files) {
    const s = statSync(f, { throwIfNoEntry: false });
    h.update(`${relative(part.root, f)}\0${s?.size ?? -1}\0${s?.mtimeMs ?? -1}\n`);
  }
  return h.digest("hex");
}

/** What was built, by part; empty when nothing was recorded (or by another version of this). */
export function readStamp(file = stampFile()) {
  try {
    const s = JSON.parse(readFileSync(file, "utf8"));
    return /** @type {Stamp} */ (
      s?.version === STAMP_VERSION && typeof s.parts === "object" ? s.parts : {}
    );
  } catch {
    return /** @type {Stamp} */ ({});
  }
}

/** Records what was built (atomically: a reader never sees half a file). */
export function writeStamp(/** @type {Stamp} */ parts, file = stampFile()) {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify({ version: STAMP_VERSION, parts }, null, 1)}\n`);
  renameSync(tmp, file);
}

/**
 * Which of `parts` must be built, and why, in build order. `inputs` holds every part's inputs
 * fingerprint as read now: the build records it for a part once that part is built.
 * @param {Part[]} parts
 * @param {Stamp} stamp
 * @param {boolean} [force] every part is stale
 */
export function staleParts(parts, stamp, force = false) {
  /** @type {{ part: Part; reason: string }[]} */
  const stale = [];
  /** @type {Map<string, string>} */
  const inputs = new Map();
  const staleNames = new Set();
  for (const part of parts) {
    const now = inputsFingerprint(part);
    inputs.set(part.name, now);
    const was = stamp[part.name];
    const dep = part.deps.find((d) => staleNames.has(d));
    const reason = force
      ? "forced"
      : was === undefined
        ? "not built here yet"
        : was.inputs !== now
          ? "sources changed"
          : was.outputs !== outputsFingerprint(part)
            ? "its output was written by another build"
            : dep !== undefined
              ? `${dep} is rebuilt`
              : undefined;
    if (reason !== undefined) {
      stale.push({ part, reason });
      staleNames.add(part.name);
    }
  }
  return { stale, inputs };
}

/**
 * Runs `step` for each of `parts` (given in build order), up to `width` at a time, starting a
 * part only once every part of `parts` it builds after has finished. On a failure no part
 * starts any more; the parts already running finish, then the first error is thrown.
 * @template {{ name: string; after: string[] }} P
 * @param {P[]} parts
 * @param {number} width
 * @param {(part: P) => Promise<void>} step
 */
export async function inDependencyOrder(parts, width, step) {
  const waiting = [...parts];
  const unfinished = new Set(parts.map((p) => p.name));
  /** @type {Map<string, Promise<void>>} */
  const running = new Map();
  /** @type {{ error: unknown } | undefined} */
  let failed;
  for (;;) {
    while (failed === undefined && running.size < Math.max(1, width)) {
      const i = waiting.findIndex((p) => p.after.every((a) => !unfinished.has(a)));
      if (i < 0) break;
      const [part] = waiting.splice(i, 1);
      if (part === undefined) break;
      running.set(
        part.name,
        step(part).then(
          () => {
            unfinished.delete(part.name);
            running.delete(part.name);
          },
          (/** @type {unknown} */ error) => {
            failed ??= { error };
            running.delete(part.name);
          },
        ),
      );
    }
    if (running.size === 0) break;
    await Promise.race(running.values());
  }
  if (failed !== undefined) throw failed.error;
  if (waiting.length > 0)
    throw new Error(`parts wait for each other: ${waiting.map((p) => p.name).join(", ")}`);
}
