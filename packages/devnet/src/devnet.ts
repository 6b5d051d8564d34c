// A whole network on this machine: a Hardhat (EDR) chain served over HTTP from this process,
// the token and Enigma contracts, the attestation service key, a principal and N worker+gateway
// nodes, either as EnigmaNode instances in this process (tests) or as `enigma node start`
// child processes (the CLI). Both modes share every step but the one that starts a node.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createWriteStream } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { EnclaveIdentity } from "@enigma/enclave";
import { startExplorer } from "@enigma/explorer";
import {
  EnigmaChain,
  EnigmaNode,
  WorkerStatus,
  createLogger,
  enclaveSeedOf,
  resolveNodeConfig,
  type NodeEndpoints,
  type NodeUserConfig,
} from "@enigma/node";
import {
  EnigmaError,
  ErrorCode,
  getEpochPolicy,
  hexToBytes,
  type AttestationPolicy,
  type Hex,
  type RsaTrustRoot,
} from "@enigma/protocol";
import { Wallet } from "ethers";
import { EnigmaClient, type EnigmaClientOptions } from "@enigma/client";
import {
  FAULTY_ENCLAVE_MEASUREMENT,
  accountKey,
  baseSeed,
  checkChainOptions,
  startChain,
  type DevnetAccount,
} from "./chain.js";
import { ChainProxy } from "./faults/chain-proxy.js";
import { Nemesis, type FaultableNode } from "./faults/nemesis.js";
import { NetnsNetwork } from "./faults/netns.js";
import { resolveDevnetOptions, type DevnetOptions } from "./presets.js";
import {
  checkSnapshotName,
  readSnapshot,
  recordChain,
  restoreNodeData,
  writeSnapshot,
} from "./snapshot.js";
import { Teardown } from "./teardown.js";

const WORKER_STAKE = "100";

/**
 * A test fault for the last worker. `measurement`: it is registered with a report whose
 * enclave measurement (MRENCLAVE) the contract accepts but the devnet's `attestationPolicy`
 * (what clients use) does not, so clients refuse it (`AttestationMrenclaveRejected`).
 * `key-signer`: it signs the encryption keys it hands out with a key other than its registered
 * enclave signer, so clients refuse the key (`SignerMismatch`).
 */
export type FaultyWorkerKind = "measurement" | "key-signer";
const FAULT_KINDS: readonly FaultyWorkerKind[] = ["measurement", "key-signer"];

export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "silent";

export interface StartDevnetOptions extends Partial<DevnetOptions> {
  /** Preset the other fields override (`fast` | `realistic`). Default `fast`. */
  preset?: string;
  /** Run nodes in this process (tests) rather than as `enigma node start` processes. Default true. */
  inProcess?: boolean;
  /**
   * State folder (node data, configs, logs, the attestation service key). Default: a fresh
   * temporary folder, removed by `stop()`. A given folder is kept; its node data is wiped at start.
   */
  dir?: string;
  /** Funded user accounts in `accounts`. Default 3. */
  users?: number;
  /** Port of the chain's JSON-RPC. Default 0 (any free port). */
  chainPort?: number;
  /** Log level of the nodes (pino). Default `silent` in process, `info` for processes. */
  logLevel?: LogLevel;
  /** Progress lines ("deploying contracts", ...). */
  onProgress?: (message: string) => void;
  /** A node stopped that `stop()` did not stop (a crash, a kill from outside). */
  onNodeExit?: (node: DevnetNode, how: string) => void;
  /**
   * Command that runs the CLI for node processes (`[executable, ...args]`, followed by
   * `node start --config <file> --json`). Default: this Node.js with `NODE_PROCESS_FLAGS`
   * running packages/cli/bin/enigma.js.
   */
  nodeCommand?: readonly string[];
  /** Starts the last worker with a test fault (see `FaultyWorkerKind`). Default none. */
  faultyWorker?: FaultyWorkerKind;
  /**
   * Serves the explorer (a live web page of the network, `info().explorerUrl`): `true` on any
   * free port of 127.0.0.1, or where to listen. Default off (`enigma devnet up` turns it on).
   */
  explorer?: boolean | { host?: string; port?: number };
  /**
   * DEVNET ONLY: opens the workers' enclave debug interface (decrypted task inputs, outputs
   * and contract state: the explorer's "god mode"). Default off; a real deployment never
   * exposes it (`enigma devnet up` turns it on, `--no-enclave-debug` keeps it off).
   */
  enclaveDebug?: boolean;
  /**
   * Starts from a snapshot (`Devnet.snapshot`): its name in `<dir>/snapshots/`, or its folder.
   * The snapshot's options (seed, workers, timing, users) are used; the chain is rebuilt from
   * its history and every node starts on its data folder as it was.
   */
  restore?: string;
  /**
   * Faults on demand (`devnet.faults`, issue 16): each node reaches the chain through a proxy
   * this process controls (chain outages, slow chains, kills while a receipt batch is in
   * flight) and its admin endpoint gets the test-fault methods (partitions without
   * namespaces, kills at a node's fault points). Default false: signals (kill, pause,
   * restart) work on any process devnet.
   */
  faults?: boolean;
  /**
   * `local` (default): every node on this machine's loopback. `netns`: every node in its own
   * network namespace with its own address on a bridge (root only; processes only), nodes
   * listening on 0.0.0.0 and announcing their address; a partition drops packets.
   */
  hosts?: "local" | "netns";
}

