// Task traces and the read-only inspection methods on a network in one process: every node
// says what it saw of a task and when; the selected worker's enclave, with the devnet's debug
// interface on, shows the task's decrypted input and output and the contract's state.
import { sameAddress, type Hex } from "@enigma/protocol";
import { compileSecretContract, exampleSourcePath } from "@enigma/secret-contract";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EnigmaNode } from "./node.js";
import { TestClient, rpc, startTestNet, waitFor, type TestNet } from "./testnet.fixture.js";
import type { TraceEvent } from "./trace/trace.js";

let net: TestNet;
let counter: Uint8Array;

beforeAll(async () => {
  counter = (await compileSecretContract(exampleSourcePath("counter"))).wasm;
  net = await startTestNet({ workers: 2, enclaveDebug: true });
}, 120_000);

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- undefined when beforeAll failed
  await net?.stop();
}, 60_000);

const url = (n: EnigmaNode) => n.endpoints().rpcUrl ?? "";

function nodeOf(signer: string): EnigmaNode {
  const n = net.workers.find((w) => w.signer !== undefined && sameAddress(w.signer, signer));
  if (n === undefined) throw new Error(`no node for ${signer}`);
  return n;
}

async function trace(n: EnigmaNode, taskId: Hex): Promise<TraceEvent[]> {
  return ((await rpc(url(n), "getTaskTrace", { taskId })) as { events: TraceEvent[] }).events;
}

const stages = (events: TraceEvent[]) => events.map((e) => e.stage);

describe("task traces and inspection methods", () => {
  let scAddr: Hex;
  let task: Awaited<ReturnType<TestClient["compute"]>>;
  let worker: EnigmaNode;
  let gateway: EnigmaNode;

  it("every node records what it saw of a task, with times, up to the receipt", async () => {
    const client = new TestClient(net, 10, url(net.workers[0] as EnigmaNode));
    const d = await client.deploy(counter, "construct()", []);
    expect((await client.result(d)).status).toBe("SUCCESS");
    scAddr = d.taskId;
    const selected = (await net.chain.currentEpoch())?.workers ?? [];
    expect(selected).toHaveLength(2);
    // Send the compute task through the gateway that is not its worker: it crosses the network.
    const probe = await client.compute(scAddr, "increment()", []);
    await client.result(probe);
    worker = nodeOf(probe.worker);
    gateway = net.workers.find((w) => w !== worker) as EnigmaNode;
    client.gateway = url(gateway);
    task = await client.compute(scAddr, "increment()", []);
    expect((await client.result(task)).status).toBe("SUCCESS");
    await net.advanceEpoch();
    await waitFor(async () => {
      const w = await trace(worker, task.taskId);
      const g = await trace(gateway, task.taskId);
      return stages(w).includes("receipt-committed") && stages(g).includes("receipt-committed")
        ? true
        : undefined;
    }, "both nodes to see the receipt");

    const w = await trace(worker, task.taskId);
    const g = await trace(gateway, task.taskId);
    // The gateway took the client's input, gossiped it, and heard the worker's result.
    expect(stages(g)).toEqual(
      expect.arrayContaining(["recorded", "input-accepted", "input-gossiped", "result-heard"]),
    );
    expect(g.find((e) => e.stage === "input-accepted")?.detail).toMatchObject({
      via: "client",
      contract: scAddr.toLowerCase(),
    });
    expect(stages(g)).not.toContain("executed");
    // The worker ran it, published it, and committed its receipt (status 2 on chain).
    expect(stages(w)).toEqual(
      expect.arrayContaining([
        "recorded",
        "execution-started",
        "executed",
        "result-published",
        "receipt-sent",
        "receipt-committed",
      ]),
    );
    expect(w.find((e) => e.stage === "executed")?.detail).toMatchObject({ success: true });
    expect(w.find((e) => e.stage === "receipt-committed")?.detail).toMatchObject({ status: 2 });
    for (const events of [w, g]) {
      const times = events.map((e) => e.at);
      expect(times).toEqual([...times].sort((a, b) => a - b));
    }
    const at = (s: string) => w.find((e) => e.stage === s)?.at ?? NaN;
    expect(at("execution-started")).toBeLessThanOrEqual(at("executed"));
    expect(at("executed")).toBeLessThanOrEqual(at("result-published"));
    expect(at("result-published")).toBeLessThanOrEqual(at("receipt-committed"));

    // The same events from the cursor method, and the per-stage histogram in /metrics.
    const page = (await rpc(url(worker), "getTraceEvents", { after: 0, limit: 1000 })) as {
      events: { taskId: string; stage: string; seq: number }[];
      next: number;
    };
    expect(page.events.filter((e) => e.taskId === task.taskId).map((e) => e.stage)).toEqual(
      stages(w),
    );
    expect(page.next).toBe(page.events.at(-1)?.seq);
    const metrics = await (await fetch(`${url(worker)}/metrics`)).text();
    expect(metrics).toMatch(/enigma_task_stage_seconds_count\{stage="executed"\} [1-9]/);
  }, 90_000);

  it("every node serves the delta hashes it stores, which match the chain", async () => {
    const onChain = await net.chain.getSecretContract(scAddr);
    const hashes = await net.chain.getStateDeltaHashes(scAddr);
    expect(onChain?.deltaCount).toBe(3);
    expect(hashes).toHaveLength(3);
    for (const n of net.workers) {
      const r = (await rpc(url(n), "getContractDeltas", { contract: scAddr })) as {
        codeHash: string;
        deltas: { index: number; hash: string }[];
      };
      expect(r.codeHash).toBe(onChain?.codeHash);
      expect(r.deltas.map((d) => d.hash)).toEqual(hashes);
    }
  });

  it("with the devnet's debug interface on, the worker shows the decrypted input, output and state", async () => {
    const data = (await rpc(url(worker), "debugTaskData", { taskId: task.taskId })) as Record<
      string,
      unknown
    >;
    expect(data).toMatchObject({
      fn: "increment()",
      decodedArgs: [],
      // The counter's third value (deploy, probe, this task), as a big-endian u64.
      output: "0x0000000000000002",
      status: "SUCCESS",
    });
    const state = (await rpc(url(worker), "debugContractState", { contract: scAddr })) as {
      entries: { key: string; value: string }[];
    };
    expect(state.entries).toEqual([{ key: "count", value: "2" }]);
    // Bad params are refused as JSON-RPC invalid params.
    await expect(rpc(url(worker), "getTaskTrace", { taskId: "0x12" })).rejects.toMatchObject({
      code: -32602,
    });
  });
});
