// The node end to end, in one process: a real Hardhat chain over HTTP, the contracts, a
// principal and three worker+gateway nodes talking libp2p, and a client doing what enigma-js
// does. Asserts what a user cares about: decrypted outputs, on-chain statuses and delta hashes,
// the worker's earned fees, state that survives an epoch change and a restart.
import {
  ErrorCode,
  bytesToHex,
  decodeValues,
  hexToBytes,
  keccak256,
  sameAddress,
  selectWorker,
  type Hex,
} from "@enigma/protocol";
import { compileSecretContract, exampleSourcePath } from "@enigma/secret-contract";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveNodeConfig } from "./config.js";
import { EnigmaNode } from "./node.js";
import { TestClient, rpc, startTestNet, waitFor, type TestNet } from "./testnet.fixture.js";

let net: TestNet;
let counter: Uint8Array;
let calculator: Uint8Array;

beforeAll(async () => {
  counter = (await compileSecretContract(exampleSourcePath("counter"))).wasm;
  calculator = (await compileSecretContract(exampleSourcePath("calculator"))).wasm;
  net = await startTestNet({ workers: 3 });
}, 120_000);

afterAll(async () => {
  await net?.stop();
}, 60_000);

function u64be(bytes: Uint8Array): bigint {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, false);
}

/** The node whose enclave is `signer`. */
function nodeOf(signer: string): EnigmaNode {
  const n = net.workers.find((w) => w.signer !== undefined && sameAddress(w.signer, signer));
  if (n === undefined) throw new Error(`no node for ${signer}`);
  return n;
}

/** A gateway that is not `signer`'s node (so the task crosses the network). */
function otherGateway(signer: string): string {
  const n = net.workers.find((w) => w.signer !== undefined && !sameAddress(w.signer, signer));
  const url = n?.endpoints().rpcUrl;
  if (url === undefined) throw new Error("no gateway");
  return url;
}

async function chainStatus(taskId: Hex): Promise<number> {
  return (await net.chain.getTaskRecord(taskId))?.status ?? 0;
}

describe("an Enigma network in one process", () => {
  let scAddr: Hex;
  let client: TestClient;

  it("deploys a secret contract through a gateway that is not the selected worker", async () => {
    client = new TestClient(net, 10, net.workers[0]?.endpoints().rpcUrl ?? "");
    // Ask a gateway other than the deployment's selected worker.
    const epoch = await net.chain.currentEpoch();
    expect(epoch?.workers).toHaveLength(3);
    const t = await client.deploy(counter, "construct()", []);
    client.gateway = otherGateway(t.worker);
    const r = await client.result(t);
    expect(r.status).toBe("SUCCESS");
    scAddr = t.taskId;
    // Every node hears the result: code and delta 0 on all three workers.
    await waitFor(async () => {
      for (const w of net.workers) {
        const info = (await rpc(w.endpoints().rpcUrl ?? "", "getTaskResult", { taskId: t.taskId })) as {
          status: string;
          delta?: { key: number };
        } | null;
        if (info?.status !== "SUCCESS" || info.delta?.key !== 0) return undefined;
      }
      return true;
    }, "every node to store the deployment");
  }, 60_000);

  it("computes tasks in record order and returns decrypted outputs", async () => {
    const a = await client.compute(scAddr, "increment()", []);
    const b = await client.compute(scAddr, "increment()", []);
    expect(u64be((await client.result(a)).output)).toBe(1n);
    expect(u64be((await client.result(b)).output)).toBe(2n);
  }, 60_000);

  it("commits the epoch's receipts in one batch when the epoch ends, paying the worker", async () => {
    const sc = await net.chain.getSecretContract(scAddr);
    expect(sc).toBeUndefined(); // nothing committed yet: receipts wait for the epoch end
    const epoch = await net.chain.currentEpoch();
    const selected = epoch === undefined ? "" : selectWorker(scAddr, epoch) ?? "";
    const worker = nodeOf(selected);
    const custodian = worker.config.ethereum.privateKey ?? "";
    const before = (await net.chain.getWorkerBySigner(selected))?.balance ?? 0n;
    await net.advanceEpoch();
    const deployed = await waitFor(async () => {
      const s = await net.chain.getSecretContract(scAddr);
      return s !== undefined && s.stateDeltaHashes.length === 3 ? s : undefined;
    }, "the receipts to be committed");
    expect(custodian).not.toBe("");
    // The hashes on chain are the hashes of the deltas every node stores.
    for (const w of net.workers) {
      const res = (await rpc(w.endpoints().rpcUrl ?? "", "getTaskResult", { taskId: scAddr })) as {
        delta: { data: string };
      };
      expect(bytesToHex(keccak256(hexToBytes(res.delta.data)))).toBe(deployed.stateDeltaHashes[0]);
    }
    expect(deployed.codeHash).toBe(bytesToHex(keccak256(counter)));
    const after = (await net.chain.getWorkerBySigner(selected))?.balance ?? 0n;
    expect(after).toBeGreaterThan(before);
  }, 60_000);

  it("refuses a task sent to a worker that is not the selected one, storing nothing", async () => {
    const c = new TestClient(net, 11, net.workers[0]?.endpoints().rpcUrl ?? "");
    const epoch = await net.chain.currentEpoch();
    
    const selected = epoch === undefined ? undefined : selectWorker(scAddr, epoch);
    const wrong = epoch?.workers.find((w) => selected === undefined || !sameAddress(w, selected)) as Hex;
    await expect(c.compute(scAddr, "increment()", [], 1_000_000n, { workerAddress: wrong })).rejects.toMatchObject({
      code: ErrorCode.WorkerNotSelected,
    });
  }, 60_000);

  it("moves a contract to a newly selected worker, which gets the state key and goes on", async () => {
    const first = await net.chain.currentEpoch();
    
    const owner = first === undefined ? undefined : selectWorker(scAddr, first);
    let moved = false;
    for (let i = 0; i < 12 && !moved; i++) {
      await net.advanceEpoch();
      const e = await net.chain.currentEpoch();
      moved = e !== undefined && owner !== undefined && !sameAddress(selectWorker(scAddr, e) ?? "", owner);
    }
    expect(moved).toBe(true);
    const t = await client.compute(scAddr, "increment()", []);
    expect(owner !== undefined && sameAddress(t.worker, owner)).toBe(false);
    expect(u64be((await client.result(t)).output)).toBe(3n);
  }, 120_000);

  it("deploys and computes on a stateless contract with ABI arguments", async () => {
    const d = await client.deploy(calculator, "construct()", []);
    expect((await client.result(d)).status).toBe("SUCCESS");
    const t = await client.compute(d.taskId, "add(uint256,uint256)", [24n, 67n]);
    const r = await client.result(t);
    expect(decodeValues(["uint256"], r.output)).toEqual([91n]);
  }, 60_000);

  it("a worker restarted with pending receipts still commits them", async () => {
    const t = await client.compute(scAddr, "increment()", []);
    expect(u64be((await client.result(t)).output)).toBe(4n);
    const worker = nodeOf(t.worker);
    const index = net.workers.indexOf(worker);
    const cfg = worker.config;
    await worker.stop();
    const again = new EnigmaNode(resolveNodeConfig({ ...cfg, rpc: { host: "127.0.0.1", port: 0 } }));
    await again.start();
    net.workers[index] = again;
    expect(await chainStatus(t.taskId)).toBe(1);
    await net.advanceEpoch();
    await waitFor(async () => ((await chainStatus(t.taskId)) === 2 ? true : undefined), "the commit after restart");
  }, 120_000);
});
