/**
 * Node benchmark (not a test). A whole network in one process (the testnet fixture: Hardhat
 * chain with instant mining over HTTP, a principal and 1 or 3 worker+gateway nodes over
 * libp2p), and clients doing what a dApp does with the calculator's `add`. Every task is for
 * one secret contract, so one worker runs them all. Measured on the node's side: from sending
 * `sendTaskInput` to a gateway until that gateway reports SUCCESS (its WebSocket `taskStatus`
 * notification). The clients' crypto (user keys, worker keys, encryption) is done before the
 * clock starts; recording (createTaskRecords, one transaction per batch of RECORD_BATCH) and
 * submitting are timed, as a client does them just before the nodes work.
 *
 * Loads per network, each run BENCH_RUNS times (medians printed): `paced N/s` offers N tasks/s
 * (BENCH_RATES, default 20 and the target 100), `max` offers as fast as the clients can record
 * and submit. Then gossip delivery latency between three P2PNetwork instances.
 *
 *   pnpm bench:node
 *   BENCH_WORKERS=1 BENCH_RUNS=1 BENCH_TRACE=1 pnpm bench:node   # per-call timers
 *   BENCH_PROFILE=.bench-profiles pnpm bench:node                # a .cpuprofile per timed run
 *
 * Other knobs: BENCH_TASKS (tasks per run), BENCH_POLL_MS (ethereum.pollIntervalMs).
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { Session } from "node:inspector/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import {
  aesEncrypt,
  bytesToHex,
  decodeValues,
  decryptFrom,
  deriveSharedKey,
  encodeArgs,
  generateKeyPair,
  hexToBytes,
  inputsHash,
  selectWorker,
  taskId as taskIdOf,
  type Hex,
  type KeyPair,
} from "@enigma/protocol";
import { WorkerEnclave } from "@enigma/enclave";
import { Contract, JsonRpcProvider, NonceManager, type ContractTransactionResponse } from "ethers";
import { EnigmaChain } from "../packages/node/src/chain/enigma-chain.js";
import { P2PNetwork } from "../packages/node/src/p2p/network.js";
import { NodeStore } from "../packages/node/src/store/store.js";
import {
  ENG,
  TestClient,
  account,
  rpc,
  startTestNet,
  waitFor,
  type TestNet,
} from "../packages/node/src/testnet.fixture.js";

const envInt = (name: string, fallback: number): number => {
  const v = process.env[name];
  return v === undefined || v === "" ? fallback : Number.parseInt(v, 10);
};
const envList = (name: string, fallback: string): number[] =>
  (process.env[name] ?? fallback).split(",").map(Number);

const SETTINGS = {
  tasksPerRun: envInt("BENCH_TASKS", 600),
  runs: envInt("BENCH_RUNS", 3),
  // Offered loads (tasks/s): a light one, to see latency without queueing, and the target.
  pacedRates: envList("BENCH_RATES", "20,100"),
  workers: envList("BENCH_WORKERS", "1,3"),
  clients: 8,
  recordBatch: 10,
  // Node config knobs (packages/node/src/config.ts). 50 ms is the fixture's poll interval (the
  // node's default, 250 ms, alone would add ~125 ms on average); 5000 ms is the node's default
  // ordering deadline (a record whose input is missing holds later tasks that long).
  pollIntervalMs: envInt("BENCH_POLL_MS", 50),
  orderingDeadlineMs: 5_000,
  confirmations: 0,
  // Long enough that no epoch ends during a run (each record batch mines one block).
  epochSize: 400,
  gossipMessages: 300,
  gossipBurst: 1000,
};
const GAS_LIMIT = 100_000n;

const FN = "add(uint256,uint256)";
// Funded by the fixture: 10..12 (ENG and ETH). 13..19 have ETH (Hardhat's first 20 accounts).
const CLIENT_ACCOUNTS = Array.from({ length: SETTINGS.clients }, (_, i) => 10 + i);
const DEPLOYER_ACCOUNT = 19;

const now = () => performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
}
const median = (xs: readonly number[]) => quantile(xs, 0.5);

async function mined(tx: Promise<unknown>): Promise<void> {
  await ((await tx) as ContractTransactionResponse).wait();
}

// ------------------------------------------------------------------ chain request counter

/**
 * Counts the nodes' JSON-RPC requests to the chain by method. Nodes and clients all use
 * ethers' JsonRpcProvider (the same module); `clientProviders` are the bench's own, not counted.
 */
