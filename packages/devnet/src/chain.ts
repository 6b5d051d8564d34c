// The chain half of a devnet: a Hardhat (EDR) chain served over HTTP from this process, the
// attestation service (its key derived from the seed, held only here, served over HTTP), the
// token and Enigma contracts, and funded custodian and user accounts. `startDevnet` starts its
// nodes on top of it; `enigma chain start` runs it alone and writes a deployment file (nothing
// secret: addresses, the service's URL and trust root) from which nodes on other hosts (or in
// containers) take what they need, and one secrets file per node for that node's host only.
import { createHash } from "node:crypto";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  AttestationServer,
  EnclaveIdentity,
  SIMULATED_ENCLAVE_MEASUREMENT,
  type EnclaveMeasurement,
  type SimulatedAttestationService,
} from "@enigma/enclave";
import { enclaveSeedOf } from "@enigma/node";
import {
  EnigmaError,
  ErrorCode,
  bytesToHex,
  hexToBytes,
  keccak256,
  trustRootToJwk,
  type AttestationPolicy,
  type Hex,
  type RsaTrustRoot,
} from "@enigma/protocol";
import {
  type ContractTransactionResponse,
  JsonRpcProvider,
  NonceManager,
  Wallet,
  hexlify,
} from "ethers";
import { createHardhatRuntimeEnvironment } from "hardhat/hre";
import { deployEnigma } from "./deploy.js";
import { BlockPacer } from "./pacer.js";
import { blockPaceMs, resolveDevnetOptions, type DevnetOptions } from "./presets.js";
import { useGanacheRevertWording } from "./revert-wording.js";
import { peerIdOfSeed } from "./peer-id.js";
import { seededAttestationService } from "./service-key.js";
import { replayChain, type ChainHistory } from "./snapshot.js";
import { Teardown } from "./teardown.js";

/** 1 ENG in grains (8 decimals). */
export const ENG = 10n ** 8n;
const WORKER_FUNDS = 1_000n * ENG;
const USER_FUNDS = 10_000n * ENG;
const ETH_FUNDS = `0x${(1_000n * 10n ** 18n).toString(16)}`;
// Hardhat's default account 0 (test mnemonic): it holds the ETH and, after deployment, all ENG.
const DEPLOYER_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
/** A node's own secrets file inside `<secrets dir>/<node name>/` (`Chain.writeSecrets`). */
export const NODE_SECRETS_FILE = "secrets.json";

// Same depth from src/ and dist/: packages/devnet/<src|dist>/ -> the repository root.
const REPO_ROOT = new URL("../../../", import.meta.url);

/**
 * A measurement the devnet's contract accepts but its client policy does not: what a worker
 * started with `faultyWorker: "measurement"` is registered with (a test fault).
 */
export const FAULTY_ENCLAVE_MEASUREMENT: Readonly<EnclaveMeasurement> = Object.freeze({
  ...SIMULATED_ENCLAVE_MEASUREMENT,
  mrenclave: new Uint8Array(
    createHash("sha256").update("enigma faulty enclave (devnet test fault) v1").digest(),
  ),
});

export interface DevnetAccount {
  address: Hex;
  privateKey: Hex;
}

export interface StartChainOptions extends Partial<DevnetOptions> {
  /** Preset the other fields override (`fast` | `realistic`). Default `fast`. */
  preset?: string;
  /** The chain's folder (created when missing). Required. */
  dir: string;
  /** Interface the JSON-RPC listens on. Default 127.0.0.1. */
  host?: string;
  /** Port of the JSON-RPC. Default 0 (any free port). */
  port?: number;
  /** The RPC URL as other hosts reach it (written to the deployment). Default the listening URL. */
  publicUrl?: string;
  /** Port of the attestation service (on `host`). Default 0 (any free port). */
  attestationPort?: number;
  /** The attestation service's URL as other hosts reach it. Default the listening URL. */
  attestationPublicUrl?: string;
  /** Funded user accounts. Default 3. */
  users?: number;
  /**
   * Where other nodes reach the principal's libp2p, without `/p2p/<id>` (e.g.
   * `/dns4/principal/tcp/4001`): the deployment's `bootstrap` adds the peer id from the seed.
   */
  principalP2p?: string;
  /** Also allow these measurements in the contract (not in `attestationPolicy`): test faults. */
  extraMeasurements?: readonly EnclaveMeasurement[];
  /**
   * Rebuild a snapshot's chain instead of deploying (`snapshot.ts`): a chain started at the
   * snapshot's genesis time replays its history; the contracts are where they were.
   */
  restore?: { history: ChainHistory; enigmaAddress: Hex; tokenAddress: Hex };
  onProgress?: (message: string) => void;
}

