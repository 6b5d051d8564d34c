// A whole network in one process for the node's tests: a Hardhat chain served over HTTP (the
// production code path), the contracts, a principal and N worker+gateway nodes, and a small
// client that does what enigma-js does (encrypt, record, submit, poll, decrypt).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import {
  AttestationServer,
  EnclaveIdentity,
  SIMULATED_ENCLAVE_MEASUREMENT,
  SimulatedAttestationService,
} from "@enigma/enclave";
import {
  ErrorCode,
  base64Encode,
  bytesToHex,
  decryptFrom,
  deploymentInputsHash,
  discoveryEpochs,
  encodeArgs,
  encryptTo,
  generateKeyPair,
  hexToBytes,
  inputsHash,
  recoverWorkerKeySigner,
  getSelectionStrategy,
  sameAddress,
  taskId as taskIdOf,
  trustRootToJwk,
  type Hex,
  type KeyPair,
  type RsaTrustRoot,
} from "@enigma/protocol";
import {
  Contract,
  type ContractTransactionResponse,
  HDNodeWallet,
  JsonRpcProvider,
  NonceManager,
  Wallet,
} from "ethers";
import hre from "hardhat";
import { deployEnigma } from "../../../scripts/deploy.js";
import { EnigmaChain } from "./chain/enigma-chain.js";
import { decodeRevert } from "./chain/errors.js";
import { resolveNodeConfig, type NodeUserConfig } from "./config.js";
import { EnigmaNode, enclaveSeedOf } from "./node.js";
import { createLogger } from "./observability.js";
import { NodeSelection } from "./selection.js";

const MNEMONIC = "test test test test test test test test test test test junk";
export const ENG = 10n ** 8n;

export function account(i: number): Wallet {
  const w = HDNodeWallet.fromPhrase(MNEMONIC, undefined, `m/44'/60'/0'/0/${i}`);
  return new Wallet(w.privateKey);
}

/** Sends a contract transaction and waits for it to be mined. */
export async function sent(tx: Promise<unknown>): Promise<void> {
  const response = (await tx) as ContractTransactionResponse;
  await response.wait();
}

export interface TestNetOptions {
  workers?: number;
  epochSize?: number;
  seed?: string;
  logLevel?: string;
  /** Every node's `ethereum.pollIntervalMs` (default 50). */
  pollIntervalMs?: number;
  /** Every node's `ethereum.confirmations` (default 0). */
  confirmations?: number;
  /** The workers' `worker.orderingDeadlineMs` (default: the `fast` preset's). */
  orderingDeadlineMs?: number;
  /** The workers' `worker.execution` (execution threads and deadline; enclave defaults). */
  execution?: NonNullable<NodeUserConfig["worker"]>["execution"];
  /** DEVNET ONLY: the enclaves' debug interface on every node (`debug.enclave`; default off). */
  enclaveDebug?: boolean;
  /** The worker-selection strategy by registry name, on chain and in every node (default Discovery's). */
  selection?: string;
}

export interface TestNet {
  rpcUrl: string;
  provider: JsonRpcProvider;
  chain: EnigmaChain;
  enigma: Contract;
  token: Contract;
  enigmaAddress: string;
  tokenAddress: string;
  dir: string;
  /** The attestation service's public key (the contract's and clients' trust root). */
  trustRoot: RsaTrustRoot;
  /** The attestation service nodes get their reports from (it alone holds its key). */
  attestationUrl: string;
  principal: EnigmaNode;
  workers: EnigmaNode[];
  /** The network's worker selection (its strategy over `chain`'s epochs), as clients select. */
  selection: NodeSelection;
  /** Builds a node config like the others (for restarts and late joiners). */
  configFor(i: number, extra?: Partial<NodeUserConfig>): NodeUserConfig;
  mine(blocks: number): Promise<void>;
  /** Mines to the next epoch and waits until the principal has started it. */
  advanceEpoch(): Promise<number>;
  stop(): Promise<void>;
}