const chainCalls = new Map<string, number>();
const clientProviders = new Set<unknown>();
{
  // `send` (one call per request, before ethers batches them): the node's provider class
  // overrides `_send`.
  const proto = JsonRpcProvider.prototype as unknown as {
    send: (this: unknown, method: string, params: unknown) => Promise<unknown>;
  };
  const original = proto.send;
  proto.send = function (this: unknown, method: string, params: unknown) {
    if (!clientProviders.has(this)) chainCalls.set(method, (chainCalls.get(method) ?? 0) + 1);
    return original.call(this, method, params);
  };
}

// ------------------------------------------------------------------ LevelDB call counter

/**
 * Counts the nodes' LevelDB calls by kind (every node's store is a classic-level database, the
 * CommonJS module the node package loads): reads, writes, batch writes, iterators.
 */
const levelCalls = new Map<string, number>();
{
  const nodeRequire = createRequire(new URL("../packages/node/package.json", import.meta.url));
  const { Level } = nodeRequire("level") as { Level: { prototype: object } };
  const proto = Level.prototype as Record<string, unknown>;
  const kinds: Record<string, string> = {
    _get: "get",
    _getMany: "get",
    _put: "put",
    _del: "del",
    _batch: "batch",
    _chainedBatch: "batch",
    _iterator: "iterator",
  };
  for (const [method, kind] of Object.entries(kinds)) {
    const original = proto[method];
    if (typeof original !== "function") continue;
    proto[method] = function (this: unknown, ...args: unknown[]): unknown {
      levelCalls.set(kind, (levelCalls.get(kind) ?? 0) + 1);
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    };
  }
}

/** Calls per task since `before`, as "name n.nn, ..." (the most frequent first). */
function perTask(calls: Map<string, number>, before: Map<string, number>, tasks: number): string {
  return [...calls]
    .map(([m, n]) => [m, (n - (before.get(m) ?? 0)) / tasks] as const)
    .filter(([, n]) => n >= 0.05)
    .sort((a, b) => b[1] - a[1])
    .map(([m, n]) => `${m} ${n.toFixed(2)}`)
    .join(", ");
}

// ------------------------------------------------------------------ profiler

/** BENCH_PROFILE=dir: a CPU profile of each timed run (open in Chrome DevTools). */
const PROFILE_DIR = process.env["BENCH_PROFILE"];
const inspector = PROFILE_DIR === undefined ? undefined : new Session();
async function profile<T>(name: string, work: () => Promise<T>): Promise<T> {
  if (inspector === undefined || PROFILE_DIR === undefined) return work();
  inspector.connect();
  await inspector.post("Profiler.enable");
  await inspector.post("Profiler.setSamplingInterval", { interval: 250 });
  await inspector.post("Profiler.start");
  try {
    return await work();
  } finally {
    const { profile: p } = await inspector.post("Profiler.stop");
    inspector.disconnect();
    await mkdir(PROFILE_DIR, { recursive: true });
    await writeFile(join(PROFILE_DIR, `${name}.cpuprofile`), JSON.stringify(p));
  }
}

// ------------------------------------------------------------------ call timers

/**
 * BENCH_TRACE=1: wall time (call to settlement, so including event-loop queueing) of every
 * store, chain, p2p and enclave call the nodes make during the timed runs, by calling function.
 */
const TRACE = process.env["BENCH_TRACE"] === "1";
const traced = new Map<string, { n: number; ms: number }>();
let tracing = false;