/** What nodes elsewhere need to join the chain: the deployment file's content. */
export interface ChainDeployment {
  version: 1;
  /** The chain's JSON-RPC as other hosts reach it. */
  rpcUrl: string;
  chainId: number;
  enigmaAddress: Hex;
  tokenAddress: Hex;
  epochBlocks: number;
  /** The worker-selection strategy `Enigma` was deployed with and the epoch policy (registry names). */
  selection: string;
  epochPolicy: string;
  trustRoot: RsaTrustRoot;
  attestationPolicy: AttestationPolicy;
  /** The attestation service as nodes reach it: they post their enclave's quote there. */
  attestationUrl: string;
  /**
   * Node `index` (0 = principal, then workers): public facts only. Its seed and custodian key
   * are in its own secrets file (`writeSecrets`), which goes to that node's host alone.
   */
  nodes: {
    index: number;
    role: "principal" | "worker";
    /** The libp2p peer id the node gets from its seed. */
    peerId: string;
    /** The funded custodian's address. */
    custodian: Hex;
  }[];
  /** The principal's full multiaddr (from `principalP2p`): nodes bootstrap from it. */
  bootstrap: string[];
  /**
   * Funded user accounts (ETH and ENG), addresses only: their keys are in the secrets folder's
   * `users.json`, for whoever drives clients, not for every node's host.
   */
  accounts: { address: Hex }[];
}

/** What a node's secrets file holds (`deployment.secrets` in its config reads it). */
export interface NodeSecretsFile {
  version: 1;
  index: number;
  role: "principal" | "worker";
  seed: Hex;
  custodian: DevnetAccount;
}

export interface Chain {
  readonly options: DevnetOptions;
  /** The JSON-RPC as this host reaches it. */
  readonly rpcUrl: string;
  /** The JSON-RPC as others reach it (`publicUrl`). */
  readonly publicRpcUrl: string;
  readonly chainId: number;
  readonly enigmaAddress: Hex;
  readonly tokenAddress: Hex;
  readonly provider: JsonRpcProvider;
  /** The attestation service and its key: held by this process only. */
  readonly service: SimulatedAttestationService;
  /** The attestation service's URL as this host reaches it. */
  readonly attestationUrl: string;
  /** ...and as others reach it (`attestationPublicUrl`). */
  readonly publicAttestationUrl: string;
  readonly trustRoot: RsaTrustRoot;
  readonly attestationPolicy: AttestationPolicy;
  /** Node `i`'s seed (0 = principal). */
  nodeSeed(i: number): Hex;
  /** Custodian `i` (0 = principal, then workers): ETH for all, 1,000 ENG for workers. */
  readonly custodians: readonly DevnetAccount[];
  readonly accounts: readonly DevnetAccount[];
  /** Mines `blocks` empty blocks. */
  mine(blocks: number): Promise<void>;
  /** The balances this harness set by cheat code (`hardhat_setBalance`): a snapshot keeps them. */
  readonly cheatBalances: readonly { address: Hex; wei: string }[];
  /** The pacer mining empty blocks while the chain is idle (undefined when not needed). */
  readonly pacer: BlockPacer | undefined;
  /** The deployment file's content. */
  deployment(): ChainDeployment;
  /** Writes the deployment file atomically (other processes wait for it to appear). */
  writeDeployment(file: string): Promise<void>;
  /** Node `i`'s own secrets: its seed and its custodian account. */
  nodeSecrets(i: number): NodeSecretsFile;
  /**
   * Writes each node's secrets to `<dir>/<name>/secrets.json` (mode 0600; `principal`,
   * `worker-1`, ...), one folder per node, so that each host mounts only its own, and the user
   * accounts' keys to `<dir>/users.json`. Returns the files.
   */
  writeSecrets(dir: string): Promise<string[]>;
  /** Stops the server. Idempotent. */
  stop(): Promise<void>;
}

/** The 32-byte base seed: the seed itself when it is 32-byte hex, else keccak256 of its text. */
export function baseSeed(seed: string): Uint8Array {
  if (/^0x[0-9a-fA-F]{64}$/.test(seed)) return hexToBytes(seed);
  return keccak256(new TextEncoder().encode(seed));
}

/** Node `i`'s seed (0 = principal), derived from the base seed as the node's test fixture does. */
export function nodeSeed(base: Uint8Array, i: number): Hex {
  return bytesToHex(base.map((b, k) => (k === 31 ? (b + i) & 0xff : b)));
}

