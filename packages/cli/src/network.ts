// Which network a command talks to: the devnet recorded by `enigma devnet up` (<dir>/devnet.json),
// or explicit endpoints (--rpc, --enigma, --token, --gateway, --key) over it. Everything is
// checked before a command sends anything: flags parsed, the chain and the gateway answering,
// the contracts where they are said to be.
import { resolve } from "node:path";
import type { Command } from "commander";
import type { EnigmaClient } from "@enigma/client";
// The chain view alone (protocol and ethers): read-only commands such as `epoch` must not load
// the rest of the node (libp2p, LevelDB, the enclave) to answer.
import { EnigmaChain, NodeSelection } from "@enigma/node/chain";
import {
  DEFAULT_EPOCH_POLICY,
  EnigmaError,
  ErrorCode,
  getEpochPolicy,
  getSelectionStrategy,
  type AttestationPolicy,
  type EpochPolicy,
  type WorkerSelectionStrategy,
  type Hex,
  type RsaTrustRoot,
} from "@enigma/protocol";
import { JsonRpcProvider, Network as EthersNetwork, Wallet } from "ethers";
import {
  DEFAULT_DEVNET_DIR,
  RECORD,
  isAlive,
  readRecord,
  rpcCall,
  type DevnetRecord,
} from "./devnet.js";

/** The flags `withNetworkFlags` adds, as commander hands them over (all strings). */
export interface NetworkFlags {
  dir: string;
  rpc?: string;
  enigma?: string;
  token?: string;
  gateway?: string;
  key?: string;
  account?: string;
  json?: boolean;
}

/** A network resolved from flags and the devnet record; nothing contacted yet. */
export interface Network {
  rpcUrl: string;
  enigmaAddress: Hex;
  tokenAddress: Hex;
  /** A gateway node's JSON-RPC (commands that send tasks). */
  gateway: string | undefined;
  /** The key that pays for tasks (commands that send tasks). */
  privateKey: Hex | undefined;
  trustRoot: RsaTrustRoot | undefined;
  attestationPolicy: AttestationPolicy | undefined;
  /** The devnet record, when there is one in --dir. */
  record: DevnetRecord | undefined;
  /** Devnet node names by lower-case enclave signer, to label workers. */
  names: ReadonlyMap<string, string>;
}

export function bad(message: string, details: Record<string, unknown> = {}): EnigmaError {
  return new EnigmaError(ErrorCode.InvalidArgument, message, { details });
}

/** A 20-byte address, lower-case. */
export function parseAddress(what: string, value: string): Hex {
  if (!/^0x[0-9a-fA-F]{40}$/.test(value)) {
    throw bad(`${what} must be a 20-byte 0x address, got "${value}"`);
  }
  return value.toLowerCase() as Hex;
}

/** A 32-byte id (task id, secret contract address), `0x` optional, lower-case with `0x`. */
export function parseBytes32(what: string, value: string): Hex {
  if (!/^(0x)?[0-9a-fA-F]{64}$/.test(value)) {
    throw bad(`${what} must be 32 bytes of hex (0x + 64 digits), got "${value}"`);
  }
  return `0x${value.replace(/^0x/, "").toLowerCase()}`;
}

export function parseHttpUrl(what: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw bad(`${what} must be an http(s) URL, got "${value}"`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw bad(`${what} must be an http(s) URL, got "${value}"`);
  }
  return value;
}

/** A whole number flag within [min, max]. */
export function parseWhole(what: string, value: string, min = 0n, max = 2n ** 64n - 1n): bigint {
  if (!/^\d+$/.test(value)) throw bad(`${what} must be a whole number, got "${value}"`);
  const n = BigInt(value);
  if (n < min || n > max) throw bad(`${what} must be from ${min} to ${max}, got ${value}`);
  return n;
}

function parseKey(value: string): Hex {
  const hex = `0x${value.replace(/^0x/, "")}`;
  try {
    if (!/^0x[0-9a-fA-F]{64}$/.test(hex)) throw new Error("not 32 bytes");
    new Wallet(hex);
  } catch {
    throw bad("--key must be a secp256k1 private key (0x + 64 hex digits)");
  }
  return hex.toLowerCase() as Hex;
}