function callerOf(stack: string | undefined, own: string): string | undefined {
  for (const line of (stack ?? "").split("\n").slice(2)) {
    const m = /at (?:async )?(\S+) \(?.*\/([^/]+\.[jt]s):(\d+)/.exec(line);
    if (m === null || m[2] === "bench-node.ts") continue;
    // A call from the traced class itself is counted once, in its caller.
    return m[2] === own ? undefined : `${m[1]} (${m[2]}:${m[3]})`;
  }
  return "?";
}

function traceMethods(
  cls: { prototype: object; name: string },
  file: string,
  names?: string[],
): void {
  const proto = cls.prototype as Record<string, unknown>;
  for (const name of names ?? Object.getOwnPropertyNames(proto)) {
    const f = Object.getOwnPropertyDescriptor(proto, name)?.value as unknown;
    if (name === "constructor" || typeof f !== "function") continue;
    proto[name] = function (this: unknown, ...args: unknown[]): unknown {
      const call = () => (f as (...a: unknown[]) => unknown).apply(this, args);
      if (!tracing) return call();
      const caller = callerOf(new Error().stack, file);
      if (caller === undefined) return call();
      const t0 = now();
      const done = () => {
        const key = `${cls.name}.${name} <- ${caller}`;
        const e = traced.get(key) ?? { n: 0, ms: 0 };
        e.n++;
        e.ms += now() - t0;
        traced.set(key, e);
      };
      const r = call();
      if (r instanceof Promise) return r.finally(done);
      done();
      return r;
    };
  }
}

if (TRACE) {
  Error.stackTraceLimit = 30;
  traceMethods(NodeStore, "store.ts");
  traceMethods(EnigmaChain, "enigma-chain.ts", [
    "blockNumber",
    "getEpoch",
    "currentEpoch",
    "getTaskRecord",
    "getSecretContract",
    "getEvents",
  ]);
  traceMethods(P2PNetwork, "network.ts", ["publish", "request"]);
  traceMethods(WorkerEnclave, "worker-enclave.js", ["compute", "workerEncryptionKey"]);
}

function printTrace(tasks: number): void {
  const rows = [...traced].sort((a, b) => b[1].ms - a[1].ms).slice(0, 30);
  console.log(`    call timers, per task (calls, wall ms), top 30 by total wall time:`);
  for (const [key, { n, ms }] of rows) {
    console.log(
      `    ${(n / tasks).toFixed(2).padStart(6)} ${(ms / tasks).toFixed(2).padStart(7)} ms  ${key}`,
    );
  }
  traced.clear();
}

// ------------------------------------------------------------------ clients

interface Prepared {
  user: KeyPair;
  workerKey: Uint8Array;
  a: bigint;
  b: bigint;
  encFn: string;
  encArgs: string;
  hash: string;
  gateway: string;
}

interface Timing {
  task: Prepared;
  gateway: string;
  local: boolean;
  recordedAt: number;
  sentAt: number;
  acceptedAt: number;
  doneAt?: number;
  status?: string;
}

/** One WebSocket per gateway, resolving tasks as their `taskStatus` notifications arrive. */
class StatusWatcher {
  readonly #sockets = new Map<string, WebSocket>();
  readonly #waiting = new Map<string, (status: string) => void>();
  readonly #calls = new Map<number, () => void>();
  #id = 0;
  /** When the last result arrived. */
  lastAt = 0;

  async open(gateways: readonly string[]): Promise<void> {
    for (const url of gateways) {
      const ws = new WebSocket(`${url.replace(/^http/, "ws")}/ws`);
      await new Promise<void>((resolve, reject) => {
        ws.addEventListener("open", () => {
          resolve();
        });
        ws.addEventListener("error", () => {
          reject(new Error(`cannot open ${url}/ws`));
        });
      });
      ws.addEventListener("message", (ev: MessageEvent<string>) => {
        this.#onMessage(ws, ev.data);
      });
      this.#sockets.set(url, ws);
    }
  }

  /** Subscribes to a task; resolves once subscribed, `done` once it succeeded or failed. */
  async watch(gateway: string, taskId: string, done: (status: string) => void): Promise<void> {
    this.#waiting.set(taskId.toLowerCase(), done);
    await this.#call(gateway, "subscribeTaskStatus", { taskId });
  }

  close(): void {
    for (const ws of this.#sockets.values()) ws.close();
  }

  #call(gateway: string, method: string, params: unknown): Promise<void> {
    const ws = this.#sockets.get(gateway);
    if (ws === undefined) throw new Error(`no socket for ${gateway}`);
    const id = ++this.#id;
    return new Promise((resolve) => {
      this.#calls.set(id, resolve);
      ws.send(JSON.stringify({ jsonrpc: "2.0", id, method, params }));
    });
  }

  #onMessage(ws: WebSocket, text: string): void {
    const m = JSON.parse(text) as {
      id?: number;
      error?: { message: string };
      method?: string;
      params?: { subscription: string; taskId: string; status: string };
    };
    if (m.id !== undefined) {
      // A refused subscription would leave its task waiting: fail loudly instead.
      if (m.error !== undefined) console.error(`ws call failed: ${m.error.message}`);
      this.#calls.get(m.id)?.();
      this.#calls.delete(m.id);
      return;
    }
    const p = m.params;
    if (m.method !== "taskStatus" || p === undefined) return;
    if (p.status !== "SUCCESS" && p.status !== "FAILED") return;
    const done = this.#waiting.get(p.taskId);
    if (done === undefined) return;
    this.#waiting.delete(p.taskId);
    this.lastAt = now();
    done(p.status);
    // Keeps the socket under the node's per-socket subscription limit.
    const id = ++this.#id;
    ws.send(
      JSON.stringify({
        jsonrpc: "2.0",
        id,
        method: "unsubscribe",
        params: { subscription: p.subscription },
      }),
    );
  }
}