export interface DevnetChain {
  rpcUrl: string;
  chainId: number;
  enigmaAddress: Hex;
  tokenAddress: Hex;
  /** Mines `blocks` empty blocks. */
  mine(blocks: number): Promise<void>;
  /** Mines to the next epoch boundary and resolves with the new epoch's index once it is set. */
  advanceEpoch(): Promise<number>;
  /**
   * The harness's block pacing (epochs that end on their own, `epochSeconds`): the interval it
   * keeps between blocks and how many empty blocks it mined so far; undefined when off or not
   * needed (the chain's own block interval is fast enough).
   */
  readonly pacing: { readonly paceMs: number; readonly mined: number } | undefined;
}

export type NodeRole = "principal" | "worker";

export interface DevnetNode {
  readonly name: string;
  readonly role: NodeRole;
  /** The enclave signer (also the worker address clients name). */
  readonly signer: Hex;
  /** The Ethereum account that registered, staked and logged the worker in. */
  readonly custodian: Hex;
  /** JSON-RPC of the node (the same after `restart()`); the principal serves none. */
  readonly rpcUrl: string | undefined;
  readonly peerId: string;
  /** The node's admin endpoint (off the public gateway). */
  readonly adminUrl: string | undefined;
  /** The OS process id, for process nodes while they run. */
  readonly pid: number | undefined;
  readonly running: boolean;
  stop(): Promise<void>;
  /** Starts the node again on the same data folder, ports and seed (after `stop()` or a crash). */
  restart(): Promise<void>;
}

/** What is up and where: what `enigma devnet up --json` prints and writes to devnet.json. */
export interface DevnetInfo {
  dir: string;
  inProcess: boolean;
  options: DevnetOptions;
  chain: { rpcUrl: string; chainId: number; enigmaAddress: Hex; tokenAddress: Hex };
  trustRoot: RsaTrustRoot;
  attestationPolicy: AttestationPolicy;
  /** The attestation service (run by the devnet's process; it alone holds its key). */
  attestationUrl: string;
  /** The worker started with a test fault, when `faultyWorker` was given. */
  faultyWorker?: { name: string; kind: FaultyWorkerKind };
  /** The explorer's page, when `explorer` was on. */
  explorerUrl?: string;
  /** Whether the workers' enclave debug interface is on (god mode). */
  enclaveDebug?: boolean;
  nodes: {
    name: string;
    role: NodeRole;
    signer: Hex;
    custodian: Hex;
    rpcUrl?: string;
    /** The node's admin endpoint (pending receipts, stored deltas; the checker reads it). */
    adminUrl?: string;
    /** With `hosts: "netns"`: the node's address and namespace. */
    host?: { ip: string; ns: string };
    peerId: string;
    pid?: number;
  }[];
  accounts: DevnetAccount[];
  /** Whether the nemesis can do everything (`faults: true`) or signals only. */
  faults: boolean;
  hosts: "local" | "netns";
}

export interface Devnet {
  readonly dir: string;
  readonly options: DevnetOptions;
  readonly chain: DevnetChain;
  /** The attestation service's public key: the clients' and the Enigma contract's trust root. */
  readonly trustRoot: RsaTrustRoot;
  /** The policy the Enigma contract was deployed with (what clients should accept). */
  readonly attestationPolicy: AttestationPolicy;
  /** Principal first, then the workers in order. */
  readonly nodes: readonly DevnetNode[];
  readonly principal: DevnetNode;
  readonly workers: readonly DevnetNode[];
  /** Funded user accounts (ETH and ENG), derived from the seed. */
  readonly accounts: readonly DevnetAccount[];
  /** The nemesis: kill, pause, partition, chain outages... (see `faults/nemesis.ts`). */
  readonly faults: Nemesis;
  /** The namespace hosts (`hosts: "netns"`). */
  readonly netns: NetnsNetwork | undefined;
  info(): DevnetInfo;
  /**
   * A client SDK instance paying from `accounts[account]`, talking to the first worker's
   * gateway, verifying workers against the devnet's trust root and policy.
   *
   * @example
   * const task = devnet.client().computeTask(scAddr, "increment()", [], { gasLimit: 1_000_000n, gasPx: 1n });
   */
  client(account?: number, options?: Partial<EnigmaClientOptions>): EnigmaClient;
  /**
   * Takes a snapshot named `name` in `<dir>/snapshots/<name>/`: stops the nodes (so that their
   * LevelDB folders are consistent), records the chain's history up to its head and copies
   * every node's data folder, then starts the nodes again on the same ports. Resolves with the
   * snapshot's folder; `startDevnet({ dir, restore: name })` returns to it.
   */
  snapshot(name: string): Promise<string>;
  /** Stops every node (workers first), the chain, and removes a temporary state folder. */
  stop(): Promise<void>;
}

