/**
 * Node benchmark (not a test). A whole network in one process (Hardhat chain with instant
 * mining over HTTP, principal, 1 or 3 worker+gateway nodes over libp2p), then many clients
 * doing what a dApp does with the calculator's `add`, every task for one secret contract, so
 * one worker runs them all. Measured on the node's side: from the moment `sendTaskInput` is
 * sent to a gateway until that gateway reports SUCCESS (its WebSocket `taskStatus`
 * notification). The clients' crypto (user keys, worker keys, encryption) is done before the
 * clock starts; recording (createTaskRecords, one transaction per batch) and submitting are
 * timed, as a client does them right before and while the nodes work.
 *
 * Two loads per network, each run RUNS times (medians printed): `paced` offers BENCH_RATE
 * tasks/s (the target), `max` offers as fast as the clients can record and submit. Then gossip
 * delivery latency between three P2PNetwork instances.
 *   pnpm bench:node           (env: BENCH_TASKS, BENCH_RUNS, BENCH_RATE, BENCH_POLL_MS, BENCH_WORKERS)
 */
import { readFile } from "node:fs/promises";
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
import { Contract, JsonRpcProvider, NonceManager, type ContractTransactionResponse } from "ethers";
import { P2PNetwork } from "../packages/node/src/p2p/network.js";
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

const SETTINGS = {
  tasksPerRun: envInt("BENCH_TASKS", 1000),
  runs: envInt("BENCH_RUNS", 3),
  pacedRate: envInt("BENCH_RATE", 100),
  workers: (process.env["BENCH_WORKERS"] ?? "1,3").split(",").map(Number),
  clients: 8,
  recordBatch: 10,
  gasLimit: 100_000n,
  // Node config knobs (see packages/node/src/config.ts); the fixture's values.
  pollIntervalMs: envInt("BENCH_POLL_MS", 50),
  orderingWindowMs: 200,
  confirmations: 0,
  // Long enough that no epoch ends during a run (each record batch mines one block).
  epochSize: 400,
  gossipMessages: 300,
  gossipBurst: 1000,
} as const;

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
 * Counts JSON-RPC requests to the chain by method, per provider kind. The nodes and the
 * clients use ethers' JsonRpcProvider; `clientProviders` are the bench's own.
 */
const chainCalls = new Map<string, number>();
const clientProviders = new Set<unknown>();
{
  const proto = JsonRpcProvider.prototype as unknown as {
    _send(payload: unknown): Promise<unknown>;
  };
  const original = proto._send;
  proto._send = function (this: unknown, payload: unknown) {
    if (!clientProviders.has(this)) {
      for (const p of Array.isArray(payload) ? payload : [payload]) {
        const m = (p as { method?: string }).method ?? "?";
        chainCalls.set(m, (chainCalls.get(m) ?? 0) + 1);
      }
    }
    return original.call(this, payload);
  };
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
    if (process.env['WSDBG']) console.log('WS', typeof text, String(text).slice(0, 300));
    const m = JSON.parse(text) as {
      id?: number;
      error?: { message: string };
      method?: string;
      params?: { subscription: string; taskId: string; status: string };
    };
    if (m.id !== undefined) {
      if (m.error !== undefined) throw new Error(`ws call failed: ${m.error.message}`);
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
    done(p.status);
    // Keeps the socket under the node's per-socket subscription limit.
    const id = ++this.#id;
    ws.send(JSON.stringify({ jsonrpc: "2.0", id, method: "unsubscribe", params: { subscription: p.subscription } }));
  }
}

/** A dApp user's account: records its tasks in batches and submits them to gateways. */
class BenchClient {
  readonly address: string;
  readonly #enigma: Contract;
  #nonce = 0n;

  constructor(
    readonly net: TestNet,
    accountIndex: number,
    provider: JsonRpcProvider,
  ) {
    const w = new NonceManager(account(accountIndex).connect(provider));
    this.address = account(accountIndex).address;
    this.#enigma = new Contract(net.enigmaAddress, net.enigma.interface, w);
    this.token = new Contract(net.tokenAddress, net.token.interface, w);
  }

  readonly token: Contract;