/** Adds the network flags; `signer` adds those of commands that send tasks. */
export function withNetworkFlags(cmd: Command, signer: boolean): Command {
  cmd
    .option(
      "--dir <dir>",
      `devnet state folder (its ${RECORD} names the network)`,
      DEFAULT_DEVNET_DIR,
    )
    .option("--rpc <url>", "chain JSON-RPC URL (default: the devnet's)")
    .option("--enigma <address>", "Enigma contract address (default: the devnet's)")
    .option("--token <address>", "ENG token address (default: the devnet's)");
  if (signer) {
    cmd
      .option("--gateway <url>", "gateway node JSON-RPC URL (default: the devnet's first worker)")
      .option("--key <hex>", "private key that pays for tasks (default: a devnet account)")
      .option("--account <n>", "devnet user account that pays for tasks", "0");
  }
  return cmd.option("--json", "print one JSON object on stdout (progress goes to stderr)");
}

/**
 * Resolves the network from the flags and the devnet record in --dir, validating every flag;
 * contacts nothing. `signer`: the command sends tasks (gateway, key, trust root needed).
 */
export async function resolveNetwork(flags: NetworkFlags, signer: boolean): Promise<Network> {
  const dir = resolve(flags.dir);
  const rpc = flags.rpc === undefined ? undefined : parseHttpUrl("--rpc", flags.rpc);
  const enigma = flags.enigma === undefined ? undefined : parseAddress("--enigma", flags.enigma);
  const token = flags.token === undefined ? undefined : parseAddress("--token", flags.token);
  const gateway =
    flags.gateway === undefined ? undefined : parseHttpUrl("--gateway", flags.gateway);
  const key = flags.key === undefined ? undefined : parseKey(flags.key);
  const account = flags.account === undefined ? 0 : Number(parseWhole("--account", flags.account));
  const explicit = rpc !== undefined && enigma !== undefined && token !== undefined;

  const record = await readRecord(dir);
  if (record === undefined && !explicit) {
    throw new EnigmaError(
      ErrorCode.InvalidConfig,
      `no devnet recorded in ${dir} (no ${RECORD}): start one with \`enigma devnet up\`, point --dir at its folder, or give --rpc, --enigma and --token`,
    );
  }
  if (record !== undefined && rpc === undefined && !isAlive(record.pid)) {
    throw new EnigmaError(
      ErrorCode.InvalidConfig,
      `the devnet recorded in ${dir} is not running (pid ${record.pid} is gone): start one with \`enigma devnet up\``,
    );
  }
  const names = new Map<string, string>();
  for (const n of record?.nodes ?? []) names.set(n.signer.toLowerCase(), n.name);

  const net: Network = {
    rpcUrl: rpc ?? record?.chain.rpcUrl ?? "",
    enigmaAddress: enigma ?? record?.chain.enigmaAddress ?? "0x",
    tokenAddress: token ?? record?.chain.tokenAddress ?? "0x",
    gateway: undefined,
    privateKey: undefined,
    trustRoot: record?.trustRoot,
    attestationPolicy: record?.attestationPolicy,
    record,
    names,
  };
  if (!signer) return net;

  net.gateway = gateway ?? record?.nodes.find((n) => n.rpcUrl !== undefined)?.rpcUrl;
  if (net.gateway === undefined) {
    throw bad(`no gateway: give --gateway <url> (no devnet recorded in ${dir})`);
  }
  if (key !== undefined) {
    net.privateKey = key;
  } else {
    const accounts = record?.accounts ?? [];
    const a = accounts[account];
    if (a === undefined) {
      throw bad(
        record === undefined
          ? `no key: give --key <hex> (no devnet recorded in ${dir})`
          : `no account ${account}: the devnet has ${accounts.length} (0 to ${accounts.length - 1})`,
      );
    }
    net.privateKey = a.privateKey;
  }
  if (net.trustRoot === undefined || net.attestationPolicy === undefined) {
    throw new EnigmaError(
      ErrorCode.InvalidConfig,
      `sending a task verifies the worker's attestation against the devnet's trust root: no devnet recorded in ${dir} (point --dir at the devnet's folder)`,
    );
  }
  return net;
}