/**
 * Brings up a whole network and resolves once the first epoch with every worker is set.
 *
 * @example
 * const devnet = await startDevnet({ workers: 3, seed: "demo" });
 * const gateway = devnet.workers[0].rpcUrl;
 * // ...
 * await devnet.stop();
 */
export async function startDevnet(given: StartDevnetOptions = {}): Promise<Devnet> {
  // A restore takes the snapshot's options (seed, workers, timing, users, fault).
  const restored =
    given.restore === undefined ? undefined : await readSnapshot(given.dir ?? ".", given.restore);
  const o: StartDevnetOptions =
    restored === undefined
      ? given
      : {
          ...given,
          ...restored.snapshot.options,
          users: restored.snapshot.users,
          ...(restored.snapshot.faultyWorker === undefined
            ? {}
            : { faultyWorker: restored.snapshot.faultyWorker }),
        };
  const options = resolveDevnetOptions(o.preset, o);
  const inProcess = o.inProcess ?? true;
  const users = o.users ?? 3;
  checkChainOptions({ users });
  const chainPort = o.chainPort ?? 0;
  if (!Number.isInteger(chainPort) || chainPort < 0 || chainPort > 65_535) {
    throw new EnigmaError(ErrorCode.InvalidConfig, `chainPort must be a port from 0 to 65535`, {
      details: { path: "chainPort" },
    });
  }
  const fault = o.faultyWorker;
  if (fault !== undefined && !FAULT_KINDS.includes(fault)) {
    throw new EnigmaError(
      ErrorCode.InvalidConfig,
      `faultyWorker must be one of ${FAULT_KINDS.join(", ")}, got "${fault as string}"`,
      { details: { path: "faultyWorker" } },
    );
  }
  const faultyIndex = fault === undefined ? undefined : options.workers;
  const hostsMode = o.hosts ?? "local";
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- callers in JavaScript (the CLI's JSON, scripts) can pass anything
  if (hostsMode !== "local" && hostsMode !== "netns") {
    throw new EnigmaError(ErrorCode.InvalidConfig, `hosts must be "local" or "netns"`, {
      details: { path: "hosts" },
    });
  }
  if (hostsMode === "netns" && inProcess) {
    throw new EnigmaError(
      ErrorCode.InvalidConfig,
      `hosts: "netns" runs every node as its own process: set inProcess: false`,
      { details: { path: "hosts" } },
    );
  }
  const withFaults = o.faults === true;
  const progress = o.onProgress ?? (() => undefined);
  const logLevel = o.logLevel ?? (inProcess ? "silent" : "info");
  const temporary = o.dir === undefined;
  const dir =
    o.dir === undefined ? await mkdtemp(join(tmpdir(), "enigma-devnet-")) : resolve(o.dir);
  const base = baseSeed(options.seed);

  // Everything started so far, stopped in reverse order by `cleanup`.
  const undo = new Teardown();
  const cleanup = async () => {
    await undo.run();
    if (temporary) await rm(dir, { recursive: true, force: true });
  };

  try {
    await mkdir(dir, { recursive: true });
    await rm(join(dir, "nodes"), { recursive: true, force: true });
    await mkdir(join(dir, "nodes"), { recursive: true });
    if (restored !== undefined) {
      progress(`restoring snapshot ${restored.snapshot.name} (${restored.dir})`);
      await restoreNodeData(restored.dir, restored.snapshot.nodes, join(dir, "nodes"));
    }

    // Several hosts: one namespace per node, the chain on the bridge in this namespace.
    let netns: NetnsNetwork | undefined;
    if (hostsMode === "netns") {
      netns = await NetnsNetwork.create({
        names: Array.from({ length: options.workers + 1 }, (_, i) => nodeName(i)),
        onProgress: progress,
      });
      const made = netns;
      undo.push(() => made.destroy());
    }
    const c = await startChain({
      ...options,
      dir,
      ...(netns === undefined ? {} : { host: netns.bridgeIp }),
      port: chainPort,
      users,
      onProgress: progress,
      ...(fault === "measurement" ? { extraMeasurements: [FAULTY_ENCLAVE_MEASUREMENT] } : {}),
      ...(restored === undefined
        ? {}
        : {
            restore: {
              history: restored.snapshot.chain,
              enigmaAddress: restored.snapshot.enigmaAddress,
              tokenAddress: restored.snapshot.tokenAddress,
            },
          }),
    });
    undo.push(() => c.stop());
    const { rpcUrl, chainId, provider, custodians, accounts, attestationPolicy } = c;
    // With faults, each node reaches the chain through its own proxy (outages per node).
    const proxies = new Map<string, ChainProxy>();
    if (withFaults) {
      for (let i = 0; i <= options.workers; i++) {
        const proxy = new ChainProxy({
          upstream: rpcUrl,
          ...(netns === undefined ? {} : { host: netns.bridgeIp }),
        });
        await proxy.start();
        proxies.set(nodeName(i), proxy);
      }
      undo.push(async () => {
        for (const p of proxies.values()) await p.stop();
      });
    }
    const service = c.service;
    const d = { enigmaAddress: c.enigmaAddress, tokenAddress: c.tokenAddress };

    const chain = await EnigmaChain.connect({
      rpcUrl,
      enigmaAddress: d.enigmaAddress,
      tokenAddress: d.tokenAddress,
    });
    undo.push(() => chain.close());

    // (A restored chain has the faulty worker's registration in its history already.)
    if (fault === "measurement" && faultyIndex !== undefined && restored === undefined) {
      // The faulty worker's custodian registers the worker's enclave signer (known from its
      // seed) with a report over a quote for the faulty measurement, signed by the service. The
      // node then finds its signer registered and only stakes and logs in: on chain this is a
      // worker whose enclave build the contract allows and the clients' policy does not.
      progress(`registering worker-${faultyIndex} with the faulty enclave measurement`);
      const identity = EnclaveIdentity.generate(enclaveSeedOf(c.nodeSeed(faultyIndex)));
      // Bound to the worker's custodian on this chain: the only account that may register it.
      const signed = service.attest(
        identity.quote(FAULTY_ENCLAVE_MEASUREMENT, {
          custodian: hexToBytes(custodians[faultyIndex]?.address ?? "0x"),
          chainId: BigInt(c.chainId),
          enigmaAddress: hexToBytes(d.enigmaAddress),
        }),
      );
      const custodian = await EnigmaChain.connect({
        rpcUrl,
        enigmaAddress: d.enigmaAddress,
        tokenAddress: d.tokenAddress,
        privateKey: custodians[faultyIndex]?.privateKey ?? "",
      });
      try {
        await custodian.register(
          identity.signer,
          new TextEncoder().encode(signed.report),
          signed.signature,
        );
      } finally {
        await custodian.close();
      }
    }

    const hostOf = (i: number) => netns?.host(nodeName(i));
    const configFor = (i: number, ports: NodePorts, bootstrap: string[]): NodeUserConfig => ({
      roles: i === 0 ? ["principal"] : ["worker", "gateway"],
      dataDir: join(dir, "nodes", nodeName(i), "data"),
      seed: c.nodeSeed(i),
      ethereum: {
        rpcUrl: proxies.get(nodeName(i))?.url ?? rpcUrl,
        enigmaAddress: d.enigmaAddress,
        tokenAddress: d.tokenAddress,
        privateKey: custodians[i]?.privateKey ?? "",
        pollIntervalMs: 50,
        confirmations: options.confirmations,
      },
      ...nodeAddresses(hostOf(i)?.ip, ports, bootstrap, withFaults),
      // Reports come from the harness's attestation service; the key never leaves it.
      attestation: { url: c.attestationUrl, trustRoot: service.trustRoot },
      worker: { stake: WORKER_STAKE, maxBatch: 100 },
      policy: { selection: options.selection, epochPolicy: options.epochPolicy },
      logLevel,
      ...(o.enclaveDebug === true ? { debug: { enclave: true } } : {}),
      ...(i === faultyIndex && fault === "key-signer"
        ? { testFaults: { workerKeySigner: accountKey(base, "faulty-key-signer", i) } }
        : {}),
    });
    const nodeCommand = o.nodeCommand ?? defaultNodeCommand();
    const launchFor = (i: number): Launcher =>
      inProcess
        ? inProcessLauncher
        : processLauncher(
            netns === undefined ? nodeCommand : [...netns.exec(nodeName(i)), ...nodeCommand],
          );

    const nodes: ManagedNode[] = [];
    undo.push(async () => {
      // Closed, not only stopped: a restart still under way (a fault, chaos) must not start
      // the node again once the devnet is going down.
      for (const n of [...nodes].reverse()) await n.close();
    });
    const startNode = async (i: number, bootstrap: string[]): Promise<ManagedNode> => {
      const name = nodeName(i);
      progress(`starting ${name}`);
      const node = new ManagedNode(
        name,
        i === 0 ? "principal" : "worker",
        custodians[i]?.address as Hex,
        (ports) => configFor(i, ports, bootstrap),
        join(dir, "nodes", name),
        launchFor(i),
        o.onNodeExit ?? (() => undefined),
        netns === undefined ? { p2p: 0, rpc: 0, admin: 0 } : NETNS_PORTS,
      );
      nodes.push(node);
      await node.restart();
      return node;
    };
    const principal = await startNode(0, []);
    const bootstrap = principal.multiaddrs;
    // In process, workers start one after the other: cheap, and each meets the ones before it
    // through the principal (see below). A process takes a second or more to load its
    // modules, so process workers start together and the check below repairs missed meetings.
    const workers: ManagedNode[] = [];
    if (inProcess) {
      for (let i = 1; i <= options.workers; i++) workers.push(await startNode(i, bootstrap));
    } else {
      workers.push(
        ...(await Promise.all(
          Array.from({ length: options.workers }, (_, k) => startNode(k + 1, bootstrap)),
        )),
      );
    }
    // Keep the node list in index order whatever order the starts finished in.
    nodes.sort((a, b) => nodeIndex(a.name) - nodeIndex(b.name));

    const mine = (blocks: number) => c.mine(blocks);
    const epochs = getEpochPolicy(options.epochPolicy);
    const advanceEpoch = async () => {
      const before = await chain.currentEpoch();
      const head = await chain.blockNumber();
      // Nodes act on a block once it has `confirmations` blocks on top of it.
      const target =
        epochs.nextEpochBlock(before?.firstBlockNumber ?? head, options.epochBlocks) +
        options.confirmations;
      if (head < target) await mine(target - head);
      return waitFor(async () => {
        const now = await chain.currentEpoch();
        return now !== undefined && now.index !== before?.index ? now.index : undefined;
      }, "the next epoch");
    };

    progress("waiting for an epoch with every worker");
    // The first epoch may have been set before every worker logged in: move on to one with all.
    await waitFor(
      async () => {
        const e = await chain.currentEpoch();
        if (e !== undefined && e.workers.length === options.workers) return true;
        const workerCustodians = custodians.slice(1).map((a) => a.address);
        if (e === undefined || (await moreLoggedIn(chain, workerCustodians, e.workers.length))) {
          await advanceEpoch();
        }
        return undefined;
      },
      "an epoch with every worker",
      60_000,
    );

    progress("waiting for the workers to connect to each other");
    // A gateway reaches a worker's enclave only over a direct connection. Nodes meet through
    // the principal's peer exchange, which a node gets once, when it connects: workers that
    // connect to the principal at the same moment can miss each other for good. Restarting
    // such a worker (same ports and identity) makes it meet everyone the principal knows.
    const unconnected = async () => {
      const missing: ManagedNode[] = [];
      for (const w of workers) {
        const url = w.rpcUrl;
        if (url === undefined) continue;
        const info = (await nodeRpc(url, "getInfo")) as { peers?: unknown };
        if (typeof info.peers !== "number" || info.peers < options.workers) missing.push(w);
      }
      return missing;
    };
    for (let round = 1; ; round++) {
      let missing = await unconnected();
      const until = Date.now() + 1_000;
      while (missing.length > 0 && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 50));
        missing = await unconnected();
      }
      if (missing.length === 0) break;
      if (round > 3) {
        throw new EnigmaError(
          ErrorCode.NodeNotReady,
          `${missing.map((w) => w.name).join(", ")} did not connect to every other node`,
        );
      }
      progress(`restarting ${missing.map((w) => w.name).join(", ")} to meet the other nodes`);
      for (const w of missing) await w.restart();
    }

    const nemesis = new Nemesis({
      nodes,
      ...(withFaults ? { proxies } : {}),
      ...(netns === undefined ? {} : { netns }),
      inProcess,
    });
    // A paused node would not hear SIGTERM: every standing fault is undone before the stop.
    undo.push(() => nemesis.undoAll());

    // The explorer reads the chain and the nodes' endpoints like any outsider would.
    const explorerAt = o.explorer === true ? {} : o.explorer === false ? undefined : o.explorer;
    const explorer =
      explorerAt === undefined
        ? undefined
        : await startExplorer({
            ...explorerAt,
            chain: {
              rpcUrl,
              chainId,
              enigmaAddress: d.enigmaAddress,
              tokenAddress: d.tokenAddress,
              epochBlocks: options.epochBlocks,
              selection: options.selection,
              epochPolicy: options.epochPolicy,
            },
            nodes: nodes.map((n) => ({
              name: n.name,
              role: n.role,
              signer: n.signer,
              custodian: n.custodian,
              rpcUrl: n.rpcUrl,
            })),
            trustRoot: service.trustRoot,
            attestationPolicy,
            godMode: o.enclaveDebug === true,
          });
    if (explorer !== undefined) {
      undo.push(() => explorer.stop());
      progress(`explorer at ${explorer.url}`);
    }

    const pacer = c.pacer;
    const chainHandle: DevnetChain = {
      rpcUrl,
      chainId,
      enigmaAddress: d.enigmaAddress,
      tokenAddress: d.tokenAddress,
      mine,
      advanceEpoch,
      get pacing() {
        return pacer === undefined ? undefined : { paceMs: pacer.paceMs, mined: pacer.mined };
      },
    };
    let stopped: Promise<void> | undefined;
    const devnet: Devnet = {
      dir,
      options,
      chain: chainHandle,
      trustRoot: service.trustRoot,
      attestationPolicy,
      nodes,
      principal,
      workers,
      accounts,
      faults: nemesis,
      netns,
      info: () => ({
        dir,
        inProcess,
        options,
        chain: {
          rpcUrl,
          chainId,
          enigmaAddress: chainHandle.enigmaAddress,
          tokenAddress: chainHandle.tokenAddress,
        },
        trustRoot: service.trustRoot,
        attestationPolicy,
        attestationUrl: c.attestationUrl,
        ...(fault === undefined || faultyIndex === undefined
          ? {}
          : { faultyWorker: { name: nodeName(faultyIndex), kind: fault } }),
        ...(explorer === undefined ? {} : { explorerUrl: explorer.url }),
        ...(o.enclaveDebug === true ? { enclaveDebug: true } : {}),
        nodes: nodes.map((n) => ({
          name: n.name,
          role: n.role,
          signer: n.signer,
          custodian: n.custodian,
          ...(n.rpcUrl === undefined ? {} : { rpcUrl: n.rpcUrl }),
          ...(n.adminUrl === undefined ? {} : { adminUrl: n.adminUrl }),
          ...(netns === undefined
            ? {}
            : { host: { ip: netns.host(n.name).ip, ns: netns.host(n.name).ns } }),
          peerId: n.peerId,
          ...(n.pid === undefined ? {} : { pid: n.pid }),
        })),
        accounts: [...accounts],
        faults: withFaults,
        hosts: hostsMode,
      }),
      client: (account = 0, extra = {}) => {
        const a = accounts[account];
        const nodeUrl = workers[0]?.rpcUrl;
        if (a === undefined) throw new Error(`no account ${account} (the devnet has ${users})`);
        if (nodeUrl === undefined) throw new Error("no gateway");
        return new EnigmaClient({
          signer: new Wallet(a.privateKey, provider),
          enigmaAddress: d.enigmaAddress,
          tokenAddress: d.tokenAddress,
          nodeUrl,
          trustRoot: service.trustRoot,
          attestationPolicy,
          pollIntervalMs: 50,
          selection: options.selection,
          ...extra,
        });
      },
      snapshot: async (name) => {
        checkSnapshotName(name);
        progress(`snapshot ${name}: stopping the nodes`);
        for (const n of [...nodes].reverse()) await n.stop();
        try {
          // Everything the nodes saw is at or below this head.
          const head = await chain.blockNumber();
          progress(`snapshot ${name}: recording the chain up to block ${head}`);
          const history = await recordChain(rpcUrl, head, [...c.cheatBalances]);
          return await writeSnapshot(
            dir,
            {
              version: 1,
              name,
              createdAt: new Date().toISOString(),
              options,
              users,
              ...(fault === undefined ? {} : { faultyWorker: fault }),
              enigmaAddress: d.enigmaAddress,
              tokenAddress: d.tokenAddress,
              nodes: nodes.map((n) => n.name),
              chain: history,
            },
            join(dir, "nodes"),
          );
        } finally {
          progress(`snapshot ${name}: starting the nodes again`);
          // Principal first, then the workers one by one (each meets the ones before it).
          for (const n of nodes) await n.restart();
        }
      },
      stop: () => (stopped ??= cleanup()),
    };
    progress("devnet up");
    return devnet;
  } catch (e) {
    await cleanup();
    throw e;
  }
}

