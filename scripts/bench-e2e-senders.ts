/**
 * The sender process of `pnpm bench:e2e` (see scripts/bench-e2e.ts): K users, each with its
 * own account and its own `EnigmaClient` from the built `@enigma/client` (what a dApp
 * imports), run `computeTask(...).result()` in a loop for a fixed time over C contracts. Every
 * task does what a user's does: select and verify the worker, grant the fee allowance, record,
 * submit, wait for the pushed result, decrypt. Prints one JSON line with every task's timings.
 *
 *   node scripts/bench-e2e-senders.ts <config.json>
 */
import { readFile } from "node:fs/promises";
import { JsonRpcProvider, Wallet } from "ethers";
import { EnigmaClient, NodeRpcClient, NodeSocket } from "../packages/client/dist/index.js";
import type { TaskTimings } from "../packages/client/dist/index.js";

export interface SenderConfig {
  rpcUrl: string;
  chainId: number;
  enigmaAddress: string;
  tokenAddress: string;
  gateways: string[];
  trustRoot: { modulus: string; exponent: string };
  attestationPolicy: unknown;
  /** One private key per sender. */
  keys: string[];
  contracts: string[];
  seconds: number;
  approve: "exact" | "max";
  /** ethers' JSON-RPC batching: 1 sends every call at once (no 10 ms batch stall). */
  batchMaxCount: number;
  /** false: poll the node over HTTP (no WebSocket pushes). */
  push: boolean;
}

export interface TaskRecordOut {
  ok: boolean;
  code?: number;
  message?: string;
  /** submit (handle created) to decrypted result, ms. */
  latency?: number;
  timings?: TaskTimings;
  /** The task's id, once known. */
  taskId?: string;
  /** performance.now() of this process at the task's start and end. */
  start: number;
  end: number;
}

export interface SenderOutput {
  tasks: TaskRecordOut[];
  /** The measured window: tasks start in [t0, until). */
  t0: number;
  until: number;
  warmupFailures: number;
  /** performance.timeOrigin of the sender process (ms since the epoch): aligns its times with other processes'. */
  timeOrigin: number;
  /** Seconds of the measured window (first start to last end). */
  wall: number;
  chainCalls: Record<string, number>;
  nodeCalls: Record<string, number>;
  cpu: { user: number; system: number };
}

// Counters of the client's requests (chain: ethers' JSON-RPC `send`; node: HTTP and WebSocket).
const chainCalls: Record<string, number> = {};
const nodeCalls: Record<string, number> = {};
let counting = false;
{
  const proto = JsonRpcProvider.prototype as unknown as {
    send: (this: unknown, method: string, params: unknown) => Promise<unknown>;
  };
  const original = proto.send;
  proto.send = function (this: unknown, method: string, params: unknown) {
    if (counting) chainCalls[method] = (chainCalls[method] ?? 0) + 1;
    return original.call(this, method, params);
  };
  for (const C of [NodeRpcClient, NodeSocket]) {
    const p = C.prototype as unknown as {
      call: (this: unknown, method: string, params: unknown) => Promise<unknown>;
    };
    const call = p.call;
    p.call = function (this: unknown, method: string, params: unknown) {
      if (counting) {
        const key = `${method} (${C === NodeSocket ? "ws" : "http"})`;
        nodeCalls[key] = (nodeCalls[key] ?? 0) + 1;
      }
      return call.call(this, method, params);
    };
  }
}

const cfgPath = process.argv[2];
if (cfgPath === undefined) throw new Error("usage: bench-e2e-senders.ts <config.json>");
const cfg = JSON.parse(await readFile(cfgPath, "utf8")) as SenderConfig;

const clients = cfg.keys.map((key, i) => {
  const provider = new JsonRpcProvider(cfg.rpcUrl, cfg.chainId, {
    staticNetwork: true,
    cacheTimeout: -1,
    batchMaxCount: cfg.batchMaxCount,
  });
  return new EnigmaClient({
    signer: new Wallet(key, provider),
    enigmaAddress: cfg.enigmaAddress,
    tokenAddress: cfg.tokenAddress,
    nodeUrl: cfg.gateways[i % cfg.gateways.length] ?? "",
    trustRoot: cfg.trustRoot as never,
    attestationPolicy: cfg.attestationPolicy as never,
    approve: cfg.approve,
    pollIntervalMs: 50,
    resultTimeoutMs: 60_000,
    ...(cfg.push ? {} : { nodeWsUrl: false as const }),
  });
});

const GAS = { gasLimit: 100_000n, gasPx: 1n, returnTypes: ["uint256"] };
let seq = 0;
async function one(client: EnigmaClient, contract: string): Promise<TaskRecordOut> {
  const a = BigInt(++seq);
  const start = performance.now();
  const task = client.computeTask(contract, "add(uint256,uint256)", [a, 1n], GAS);
  let taskId: string | undefined;
  task.on("created", (e) => {
    taskId = e.taskId;
  });
  try {
    const r = await task.result();
    if (r.values?.[0] !== a + 1n) throw new Error(`wrong sum ${String(r.values?.[0])}`);
    const end = performance.now();
    return {
      ok: true,
      latency: end - start,
      timings: task.timings,
      start,
      end,
      ...(taskId === undefined ? {} : { taskId }),
    };
  } catch (e) {
    const err = e as { code?: unknown; message?: unknown };
    return {
      ok: false,
      ...(typeof err.code === "number" ? { code: err.code } : {}),
      message: String(err.message).slice(0, 200),
      timings: task.timings,
      ...(taskId === undefined ? {} : { taskId }),
      start,
      end: performance.now(),
    };
  }
}

// Warm-up: one task per sender (worker verified, allowance granted, socket open).
const warm = await Promise.all(
  clients.map((c, i) => one(c, cfg.contracts[i % cfg.contracts.length] ?? "")),
);
const warmupFailures = warm.filter((t) => !t.ok).length;

counting = true;
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const until = t0 + cfg.seconds * 1000;
const tasks: TaskRecordOut[] = [];
await Promise.all(
  clients.map(async (c, i) => {
    // Sender i spreads over the contracts: with C contracts each gets K / C senders.
    let n = i;
    while (performance.now() < until) {
      tasks.push(await one(c, cfg.contracts[n++ % cfg.contracts.length] ?? ""));
    }
  }),
);
const wall = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
counting = false;
for (const c of clients) c.close();

const out: SenderOutput = {
  tasks,
  t0,
  until,
  warmupFailures,
  timeOrigin: performance.timeOrigin,
  wall,
  chainCalls,
  nodeCalls,
  cpu: { user: cpu.user / 1e6, system: cpu.system / 1e6 },
};
process.stdout.write(`${JSON.stringify(out)}\n`);
