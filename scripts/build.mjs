#!/usr/bin/env node
// @ts-check
/**
 * The repository's build (`pnpm run build`): the contracts (`hardhat build`) and each
 * workspace package's own `build` script, one per core, each after the parts it depends on; only
 * the parts that are not up to date (see build-state.mjs), so a build with nothing changed takes
 * a few tens of milliseconds. Packages build with `tsc -b` (project references, .tsbuildinfo), so
 * a part that is rebuilt recompiles only what changed. One progress line per part, with its
 * duration, on stderr.
 *
 *   node scripts/build.mjs            # every part
 *   node scripts/build.mjs --force    # run every part's build step, even those up to date
 *                                     # (tsc -b and Hardhat still skip what they find unchanged)
 *
 * `build()` is also what `scripts/enigma.mjs` runs, for the parts the CLI needs.
 */
import { spawn } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import {
  CONTRACTS,
  ROOT,
  buildParts as allParts,
  inDependencyOrder,
  outputsFingerprint,
  readStamp,
  staleParts,
  stampFile,
  writeStamp,
} from "./build-state.mjs";

/** @typedef {import("./build-state.mjs").Part} Part */

const secs = (/** @type {number} */ ms) =>
  ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;

/**
 * Parts built at once: one per core. Each build step (tsc -b, hardhat, asc) is one thread, and
 * one after the other a fresh checkout's 11 parts took ~67 s with a core idle.
 */
const BUILD_WIDTH = availableParallelism();

/** pnpm as the caller ran it, else the repository's (.tools/bin), else the one on PATH. */
function pnpmCommand() {
  const execpath = process.env["npm_execpath"];
  if (execpath !== undefined && /pnpm\.c?js$/.test(execpath)) return [process.execPath, execpath];
  const tools = join(ROOT, ".tools", "bin", "pnpm");
  return [existsSync(tools) ? tools : "pnpm"];
}

/** The command that builds one part. */
function commandOf(/** @type {Part} */ part) {
  if (part.name === CONTRACTS)
    return [join(ROOT, "node_modules", ".bin", "hardhat"), "build", "--quiet"];
  return [...pnpmCommand(), "--silent", "--filter", part.name, "run", "build"];
}

/**
 * Runs a command and passes on what it printed, to our stderr (callers such as `enigma --json`
 * keep stdout for their own output), once it is done and only if it printed more than blank
 * lines (`hardhat build --quiet` prints one empty line per compilation). Rejects when it fails.
 */
function run(/** @type {string[]} */ [cmd = "", ...args]) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    /** @type {Buffer[]} */
    const output = [];
    child.stdout.on("data", (d) => output.push(d));
    child.stderr.on("data", (d) => output.push(d));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      const text = Buffer.concat(output).toString("utf8").trim();
      if (text !== "") process.stderr.write(`${text}\n`);
      if (code === 0) resolve(undefined);
      else reject(new Error(`${[cmd, ...args].join(" ")} failed (${signal ?? `exit ${code}`})`));
    });
  });
}

/**
 * One build at a time per checkout: a second `enigma` (or `pnpm build`) started while a build
 * runs waits for it, then checks again, instead of writing the same files at the same time.
 * The lock file holds the builder's pid; one whose process is gone is taken over.
 */
async function withLock(
  /** @type {() => Promise<void>} */ f,
  log = (/** @type {string} */ _m) => {},
) {
  const lock = `${stampFile()}.lock`;
  mkdirSync(dirname(lock), { recursive: true });
  let told = false;
  for (;;) {
    try {
      const fd = openSync(lock, "wx");
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (e) {
      if (/** @type {NodeJS.ErrnoException} */ (e).code !== "EEXIST") throw e;
    }
    const holder = Number(readOr(lock, "gone"));
    // An empty file is a lock being written; a second later it is one that never was.
    const empty = Number.isNaN(holder) || holder === 0;
    const age = Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? 0);
    if ((!empty && !alive(holder)) || (empty && age > 1000)) {
      rmSync(lock, { force: true });
      continue;
    }
    if (!told && !empty) log(`waiting for the build already running (pid ${holder})`);
    told ||= !empty;
    await new Promise((r) => setTimeout(r, 200));
  }
  try {
    await f();
  } finally {
    rmSync(lock, { force: true });
  }
}

function readOr(/** @type {string} */ f, /** @type {string} */ fallback) {
  try {
    return readFileSync(f, "utf8");
  } catch {
    return fallback;
  }
}

function alive(/** @type {number} */ pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return /** @type {NodeJS.ErrnoException} */ (e).code === "EPERM";
  }
}

/**
 * Builds the parts of `parts` that are stale (all with `force`), `width` at a time, each after
 * the parts it builds after, writing one line per part to `log`. Resolves to the number of
 * parts built; rejects when one fails (the parts built before it stay recorded as built).
 * @param {{ parts?: Part[]; force?: boolean; width?: number; log?: (m: string) => void }} [o]
 */
export async function build(o = {}) {
  const parts = o.parts ?? allParts();
  const log = o.log ?? ((m) => process.stderr.write(`build: ${m}\n`));
  let built = 0;
  await withLock(async () => {
    const stamp = readStamp();
    const { stale, inputs } = staleParts(parts, stamp, o.force);
    if (stale.length > 0) {
      log(
        `${stale.length} of ${parts.length} parts to build: ${stale.map((s) => s.part.name).join(", ")}`,
      );
    }
    await inDependencyOrder(
      stale.map(({ part, reason }) => ({ ...part, reason })),
      o.width ?? BUILD_WIDTH,
      async (part) => {
        const started = performance.now();
        await run(commandOf(part)).catch((e) => {
          log(`${part.name} failed after ${secs(performance.now() - started)}`);
          throw e;
        });
        stamp[part.name] = {
          inputs: inputs.get(part.name) ?? "",
          outputs: outputsFingerprint(part),
        };
        // Recorded part by part: a later failure does not make the parts already built stale.
        writeStamp(stamp);
        built++;
        log(`${part.name} built in ${secs(performance.now() - started)} (${part.reason})`);
      },
    );
  }, log);
  return built;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const started = performance.now();
  const force = process.argv.includes("--force");
  try {
    const parts = allParts();
    const built = await build({ parts, force });
    const took = secs(performance.now() - started);
    process.stderr.write(
      built === 0
        ? `build: up to date (${parts.length} parts checked in ${took})\n`
        : `build: ${built} of ${parts.length} parts built in ${took}\n`,
    );
  } catch (e) {
    process.stderr.write(`build: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  }
}
