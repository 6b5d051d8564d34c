// Running a node as a process: read and validate its config file, start it, and stop it
// cleanly on SIGINT/SIGTERM.
import { readFile } from "node:fs/promises";
import { EnigmaError, ErrorCode } from "@enigma/protocol";
import { resolveNodeConfig, type NodeConfig } from "./config.js";
import { EnigmaNode } from "./node.js";

/** Reads a JSON config file and validates it (InvalidConfig names every problem). */
export async function loadNodeConfig(file: string): Promise<NodeConfig> {
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
  return resolveNodeConfig(json);
}

/**
 * Starts a node and resolves once it has stopped, after SIGINT or SIGTERM (or `signal`).
 * `onStarted` sees the node once it is up (to print where it can be reached).
 */
export async function runNode(
  config: NodeConfig,
  options: { onStarted?: (node: EnigmaNode) => void; signal?: AbortSignal } = {},
): Promise<void> {
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
