// The node end to end, in one process: a real Hardhat chain over HTTP, the contracts, a
// principal and three worker+gateway nodes talking libp2p, and a client doing what enigma-js
// does. Asserts what a user cares about: decrypted outputs, on-chain statuses and delta hashes,
// the worker's earned fees, state that survives an epoch change and a restart.
import {
  ErrorCode,
  bytesToHex,
  decodeValues,
  generateKeyPair,
  hexToBytes,
  keccak256,
  sameAddress,
  selectWorker,
  type Hex,
} from "@enigma/protocol";
import { compileSecretContract, exampleSourcePath } from "@enigma/secret-contract";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WorkerEnclave, remoteAttester } from "@enigma/enclave";
import { ContractFactory, Contract } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readArtifact } from "../../../scripts/deploy.js";
import { PROTOCOLS } from "./messages.js";
import { P2PNetwork } from "./p2p/network.js";
import { resolveNodeConfig } from "./config.js";
import { EnigmaNode } from "./node.js";
import {
  TestClient,
  account,
  rpc,
  startTestNet,
  waitFor,
  type TestNet,
} from "./testnet.fixture.js";

let net: TestNet;
let counter: Uint8Array;
let calculator: Uint8Array;
let voting: Uint8Array;

beforeAll(async () => {
  counter = (await compileSecretContract(exampleSourcePath("counter"))).wasm;
  calculator = (await compileSecretContract(exampleSourcePath("calculator"))).wasm;
  voting = (await compileSecretContract(exampleSourcePath("voting"))).wasm;
  net = await startTestNet({ workers: 3 });
}, 120_000);

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- undefined when beforeAll failed
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
        const info = (
          (await rpc(w.endpoints().rpcUrl ?? "", "getTaskResult", {
            taskId: t.taskId,
          })) as { result: { status: string; delta?: { key: number } } | null }
        ).result;
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
    // The principal is off the task path (no task gossip): it holds nothing of the contract
    // until its deltas are committed, then it syncs them.
    expect(await net.principal.contract(scAddr)).toMatchObject({ codeHash: undefined, deltas: 0 });
    const epoch = await net.chain.currentEpoch();
    const selected = epoch === undefined ? "" : (selectWorker(scAddr, epoch) ?? "");
    const worker = nodeOf(selected);
    const custodian = worker.config.ethereum.privateKey ?? "";
    const before = (await net.chain.getWorkerBySigner(selected))?.balance ?? 0n;
    await net.advanceEpoch();
    const deployed = await waitFor(async () => {
      const s = await net.chain.getSecretContract(scAddr);
      return s !== undefined && s.deltaCount === 3 ? s : undefined;
    }, "the receipts to be committed");
    expect(await net.chain.countStateDeltas(scAddr)).toBe(3);
    expect(custodian).not.toBe("");
    // The hashes on chain are the hashes of the deltas every node stores.
    for (const w of net.workers) {
      const res = (
        (await rpc(w.endpoints().rpcUrl ?? "", "getTaskResult", { taskId: scAddr })) as {
          result: { delta: { data: string } };
        }
      ).result;
      expect(bytesToHex(keccak256(hexToBytes(res.delta.data)))).toBe(
        (await net.chain.getStateDeltaHashes(scAddr, 0, 1))[0],
      );
    }
    expect(deployed.codeHash).toBe(bytesToHex(keccak256(counter)));
    const after = (await net.chain.getWorkerBySigner(selected))?.balance ?? 0n;
    expect(after).toBeGreaterThan(before);
    const onChain = await net.chain.getStateDeltaHashes(scAddr);
    await waitFor(async () => {
      const hashes = await net.principal.deltaHashes(scAddr);
      return hashes.length === onChain.length ? hashes : undefined;
    }, "the principal to sync the committed deltas");
    expect(await net.principal.deltaHashes(scAddr)).toEqual(onChain);
    expect((await net.principal.contract(scAddr)).codeHash).toBe(deployed.codeHash);
  }, 60_000);

  it("accepts inputs as Discovery did: a missing contract fails with a receipt, a wrong worker never runs", async () => {
    const gateway = net.workers[0]?.endpoints().rpcUrl ?? "";
    const c = new TestClient(net, 11, gateway);
    const epoch = await net.chain.currentEpoch();
    const selected = epoch === undefined ? undefined : selectWorker(scAddr, epoch);
    const wrong = epoch?.workers.find(
      (w) => selected === undefined || !sameAddress(w, selected),
    ) as Hex;
    // Sent to a worker that is not the selected one: accepted (sendTaskResult true).
    const misdirected = await c.compute(scAddr, "increment()", [], 1_000_000n, {
      workerAddress: wrong,
    });
    // A contract that does not exist: accepted, and its selected worker signs a failure.
    const nowhere: Hex = `0x${"ab".repeat(32)}`;
    const missing = await c.compute(nowhere, "get()", []);
    const failed = await c.result(missing);
    expect(failed.status).toBe("FAILED");
    expect(new TextDecoder().decode(failed.output)).toMatch(/not deployed/);
    const detail = (
      (await rpc(gateway, "getTaskResult", { taskId: missing.taskId })) as {
        result: { status: string; usedGas: number; signature: string; output: string };
      }
    ).result;
    expect(detail.status).toBe("FAILED");
    expect(detail.usedGas).toBe(0);
    expect(detail.signature).toMatch(/^[0-9a-f]{130}$/);
    // The misdirected input holds nothing up: a later task of its contract runs.
    const later = await client.compute(scAddr, "get()", []);
    expect(u64be((await client.result(later)).output)).toBe(2n);
    // It was never executed, by any node; both cases are counted.
    for (const w of net.workers) {
      const r = (
        (await rpc(w.endpoints().rpcUrl ?? "", "getTaskResult", {
          taskId: misdirected.taskId,
        })) as { result: { status: string } | null }
      ).result;
      expect(r === null || r.status === "UNVERIFIED").toBe(true);
    }
    const metrics = await (await fetch(`${gateway}/metrics`)).text();
    expect(metrics).toMatch(/enigma_tasks_not_executed_total\{reason="wrong-worker"\} [1-9]/);
    // At the epoch's end the failure settles as status 3; the misdirected task stays pending
    // (refundable after its timeout).
    await net.advanceEpoch();
    await waitFor(
      async () => ((await chainStatus(missing.taskId)) === 3 ? true : undefined),
      "the failure receipt of the missing contract's task",
    );
    expect(await chainStatus(misdirected.taskId)).toBe(1);
  }, 60_000);

  it("moves a contract to a newly selected worker, which gets the state key and goes on", async () => {
    const first = await net.chain.currentEpoch();

    const owner = first === undefined ? undefined : selectWorker(scAddr, first);
    let moved = false;
    for (let i = 0; i < 12 && !moved; i++) {
      await net.advanceEpoch();
      const e = await net.chain.currentEpoch();
      moved =
        e !== undefined &&
        owner !== undefined &&
        !sameAddress(selectWorker(scAddr, e) ?? "", owner);
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
    const oldUrl = worker.endpoints().rpcUrl;
    await worker.stop();
    const again = new EnigmaNode(
      resolveNodeConfig({ ...cfg, rpc: { host: "127.0.0.1", port: 0 } }),
    );
    await again.start();
    net.workers[index] = again;
    if (client.gateway === oldUrl) client.gateway = again.endpoints().rpcUrl ?? "";
    expect(await chainStatus(t.taskId)).toBe(1);
    await net.advanceEpoch();
    await waitFor(
      async () => ((await chainStatus(t.taskId)) === 2 ? true : undefined),
      "the commit after restart",
    );
  }, 120_000);

  it("commits at once when a task calls an Ethereum contract, and reports a failed call as status 4", async () => {
    const deployer = account(13).connect(net.provider);
    const a = await readArtifact(
      "VotingTally",
      new URL("../../../artifacts/contracts/mocks/", import.meta.url),
    );
    const tally = (await new ContractFactory(a.abi, a.bytecode, deployer).deploy(
      net.enigmaAddress,
    )) as Contract;
    await tally.waitForDeployment();
    const tallyAddress = await tally.getAddress();

    const poll = await client.deploy(voting, "construct(address)", [tallyAddress]);
    expect((await client.result(poll)).status).toBe("SUCCESS");
    const voter = (n: number) => bytesToHex(keccak256(new TextEncoder().encode(`voter ${n}`)));
    for (const [n, yes] of [
      [1, true],
      [2, true],
      [3, false],
    ] as const) {
      const v = await client.compute(poll.taskId, "cast_vote(bytes32,bool)", [voter(n), yes]);
      expect((await client.result(v)).status).toBe("SUCCESS");
    }
    const close = await client.compute(poll.taskId, "close_poll()", []);
    expect(decodeValues(["uint64", "uint64"], (await client.result(close)).output)).toEqual([
      2n,
      1n,
    ]);
    // No epoch end needed: the call is committed with everything pending before it.
    await waitFor(
      async () => ((await chainStatus(close.taskId)) === 2 ? true : undefined),
      "the callback",
    );
    expect(await tally.getFunction("yes")(0)).toBe(2n);
    expect(await tally.getFunction("no")(0)).toBe(1n);

    // A poll reporting to a contract without pollClosed: the call fails on chain (status 4).
    const bad = await client.deploy(voting, "construct(address)", [net.tokenAddress]);
    expect((await client.result(bad)).status).toBe("SUCCESS");
    const badClose = await client.compute(bad.taskId, "close_poll()", []);
    await waitFor(
      async () => ((await chainStatus(badClose.taskId)) === 4 ? true : undefined),
      "status 4",
    );
    const gateway = nodeOf(badClose.worker).endpoints().rpcUrl ?? "";
    await waitFor(async () => {
      const s = (
        (await rpc(gateway, "getTaskStatus", {
          taskId: badClose.taskId,
          workerAddress: badClose.worker,
        })) as { result: { status: string } }
      ).result;
      return s.status === "ETHEREUMFAILURE" ? true : undefined;
    }, "ETHEREUMFAILURE at the worker's gateway");
    // The contract recorded no delta for the failed call; neither does any node.
    const onChain = await net.chain.getSecretContract(bad.taskId);
    for (const w of net.workers) {
      await waitFor(async () => {
        const c = await w.contract(bad.taskId);
        return c.deltas === onChain?.deltaCount ? true : undefined;
      }, "nodes to drop the failed call's delta");
    }
  }, 120_000);

  it("rejects bad client input with stable JSON-RPC errors and stores nothing", async () => {
    const url = net.workers[0]?.endpoints().rpcUrl ?? "";
    await expect(rpc(url, "sendTaskInput", { taskId: "xyz" })).rejects.toMatchObject({
      code: -32602,
    });
    await expect(rpc(url, "noSuchMethod", {})).rejects.toMatchObject({ code: -32601 });
    // An input that does not match the task's record on chain.
    const c = new TestClient(net, 12, url);
    const rec = await c.compute(scAddr, "get()", [], 1_000_000n);
    await expect(
      rpc(url, "sendTaskInput", {
        taskId: rec.taskId,
        workerAddress: rec.worker,
        encryptedFn: "00",
        encryptedArgs: "00",
        userDHKey: bytesToHex(generateKeyPair().publicKey),
        contractAddress: scAddr,
      }),
    ).rejects.toMatchObject({ code: ErrorCode.InputsHashMismatch });
    // An input sent before its task record is mined is held (and stored nowhere yet).
    const early = `0x${"ef".repeat(32)}`;
    await expect(
      rpc(url, "sendTaskInput", {
        taskId: early,
        workerAddress: rec.worker,
        encryptedFn: "00",
        encryptedArgs: "00",
        userDHKey: bytesToHex(generateKeyPair().publicKey),
        contractAddress: scAddr,
      }),
    ).resolves.toEqual({ sendTaskResult: true });
    expect(await rpc(url, "getTaskResult", { taskId: early })).toEqual({ result: null });
    // A deployment whose pre-code is not gzip.
    await expect(
      rpc(url, "deploySecretContract", {
        workerAddress: "00".repeat(20),
        preCode: "AAAA",
        encryptedArgs: "00",
        encryptedFn: "00",
        userDHKey: bytesToHex(generateKeyPair().publicKey).slice(2),
        contractAddress: "cd".repeat(32),
      }),
    ).rejects.toMatchObject({ code: ErrorCode.InvalidMessage });
    expect(await rpc(url, "getTaskResult", { taskId: "cd".repeat(32) })).toEqual({ result: null });
    // Metrics count what happened.
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/enigma_rpc_requests_total\{[^}]*outcome="invalid_params"/);
    expect(metrics).toMatch(/enigma_tasks_received_total/);
  }, 60_000);

  it("a node that joins late fetches code and deltas from peers and checks them against the chain", async () => {
    await net.advanceEpoch(); // commit everything pending
    const onChain = await waitFor(async () => {
      const sc = await net.chain.getSecretContract(scAddr);
      return sc !== undefined && sc.deltaCount >= 4 ? sc : undefined;
    }, "committed deltas");
    const cfg = net.configFor(9, { roles: ["gateway"] });
    const late = new EnigmaNode(
      resolveNodeConfig({ ...cfg, ethereum: { ...cfg.ethereum, privateKey: undefined } }),
    );
    await late.start();
    try {
      const stored = await waitFor(async () => {
        const c = await late.contract(scAddr);
        return c.deltas === onChain.deltaCount ? c : undefined;
      }, "the late node to catch up");
      expect(stored.codeHash).toBe(onChain.codeHash);
      expect(stored.lastDeltaHash).toBe(
        (await net.chain.getStateDeltaHashes(scAddr, onChain.deltaCount - 1))[0],
      );
    } finally {
      await late.stop();
    }
  }, 60_000);

  it("the principal gives state keys only to the attested worker selected for the contract", async () => {
    const dir = await mkdtemp(join(tmpdir(), "enigma-outsider-"));
    const intruder = new P2PNetwork({});
    try {
      // An attested enclave (the network's attestation service signed its report) that is not
      // a worker of this epoch.
      const outsider = await WorkerEnclave.open({
        dir,
        attest: remoteAttester(net.principal.config.attestation.url),
        chainId: net.chain.chainId,
        enigmaAddress: net.enigmaAddress,
      });
      await intruder.start();
      const principal = await intruder.dial(net.principal.endpoints().multiaddrs[0] ?? "");
      const request = outsider.createStateKeyRequest([scAddr]);
      await expect(intruder.request(principal, PROTOCOLS.stateKeys, request)).rejects.toMatchObject(
        {
          code: ErrorCode.StateKeyRequestRefused,
        },
      );
      // A request whose signature does not match its attestation is refused too.
      await expect(
        intruder.request(principal, PROTOCOLS.stateKeys, {
          ...request,
          signature: `0x${"22".repeat(64)}1c`,
        }),
      ).rejects.toMatchObject({ code: ErrorCode.StateKeyRequestRefused });
      await outsider.close();
    } finally {
      await intruder.stop();
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