/** Whether more workers are logged in on chain than the current epoch holds. */
async function moreLoggedIn(chain: EnigmaChain, custodians: readonly string[], inEpoch: number) {
  let loggedIn = 0;
  for (const c of custodians) {
    if ((await chain.getWorker(c)).status === WorkerStatus.LoggedIn) loggedIn++;
  }
  return loggedIn > inEpoch;
}

function nodeName(i: number): string {
  return i === 0 ? "principal" : `worker-${i}`;
}

function nodeIndex(name: string): number {
  return name === "principal" ? 0 : Number(name.slice("worker-".length));
}

/**
 * Node.js flags for node processes. A node allocates fast and keeps little (a principal's live
 * heap is ~45 MB under load), and V8 sizes its young generation by allocation throughput: on
 * this machine it grew to two 64 MB semi-spaces a minute into a load, and RSS crept up while
 * their pages were touched (the chaos soak's principal: +30 MiB after warm-up, its live heap
 * flat). 16 MB semi-spaces bound that, and the smaller nursery stays in the CPU's caches:
 * `pnpm bench:e2e` at K=32 went 145 -> 176 tasks/s over one contract and 137 -> 153 over
 * eight (medians of 3 runs, no epoch end in the runs).
 */
export const NODE_PROCESS_FLAGS: readonly string[] = ["--max-semi-space-size=16"];