/** A deterministic private key for `purpose` #`i` (custodians and users). */
export function accountKey(base: Uint8Array, purpose: string, i: number): Hex {
  const tag = new TextEncoder().encode(`enigma-devnet/${purpose}/${i}`);
  const buf = new Uint8Array(base.length + tag.length);
  buf.set(base);
  buf.set(tag, base.length);
  return bytesToHex(keccak256(buf));
}

function account(privateKey: Hex): DevnetAccount {
  return { address: new Wallet(privateKey).address as Hex, privateKey };
}

/** Checks the options `startChain` takes besides the devnet's (InvalidConfig names the field). */
export function checkChainOptions(o: {
  users?: number;
  port?: number;
  publicUrl?: string;
  attestationPort?: number;
  attestationPublicUrl?: string;
  principalP2p?: string;
}): void {
  if (o.principalP2p !== undefined && !/^(\/[^/]+\/[^/]+)+$/.test(o.principalP2p)) {
    throw new EnigmaError(
      ErrorCode.InvalidConfig,
      `principalP2p must be a multiaddr such as /dns4/principal/tcp/4001, got "${o.principalP2p}"`,
      { details: { path: "principalP2p" } },
    );
  }
  const users = o.users ?? 3;
  if (!Number.isInteger(users) || users < 0 || users > 100) {
    throw new EnigmaError(
      ErrorCode.InvalidConfig,
      `users must be an integer from 0 to 100, got ${String(users)}`,
      { details: { path: "users" } },
    );
  }
  for (const path of ["port", "attestationPort"] as const) {
    const port = o[path] ?? 0;
    if (!Number.isInteger(port) || port < 0 || port > 65_535) {
      throw new EnigmaError(ErrorCode.InvalidConfig, `${path} must be from 0 to 65535`, {
        details: { path },
      });
    }
  }
  for (const path of ["publicUrl", "attestationPublicUrl"] as const) {
    const text = o[path];
    const url = text === undefined ? undefined : URL.parse(text);
    if (url === null || (url !== undefined && !/^https?:$/.test(url.protocol))) {
      throw new EnigmaError(
        ErrorCode.InvalidConfig,
        `${path} is not an http(s) URL: ${text ?? ""}`,
        {
          details: { path },
        },
      );
    }
  }
}

/**
 * Starts a chain with the contracts deployed and the seed's accounts funded.
 *
 * @example
 * const chain = await startChain({ dir: ".chain", seed: "demo", workers: 3, host: "0.0.0.0", port: 8545 });
 * await chain.writeDeployment(".chain/deployment.json");
 * // ...
 * await chain.stop();
 */
