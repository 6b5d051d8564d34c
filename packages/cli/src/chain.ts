// `enigma chain start`: the chain of a devnet without its nodes, for networks spread over
// several hosts or containers. It serves the Hardhat (EDR) chain and the attestation service
// (whose key stays in this process), deploys the contracts, funds the seed's custodian and user
// accounts, writes one secrets file per node (its seed and custodian key, for its host only)
// and a deployment file with nothing secret in it (RPC URL as others reach it, addresses, the
// attestation service's URL and trust root, policy, peer ids) from which `enigma node start`
// configs take what they need. It runs in the foreground and removes both when it stops.
import { rm } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { type Command, InvalidArgumentError } from "commander";
import type { DevnetOptions } from "@enigma/devnet";
// The presets alone here: the rest of @enigma/devnet (Hardhat, the node) loads when `chain
// start` runs, so that every other command starts without it.
import { resolveDevnetOptions } from "@enigma/devnet/presets";
import type { CliIo } from "./main.js";
import { parseBlockTime, withTimingFlags } from "./devnet.js";

export const DEFAULT_DEPLOYMENT_FILE = ".chain/deployment.json";
/** Nobody else mines on a chain alone: blocks come on an interval unless told otherwise. */
const DEFAULT_BLOCK_TIME = 1000;

interface ChainFlags {
  host: string;
  port: number;
  publicUrl?: string;
  attestationPort: number;
  attestationPublicUrl?: string;
  secretsDir?: string;
  principalP2p?: string;
  preset: string;
  seed?: string;
  workers?: number;
  epochBlocks?: number;
  epochSeconds?: number;
  taskTimeout?: number;
  blockTime?: string;
  selection?: string;
  epochPolicy?: string;
  users: number;
  out: string;
  checkConfig?: boolean;
  json?: boolean;
}

function intArg(name: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`${name} must be a whole number`);
    return Number(value);
  };
}

/** Validates the flags (InvalidConfig names the field) without starting anything. */
export async function chainOptionsFromFlags(opts: ChainFlags): Promise<DevnetOptions> {
  const blockTime =
    opts.blockTime === undefined ? DEFAULT_BLOCK_TIME : parseBlockTime(opts.blockTime);
  const options = resolveDevnetOptions(opts.preset, {
    workers: opts.workers,
    epochBlocks: opts.epochBlocks,
    epochSeconds: opts.epochSeconds,
    taskTimeoutBlocks: opts.taskTimeout,
    seed: opts.seed,
    blockTime,
    selection: opts.selection,
    epochPolicy: opts.epochPolicy,
  });
  const { checkChainOptions } = await import("@enigma/devnet");
  checkChainOptions({
    users: opts.users,
    port: opts.port,
    attestationPort: opts.attestationPort,
    ...(opts.publicUrl === undefined ? {} : { publicUrl: opts.publicUrl }),
    ...(opts.attestationPublicUrl === undefined
      ? {}
      : { attestationPublicUrl: opts.attestationPublicUrl }),
    ...(opts.principalP2p === undefined ? {} : { principalP2p: opts.principalP2p }),
  });
  return options;
}