function defaultNodeCommand(): string[] {
  // Same depth from src/ and dist/: packages/devnet/<src|dist>/ -> packages/cli/bin/enigma.js.
  return [
    process.execPath,
    ...NODE_PROCESS_FLAGS,
    fileURLToPath(new URL("../../cli/bin/enigma.js", import.meta.url)),
  ];
}

/** A started node, whichever way it runs. */
interface RunningNode {
  endpoints: NodeEndpoints;
  pid: number | undefined;
  /** Resolves when the node has stopped (on its own or after `stop`), saying how. */
  exited: Promise<string>;
  stop(): Promise<void>;
}

/**
 * Starts a node and resolves once it is up. `abort` ends a start in flight: a process is
 * killed (the launch then rejects); an in-process start is let finish and stopped at once.
 */
type Launcher = (
  config: NodeUserConfig,
  dir: string,
  name: string,
  abort: AbortSignal,
) => Promise<RunningNode>;

const inProcessLauncher: Launcher = async (config, _dir, name, abort) => {
  const resolved = resolveNodeConfig(config);
  const node = new EnigmaNode(resolved, {
    logger: createLogger({ level: resolved.logLevel, name }),
  });
  await node.start();
  if (abort.aborted) {
    await node.stop();
    throw new Error(`${name}: start aborted`);
  }
  let done: () => void = () => undefined;
  const exited = new Promise<string>((r) => {
    done = () => {
      r("stopped");
    };
  });
  return {
    endpoints: node.endpoints(),
    pid: undefined,
    exited,
    stop: async () => {
      await node.stop();
      done();
    },
  };
};