export async function startTestNet(o: TestNetOptions = {}): Promise<TestNet> {
  const nWorkers = o.workers ?? 3;
  const epochSize = o.epochSize ?? 20;
  const seed = o.seed ?? `0x${"42".repeat(32)}`;
  const logLevel = (o.logLevel ?? process.env["ENIGMA_TEST_LOG"] ?? "silent") as "silent";
  const dir = await mkdtemp(join(tmpdir(), "enigma-testnet-"));
  const server = await hre.network.createServer("default", "127.0.0.1", 0);
  const { address, port } = await server.listen();
  const rpcUrl = `http://${address}:${port}`;
  const provider = new JsonRpcProvider(rpcUrl, undefined, {
    cacheTimeout: -1,
    staticNetwork: true,
  });
  const deployer = new NonceManager(account(0).connect(provider));

  // The attestation service holds its key; nodes get their reports from it over HTTP.
  const service = SimulatedAttestationService.generate();
  const attestation = new AttestationServer({ service });
  await attestation.start();
  const jwk = trustRootToJwk(service.trustRoot);
  const b64 = (s: string) => bytesToHex(new Uint8Array(Buffer.from(s, "base64url")));

  const nodeSeed = (i: number): Hex =>
    bytesToHex(hexToBytes(seed).map((b, k) => (k === 31 ? (b + i) & 0xff : b)));
  const principalSigner = EnclaveIdentity.generate(enclaveSeedOf(nodeSeed(0))).signer;
  const d = await deployEnigma(deployer, {
    principal: principalSigner,
    ...(o.selection === undefined ? {} : { selection: o.selection }),
    epochSize,
    taskTimeout: epochSize * 3,
    // The chain accepts the task gas limits the workers' enclaves are configured to run.
    ...(o.execution?.maxGasLimit === undefined
      ? {}
      : { maxGasLimit: BigInt(o.execution.maxGasLimit) }),
    attestation: {
      rsaModulus: b64(jwk.n),
      rsaExponent: b64(jwk.e),
      mrEnclaves: [SIMULATED_ENCLAVE_MEASUREMENT.mrenclave],
      mrSigners: [SIMULATED_ENCLAVE_MEASUREMENT.mrsigner],
    },
  });
  // Worker custodians (accounts 2..) get ENG for their stake; users (from 10) for fees.
  for (let i = 0; i < nWorkers; i++) {
    await sent(d.token.getFunction("transfer")(account(2 + i).address, 1_000n * ENG));
  }
  for (let i = 10; i < 13; i++) {
    await sent(d.token.getFunction("transfer")(account(i).address, 10_000n * ENG));
  }

  const configFor = (i: number, extra: Partial<NodeUserConfig> = {}): NodeUserConfig => ({
    roles: i === 0 ? ["principal"] : ["worker", "gateway"],
    dataDir: join(dir, i === 0 ? "principal" : `worker-${i}`),
    seed: nodeSeed(i),
    ethereum: {
      rpcUrl,
      enigmaAddress: d.enigmaAddress,
      tokenAddress: d.tokenAddress,
      privateKey: account(i === 0 ? 1 : 1 + i).privateKey,
      pollIntervalMs: o.pollIntervalMs ?? 50,
      confirmations: o.confirmations ?? 0,
    },
    attestation: { url: attestation.url, trustRoot: service.trustRoot },
    worker: {
      stake: "100",
      ...(o.orderingDeadlineMs === undefined ? {} : { orderingDeadlineMs: o.orderingDeadlineMs }),
      maxBatch: 100,
      ...(o.execution === undefined ? {} : { execution: o.execution }),
    },
    preset: "fast",
    logLevel,
    ...(o.enclaveDebug === true ? { debug: { enclave: true } } : {}),
    ...(o.selection === undefined ? {} : { policy: { selection: o.selection } }),
    ...extra,
  });
  const log = (name: string) => createLogger({ level: logLevel, name });
  const nodes: EnigmaNode[] = [];
  let current: TestNet | undefined;
  const stopAll = async () => {
    // Tests may replace workers (restarts): stop the current ones and every one started here.
    const all = new Set([...(current?.workers ?? []), ...nodes.reverse()]);
    for (const n of all) await n.stop();
    provider.destroy();
    await chain.close();
    await server.close();
    await attestation.stop();
    await rm(dir, { recursive: true, force: true });
  };
  const chain = await EnigmaChain.connect({
    rpcUrl,
    enigmaAddress: d.enigmaAddress,
    tokenAddress: d.tokenAddress,
  });
  try {
    const principal = new EnigmaNode(resolveNodeConfig(configFor(0)), { logger: log("principal") });
    await principal.start();
    nodes.push(principal);
    const bootstrap = principal.endpoints().multiaddrs;
    const workers: EnigmaNode[] = [];
    for (let i = 1; i <= nWorkers; i++) {
      const cfg = configFor(i, { p2p: { host: "127.0.0.1", port: 0, bootstrap } });
      const w = new EnigmaNode(resolveNodeConfig(cfg), { logger: log(`worker-${i}`) });
      await w.start();
      nodes.push(w);
      workers.push(w);
    }
    const mine = async (blocks: number) => {
      await provider.send("hardhat_mine", [`0x${blocks.toString(16)}`]);
    };
    const net: TestNet = {
      rpcUrl,
      provider,
      chain,
      enigma: d.enigma,
      token: d.token,
      enigmaAddress: d.enigmaAddress,
      tokenAddress: d.tokenAddress,
      dir,
      trustRoot: service.trustRoot,
      attestationUrl: attestation.url,
      principal,
      workers,
      selection: new NodeSelection(getSelectionStrategy(o.selection ?? "discovery"), chain),
      configFor: (i, extra) =>
        configFor(i, { p2p: { host: "127.0.0.1", port: 0, bootstrap }, ...extra }),
      mine,
      advanceEpoch: async () => {
        const before = await chain.currentEpoch();
        const head = await chain.blockNumber();
        // The contract implements Discovery's epochs (the only on-chain epoch policy).
        const target = discoveryEpochs.nextEpochBlock(before?.firstBlockNumber ?? head, epochSize);
        if (head < target) await mine(target - head);
        return waitFor(async () => {
          const now = await chain.currentEpoch();
          return now !== undefined && now.index !== before?.index ? now.index : undefined;
        }, "the next epoch");
      },
      stop: stopAll,
    };
    current = net;
    // The first epoch may have been set before the workers logged in: start one with all of them.
    await waitFor(async () => {
      const e = await chain.currentEpoch();
      if (e !== undefined && e.workers.length === nWorkers) return true;
      await net.advanceEpoch();
      return undefined;
    }, "an epoch with every worker");
    return net;
  } catch (e) {
    await stopAll();
    throw e;
  }
}

