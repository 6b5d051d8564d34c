// `enigma chain start`: the chain of a devnet without its nodes, for networks spread over
// several hosts or containers. It serves the Hardhat (EDR) chain, deploys the contracts, funds
// the seed's custodian and user accounts, and writes a deployment file (RPC URL as others
// reach it, addresses, trust root, policy, the attestation service key next to it, node seeds
// and custodians) from which `enigma node start` configs take what they need. It runs in the
// foreground and removes the deployment file when it stops (Ctrl-C / SIGTERM).
import { dirname, resolve } from "node:path";
import { type Command, InvalidArgumentError } from "commander";
import type { DevnetOptions } from "@enigma/devnet";
// The presets alone here: the rest of @enigma/devnet (Hardhat, the node) loads when `chain
// start` runs, so that every other command starts without it.
import { resolveDevnetOptions } from "@enigma/devnet/presets";
import type { CliIo } from "./main.js";
import { parseBlockTime } from "./devnet.js";

export const DEFAULT_DEPLOYMENT_FILE = ".chain/deployment.json";
/** Nobody else mines on a chain alone: blocks come on an interval unless told otherwise. */
const DEFAULT_BLOCK_TIME = 1000;

interface ChainFlags {
  host: string;
  port: number;
  publicUrl?: string;
  principalP2p?: string;
  preset: string;
  seed?: string;
  workers?: number;
  epochBlocks?: number;
  blockTime?: string;
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
    seed: opts.seed,
    blockTime,
  });
  const { checkChainOptions } = await import("@enigma/devnet");
  checkChainOptions({
    users: opts.users,
    port: opts.port,
    ...(opts.publicUrl === undefined ? {} : { publicUrl: opts.publicUrl }),
    ...(opts.principalP2p === undefined ? {} : { principalP2p: opts.principalP2p }),
  });
  return options;
}

async function start(io: CliIo, opts: ChainFlags): Promise<void> {
  const options = await chainOptionsFromFlags(opts);
  const { removeDeployment, startChain } = await import("@enigma/devnet");
  const out = resolve(opts.out);
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
      users: opts.users,
      ...(opts.publicUrl === undefined ? {} : { publicUrl: opts.publicUrl }),
      ...(opts.principalP2p === undefined ? {} : { principalP2p: opts.principalP2p }),
      onProgress: (m) => {
        io.err(`chain: ${m}\n`);
      },
    });
    try {
      await chain.writeDeployment(out);
      io.err(
        `chain: up in ${((performance.now() - started) / 1000).toFixed(1)} s at ${chain.rpcUrl}; deployment written to ${out}; Ctrl-C stops it\n`,
      );
      const d = chain.deployment(out);
      io.out(
        opts.json === true
          ? `${JSON.stringify(d)}\n`
          : [
              ["chain", `${chain.rpcUrl} (chain id ${d.chainId}), others use ${d.rpcUrl}`],
              ["Enigma", d.enigmaAddress],
              ["ENG token", d.tokenAddress],
              ["deployment", out],
              ["service key", chain.attestationServiceKeyFile],
            ]
              .map(([k, v]) => `${(k ?? "").padEnd(12)} ${v ?? ""}\n`)
              .join(""),
      );
      if (signalled === undefined) await new Promise<void>((r) => (wake = r));
      io.err(`chain: ${signalled ?? "signal"}, stopping\n`);
    } finally {
      await removeDeployment(out);
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
  chain
    .command("start")
    .description(
      "serve the chain, deploy the contracts, fund the seed's accounts and write a deployment file; Ctrl-C stops it",
    )
    .option("--host <host>", "interface to listen on (0.0.0.0 for other hosts)", "127.0.0.1")
    .option("--port <port>", "JSON-RPC port", intArg("--port"), 8545)
    .option("--public-url <url>", "the RPC URL as other hosts reach it (default: the local one)")
    .option(
      "--principal-p2p <multiaddr>",
      "where nodes reach the principal's libp2p (e.g. /dns4/principal/tcp/4001); written with its peer id as the deployment's bootstrap",
    )
    .option("--preset <name>", "fast | realistic", "fast")
    .option("--seed <s>", "seed for keys and randomness (nodes take theirs from the deployment)")
    .option("--workers <n>", "worker custodian accounts to fund", intArg("--workers"))
    .option("--epoch-blocks <n>", "blocks per epoch", intArg("--epoch-blocks"))
    .option(
      "--block-time <ms|auto>",
      `block interval in ms, or auto (default ${DEFAULT_BLOCK_TIME})`,
    )
    .option("--users <n>", "funded user accounts", intArg("--users"), 3)
    .option(
      "--out <file>",
      "deployment file (the attestation service key is written next to it)",
      DEFAULT_DEPLOYMENT_FILE,
    )
    .option("--check-config", "validate the options and exit")
    .option("--json", "print the deployment as one JSON line on stdout")
    .exitOverride()
    .action(async (opts: ChainFlags) => {
      await start(io, opts);
    });
}
