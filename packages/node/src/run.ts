// Running a node as a process: read and validate its config file, start it, and stop it
// cleanly on SIGINT/SIGTERM.
import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { setFlagsFromString } from "node:v8";
import { EnigmaError, ErrorCode } from "@enigma/protocol";
import {
  applyDeployment,
  resolveNodeConfig,
  withDeploymentStandIns,
  type NodeConfig,
  type NodeUserConfig,
} from "./config.js";
import { EnigmaNode } from "./node.js";

export interface LoadNodeConfigOptions {
  /**
   * With a `deployment` in the config: wait for the deployment file (true, default) or, when
   * it is not there yet, validate with stand-ins for what it will provide (false: a dry run).
   */
  waitForDeployment?: boolean;
  /** Called once when the deployment file is not there yet and is being waited for. */
  onWaiting?: (file: string) => void;
  /** Top-level fields that replace the file's (command-line flags: `preset`, `logLevel`). */
  overrides?: Pick<NodeUserConfig, "preset" | "logLevel">;
}

/**
 * Reads a JSON config file and validates it (InvalidConfig names every problem). A config
 * with `deployment.file` (relative to the config file's folder) gets its absent chain fields
 * from that deployment file, waiting up to `deployment.waitMs` for it to appear.
 */
export async function loadNodeConfig(
  file: string,
  options: LoadNodeConfigOptions = {},
): Promise<NodeConfig> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (cause) {
    throw new EnigmaError(ErrorCode.InvalidConfig, `cannot read the node config ${file}`, {
      details: { file },
      cause,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new EnigmaError(ErrorCode.InvalidConfig, `the node config ${file} is not valid JSON`, {
      details: { file },
      cause,
    });
  }
  if (options.overrides !== undefined && typeof json === "object" && json !== null) {
    json = { ...(json as Record<string, unknown>), ...stripUndefined(options.overrides) };
  }
  const deployment = deploymentOf(json);
  if (deployment === undefined) return resolveNodeConfig(json);
  const deploymentFile = resolve(dirname(file), deployment.file);
  const secretsFile =
    typeof deployment.secrets === "string" ? resolve(dirname(file), deployment.secrets) : undefined;
  const withFile = {
    ...(json as Record<string, unknown>),
    deployment: {
      ...deployment,
      file: deploymentFile,
      ...(secretsFile === undefined ? {} : { secrets: secretsFile }),
    },
  };
  // Validate what the config itself says before waiting for anything.
  const checked = resolveNodeConfig(withDeploymentStandIns(withFile));
  const waitMs = checked.deployment?.waitMs ?? 0;
  const d = await readDeployment(
    deploymentFile,
    options.waitForDeployment === false ? 0 : waitMs,
    options.onWaiting,
  );
  if (d === undefined) {
    if (options.waitForDeployment === false) return checked;
    throw new EnigmaError(
      ErrorCode.InvalidConfig,
      `the deployment file ${deploymentFile} did not appear within ${waitMs} ms (is \`enigma chain start --out\` running?)`,
      { details: { file: deploymentFile } },
    );
  }
  // The node's own secrets are written before the deployment file appears.
  const secrets = secretsFile === undefined ? undefined : await readSecrets(secretsFile);
  return resolveNodeConfig(applyDeployment(withFile, d, secrets));
}

/** A node's secrets file (seed and custodian key), which only its own host holds. */
async function readSecrets(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (cause) {
    throw new EnigmaError(
      ErrorCode.InvalidConfig,
      `cannot read the node's secrets file ${file} (deployment.secrets)`,
      { details: { file }, cause },
    );
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new EnigmaError(ErrorCode.InvalidConfig, `the secrets file ${file} is not valid JSON`, {
      details: { file },
      cause,
    });
  }
}

function stripUndefined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

function deploymentOf(json: unknown): { file: string; secrets?: string } | undefined {
  if (typeof json !== "object" || json === null || Array.isArray(json)) return undefined;
  const d = (json as { deployment?: unknown }).deployment;
  if (typeof d !== "object" || d === null) return undefined;
  const f = (d as { file?: unknown }).file;
  // The whole object (node, secrets, waitMs...): the schema checks it afterwards.
  return typeof f === "string" && f.length > 0
    ? (d as { file: string; secrets?: string })
    : undefined;
}

/** The deployment file's JSON once it exists and parses (it is written by a rename), or undefined after `waitMs`. */
async function readDeployment(
  file: string,
  waitMs: number,
  onWaiting?: (file: string) => void,
): Promise<unknown> {
  const until = Date.now() + waitMs;
  let told = false;
  for (;;) {
    let invalid: unknown;
    try {
      return JSON.parse(await readFile(file, "utf8")) as unknown;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && !(e instanceof SyntaxError)) {
        throw new EnigmaError(ErrorCode.InvalidConfig, `cannot read the deployment file ${file}`, {
          details: { file },
          cause: e,
        });
      }
      // Written by a rename, the file is never half there: JSON that stays broken is an error.
      if (e instanceof SyntaxError) invalid = e;
    }
    if (Date.now() >= until) {
      if (invalid === undefined) return undefined;
      throw new EnigmaError(
        ErrorCode.InvalidConfig,
        `the deployment file ${file} is not valid JSON`,
        {
          details: { file },
          cause: invalid,
        },
      );
    }
    if (!told) {
      told = true;
      onWaiting?.(file);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Starts a node and resolves once it has stopped, after SIGINT or SIGTERM (or `signal`).
 * `onStarted` sees the node once it is up (to print where it can be reached).
 */
/**
 * How far a node process lets V8's old generation grow past what its last full GC kept before
 * the next one, in percent (V8's `--heap-growing-percent`; set by `runNode`). A node keeps
 * 40-60 MB of live heap (every cache bounded, see the README), but V8 sizes the old generation
 * by the machine: with a heap limit of 2 GB or more it lets it reach up to 4x what survived,
 * raising that limit over minutes of steady load. Measured in the 10,000-task soak (bench:chaos):
 * old space 160-195 MB between full GCs with 45-55 MB live, RSS +24-32% after warm-up; with
 * 50% (1.5x), old space 50-80 MB and RSS +4-8% on the workers, +13% on the principal (one run
 * each, shared machine). The cost is more full GCs, each of a 50-80 MB heap.
 */
export const NODE_HEAP_GROWING_PERCENT = 50;

export async function runNode(
  config: NodeConfig,
  options: { onStarted?: (node: EnigmaNode) => void; signal?: AbortSignal } = {},
): Promise<void> {
  // Read by V8 at every full GC: it takes effect although the heap is already set up.
  setFlagsFromString(`--heap-growing-percent=${String(NODE_HEAP_GROWING_PERCENT)}`);
  const node = new EnigmaNode(config);
  let stop: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => {
    stop = () => {
      cleanup();
      void node.stop().then(resolve, resolve);
    };
  });
  const cleanup = () => {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
    options.signal?.removeEventListener("abort", stop);
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  options.signal?.addEventListener("abort", stop, { once: true });
  try {
    await node.start();
  } catch (e) {
    cleanup(); // start() already stopped what it had started
    throw e;
  }
  options.onStarted?.(node);
  await stopped;
}