/** A dApp user's account: records its tasks in batches and submits them to gateways. */
class BenchClient {
  readonly address: string;
  readonly #enigma: Contract;
  readonly #token: Contract;
  #nonce = 0n;

  constructor(net: TestNet, accountIndex: number, provider: JsonRpcProvider) {
    const w = new NonceManager(account(accountIndex).connect(provider));
    this.address = account(accountIndex).address;
    this.#enigma = new Contract(net.enigmaAddress, net.enigma.interface, w);
    this.#token = new Contract(net.tokenAddress, net.token.interface, w);
  }

  /** One allowance for every run, and the task counter task ids are derived from. */
  async init(): Promise<void> {
    const enigma = await this.#enigma.getAddress();
    await mined(this.#token.getFunction("approve")(enigma, 1_000_000n * ENG));
    this.#nonce = (await this.#enigma.getFunction("getUserTaskDeployments")(
      this.address,
    )) as bigint;
  }

  /** Records `batch` in one transaction, then sends every input to its gateway at once. */
  async submit(
    batch: readonly Prepared[],
    contract: Hex,
    worker: Hex,
    firstBlock: number,
    watcher: StatusWatcher,
    timings: Map<string, Timing>,
    localGateway: string,
  ): Promise<void> {
    const hashes = batch.map((p) => p.hash);
    await mined(this.#enigma.getFunction("createTaskRecords")(hashes, GAS_LIMIT, 1n, firstBlock));
    const recordedAt = now();
    const first = this.#nonce;
    this.#nonce += BigInt(batch.length);
    await Promise.all(
      batch.map(async (p, i) => {
        const id = taskIdOf(this.address, first + BigInt(i));
        const t: Timing = {
          task: p,
          gateway: p.gateway,
          local: p.gateway === localGateway,
          recordedAt,
          sentAt: 0,
          acceptedAt: 0,
        };
        timings.set(id, t);
        await watcher.watch(p.gateway, id, (status) => {
          t.doneAt = now();
          t.status = status;
        });
        t.sentAt = now();
        await rpc(p.gateway, "sendTaskInput", {
          taskId: id.slice(2),
          workerAddress: worker.slice(2),
          encryptedFn: p.encFn,
          encryptedArgs: p.encArgs,
          userDHKey: bytesToHex(p.user.publicKey).slice(2),
          contractAddress: contract.slice(2),
        });
        t.acceptedAt = now();
      }),
    );
  }
}

