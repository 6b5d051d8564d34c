/**
 * How many task records a second the devnet's chain takes at all (not a test), `pnpm
 * bench:chain`: the chain as `startDevnet` runs it (Hardhat's EDR behind its HTTP server, in
 * this process), K senders in this process, each its own account, sending `createTaskRecord`
 * as signed raw transactions in a closed loop (send, then ask for the receipt until it is
 * there), for a fixed time. Nothing else: no nodes, unless BENCH_NODES=1 (a devnet of node
 * processes then polls the chain as in `bench:e2e`; their records get no input and are
 * skipped after the ordering deadline, which costs the nodes little).
 *
 *   pnpm bench:chain
 *   BENCH_K=1,32 BENCH_MINING=auto,10 BENCH_SECONDS=10 pnpm bench:chain
 *
 * BENCH_MINING: `auto` (one block per transaction, the `fast` preset) or a block interval in
 * ms (interval mining: many transactions per block). BENCH_RUNS (3) runs per setting, medians
 * printed. BENCH_RECEIPT_POLL_MS (4): the receipt is asked right after the send, then every
 * this many ms.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  Contract,
  Interface,
  JsonRpcProvider,
  MaxUint256,
  Wallet,
  hexlify,
  randomBytes,
} from "ethers";
import { ENIGMA_ABI, ENIGMA_TOKEN_ABI } from "../packages/protocol/dist/index.js";
import { startChain, startDevnet } from "../packages/devnet/dist/index.js";

const envInt = (name: string, fallback: number): number => {
  const v = process.env[name];
  return v === undefined || v === "" ? fallback : Number.parseInt(v, 10);
};
const list = (name: string, fallback: string): string[] =>
  (process.env[name] ?? fallback).split(",");

const S = {
  ks: list("BENCH_K", "1,8,32,64").map(Number),
  minings: list("BENCH_MINING", "auto"),
  seconds: envInt("BENCH_SECONDS", 10),
  runs: envInt("BENCH_RUNS", 3),
  nodes: process.env["BENCH_NODES"] === "1",
  receiptPollMs: envInt("BENCH_RECEIPT_POLL_MS", 4),
};
const ENIGMA = new Interface(ENIGMA_ABI);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
}

interface Env {
  rpcUrl: string;
  chainId: number;
  enigmaAddress: string;
  tokenAddress: string;
  keys: string[];
  stop(): Promise<void>;
}

async function environment(mining: string, users: number): Promise<Env> {
  const blockTime = mining === "auto" ? ("auto" as const) : Number(mining);
  if (S.nodes) {
    const d = await startDevnet({
      inProcess: false,
      workers: 3,
      users,
      epochBlocks: 5000,
      taskTimeoutBlocks: 20_000,
      blockTime,
      logLevel: "warn",
    });
    const info = d.info();
    return {
      rpcUrl: info.chain.rpcUrl,
      chainId: info.chain.chainId,
      enigmaAddress: info.chain.enigmaAddress,
      tokenAddress: info.chain.tokenAddress,
      keys: d.accounts.map((a) => a.privateKey),
      stop: () => d.stop(),
    };
  }
  const dir = await mkdtemp(join(tmpdir(), "enigma-bench-chain-"));
  // Without nodes no epoch starts, and createTaskRecord needs one: the chain alone is measured
  // with ENG transfers (about half a record's gas) instead.
  const c = await startChain({ dir, users, epochBlocks: 5000, blockTime, epochSeconds: 0 });
  return {
    rpcUrl: c.rpcUrl,
    chainId: c.chainId,
    enigmaAddress: c.enigmaAddress,
    tokenAddress: c.tokenAddress,
    keys: c.accounts.map((a) => a.privateKey),
    stop: async () => {
      await c.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

interface Sender {
  wallet: Wallet;
  nonce: number;
}

async function run(env: Env, k: number): Promise<{ tps: number; p50: number; p95: number }> {
  const provider = new JsonRpcProvider(env.rpcUrl, env.chainId, {
    staticNetwork: true,
    cacheTimeout: -1,
    batchMaxCount: 1,
  });
  const enigma = new Contract(env.enigmaAddress, ENIGMA_ABI, provider);
  const token = new Contract(env.tokenAddress, ENIGMA_TOKEN_ABI, provider);
  const senders: Sender[] = [];
  for (const key of env.keys.slice(0, k)) {
    const wallet = new Wallet(key, provider);
    const allowance = (await token.getFunction("allowance")(
      wallet.address,
      env.enigmaAddress,
    )) as bigint;
    if (allowance < 10n ** 30n) {
      const approve = new Interface(ENIGMA_TOKEN_ABI).encodeFunctionData("approve", [
        env.enigmaAddress,
        MaxUint256,
      ]);
      const tx = await wallet.sendTransaction({ to: env.tokenAddress, data: approve });
      await tx.wait();
    }
    senders.push({ wallet, nonce: await provider.getTransactionCount(wallet.address, "pending") });
  }
  const fee = await provider.getFeeData();
  const withNodes = S.nodes;
  const call = async (): Promise<string> => {
    if (!withNodes) {
      // No epoch without nodes: an ENG transfer stands in for the record (about half its gas).
      return new Interface(ENIGMA_TOKEN_ABI).encodeFunctionData("transfer", [
        env.enigmaAddress,
        1n,
      ]);
    }
    const [first] = (await enigma.getFunction("getWorkerParams")(MaxUint256)) as [bigint];
    return ENIGMA.encodeFunctionData("createTaskRecord", [
      hexlify(randomBytes(32)),
      100_000n,
      1n,
      first,
    ]);
  };
  let data = await call();
  const to = withNodes ? env.enigmaAddress : env.tokenAddress;
  const latencies: number[] = [];
  let done = 0;
  const t0 = performance.now();
  const until = t0 + S.seconds * 1000;
  await Promise.all(
    senders.map(async (s) => {
      while (performance.now() < until) {
        if (withNodes)
          data = data.slice(0, 10) + hexlify(randomBytes(32)).slice(2) + data.slice(74);
        const start = performance.now();
        const raw = await s.wallet.signTransaction({
          to,
          data,
          nonce: s.nonce++,
          gasLimit: 300_000n,
          maxFeePerGas: (fee.maxFeePerGas ?? 10n ** 10n) * 2n,
          maxPriorityFeePerGas: fee.maxPriorityFeePerGas ?? 10n ** 9n,
          chainId: env.chainId,
          type: 2,
        });
        const hash = (await provider.send("eth_sendRawTransaction", [raw])) as string;
        for (;;) {
          const r = (await provider.send("eth_getTransactionReceipt", [hash])) as {
            status: string;
          } | null;
          if (r !== null) {
            if (r.status !== "0x1") throw new Error(`transaction reverted: ${hash}`);
            break;
          }
          await sleep(S.receiptPollMs);
        }
        const end = performance.now();
        if (end <= until) done++;
        latencies.push(end - start);
      }
    }),
  );
  provider.destroy();
  return {
    tps: done / S.seconds,
    p50: quantile(latencies, 0.5),
    p95: quantile(latencies, 0.95),
  };
}

const rows: string[] = [];
for (const mining of S.minings) {
  const env = await environment(mining, Math.max(...S.ks) + 1);
  try {
    for (const k of S.ks) {
      const runs: Awaited<ReturnType<typeof run>>[] = [];
      for (let r = 0; r < S.runs; r++) {
        const cpu0 = process.cpuUsage();
        const res = await run(env, k);
        const cpu = process.cpuUsage(cpu0);
        console.log(
          `mining=${mining} K=${k} run ${r + 1}: ${res.tps.toFixed(1)} tx/s, p50 ${res.p50.toFixed(1)} ms, p95 ${res.p95.toFixed(1)} ms, ` +
            `this process (chain + senders) ${((cpu.user + cpu.system) / 1e6 / S.seconds).toFixed(2)} CPU s/s`,
        );
        runs.push(res);
      }
      const med = (f: (x: (typeof runs)[number]) => number) => quantile(runs.map(f), 0.5);
      rows.push(
        `| ${mining} | ${k} | ${med((x) => x.tps).toFixed(1)} | ${med((x) => x.p50).toFixed(1)} | ${med((x) => x.p95).toFixed(1)} |`,
      );
    }
  } finally {
    await env.stop();
  }
}
console.log(
  `\n${S.nodes ? "createTaskRecord, devnet nodes polling" : "ENG transfer, chain alone"}; medians of ${S.runs} runs of ${S.seconds} s\n`,
);
console.log("| mining | K | tx/s | p50 ms | p95 ms |\n|---|---|---|---|---|");
for (const r of rows) console.log(r);