/**
 * How long a node process may take to print its endpoints. A node is up in 1-3 s on this
 * machine (most of it loading modules); a loaded CI machine takes a few times that.
 */
const NODE_START_TIMEOUT_MS = 60_000;

function processLauncher(command: readonly string[]): Launcher {
  const [exe, ...args] = command;
  if (exe === undefined) throw new Error("nodeCommand must name an executable");
  return async (config, dir, name, abort) => {
    abort.throwIfAborted();
    const configFile = join(dir, "config.json");
    await writeFile(configFile, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
    const log = createWriteStream(join(dir, "node.log"), { flags: "a" });
    const child: ChildProcess = spawn(
      exe,
      [...args, "node", "start", "--config", configFile, "--json"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    const exited = new Promise<string>((r) => {
      child.once("close", (code, signal) => {
        r(signal === null ? `exit code ${String(code)}` : `signal ${signal}`);
      });
    });
    void exited.then(() => log.end());
    // A stop asked for while the node is still starting kills it; the wait below then rejects.
    const onAbort = () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    };
    abort.addEventListener("abort", onAbort, { once: true });
    // Aborted while the config was written: the listener came too late to hear it.
    if (abort.aborted) onAbort();
    void exited.then(() => {
      abort.removeEventListener("abort", onAbort);
    });
    let tail = "";
    child.stderr?.on("data", (b: Buffer) => {
      log.write(b);
      tail = (tail + b.toString()).slice(-2000);
    });
    const stdout = child.stdout;
    if (stdout === null) throw new Error("no stdout");
    // A node that neither comes up nor exits (hung while starting) is killed, not waited on.
    let timer: NodeJS.Timeout | undefined;
    const line = await new Promise<string>((resolve, reject) => {
      const rl = createInterface({ input: stdout });
      rl.once("line", resolve);
      child.once("error", reject);
      let timedOut = false;
      timer = setTimeout(() => {
        // Rejected once the process is gone (below): its ports and data are free again.
        timedOut = true;
        child.kill("SIGKILL");
      }, NODE_START_TIMEOUT_MS);
      void exited.then(() => {
        const why = timedOut
          ? `was not up within ${NODE_START_TIMEOUT_MS / 1000} s and was killed`
          : abort.aborted
            ? "was stopped while it was starting"
            : "exited before it was up";
        reject(new Error(`${name} ${why}; its log ends with:\n${tail.trim()}`));
      });
    }).finally(() => {
      clearTimeout(timer);
    });
    // Keep draining stdout so the child never blocks on a full pipe.
    stdout.on("data", (b: Buffer) => log.write(b));
    const endpoints = JSON.parse(line) as NodeEndpoints;
    return {
      endpoints,
      pid: child.pid,
      exited,
      stop: async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
        await exited;
      },
    };
  };
}

class ManagedNode implements DevnetNode, FaultableNode {
  readonly name: string;
  readonly role: NodeRole;
  readonly custodian: Hex;
  readonly #config: (ports: NodePorts) => NodeUserConfig;
  readonly #dir: string;
  readonly #launch: Launcher;
  #ports: NodePorts;
  #endpoints: NodeEndpoints | undefined;
  #running: RunningNode | undefined;
  #stopping: RunningNode | undefined;
  /** A start in flight: `stop` aborts it and waits for it to settle. */
  #starting: { abort: AbortController; settled: Promise<unknown> } | undefined;
  /** Closed with the devnet: never started again. */
  #closed = false;
  /** The next exit is a fault's (the nemesis's): not reported to `onExit`. */
  #expectExit = false;
  readonly #onExit: (node: DevnetNode, how: string) => void;

  constructor(
    name: string,
    role: NodeRole,
    custodian: Hex,
    config: (ports: NodePorts) => NodeUserConfig,
    dir: string,
    launch: Launcher,
    onExit: (node: DevnetNode, how: string) => void,
    ports: NodePorts,
  ) {
    this.#onExit = onExit;
    this.name = name;
    this.role = role;
    this.custodian = custodian;
    this.#config = config;
    this.#dir = dir;
    this.#launch = launch;
    this.#ports = ports;
  }

  #refuseClosed(): void {
    if (this.#closed) throw new Error(`${this.name}: the devnet is stopping; not started again`);
  }

  get #ep(): NodeEndpoints {
    if (this.#endpoints === undefined) throw new Error(`${this.name} has not started`);
    return this.#endpoints;
  }
  get signer(): Hex {
    return this.#ep.signer ?? "0x";
  }
  get rpcUrl(): string | undefined {
    return this.#ep.rpcUrl;
  }
  get adminUrl(): string | undefined {
    return this.#ep.adminUrl;
  }
  get peerId(): string {
    return this.#ep.peerId;
  }
  get multiaddrs(): string[] {
    return this.#ep.multiaddrs;
  }
  get pid(): number | undefined {
    return this.#running?.pid;
  }
  get running(): boolean {
    return this.#running !== undefined;
  }

  signal(sig: NodeJS.Signals): void {
    const pid = this.#running?.pid;
    if (pid === undefined) {
      throw new EnigmaError(
        ErrorCode.FaultUnsupported,
        `${this.name} is not a running process (signals need process nodes)`,
        { details: { name: this.name, signal: sig } },
      );
    }
    process.kill(pid, sig);
  }

  exited(): Promise<string> {
    return this.#running?.exited ?? Promise.resolve("not running");
  }

  expectExit(): void {
    this.#expectExit = true;
  }

  async stop(): Promise<void> {
    // A node still starting (its peers' bring-up failed meanwhile) must not be left running
    // once everything else has stopped: its process would outlive the devnet.
    const starting = this.#starting;
    if (starting !== undefined) {
      starting.abort.abort();
      await starting.settled;
    }
    const r = this.#running;
    if (r === undefined) return;
    this.#stopping = r;
    await r.stop();
  }

  /** Stops the node for good: a later or pending `restart` rejects instead of starting it. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.stop();
  }

  async restart(): Promise<void> {
    this.#refuseClosed();
    await this.stop();
    await mkdir(this.#dir, { recursive: true });
    // Closed while the old process stopped: start nothing.
    this.#refuseClosed();
    const abort = new AbortController();
    const launch = (async () => {
      const up = await this.#launch(this.#config(this.#ports), this.#dir, this.name, abort.signal);
      if (abort.signal.aborted) {
        // Up just as the stop came: stopped here, before the waiting `stop` returns.
        await up.stop();
        throw new Error(`${this.name}: stopped while it was starting`);
      }
      return up;
    })();
    const starting = { abort, settled: launch.catch(() => undefined) };
    this.#starting = starting;
    let r: RunningNode;
    try {
      r = await launch;
    } finally {
      if (this.#starting === starting) this.#starting = undefined;
    }
    this.#running = r;
    this.#expectExit = false;
    void r.exited.then((how) => {
      if (this.#running === r) this.#running = undefined;
      const expected = this.#expectExit;
      this.#expectExit = false;
      if (this.#stopping !== r && !expected) this.#onExit(this, how);
    });
    this.#endpoints = r.endpoints;
    // A restart keeps the ports, so URLs handed out stay valid.
    this.#ports = {
      p2p: portOf(r.endpoints.multiaddrs[0]) ?? this.#ports.p2p,
      rpc: r.endpoints.rpcUrl === undefined ? 0 : Number(new URL(r.endpoints.rpcUrl).port),
      admin: r.endpoints.adminUrl === undefined ? 0 : Number(new URL(r.endpoints.adminUrl).port),
    };
  }
}

/** A node's listening ports (0: any free one, kept across restarts once known). */
interface NodePorts {
  p2p: number;
  rpc: number;
  admin: number;
}

/** Fixed ports inside a namespace host: every host has its own address, so they never clash. */
const NETNS_PORTS: NodePorts = Object.freeze({ p2p: 4001, rpc: 3000, admin: 3100 });

/**
 * Where a node listens and what it announces. On this machine's loopback: 127.0.0.1. On a
 * namespace host: libp2p on 0.0.0.0 announcing the host's address (peers must dial that, not
 * what the node listens on), JSON-RPC and admin on the host's address.
 */
function nodeAddresses(
  ip: string | undefined,
  ports: NodePorts,
  bootstrap: string[],
  faults: boolean,
): Pick<NodeUserConfig, "p2p" | "rpc" | "admin"> {
  const host = ip ?? "127.0.0.1";
  return {
    p2p:
      ip === undefined
        ? { host, port: ports.p2p, bootstrap }
        : {
            host: "0.0.0.0",
            port: ports.p2p,
            bootstrap,
            announce: [`/ip4/${ip}/tcp/${ports.p2p}`],
          },
    rpc: { host, port: ports.rpc },
    admin: { host, port: ports.admin, faults },
  };
}

function portOf(multiaddr: string | undefined): number | undefined {
  const m = multiaddr === undefined ? null : /\/tcp\/(\d+)/.exec(multiaddr);
  return m === null ? undefined : Number(m[1]);
}

async function nodeRpc(url: string, method: string): Promise<unknown> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params: {} }),
  });
  const body = (await res.json()) as { result?: unknown; error?: { message: string } };
  if (body.error !== undefined) throw new Error(`${method}: ${body.error.message}`);
  return body.result;
}

async function waitFor<T>(
  probe: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 20_000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > until) {
      throw new EnigmaError(ErrorCode.NodeNotReady, `timed out waiting for ${what}`, {
        details: { what },
      });
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}