/** The clients' untimed part: user key, worker key (through a gateway), encrypted inputs. */
async function prepare(
  n: number,
  contract: Hex,
  worker: Hex,
  keyGateway: string,
  gateways: readonly string[],
): Promise<Prepared[]> {
  const out: Prepared[] = [];
  const chunk = 50;
  for (let start = 0; start < n; start += chunk) {
    const part = await Promise.all(
      Array.from({ length: Math.min(chunk, n - start) }, async (_, j) => {
        const i = start + j;
        const user = generateKeyPair();
        const k = (
          (await rpc(keyGateway, "getWorkerEncryptionKey", {
            workerAddress: worker.slice(2),
            userPubKey: bytesToHex(user.publicKey).slice(2),
          })) as { result: { workerEncryptionKey: string } }
        ).result;
        const workerKey = hexToBytes(`0x${k.workerEncryptionKey}`);
        const shared = deriveSharedKey(user.privateKey, workerKey);
        const a = BigInt(i + 1);
        const b = 1_000_000n + BigInt(i);
        const encFn = aesEncrypt(shared, new TextEncoder().encode(FN));
        const encArgs = aesEncrypt(shared, encodeArgs(FN, [a, b]));
        return {
          user,
          workerKey,
          a,
          b,
          encFn: bytesToHex(encFn).slice(2),
          encArgs: bytesToHex(encArgs).slice(2),
          hash: inputsHash(encFn, encArgs, contract, user.publicKey),
          gateway: gateways[i % gateways.length] ?? keyGateway,
        };
      }),
    );
    out.push(...part);
  }
  return out;
}

// ------------------------------------------------------------------ one network

interface RunResult {
  load: string;
  tasks: number;
  failed: number;
  offered: number;
  throughput: number;
  p50: number;
  p95: number;
  p50Local: number;
  p50Remote: number;
  accept50: number;
  /** Process CPU (user + system, every node, the chain and the clients) per task, in ms. */
  cpuPerTask: number;
}