/** Polls `probe` until it returns a value (event-driven waits are not available across HTTP). */
export async function waitFor<T>(
  probe: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 20_000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** How many gossip messages of `topic` the node rejected (its `enigma_gossip_messages_total`). */
export async function gossipRejects(node: EnigmaNode, topic: string): Promise<number> {
  const line = (await node.metrics.text())
    .split("\n")
    .find(
      (l) =>
        l.startsWith("enigma_gossip_messages_total") &&
        l.includes('verdict="reject"') &&
        l.includes(topic),
    );
  return line === undefined ? 0 : Number(line.split(" ").at(-1));
}

export async function rpc(url: string, method: string, params: unknown): Promise<unknown> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  const body = (await res.json()) as {
    result?: unknown;
    error?: { code: number; message: string };
  };
  if (body.error !== undefined) {
    const e = new Error(body.error.message) as Error & { code: number };
    e.code = body.error.code;
    throw e;
  }
  return body.result;
}

export interface SubmittedTask {
  taskId: Hex;
  worker: Hex;
  /** The worker encryption key the inputs were encrypted to (outputs come back under it). */
  workerKey: Hex;
  /** The task's user key pair (one per task, as enigma-js does). */
  user: KeyPair;
}

interface Prepared {
  enigma: Contract;
  nonce: bigint;
  taskId: Hex;
  epoch: NonNullable<Awaited<ReturnType<EnigmaChain["currentEpoch"]>>>;
  user: KeyPair;
  worker: Hex;
  workerKey: Hex;
}