async function start(io: CliIo, opts: ChainFlags): Promise<void> {
  const options = await chainOptionsFromFlags(opts);
  const { removeDeployment, startChain } = await import("@enigma/devnet");
  const out = resolve(opts.out);
  const secretsDir = resolve(opts.secretsDir ?? join(dirname(out), "secrets"));
  if (opts.checkConfig === true) {
    io.out(
      opts.json === true
        ? `${JSON.stringify({ ok: true, options, out })}\n`
        : `config ok: ${options.workers} workers, seed "${options.seed}", deployment file ${out}\n`,
    );
    return;
  }
  // A previous chain's deployment must not be picked up by nodes waiting for this one.
  await removeDeployment(out);
  let signalled: string | undefined;
  let wake: () => void = () => undefined;
  const onSignal = (sig: string) => () => {
    signalled = sig;
    wake();
  };
  const onInt = onSignal("SIGINT");
  const onTerm = onSignal("SIGTERM");
  process.once("SIGINT", onInt);
  process.once("SIGTERM", onTerm);
  const started = performance.now();
  try {
    const chain = await startChain({
      ...options,
      dir: dirname(out),
      host: opts.host,
      port: opts.port,
      attestationPort: opts.attestationPort,
      users: opts.users,
      ...(opts.publicUrl === undefined ? {} : { publicUrl: opts.publicUrl }),
      ...(opts.attestationPublicUrl === undefined
        ? {}
        : { attestationPublicUrl: opts.attestationPublicUrl }),
      ...(opts.principalP2p === undefined ? {} : { principalP2p: opts.principalP2p }),
      onProgress: (m) => {
        io.err(`chain: ${m}\n`);
      },
    });
    let secrets: string[] = [];
    try {
      // Secrets first: a node that sees the deployment file finds its secrets file there.
      secrets = await chain.writeSecrets(secretsDir);
      await chain.writeDeployment(out);
      io.err(
        `chain: up in ${((performance.now() - started) / 1000).toFixed(1)} s at ${chain.rpcUrl}; deployment written to ${out}; Ctrl-C stops it\n`,
      );
      const d = chain.deployment();
      io.out(
        opts.json === true
          ? `${JSON.stringify(d)}\n`
          : [
              ["chain", `${chain.rpcUrl} (chain id ${d.chainId}), others use ${d.rpcUrl}`],
              ["Enigma", d.enigmaAddress],
              ["ENG token", d.tokenAddress],
              ["attestation", `${chain.attestationUrl}, others use ${d.attestationUrl}`],
              ["deployment", out],
              ["secrets", `${secretsDir}/<node>/secrets.json (give each host only its own)`],
              ["user keys", `${secretsDir}/users.json`],
            ]
              .map(([k, v]) => `${(k ?? "").padEnd(12)} ${v ?? ""}\n`)
              .join(""),
      );
      if (signalled === undefined) await new Promise<void>((r) => (wake = r));
      io.err(`chain: ${signalled ?? "signal"}, stopping\n`);
    } finally {
      await removeDeployment(out);
      for (const file of secrets) await rm(file, { force: true });
      await chain.stop();
    }
  } finally {
    process.off("SIGINT", onInt);
    process.off("SIGTERM", onTerm);
  }
  io.err("chain: stopped\n");
}

/** Adds `chain start`. */
export function registerChain(program: Command, io: CliIo): void {
  const chain = program
    .command("chain")
    .description("a chain with the contracts deployed, for nodes on other hosts")
    .exitOverride();
  withTimingFlags(chain.command("start"))
    .description(
      "serve the chain, deploy the contracts, fund the seed's accounts and write a deployment file; Ctrl-C stops it",
    )
    .option("--host <host>", "interface to listen on (0.0.0.0 for other hosts)", "127.0.0.1")
    .option("--port <port>", "JSON-RPC port", intArg("--port"), 8545)
    .option("--public-url <url>", "the RPC URL as other hosts reach it (default: the local one)")
    .option(
      "--attestation-port <port>",
      "port of the attestation service (this process holds its key)",
      intArg("--attestation-port"),
      8546,
    )
    .option(
      "--attestation-public-url <url>",
      "the attestation service's URL as other hosts reach it (default: the local one)",
    )
    .option(
      "--secrets-dir <dir>",
      "where each node's secrets go, one folder per node (default: secrets/ next to --out; keep it off shared storage)",
    )
    .option(
      "--principal-p2p <multiaddr>",
      "where nodes reach the principal's libp2p (e.g. /dns4/principal/tcp/4001); written with its peer id as the deployment's bootstrap",
    )
    .option("--preset <name>", "fast | realistic", "fast")
    .option("--seed <s>", "seed for keys and randomness (nodes take theirs from the deployment)")
    .option("--workers <n>", "worker custodian accounts to fund", intArg("--workers"))
    .option(
      "--block-time <ms|auto>",
      `block interval in ms, or auto (default ${DEFAULT_BLOCK_TIME})`,
    )
    .option("--users <n>", "funded user accounts", intArg("--users"), 3)
    .option(
      "--out <file>",
      "deployment file (nothing secret in it: share it with every host)",
      DEFAULT_DEPLOYMENT_FILE,
    )
    .option("--check-config", "validate the options and exit")
    .option("--json", "print the deployment as one JSON line on stdout")
    .exitOverride()
    .action(async (opts: ChainFlags) => {
      await start(io, opts);
    });
}