  async init(): Promise<void> {
    await mined(this.token.getFunction("approve")(this.net.enigmaAddress, 1_000_000n * ENG));
    this.#nonce = (await this.#enigma.getFunction("getUserTaskDeployments")(this.address)) as bigint;
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
    await mined(
      this.#enigma.getFunction("createTaskRecords")(hashes, SETTINGS.gasLimit, 1n, firstBlock),
    );
    const recordedAt = now();
    const first = this.#nonce;
    this.#nonce += BigInt(batch.length);
    await Promise.all(
      batch.map(async (p, i) => {
        const id = taskIdOf(this.address, first + BigInt(i));
        const t: Timing = {
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
        const k = (await rpc(keyGateway, "getWorkerEncryptionKey", {
          workerAddress: worker.slice(2),
          userPubKey: bytesToHex(user.publicKey).slice(2),
        })) as { workerEncryptionKey: string };
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
}

async function benchNetwork(workers: number): Promise<RunResult[]> {
  const tStart = now();
  const net = await startTestNet({
    workers,
    epochSize: SETTINGS.epochSize,
    pollIntervalMs: SETTINGS.pollIntervalMs,
    orderingWindowMs: SETTINGS.orderingWindowMs,
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
      await readFile(new URL("../packages/secret-contract/build/examples/calculator.wasm", import.meta.url)),
    );
    const deployer = new TestClient(net, DEPLOYER_ACCOUNT, gateways[0] ?? "");
    const d = await deployer.deploy(wasm, "construct()", []);
    if ((await deployer.result(d)).status !== "SUCCESS") throw new Error("deployment failed");
    const contract = d.taskId;

    const results: RunResult[] = [];
    const loads: { name: string; rate: number | undefined; tasks: number; runs: number }[] = [
      { name: "warm-up", rate: undefined, tasks: 100, runs: 1 },
      { name: `paced ${SETTINGS.pacedRate}/s`, rate: SETTINGS.pacedRate, tasks: SETTINGS.tasksPerRun, runs: SETTINGS.runs },
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
        const timings = new Map<string, Timing>();
        const batches: Prepared[][] = [];
        for (let i = 0; i < pool.length; i += SETTINGS.recordBatch) {
          batches.push(pool.slice(i, i + SETTINGS.recordBatch));
        }
        let next = 0;
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
              await c.submit(batch, contract, worker, epoch.firstBlockNumber, watcher, timings, localGateway);
            }
          }),
        );
        const all = [...timings.values()];
        await waitFor(
          () => Promise.resolve(all.every((t) => t.doneAt !== undefined) || undefined),
          `${all.length - all.filter((t) => t.doneAt !== undefined).length} task results`,
          120_000,
        );
        lastTask = [...timings.keys()].at(-1);

        // Spot-check outputs as a dApp would: status with result, decrypted.
        const ids = [...timings.keys()];
        for (let j = 0; j < 5; j++) {
          const k = Math.floor((j * (ids.length - 1)) / 4);
          const id = ids[k] ?? "";
          const p = pool[k];
          if (p === undefined) continue;
          const s = (await rpc(p.gateway, "getTaskStatus", {
            taskId: id.slice(2),
            workerAddress: worker.slice(2),
            withResult: true,
          })) as { status: string; output?: string };
          const plain = decryptFrom(p.user.privateKey, p.workerKey, hexToBytes(`0x${s.output ?? ""}`));
          const [sum] = decodeValues(["uint256"], plain) as [bigint];
          if (sum !== p.a + p.b) throw new Error(`task ${id}: ${p.a} + ${p.b} gave ${sum}`);
        }

        const firstSent = Math.min(...all.map((t) => t.sentAt));
        const lastSent = Math.max(...all.map((t) => t.sentAt));
        const lastDone = Math.max(...all.map((t) => t.doneAt ?? 0));
        const lat = all.map((t) => (t.doneAt ?? 0) - t.sentAt);
        const latOf = (local: boolean) =>
          median(all.filter((t) => t.local === local).map((t) => (t.doneAt ?? 0) - t.sentAt));
        const r: RunResult = {
          load: load.name,
          tasks: all.length,
          failed: all.filter((t) => t.status !== "SUCCESS").length,
          offered: (all.length - 1) / ((lastSent - firstSent) / 1000),
          throughput: all.length / ((lastDone - firstSent) / 1000),
          p50: median(lat),
          p95: quantile(lat, 0.95),
          p50Local: latOf(true),
          p50Remote: latOf(false),
          accept50: median(all.map((t) => t.acceptedAt - t.sentAt)),
        };
        const calls = [...chainCalls]
          .map(([m, n]) => [m, (n - (before.get(m) ?? 0)) / all.length] as const)
          .filter(([, n]) => n >= 0.05)
          .sort((a, b) => b[1] - a[1])
          .map(([m, n]) => `${m} ${n.toFixed(2)}`)
          .join(", ");
        console.log(
          `  ${r.load} run ${run + 1}: ${r.tasks} tasks (${r.failed} failed), offered ${r.offered.toFixed(0)}/s, ` +
            `done ${r.throughput.toFixed(0)}/s, p50 ${r.p50.toFixed(0)} ms, p95 ${r.p95.toFixed(0)} ms` +
            (workers > 1 ? ` (p50 via the worker's gateway ${r.p50Local.toFixed(0)}, via another ${r.p50Remote.toFixed(0)})` : "") +
            `, accept p50 ${r.accept50.toFixed(1)} ms; nodes' chain requests per task: ${calls}`,
        );
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

async function benchGossip(): Promise<{ p50: number; p95: number; burstRate: number; burstP50: number; burstP95: number }> {
  const topic = "enigma/bench/1";
  const a = new P2PNetwork();
  await a.start();
  const b = new P2PNetwork({ bootstrap: a.multiaddrs.slice(0, 1) });
  await b.start();
  const c = new P2PNetwork({ bootstrap: [...a.multiaddrs.slice(0, 1), ...b.multiaddrs.slice(0, 1)] });
  await c.start();
  const nodes = [a, b, c];
  // seq -> [sent at, received count, latencies]
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

console.log(`settings: ${JSON.stringify(SETTINGS, (_, v: unknown) => (typeof v === "bigint" ? v.toString() : v))}`);
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
      String(rs.reduce((n, r) => n + r.failed, 0)),
    ]);
  }
}
const g = await benchGossip();

const header = ["workers", "load", "offered/s", "tasks/s", "p50 ms", "p95 ms", "p50 own/other gw", "failed"];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
const line = (cells: readonly string[]) => cells.map((c, i) => c.padStart(widths[i] ?? 0)).join("  ");
console.log(`\nmedians of ${SETTINGS.runs} runs of ${SETTINGS.tasksPerRun} tasks, submit -> SUCCESS at the accepting gateway`);
console.log(line(header));
for (const r of rows) console.log(line(r));
console.log(
  `\ngossip (3 P2PNetwork nodes, 1 KiB messages, publish -> handler): one at a time p50 ${g.p50.toFixed(2)} ms, ` +
    `p95 ${g.p95.toFixed(2)} ms; burst of ${SETTINGS.gossipBurst}: ${g.burstRate.toFixed(0)} msg/s, ` +
    `p50 ${g.burstP50.toFixed(1)} ms, p95 ${g.burstP95.toFixed(1)} ms`,
);
