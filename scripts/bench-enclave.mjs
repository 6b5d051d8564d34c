// Benchmark of the enclave's secret-contract runtime (`pnpm bench:enclave`, which builds the
// enclave and the example contracts first). For the calculator and the auction: deploy time,
// calls per second and gas per call, through the execution thread a worker uses (tasks one
// after another, as one contract's tasks run) and on the calling thread; the thread hand-off
// per task; and the time to rebuild a contract's state from 10,000 encrypted deltas. Prints
// medians over several runs.
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { AbiCoder, getBytes } from "ethers";
import {
  ContractRuntime,
  DeployedContract,
  InlineExecutor,
  ThreadExecutor,
  rebuildState,
} from "@enigma/enclave";

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const DELTAS = Number(process.env.BENCH_DELTAS ?? 10_000);
const abi = AbiCoder.defaultAbiCoder();
const enc = (types, values) => getBytes(abi.encode(types, values));
const stateKey = new Uint8Array(32).fill(7);
const seed = new Uint8Array(32).fill(1);
let task = 0;
const taskId = () => {
  const t = new Uint8Array(32);
  new DataView(t.buffer).setUint32(28, ++task);
  return t;
};

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

async function example(name) {
  const url = new URL(`../packages/secret-contract/build/examples/${name}.wasm`, import.meta.url);
  return new Uint8Array(await readFile(fileURLToPath(url)));
}

async function deploy(executor, wasm, ctor, args) {
  const { contract, outcome } = await DeployedContract.deploy(executor, wasm, stateKey, {
    functionName: ctor,
    args,
    gasLimit: 100_000_000,
    taskId: taskId(),
    seed,
  });
  if (contract === undefined) throw new Error(`deploy failed: ${JSON.stringify(outcome.result)}`);
  return contract;
}

/**
 * Deploy time: cold (validate + meter + compile + constructor) and warm (module cached), in an
 * execution thread already started (as a worker's is after its first task).
 */
async function benchDeploy(wasm, ctor, args) {
  const cold = [];
  const warm = [];
  for (let i = 0; i < RUNS; i++) {
    const executor = new ThreadExecutor({ threads: 1 });
    await deploy(executor, await example("counter"), "construct()", new Uint8Array()); // start it
    let t = performance.now();
    await deploy(executor, wasm, ctor, args);
    cold.push(performance.now() - t);
    t = performance.now();
    await deploy(executor, wasm, ctor, args);
    warm.push(performance.now() - t);
    await executor.close();
  }
  return { cold: median(cold), warm: median(warm) };
}

/** Calls per second: as many calls as fit in ~0.5 s, RUNS times; median rate. */
async function benchCalls(contract, makeCall) {
  const rates = [];
  let gas = 0;
  for (let r = 0; r < RUNS; r++) {
    let n = 0;
    const start = performance.now();
    let now = start;
    while (now - start < 500) {
      for (let k = 0; k < 50; k++) {
        const { fn, args } = makeCall(n++);
        const { result } = await contract.run({
          functionName: fn,
          args,
          gasLimit: 10_000_000,
          taskId: taskId(),
          seed,
        });
        if (!result.ok) throw new Error(`call failed: ${result.error.message}`);
        if (gas === 0) gas = result.gasUsed; // the first call: a new bidder for the auction
      }
      now = performance.now();
    }
    rates.push((n * 1000) / (now - start));
  }
  return { rate: median(rates), gas };
}

const fmt = (n, d = 0) =>
  n.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d });
const rows = [];

const threads = new ThreadExecutor({ threads: 1 });
const inline = new InlineExecutor(new ContractRuntime());
const calculator = await example("calculator");
{
  const d = await benchDeploy(calculator, "construct()", new Uint8Array());
  const add = enc(["uint256", "uint256"], [2n ** 128n + 5n, 2n ** 100n]);
  const call = () => ({ fn: "add(uint256,uint256)", args: add });
  const calls = await benchCalls(
    await deploy(threads, calculator, "construct()", new Uint8Array()),
    call,
  );
  const same = await benchCalls(
    await deploy(inline, calculator, "construct()", new Uint8Array()),
    call,
  );
  rows.push(["calculator", d, calls, "add(uint256,uint256)", same]);
}