function reason(e: unknown): string {
  if (e instanceof Error && e.name === "TimeoutError") return "no answer within 3 s";
  const cause = (e as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
  if (typeof cause?.code === "string") return cause.code;
  if (typeof cause?.message === "string") return cause.message;
  return e instanceof Error ? e.message : String(e);
}

/** A connection to a resolved network; `close()` releases every socket and timer. */
export interface Connection {
  readonly net: Network;
  readonly chain: EnigmaChain;
  readonly provider: JsonRpcProvider;
  /** Present when the network has a signer (commands that send tasks). */
  readonly client: EnigmaClient | undefined;
  /**
   * Who is selected for what: the devnet's strategy (its record), else the one the Enigma
   * contract was deployed with, over the chain's epochs.
   */
  readonly selection: NodeSelection;
  /** The network's epoch policy (the devnet's; Discovery's, the contract's, otherwise). */
  readonly epochs: EpochPolicy;
  /** A label for a worker signer: `0xabc... (worker-2)` on a devnet. */
  worker(signer: string): string;
  close(): Promise<void>;
}

/**
 * Checks that the chain answers, that the contracts are there and (with a signer) that the
 * gateway answers, then connects. One-line errors name what is unreachable.
 */
export async function connect(
  net: Network,
  o: { pollIntervalMs?: number; timeoutMs?: number } = {},
): Promise<Connection> {
  let chainId: bigint;
  try {
    chainId = BigInt(String(await rpcCall(net.rpcUrl, "eth_chainId", [])));
  } catch (e) {
    throw new EnigmaError(
      ErrorCode.ChainError,
      `cannot reach the chain at ${net.rpcUrl} (${reason(e)}): is the devnet running? (\`enigma devnet status\`)`,
    );
  }
  if (net.gateway !== undefined) {
    try {
      await rpcCall(net.gateway, "getInfo", {});
    } catch (e) {
      throw new EnigmaError(
        ErrorCode.RpcTransport,
        `cannot reach the gateway at ${net.gateway} (${reason(e)})`,
      );
    }
  }
  const chain = await EnigmaChain.connect({
    rpcUrl: net.rpcUrl,
    enigmaAddress: net.enigmaAddress,
    tokenAddress: net.tokenAddress,
    retry: { attempts: 1 },
    pollIntervalMs: o.pollIntervalMs ?? 100,
  });
  let strategy: WorkerSelectionStrategy;
  let epochs: EpochPolicy;
  try {
    strategy = getSelectionStrategy(net.record?.options.selection ?? (await chain.selectionName()));
    epochs = getEpochPolicy(net.record?.options.epochPolicy ?? DEFAULT_EPOCH_POLICY);
  } catch (e) {
    await chain.close();
    throw e;
  }
  const provider = new JsonRpcProvider(net.rpcUrl, EthersNetwork.from(chainId), {
    staticNetwork: true,
    cacheTimeout: -1,
    batchStallTime: 0,
    pollingInterval: o.pollIntervalMs ?? 100,
  });
  // The SDK loads only for commands that send tasks.
  const client =
    net.privateKey === undefined || net.gateway === undefined
      ? undefined
      : new (await import("@enigma/client")).EnigmaClient({
          signer: new Wallet(net.privateKey, provider),
          enigmaAddress: net.enigmaAddress,
          tokenAddress: net.tokenAddress,
          nodeUrl: net.gateway,
          ...(net.trustRoot === undefined ? {} : { trustRoot: net.trustRoot }),
          ...(net.attestationPolicy === undefined
            ? {}
            : { attestationPolicy: net.attestationPolicy }),
          pollIntervalMs: o.pollIntervalMs ?? 100,
          selection: strategy,
          resultTimeoutMs: o.timeoutMs ?? 120_000,
          receiptTimeoutMs: o.timeoutMs ?? 120_000,
        });
  return {
    net,
    chain,
    provider,
    client,
    selection: new NodeSelection(strategy, chain),
    epochs,
    worker: (signer) => {
      const name = net.names.get(signer.toLowerCase());
      return name === undefined ? signer : `${signer} (${name})`;
    },
    close: async () => {
      // The SDK's WebSocket to the gateway (result push) kept the process alive after a task.
      client?.close();
      provider.destroy();
      await chain.close();
    },
  };
}

/**
 * Devnet only: mines to the end of the current epoch (`hardhat_mine`) and resolves with the
 * new epoch's index once the principal has set it. Receipts are committed when an epoch ends.
 */
export async function advanceEpoch(c: Connection, timeoutMs = 60_000): Promise<number> {
  const before = await c.chain.currentEpoch();
  const head = await c.chain.blockNumber();
  const target = c.epochs.nextEpochBlock(before?.firstBlockNumber ?? head, c.chain.epochSize);
  if (head < target) {
    try {
      await c.provider.send("hardhat_mine", [`0x${(target - head).toString(16)}`]);
    } catch (e) {
      throw new EnigmaError(
        ErrorCode.ChainError,
        `--advance-epoch needs a devnet chain (hardhat_mine failed: ${reason(e)})`,
      );
    }
  }
  const until = Date.now() + timeoutMs;
  for (;;) {
    const now = await c.chain.currentEpoch();
    if (now !== undefined && now.index !== before?.index) return now.index;
    if (Date.now() > until) {
      throw new EnigmaError(ErrorCode.NodeNotReady, "the principal did not set the next epoch");
    }
    // Polling: the chain has no push channel here, and the principal sets the epoch soon.
    await new Promise((r) => setTimeout(r, 50));
  }
}