async function benchNetwork(workers: number): Promise<RunResult[]> {
  const tStart = now();
  const net = await startTestNet({
    workers,
    epochSize: SETTINGS.epochSize,
    pollIntervalMs: SETTINGS.pollIntervalMs,
    orderingDeadlineMs: SETTINGS.orderingDeadlineMs,
    confirmations: SETTINGS.confirmations,
  });
  const watcher = new StatusWatcher();
  // The clients' own provider (not counted with the nodes' chain requests).
  const clientProvider = new JsonRpcProvider(net.rpcUrl, undefined, {
    cacheTimeout: -1,
    staticNetwork: true,
  });
  clientProviders.add(clientProvider);
  clientProviders.add(net.provider);
  try {
    const gateways = net.workers.map((w) => w.endpoints().rpcUrl ?? "");
    await watcher.open(gateways);
    console.log(`\n${workers} worker(s): network up in ${((now() - tStart) / 1000).toFixed(1)} s`);

    // Clients 13.. need ENG (the fixture funds 10..12).
    const tokenAsDeployer = net.token;
    for (const i of [...CLIENT_ACCOUNTS, DEPLOYER_ACCOUNT].filter((i) => i > 12)) {
      await mined(tokenAsDeployer.getFunction("transfer")(account(i).address, 10_000n * ENG));
    }
    const clients = CLIENT_ACCOUNTS.map((i) => new BenchClient(net, i, clientProvider));
    for (const c of clients) await c.init();

    const wasm = new Uint8Array(
      await readFile(
        new URL("../packages/secret-contract/build/examples/calculator.wasm", import.meta.url),
      ),
    );
    const deployer = new TestClient(net, DEPLOYER_ACCOUNT, gateways[0] ?? "");
    const d = await deployer.deploy(wasm, "construct()", []);
    if ((await deployer.result(d)).status !== "SUCCESS") throw new Error("deployment failed");
    const contract = d.taskId;

    const results: RunResult[] = [];
    const loads: { name: string; rate: number | undefined; tasks: number; runs: number }[] = [
      { name: "warm-up", rate: undefined, tasks: 100, runs: 1 },
      ...SETTINGS.pacedRates.map((rate) => ({
        name: `paced ${rate}/s`,
        rate,
        // About 10 s of load at light rates.
        tasks: Math.min(SETTINGS.tasksPerRun, rate * 10),
        runs: SETTINGS.runs,
      })),
      { name: "max", rate: undefined, tasks: SETTINGS.tasksPerRun, runs: SETTINGS.runs },
    ];
    let lastTask: string | undefined;
    for (const load of loads) {
      for (let run = 0; run < load.runs; run++) {
        // A fresh epoch per run: the previous run's receipts are committed outside the clock.
        await net.advanceEpoch();
        if (lastTask !== undefined) {
          const id = lastTask;
          await waitFor(
            async () => ((await net.chain.getTaskRecord(id))?.status ?? 1) !== 1 || undefined,
            "the previous run's receipts to be committed",
            60_000,
          );
        }
        const epoch = await net.chain.currentEpoch();
        if (epoch === undefined) throw new Error("no epoch");
        const worker = selectWorker(contract, epoch)?.toLowerCase() as Hex | undefined;
        if (worker === undefined) throw new Error("no worker selected");
        const node = net.workers.find((w) => w.signer?.toLowerCase() === worker);
        const localGateway = node?.endpoints().rpcUrl ?? "";
        const pool = await prepare(load.tasks, contract, worker, localGateway, gateways);

        const before = new Map(chainCalls);
        const levelBefore = new Map(levelCalls);
        const timings = new Map<string, Timing>();
        const cpuBefore = process.cpuUsage();
        const batches: Prepared[][] = [];
        for (let i = 0; i < pool.length; i += SETTINGS.recordBatch) {
          batches.push(pool.slice(i, i + SETTINGS.recordBatch));
        }
        const all = await profile(
          `${workers}w-${load.name.replace(/\W+/g, "")}-${run + 1}`,
          async () => {
            let next = 0;
            tracing = TRACE && load.name !== "warm-up";
            const start = now();
            await Promise.all(
              clients.map(async (c) => {
                for (;;) {
                  const k = next++;
                  const batch = batches[k];
                  if (batch === undefined) return;
                  if (load.rate !== undefined) {
                    await sleep(start + ((k * SETTINGS.recordBatch) / load.rate) * 1000 - now());
                  }
                  await c.submit(
                    batch,
                    contract,
                    worker,
                    epoch.firstBlockNumber,
                    watcher,
                    timings,
                    localGateway,
                  );
                }
              }),
            );
            let sweptAt = now();
            await waitFor(
              async () => {
                const open = [...timings].filter(
                  ([, t]) => t.doneAt === undefined && t.status === undefined,
                );
                if (open.length === 0) return true;
                // A task the pipeline refuses before running it (TaskOutOfOrder) is FAILED without
                // a notification: once results stop coming, ask the worker for the stragglers.
                if (now() - Math.max(sweptAt, watcher.lastAt) > 2_000) {
                  sweptAt = now();
                  // The executing worker knows; another gateway hears of no result in that case.
                  for (const [id, t] of open) {
                    const s = (
                      (await rpc(localGateway, "getTaskStatus", {
                        taskId: id.slice(2),
                        workerAddress: worker.slice(2),
                      })) as { result: { status: string } }
                    ).result;
                    if (s.status === "FAILED") t.status = s.status;
                  }
                }
                return undefined;
              },
              "the task results",
              120_000,
            );
            tracing = false;
            return [...timings.values()];
          },
        );
        const cpu = process.cpuUsage(cpuBefore);
        lastTask = [...timings.keys()].at(-1);

        // Spot-check outputs as a dApp would: status with result, decrypted.
        const ok = [...timings].filter(([, t]) => t.status === "SUCCESS");
        for (let j = 0; j < 5; j++) {
          const entry = ok[Math.floor((j * (ok.length - 1)) / 4)];
          if (entry === undefined) break;
          const [id, { task: p }] = entry;
          const s = (
            (await rpc(p.gateway, "getTaskStatus", {
              taskId: id.slice(2),
              workerAddress: worker.slice(2),
              withResult: true,
            })) as { result: { status: string; output?: string } }
          ).result;
          const plain = decryptFrom(
            p.user.privateKey,
            p.workerKey,
            hexToBytes(`0x${s.output ?? ""}`),
          );
          const [sum] = decodeValues(["uint256"], plain) as [bigint];
          if (sum !== p.a + p.b) throw new Error(`task ${id}: ${p.a} + ${p.b} gave ${sum}`);
        }

        const done = ok.map(([, t]) => t);
        const firstSent = Math.min(...all.map((t) => t.sentAt));
        const lastSent = Math.max(...all.map((t) => t.sentAt));
        const lastDone = Math.max(...done.map((t) => t.doneAt ?? 0));
        const latencyOf = (ts: readonly Timing[]) => ts.map((t) => (t.doneAt ?? 0) - t.sentAt);
        const lat = latencyOf(done);
        const latOf = (local: boolean) => median(latencyOf(done.filter((t) => t.local === local)));
        const r: RunResult = {
          load: load.name,
          tasks: all.length,
          failed: all.length - done.length,
          offered: (all.length - 1) / ((lastSent - firstSent) / 1000),
          throughput: done.length / ((lastDone - firstSent) / 1000),
          p50: median(lat),
          p95: quantile(lat, 0.95),
          p50Local: latOf(true),
          p50Remote: latOf(false),
          accept50: median(all.map((t) => t.acceptedAt - t.sentAt)),
          cpuPerTask: (cpu.user + cpu.system) / 1000 / all.length,
        };
        const calls = perTask(chainCalls, before, all.length);
        const level = perTask(levelCalls, levelBefore, all.length);
        console.log(
          `  ${r.load} run ${run + 1}: ${r.tasks} tasks (${r.failed} failed), offered ${r.offered.toFixed(0)}/s, ` +
            `done ${r.throughput.toFixed(0)}/s, p50 ${r.p50.toFixed(0)} ms, p95 ${r.p95.toFixed(0)} ms` +
            (workers > 1
              ? ` (p50 via the worker's gateway ${r.p50Local.toFixed(0)}, via another ${r.p50Remote.toFixed(0)})`
              : "") +
            `, accept p50 ${r.accept50.toFixed(1)} ms, CPU ${r.cpuPerTask.toFixed(2)} ms/task; nodes' chain requests per task: ${calls}; ` +
            `LevelDB calls per task: ${level}`,
        );
        if (TRACE && load.name !== "warm-up") printTrace(timings.size);
        if (load.name !== "warm-up") results.push(r);
      }
    }
    return results;
  } finally {
    watcher.close();
    clientProvider.destroy();
    await net.stop();
  }
}