export async function startChain(o: StartChainOptions): Promise<Chain> {
  const options = resolveDevnetOptions(o.preset, o);
  checkChainOptions(o);
  const progress = o.onProgress ?? (() => undefined);
  const base = baseSeed(options.seed);
  const dir = resolve(o.dir);
  const undo = new Teardown();
  const cleanup = () => undo.run();

  try {
    progress("starting the chain");
    // An empty config: the default in-process EDR network with Hardhat's test accounts. The
    // project root is the repository (Hardhat wants a package.json there), not the cwd.
    const hre = await createHardhatRuntimeEnvironment({}, {}, fileURLToPath(REPO_ROOT));
    // Discovery's client retries a wrong epoch on Ganache's wording of the revert only.
    useGanacheRevertWording(hre);
    const restore = o.restore;
    const server = await hre.network.createServer(
      {
        network: "default",
        override: {
          ...(options.blockTime === "auto"
            ? {}
            : { mining: { auto: false, interval: options.blockTime } }),
          // A replay mines every block itself, in the recorded order (FIFO), from the recorded
          // genesis time; the chain's own mining mode is set after it.
          ...(restore === undefined
            ? {}
            : {
                initialDate: new Date(restore.history.genesisTimestamp * 1000),
                mining: { auto: false, mempool: { order: "fifo" as const } },
              }),
          // Blocks share a timestamp when more than one comes in a second (sub-second block
          // times, paced empty blocks, bursts of transactions): otherwise each block would
          // add a second and the chain's clock would run ahead of the wall clock.
          allowBlocksWithSameTimestamp: true,
        },
      },
      o.host ?? "127.0.0.1",
      o.port ?? 0,
    );
    const { address, port } = await server.listen();
    undo.push(() => server.close());
    // A server on every interface is reached here through the loopback.
    const localHost = address === "0.0.0.0" || address === "::" ? "127.0.0.1" : address;
    const rpcUrl = `http://${localHost.includes(":") ? `[${localHost}]` : localHost}:${port}`;
    const provider = new JsonRpcProvider(rpcUrl, undefined, {
      cacheTimeout: -1,
      staticNetwork: true,
      // Transaction waits poll this often (ethers' default, 4 s, made every deployment step
      // on an interval-mining chain wait seconds for a block that came long before).
      pollingInterval: 50,
    });
    undo.push(() => {
      provider.destroy();
      return Promise.resolve();
    });
    const chainId = Number((await provider.getNetwork()).chainId);

    // Epochs that end on their own (see pacer.ts): only when the chain's own blocks come too
    // slowly for `epochSeconds` (always with automine, which mines nothing while idle). Started
    // before the deployment, whose transactions then wait less for a slow interval's block.
    if (restore !== undefined) {
      progress(
        `replaying the snapshot's chain (${restore.history.blocks.length} blocks with transactions, head ${restore.history.head})`,
      );
      const replayStarted = performance.now();
      await replayChain(rpcUrl, restore.history);
      progress(
        `replayed to block ${restore.history.head} in ${((performance.now() - replayStarted) / 1000).toFixed(1)} s; state root matches the snapshot's`,
      );
      if (options.blockTime === "auto") await provider.send("evm_setAutomine", [true]);
      else await provider.send("evm_setIntervalMining", [options.blockTime]);
    }

    const paceMs = blockPaceMs(options);
    let pacer: BlockPacer | undefined;
    if (paceMs !== undefined && (options.blockTime === "auto" || options.blockTime > paceMs)) {
      const paced = new BlockPacer({
        paceMs,
        chain: {
          blockNumber: async () => Number(await provider.send("eth_blockNumber", [])),
          // Interval 0: the blocks share the wall clock's timestamp (allowed above).
          mine: async (blocks) => {
            await provider.send("hardhat_mine", [`0x${blocks.toString(16)}`, "0x0"]);
          },
        },
        onError: (e) => {
          progress(
            `pacing blocks failed (retrying): ${e instanceof Error ? e.message : String(e)}`,
          );
        },
      });
      paced.start();
      undo.push(() => paced.stop());
      pacer = paced;
      progress(
        `an idle chain gets an empty block every ${Math.round(paceMs)} ms (epochs last ${options.epochSeconds} s at most)`,
      );
    }

    const deployer = new NonceManager(new Wallet(DEPLOYER_KEY, provider));

    // The attestation service: its key stays in this process (no file); nodes post their
    // enclave's quote to it over HTTP.
    const service = seededAttestationService(base);
    await mkdir(dir, { recursive: true });
    const attestationServer = new AttestationServer({
      service,
      host: o.host ?? "127.0.0.1",
      port: o.attestationPort ?? 0,
    });
    await attestationServer.start();
    undo.push(() => attestationServer.stop());
    const attestationUrl = attestationServer.url;
    const publicAttestationUrl = o.attestationPublicUrl ?? attestationUrl;
    progress(`attestation service at ${attestationUrl}`);
    const jwk = trustRootToJwk(service.trustRoot);
    const b64 = (s: string) => hexlify(Buffer.from(s, "base64url"));
    const attestationPolicy: AttestationPolicy = {
      acceptedStatuses: ["OK"],
      allowDebug: false,
      mrenclaves: [bytesToHex(SIMULATED_ENCLAVE_MEASUREMENT.mrenclave)],
      mrsigners: [bytesToHex(SIMULATED_ENCLAVE_MEASUREMENT.mrsigner)],
      minIsvSvn: 0,
    };
    const measurements = [SIMULATED_ENCLAVE_MEASUREMENT, ...(o.extraMeasurements ?? [])];

    if (restore === undefined) progress("deploying the token and Enigma contracts");
    const principalSigner = EnclaveIdentity.generate(enclaveSeedOf(nodeSeed(base, 0))).signer;
    // A restored chain has its contracts already (replayed); they are not deployed again.
    const d =
      restore ??
      (await deployEnigma(deployer, {
        principal: principalSigner,
        selection: options.selection,
        epochSize: options.epochBlocks,
        taskTimeout: options.taskTimeoutBlocks,
        attestation: {
          rsaModulus: b64(jwk.n),
          rsaExponent: b64(jwk.e),
          mrEnclaves: unique(measurements.map((m) => bytesToHex(m.mrenclave))),
          mrSigners: unique(measurements.map((m) => bytesToHex(m.mrsigner))),
        },
      }));

    const custodians = Array.from({ length: options.workers + 1 }, (_, i) =>
      account(accountKey(base, "custodian", i)),
    );
    const accounts = Array.from({ length: o.users ?? 3 }, (_, i) =>
      account(accountKey(base, "user", i)),
    );
    const cheatBalances = [...custodians, ...accounts].map((a) => ({
      address: a.address,
      wei: BigInt(ETH_FUNDS).toString(),
    }));
    // A restored chain's funding is in its replayed history.
    if ("token" in d) {
      progress("funding accounts");
      // ETH through the chain's cheat code (no transactions); ENG by transfers, all sent before
      // one wait so that they land in as few blocks as the chain mines.
      for (const a of [...custodians, ...accounts]) {
        await provider.send("hardhat_setBalance", [a.address, ETH_FUNDS]);
      }
      const transfers: ContractTransactionResponse[] = [];
      const transfer = d.token.getFunction("transfer");
      for (const c of custodians.slice(1)) {
        transfers.push((await transfer(c.address, WORKER_FUNDS)) as ContractTransactionResponse);
      }
      for (const a of accounts) {
        transfers.push((await transfer(a.address, USER_FUNDS)) as ContractTransactionResponse);
      }
      await Promise.all(transfers.map((t) => t.wait()));
    }

    const publicRpcUrl = o.publicUrl ?? rpcUrl;
    const secretsOf = (index: number): NodeSecretsFile => {
      const custodian = custodians[index];
      if (custodian === undefined) {
        throw new EnigmaError(ErrorCode.InvalidArgument, `the chain has no node ${index}`);
      }
      return {
        version: 1,
        index,
        role: index === 0 ? "principal" : "worker",
        seed: nodeSeed(base, index),
        custodian,
      };
    };
    const deployment = (): ChainDeployment => ({
      version: 1,
      rpcUrl: publicRpcUrl,
      chainId,
      enigmaAddress: d.enigmaAddress as Hex,
      tokenAddress: d.tokenAddress as Hex,
      epochBlocks: options.epochBlocks,
      selection: options.selection,
      epochPolicy: options.epochPolicy,
      trustRoot: service.trustRoot,
      attestationPolicy,
      attestationUrl: publicAttestationUrl,
      nodes: custodians.map((custodian, index) => ({
        index,
        role: index === 0 ? "principal" : "worker",
        peerId: peerIdOfSeed(nodeSeed(base, index)),
        custodian: custodian.address,
      })),
      bootstrap:
        o.principalP2p === undefined
          ? []
          : [`${o.principalP2p}/p2p/${peerIdOfSeed(nodeSeed(base, 0))}`],
      accounts: accounts.map((a) => ({ address: a.address })),
    });
    let stopped: Promise<void> | undefined;
    return {
      options,
      rpcUrl,
      publicRpcUrl,
      chainId,
      enigmaAddress: d.enigmaAddress as Hex,
      tokenAddress: d.tokenAddress as Hex,
      provider,
      service,
      attestationUrl,
      publicAttestationUrl,
      trustRoot: service.trustRoot,
      attestationPolicy,
      nodeSeed: (i) => nodeSeed(base, i),
      custodians,
      accounts,
      mine: async (blocks) => {
        if (!Number.isInteger(blocks) || blocks < 1) throw new Error("mine: blocks must be >= 1");
        await provider.send("hardhat_mine", [`0x${blocks.toString(16)}`]);
      },
      cheatBalances,
      pacer,
      deployment,
      writeDeployment: async (file) => {
        const target = resolve(file);
        await mkdir(dirname(target), { recursive: true });
        const tmp = `${target}.${process.pid}.tmp`;
        await writeFile(tmp, `${JSON.stringify(deployment(), null, 2)}\n`);
        await rename(tmp, target);
      },
      nodeSecrets: secretsOf,
      writeSecrets: async (secretsDir) => {
        const files: string[] = [];
        for (let i = 0; i < custodians.length; i++) {
          const folder = join(resolve(secretsDir), i === 0 ? "principal" : `worker-${i}`);
          await mkdir(folder, { recursive: true, mode: 0o700 });
          const file = join(folder, NODE_SECRETS_FILE);
          const tmp = `${file}.${process.pid}.tmp`;
          await writeFile(tmp, `${JSON.stringify(secretsOf(i), null, 2)}\n`, { mode: 0o600 });
          await rename(tmp, file);
          files.push(file);
        }
        const users = join(resolve(secretsDir), "users.json");
        await writeFile(users, `${JSON.stringify({ accounts }, null, 2)}\n`, { mode: 0o600 });
        files.push(users);
        return files;
      },
      stop: () => (stopped ??= cleanup()),
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

/** Removes a deployment file (a stopped chain's addresses must not be picked up). */
export async function removeDeployment(file: string): Promise<void> {
  await rm(resolve(file), { force: true });
}

function unique(values: Hex[]): Hex[] {
  return [...new Set(values.map((v) => v.toLowerCase() as Hex))];
}
