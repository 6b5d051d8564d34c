// Store benchmark (not a test): write 10,000 encrypted deltas of one contract, one putDelta
// at a time (a worker's path) and in one putDeltas batch (a sync's path), then close, reopen
// and read them all back. Prints the median of 5 runs of each.
//   ./scripts/pnpm bench:store
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { keccak256 } from "@enigma/protocol";
import { NodeStore, type StoredDelta } from "@enigma/node";

const N = 10_000;
const RUNS = 5;
const enc = new TextEncoder();
const contract = keccak256(enc.encode("bench contract"));

// Stand-ins for encrypted deltas: ~100 random-looking bytes each (the size of a small
// encrypted delta: one changed key, tag and IV), hash = keccak256(data).
const deltas: StoredDelta[] = [];
for (let i = 0; i < N; i++) {
  const data = new Uint8Array(96);
  for (let j = 0; j < data.length; j += 32) data.set(keccak256(enc.encode(`${i}.${j}`)), j);
  deltas.push({ index: i, hash: keccak256(data), data });
}

async function run(batched: boolean): Promise<{ write: number; read: number }> {
  const dir = await mkdtemp(join(tmpdir(), "enigma-store-bench-"));
  try {
    let store = new NodeStore({ dir });
    await store.start();
    let t = performance.now();
    if (batched) await store.putDeltas(contract, deltas);
    else for (const d of deltas) await store.putDelta(contract, d);
    const write = performance.now() - t;
    await store.stop();
    store = new NodeStore({ dir });
    await store.start();
    t = performance.now();
    const back = await store.getDeltas(contract, 0, N);
    const read = performance.now() - t;
    if (back.length !== N) throw new Error(`read ${back.length} deltas, expected ${N}`);
    await store.stop();
    return { write, read };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

for (const batched of [false, true]) {
  const results = [];
  for (let i = 0; i < RUNS; i++) results.push(await run(batched));
  const w = median(results.map((r) => r.write));
  const r = median(results.map((x) => x.read));
  console.log(
    `${N} deltas, ${batched ? "one putDeltas batch" : "putDelta one by one"}: write ${w.toFixed(0)} ms, read back after reopen ${r.toFixed(0)} ms (median of ${RUNS})`,
  );
}