// ------------------------------------------------------------------ gossip

async function benchGossip(): Promise<{
  p50: number;
  p95: number;
  burstRate: number;
  burstP50: number;
  burstP95: number;
}> {
  const topic = "enigma/bench/1";
  const a = new P2PNetwork();
  await a.start();
  const b = new P2PNetwork({ bootstrap: a.multiaddrs.slice(0, 1) });
  await b.start();
  const c = new P2PNetwork({
    bootstrap: [...a.multiaddrs.slice(0, 1), ...b.multiaddrs.slice(0, 1)],
  });
  await c.start();
  const nodes = [a, b, c];
  // Message sequence number -> when it was published; a latency per receiver.
  const sent = new Map<number, number>();
  const lat: number[] = [];
  let received = 0;
  let onReceive: (() => void) | undefined;
  for (const n of nodes) {
    n.subscribe(
      topic,
      () => "accept",
      (data) => {
        const seq = new DataView(data.buffer, data.byteOffset).getUint32(0);
        const t = sent.get(seq);
        if (t !== undefined) lat.push(now() - t);
        received++;
        onReceive?.();
      },
    );
  }
  try {
    await a.waitForTopicPeers(topic, 2, 10_000);
    await b.waitForTopicPeers(topic, 2, 10_000);
    await c.waitForTopicPeers(topic, 2, 10_000);
    const payload = (seq: number) => {
      const data = new Uint8Array(1024); // about a task input's size
      crypto.getRandomValues(data);
      new DataView(data.buffer).setUint32(0, seq);
      return data;
    };
    const until = (count: number) =>
      new Promise<void>((resolve) => {
        onReceive = () => {
          if (received >= count) resolve();
        };
        onReceive();
      });
    // One at a time: publish, wait for both receivers.
    for (let seq = 0; seq < SETTINGS.gossipMessages; seq++) {
      const target = received + 2;
      sent.set(seq, now());
      await a.publish(topic, payload(seq));
      await until(target);
    }
    const p50 = median(lat);
    const p95 = quantile(lat, 0.95);
    // A burst: publish everything at once.
    lat.length = 0;
    const target = received + 2 * SETTINGS.gossipBurst;
    const start = now();
    const burst: Promise<number>[] = [];
    for (let i = 0; i < SETTINGS.gossipBurst; i++) {
      const seq = 1_000_000 + i;
      sent.set(seq, now());
      burst.push(a.publish(topic, payload(seq)));
    }
    await Promise.all(burst);
    await until(target);
    const burstRate = SETTINGS.gossipBurst / ((now() - start) / 1000);
    return { p50, p95, burstRate, burstP50: median(lat), burstP95: quantile(lat, 0.95) };
  } finally {
    onReceive = undefined;
    for (const n of nodes.reverse()) await n.stop();
  }
}

