// The hostile module corpus (packages/secret-contract/hostile: rand of 16 MiB, loops of rand,
// memory.init, table.fill/copy/grow, encrypt, eprint, state reads and writes, host calls,
// memory.copy/fill, memory.grow, br_table, deep recursion, many locals, a giant function, a
// start function that spins, tables of 10 million entries) run in an execution thread: every
// module ends (out of gas, or refused, or a typed failure) within
//   wall time <= HOSTILE_BOUND.baseMs + HOSTILE_BOUND.msPerMgas * (gas limit in millions)
// and the process's resident memory grows by at most HOSTILE_BOUND.rssMb while it runs.
// The constants and why are in the README ("Metering without escapes").
import { readFileSync } from "node:fs";
import { ErrorCode, keccak256 } from "@enigma/protocol";
import { HOSTILE, hostileWasmPath } from "@enigma/secret-contract";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ThreadExecutor, newStateId } from "./executor.js";

/**
 * The bound every module of the corpus is held to (see the README for the measurements): a
 * plain loop burns about 0.2-0.7 ms per Mgas here, the slowest metered work (host calls past
 * the allowance, JSON values, table instructions) up to about 3 ms per Mgas on this machine
 * shared with other builds; the fixed part covers compiling the largest accepted module.
 */
export const HOSTILE_BOUND = Object.freeze({ baseMs: 3000, msPerMgas: 5, rssMb: 400 });

const GAS_LIMIT = 30_000_000;
let executor: ThreadExecutor;

beforeAll(async () => {
  // The deadline is far away: the bound is checked, not the deadline's kill.
  executor = new ThreadExecutor({ threads: 1, deadline: { baseMs: 120_000, msPerMgas: 0 } });
  await run(readFileSync(hostileWasmPath("spin")), 1_000); // start the thread
}, 60_000);

afterAll(async () => {
  await executor.close();
});

function run(code: Uint8Array, gasLimit: number) {
  return executor.run({
    codeHash: keccak256(code),
    code,
    entry: "call",
    functionName: "f()",
    args: new Uint8Array(),
    gasLimit,
    taskId: new Uint8Array(32),
    seed: new Uint8Array(32),
    state: { id: newStateId(), version: 0, entries: () => [] },
  });
}

describe("the hostile module corpus", () => {
  for (const name of HOSTILE) {
    it(`${name}: ends within the time and memory bound`, async () => {
      const code = readFileSync(hostileWasmPath(name));
      const rss0 = process.memoryUsage().rss;
      let peak = rss0;
      const sampler = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage().rss);
      }, 5);
      const t0 = performance.now();
      const r = await run(code, GAS_LIMIT);
      const ms = performance.now() - t0;
      clearInterval(sampler);
      peak = Math.max(peak, process.memoryUsage().rss);
      const rssMb = (peak - rss0) / 2 ** 20;
      const bound = HOSTILE_BOUND.baseMs + HOSTILE_BOUND.msPerMgas * (GAS_LIMIT / 1e6);
      console.log(
        `hostile ${name}: ${r.ok ? "ok" : r.error.name} gas ${String(r.gasUsed)} in ${ms.toFixed(0)} ms, +${rssMb.toFixed(0)} MB RSS`,
      );
      expect(ms).toBeLessThanOrEqual(bound);
      expect(rssMb).toBeLessThanOrEqual(HOSTILE_BOUND.rssMb);
      // None of them finishes: each is stopped by the gas limit, a limit or a typed failure.
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error.code).not.toBe(ErrorCode.ExecutionTimeout);
    }, 60_000);
  }
});
