// A node stays responsive while a contract spins: contracts run in the enclave's execution
// threads, so the node's own thread keeps answering JSON-RPC (getInfo) and another contract's
// task runs to its result meanwhile; the spinning task is stopped at its deadline and ends
// FAILED (ExecutionTimeout, the whole gas limit used) with a failure receipt on chain.
import { readFileSync } from "node:fs";
import { exampleWasmPath, hostileWasmPath } from "@enigma/secret-contract";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestClient, rpc, startTestNet, waitFor, type TestNet } from "./testnet.fixture.js";

let net: TestNet;

beforeAll(async () => {
  net = await startTestNet({
    workers: 1,
    // Two execution threads; a task's deadline is 10 s whatever its gas limit, and the enclave
    // runs limits up to 10^12 gas (a plain loop needs minutes for that).
    execution: { threads: 2, deadlineBaseMs: 10_000, deadlineMsPerMgas: 0, maxGasLimit: 1e12 },
  });
}, 120_000);

afterAll(async () => {
  await net.stop();
});

describe("a node while a contract spins", () => {
  it("answers getInfo, runs another contract's task, and stops the spinner at its deadline", async () => {
    const worker = net.workers[0];
    const url = worker?.endpoints().rpcUrl ?? "";
    const client = new TestClient(net, 10, url);
    const spin = await client.deploy(readFileSync(hostileWasmPath("spin")), "construct()", []);
    expect((await client.result(spin)).status).toBe("SUCCESS");
    const counter = await client.deploy(
      readFileSync(exampleWasmPath("counter")),
      "construct()",
      [],
    );
    expect((await client.result(counter)).status).toBe("SUCCESS");

    const spinning = await client.compute(spin.taskId, "spin()", [], 900_000_000_000n);
    const startedAt = performance.now();
    const statusOf = async (taskId: string) =>
      (
        (await rpc(url, "getTaskStatus", {
          taskId: taskId.slice(2),
          workerAddress: spinning.worker.slice(2),
          withResult: false,
        })) as { result: { status: string } }
      ).result.status;
    // While it spins: getInfo answers at once, and another contract's task gets its result.
    const other = await client.compute(counter.taskId, "increment()", []);
    const latencies: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      expect(await rpc(url, "getInfo", {})).toBeDefined();
      latencies.push(performance.now() - t);
    }
    const incremented = await client.result(other);
    expect(incremented.status).toBe("SUCCESS");
    expect(Buffer.from(incremented.output).readBigUInt64BE()).toBe(1n);
    expect(await statusOf(spinning.taskId)).not.toMatch(/SUCCESS|FAILED/);
    expect(Math.max(...latencies)).toBeLessThan(1000);

    // The spinner is stopped at its deadline: FAILED, the reason encrypted to its user.
    const stopped = await client.result(spinning);
    expect(stopped.status).toBe("FAILED");
    expect(new TextDecoder().decode(stopped.output)).toMatch(/past its deadline/);
    expect(performance.now() - startedAt).toBeLessThan(60_000);
    const result = (
      (await rpc(url, "getTaskResult", { taskId: spinning.taskId.slice(2) })) as {
        result: { usedGas: number | string };
      }
    ).result;
    expect(BigInt(result.usedGas)).toBe(900_000_000_000n);
    // Its failure receipt settles on chain at the epoch's end: status 3 (receipt failed).
    await net.advanceEpoch();
    await waitFor(
      async () =>
        (await net.chain.getTaskRecord(spinning.taskId))?.status === 3 ? true : undefined,
      "the spinning task's failure receipt on chain",
    );
  }, 180_000);
});