const auction = await example("auction");
let bidder = 0;
const bid = () => {
  bidder++;
  const addr = `0x${bidder.toString(16).padStart(40, "0")}`;
  return {
    fn: "bid(address,uint256)",
    args: enc(["address", "uint256"], [addr, BigInt(1000 + bidder)]),
  };
};
// Arguments are encoded before the clock starts: the benchmark measures the enclave, not ethers.
const bids = Array.from({ length: 4096 }, bid);
const ctorArgs = enc(["uint256"], [100n]);
{
  const d = await benchDeploy(auction, "construct(uint256)", ctorArgs);
  const next = (n) => bids[n % bids.length];
  const calls = await benchCalls(
    await deploy(threads, auction, "construct(uint256)", ctorArgs),
    next,
  );
  const same = await benchCalls(
    await deploy(inline, auction, "construct(uint256)", ctorArgs),
    next,
  );
  rows.push(["auction", d, calls, "bid(address,uint256) (writes state, encrypts a delta)", same]);
}

console.log(
  `enclave runtime benchmark (node ${process.version}, one core, medians of ${RUNS} runs)\n`,
);
for (const [name, d, calls, fn, same] of rows) {
  console.log(`${name}`);
  console.log(`  deploy (validate + meter + compile + constructor)  ${fmt(d.cold, 2)} ms`);
  console.log(`  deploy with the module cached                        ${fmt(d.warm, 2)} ms`);
  console.log(`  calls per second, ${fn}, execution thread  ${fmt(calls.rate)}`);
  console.log(`  calls per second, same, on the calling thread        ${fmt(same.rate)}`);
  console.log(
    `  thread hand-off per task                             ${fmt(1000 / calls.rate - 1000 / same.rate, 3)} ms`,
  );
  console.log(`  gas per call (first call)                            ${fmt(calls.gas)}`);
}

// A module the size of a large Rust-built contract (1.6 MB, 6,500 functions, a table, data).
{
  const url = new URL("../packages/secret-contract/build/conformance/large.wasm", import.meta.url);
  const large = new Uint8Array(await readFile(fileURLToPath(url)));
  const d = await benchDeploy(large, "construct()", new Uint8Array());
  console.log(`large module (${fmt(large.length / 1024)} KiB, conformance/large.wat)`);
  console.log(`  deploy (validate + meter + compile + constructor)  ${fmt(d.cold, 2)} ms`);
  console.log(`  deploy with the module cached                        ${fmt(d.warm, 2)} ms`);
}

// Rebuild from DELTAS real deltas: an auction receiving DELTAS - 1 bids after its constructor.
{
  const c = await deploy(inline, auction, "construct(uint256)", ctorArgs);
  while (c.deltas.length < DELTAS) {
    const { fn, args } = bid();
    const { result } = await c.run({
      functionName: fn,
      args,
      gasLimit: 10_000_000,
      taskId: taskId(),
      seed,
    });
    if (!result.ok) throw new Error(result.error.message);
  }
  const bytes = c.deltas.reduce((n, d) => n + d.data.length, 0);
  const times = [];
  let entries = 0;
  for (let r = 0; r < RUNS; r++) {
    const t = performance.now();
    const { state } = rebuildState(stateKey, c.deltas);
    times.push(performance.now() - t);
    entries = state.size;
  }
  console.log(
    `\nrebuild state from ${fmt(DELTAS)} encrypted deltas (auction, ${fmt(bytes / 1024)} KiB, ${fmt(entries)} keys)`,
  );
  console.log(`  time                                                 ${fmt(median(times))} ms`);
}
await threads.close();