// ------------------------------------------------------------------ main

const S = SETTINGS;
console.log(
  `node config: ethereum.pollIntervalMs=${S.pollIntervalMs}, ethereum.confirmations=${S.confirmations}, ` +
    `worker.orderingDeadlineMs=${S.orderingDeadlineMs}, worker.maxBatch=100; chain: Hardhat automine ` +
    `(a block per transaction), epochs of ${S.epochSize} blocks (a fresh one per run)\n` +
    `load: ${S.clients} clients, ${S.recordBatch} tasks per createTaskRecords, ${S.runs} runs of ` +
    `${S.tasksPerRun} tasks (paced: 10 s worth at most) per load, loads ${[...S.pacedRates.map((r) => `${r}/s`), "max"].join(", ")}`,
);
const rows: string[][] = [];
for (const workers of SETTINGS.workers) {
  const results = await benchNetwork(workers);
  for (const load of [...new Set(results.map((r) => r.load))]) {
    const rs = results.filter((r) => r.load === load);
    const m = (f: (r: RunResult) => number, digits = 0) => median(rs.map(f)).toFixed(digits);
    rows.push([
      String(workers),
      load,
      m((r) => r.offered),
      m((r) => r.throughput),
      m((r) => r.p50),
      m((r) => r.p95),
      workers > 1 ? `${m((r) => r.p50Local)} / ${m((r) => r.p50Remote)}` : "-",
      m((r) => r.cpuPerTask, 2),
      String(rs.reduce((n, r) => n + r.failed, 0)),
    ]);
  }
}
const g = await benchGossip();

const header = [
  "workers",
  "load",
  "offered/s",
  "tasks/s",
  "p50 ms",
  "p95 ms",
  "p50 own/other gw",
  "CPU ms/task",
  "failed",
];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
const line = (cells: readonly string[]) =>
  cells.map((c, i) => c.padStart(widths[i] ?? 0)).join("  ");
console.log(
  `\nmedians of ${SETTINGS.runs} runs (latency: sendTaskInput sent -> SUCCESS at the gateway that took ` +
    `the task; tasks/s: successful tasks, first send to last SUCCESS; CPU: the whole process's, ` +
    `nodes, chain and clients, from the first send to the last result; failed: all runs)`,
);
console.log(line(header));
for (const r of rows) console.log(line(r));
console.log(
  `\ngossip (3 P2PNetwork nodes, 1 KiB messages, publish -> handler): one at a time p50 ${g.p50.toFixed(2)} ms, ` +
    `p95 ${g.p95.toFixed(2)} ms; burst of ${SETTINGS.gossipBurst}: ${g.burstRate.toFixed(0)} msg/s, ` +
    `p50 ${g.burstP50.toFixed(1)} ms, p95 ${g.burstP95.toFixed(1)} ms`,
);