/** What a dApp does through enigma-js, against one gateway. */
export class TestClient {
  readonly #net: TestNet;
  readonly #wallet: NonceManager;
  readonly #address: string;
  gateway: string;

  constructor(net: TestNet, accountIndex: number, gateway: string) {
    this.#net = net;
    const w = account(accountIndex).connect(net.provider);
    this.#address = w.address;
    this.#wallet = new NonceManager(w);
    this.gateway = gateway;
  }

  /** The id this client's next task will have (the address of a contract it deploys next). */
  async nextTaskId(): Promise<Hex> {
    const enigma = new Contract(this.#net.enigmaAddress, this.#net.enigma.interface, this.#wallet);
    const nonce = (await enigma.getFunction("getUserTaskDeployments")(this.#address)) as bigint;
    return taskIdOf(this.#address, nonce);
  }

  async #prepare(contract: string | undefined): Promise<Prepared> {
    const user = generateKeyPair();
    const enigma = new Contract(this.#net.enigmaAddress, this.#net.enigma.interface, this.#wallet);
    const nonce = (await enigma.getFunction("getUserTaskDeployments")(this.#address)) as bigint;
    const taskId = taskIdOf(this.#address, nonce);
    const epoch = await this.#net.chain.currentEpoch();
    if (epoch === undefined) throw new Error("no epoch");
    // The group's first member, as the SDK picks it.
    const [worker] = await this.#net.selection.group(contract ?? taskId, epoch);
    if (worker === undefined) throw new Error("no worker");
    const userPubKey = bytesToHex(user.publicKey).slice(2);
    const k = (
      (await rpc(this.gateway, "getWorkerEncryptionKey", {
        workerAddress: worker.slice(2),
        userPubKey,
      })) as { result: { workerEncryptionKey: string; workerSig: string } }
    ).result;
    if (
      !sameAddress(recoverWorkerKeySigner(`0x${k.workerEncryptionKey}`, `0x${k.workerSig}`), worker)
    ) {
      throw new Error("worker key not signed by the selected worker");
    }
    return {
      enigma,
      nonce,
      taskId,
      epoch,
      user,
      worker: worker.toLowerCase() as Hex,
      workerKey: `0x${k.workerEncryptionKey}`,
    };
  }

  async #approve(fee: bigint) {
    const token = new Contract(this.#net.tokenAddress, this.#net.token.interface, this.#wallet);
    await sent(token.getFunction("approve")(this.#net.enigmaAddress, fee));
  }

  /**
   * Encrypts the call for the selected worker and records the task; when an epoch starts in
   * between (WrongEpoch), does it again for the new epoch, as a dApp must.
   */
  async #recorded(
    contract: string | undefined,
    fn: string,
    args: unknown[],
    gasLimit: bigint,
    record: (p: Prepared, hash: string) => Promise<unknown>,
    hashOf: (encFn: Uint8Array, encArgs: Uint8Array, user: Uint8Array) => string,
    beforeRecord?: () => Promise<void>,
  ): Promise<{ p: Prepared; encFn: Uint8Array; encArgs: Uint8Array }> {
    for (let attempt = 1; ; attempt++) {
      const p = await this.#prepare(contract);
      const encFn = encryptTo(p.user.privateKey, p.workerKey, new TextEncoder().encode(fn));
      const encArgs = encryptTo(p.user.privateKey, p.workerKey, encodeArgs(fn, args));
      await this.#approve(gasLimit);
      if (attempt === 1) await beforeRecord?.();
      try {
        await sent(record(p, hashOf(encFn, encArgs, p.user.publicKey)));
        return { p, encFn, encArgs };
      } catch (e) {
        // The failed send consumed a nonce in the NonceManager: re-read it from the chain.
        this.#wallet.reset();
        // ethers puts the revert data on the error, or (when it cannot decode the node's error,
        // "could not coalesce error") on the JSON-RPC error it wraps.
        const data =
          (e as { data?: unknown }).data ?? (e as { error?: { data?: unknown } }).error?.data;
        if (attempt >= 3 || typeof data !== "string" || decodeRevert(data)?.name !== "WrongEpoch")
          throw e;
      }
    }
  }

  async deploy(
    wasm: Uint8Array,
    ctor: string,
    args: unknown[],
    gasLimit = 5_000_000n,
  ): Promise<SubmittedTask> {
    const { p, encFn, encArgs } = await this.#recorded(
      undefined,
      ctor,
      args,
      gasLimit,
      (p, hash) =>
        p.enigma.getFunction("createDeploymentTaskRecord")(
          hash,
          gasLimit,
          1n,
          p.epoch.firstBlockNumber,
          p.nonce,
        ),
      (encFn, encArgs, user) => deploymentInputsHash(encFn, encArgs, wasm, user),
    );
    await rpc(this.gateway, "deploySecretContract", {
      workerAddress: p.worker.slice(2),
      preCode: base64Encode(gzipSync(wasm)),
      encryptedArgs: bytesToHex(encArgs).slice(2),
      encryptedFn: bytesToHex(encFn).slice(2),
      userDHKey: bytesToHex(p.user.publicKey).slice(2),
      contractAddress: p.taskId.slice(2),
    });
    return { taskId: p.taskId, worker: p.worker, workerKey: p.workerKey, user: p.user };
  }

  async compute(
    contract: Hex,
    fn: string,
    args: unknown[],
    gasLimit = 1_000_000n,
    opts: {
      workerAddress?: Hex;
      /** Runs once the worker's key is fetched, before the record is sent (fault tests). */
      beforeRecord?: () => Promise<void>;
      /** Runs once the record is mined, before the input is sent (fault tests). */
      beforeInput?: (taskId: Hex) => Promise<void>;
    } = {},
  ): Promise<SubmittedTask> {
    const { p, encFn, encArgs } = await this.#recorded(
      contract,
      fn,
      args,
      gasLimit,
      (p, hash) =>
        p.enigma.getFunction("createTaskRecord")(hash, gasLimit, 1n, p.epoch.firstBlockNumber),
      (encFn, encArgs, user) => inputsHash(encFn, encArgs, contract, user),
      opts.beforeRecord,
    );
    await opts.beforeInput?.(p.taskId);
    await rpc(this.gateway, "sendTaskInput", {
      taskId: p.taskId.slice(2),
      workerAddress: (opts.workerAddress ?? p.worker).slice(2),
      encryptedFn: bytesToHex(encFn).slice(2),
      encryptedArgs: bytesToHex(encArgs).slice(2),
      userDHKey: bytesToHex(p.user.publicKey).slice(2),
      contractAddress: contract.slice(2),
    });
    return { taskId: p.taskId, worker: p.worker, workerKey: p.workerKey, user: p.user };
  }

  /** Polls getTaskStatus until the task is done; returns its status and decrypted output. */
  async result(
    t: SubmittedTask,
    timeoutMs?: number,
  ): Promise<{ status: string; output: Uint8Array }> {
    const status = await waitFor(
      async () => {
        let s: { status: string; output?: string };
        try {
          s = (
            (await rpc(this.gateway, "getTaskStatus", {
              taskId: t.taskId.slice(2),
              workerAddress: t.worker.slice(2),
              withResult: true,
            })) as { result: { status: string; output?: string } }
          ).result;
        } catch (e) {
          // A gateway other than the one that took the input learns of the task from gossip a
          // moment later: until then it does not know it (as @enigma/client, ask again).
          if ((e as { code?: unknown }).code === ErrorCode.TaskUnknown) return undefined;
          throw e;
        }
        return s.status === "SUCCESS" || s.status === "FAILED" ? s : undefined;
      },
      `task ${t.taskId}`,
      timeoutMs,
    );
    const output =
      status.output === undefined || status.output === ""
        ? new Uint8Array()
        : hexToBytes(status.output);
    const plain =
      output.length === 0 ? output : decryptFrom(t.user.privateKey, t.workerKey, output);
    return { status: status.status, output: plain };
  }
}
