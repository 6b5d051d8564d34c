// Many clients at once (issue 13): 32 senders record tasks of one contract concurrently; one of
// them holds its input back until later tasks of the contract have run. Only that task is lost
// (TaskSkipped at the gateway, FAILED in status queries, its fee refundable after the timeout);
// every other task succeeds, in record order.
import {
  ErrorCode,
  bytesToHex,
  encodeArgs,
  encryptTo,
  decryptFrom,
  generateKeyPair,
  hexToBytes,
  inputsHash,
  recoverWorkerKeySigner,
  sameAddress,
  selectWorker,
  taskId as taskIdOf,
  type Hex,
} from "@enigma/protocol";
import { compileSecretContract, exampleSourcePath } from "@enigma/secret-contract";
import { resolveNodeConfig } from "./config.js";
import { EnigmaNode } from "./node.js";
import { Contract, HDNodeWallet, NonceManager, Wallet, parseEther } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ENG,
  TestClient,
  rpc,
  sent,
  startTestNet,
  waitFor,
  type TestNet,
} from "./testnet.fixture.js";

const SENDERS = 32;
// The `fast` preset's deadline, what users get. At 1.5 s this test failed 2 runs in 4 when the
// machine was loaded (4 busy processes beside the other jobs): the whole network shares this
// one process, and honest inputs queued behind each other at the gateway (8 handlers per
// address) came after their records' deadline.
const DEADLINE_MS = 5_000;
const MNEMONIC = "test test test test test test test test test test test junk";

let net: TestNet;
let counter: Hex;
let gateway: string;

function sender(i: number): Wallet {
  const w = HDNodeWallet.fromPhrase(MNEMONIC, undefined, `m/44'/60'/0'/0/${100 + i}`);
  return new Wallet(w.privateKey);
}

beforeAll(async () => {
  const wasm = (await compileSecretContract(exampleSourcePath("counter"))).wasm;
  net = await startTestNet({ workers: 2, epochSize: 400, orderingDeadlineMs: DEADLINE_MS });
  const deployer = new TestClient(net, 10, net.workers[0]?.endpoints().rpcUrl ?? "");
  const d = await deployer.deploy(wasm, "construct()", []);
  expect((await deployer.result(d)).status).toBe("SUCCESS");
  counter = d.taskId;
  // Senders: ETH for gas, ENG for fees, one standing approval each.
  for (let i = 0; i < SENDERS; i++) {
    const w = sender(i);
    await net.provider.send("hardhat_setBalance", [
      w.address,
      `0x${parseEther("10").toString(16)}`,
    ]);
    await sent(net.token.getFunction("transfer")(w.address, 100n * ENG));
    const token = new Contract(net.tokenAddress, net.token.interface, w.connect(net.provider));
    await sent(token.getFunction("approve")(net.enigmaAddress, 100n * ENG));
  }
  // Every input goes through the gateway of the worker that is not selected, so that the
  // late input crosses the network to the worker that decides its turn.
  const epoch = await net.chain.currentEpoch();
  const selected = epoch === undefined ? undefined : selectWorker(counter, epoch);
  const other = net.workers.find((w) => !sameAddress(w.signer ?? "", selected ?? ""));
  gateway = other?.endpoints().rpcUrl ?? "";
}, 180_000);

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- undefined when beforeAll failed
  await net?.stop();
}, 60_000);

interface Recorded {
  taskId: Hex;
  order: number;
  input: Record<string, string>;
  user: ReturnType<typeof generateKeyPair>;
  workerKey: Hex;
  worker: Hex;
}

/**
 * Records `increment()` for sender `i` and builds its input. With `send`, the input goes to the
 * gateway as soon as the record's transaction is sent (as @enigma/client does), before it is
 * mined; resolves once the record is mined.
 */
async function record(i: number, send = false): Promise<Recorded> {
  const wallet = new NonceManager(sender(i).connect(net.provider));
  const enigma = new Contract(net.enigmaAddress, net.enigma.interface, wallet);
  const address = sender(i).address;
  const nonce = (await enigma.getFunction("getUserTaskDeployments")(address)) as bigint;
  const epoch = await net.chain.currentEpoch();
  const worker = epoch === undefined ? undefined : selectWorker(counter, epoch);
  if (epoch === undefined || worker === undefined) throw new Error("no epoch");
  const user = generateKeyPair();
  const k = (
    (await rpc(gateway, "getWorkerEncryptionKey", {
      workerAddress: worker.slice(2),
      userPubKey: bytesToHex(user.publicKey).slice(2),
    })) as { result: { workerEncryptionKey: string; workerSig: string } }
  ).result;
  const workerKey: Hex = `0x${k.workerEncryptionKey}`;
  expect(sameAddress(recoverWorkerKeySigner(workerKey, `0x${k.workerSig}`), worker)).toBe(true);
  const fn = "increment()";
  const encFn = encryptTo(user.privateKey, workerKey, new TextEncoder().encode(fn));
  const encArgs = encryptTo(user.privateKey, workerKey, encodeArgs(fn, []));
  const hash = inputsHash(encFn, encArgs, counter, user.publicKey);
  const tx = (await enigma.getFunction("createTaskRecord")(
    hash,
    1_000_000n,
    1n,
    epoch.firstBlockNumber,
  )) as { wait(): Promise<{ blockNumber: number; logs: { index: number }[] } | null> };
  const taskId = taskIdOf(address, nonce);
  const input = {
    taskId: taskId.slice(2),
    workerAddress: worker.slice(2),
    encryptedFn: bytesToHex(encFn).slice(2),
    encryptedArgs: bytesToHex(encArgs).slice(2),
    userDHKey: bytesToHex(user.publicKey).slice(2),
    contractAddress: counter.slice(2),
  };
  // The gateway holds an input whose record is not mined yet (and answers true at once).
  if (send) await rpc(gateway, "sendTaskInput", input);
  const mined = await tx.wait();
  if (mined === null) throw new Error("record not mined");
  return {
    taskId,
    order: mined.blockNumber * 1_000_000 + (mined.logs.at(-1)?.index ?? 0),
    user,
    workerKey,
    worker: worker.toLowerCase() as Hex,
    input,
  };
}

async function status(taskId: Hex, worker: Hex): Promise<{ status: string; output?: string }> {
  return (
    (await rpc(gateway, "getTaskStatus", {
      taskId: taskId.slice(2),
      workerAddress: worker.slice(2),
      withResult: true,
    })) as { result: { status: string; output?: string } }
  ).result;
}

describe("32 concurrent senders, one of which is late", () => {
  it("skips only the late task (refundable); every other task succeeds in record order", async () => {
    // The late sender records first: every other task is recorded after it.
    const late = await record(0);
    // The others send their inputs with their records, as clients do: however slow this
    // machine, an honest input is there when its record is heard, so only the late one loses.
    const others = await Promise.all(
      Array.from({ length: SENDERS - 1 }, (_, j) => record(j + 1, true)),
    );
    // They wait for the late input up to the deadline, then run.
    const outputs = new Map<string, bigint>();
    for (const r of others) {
      const s = await waitFor(async () => {
        const x = await status(r.taskId, r.worker);
        return x.status === "SUCCESS" || x.status === "FAILED" ? x : undefined;
      }, `task ${r.taskId}`);
      expect(s.status).toBe("SUCCESS");
      const plain = decryptFrom(r.user.privateKey, r.workerKey, hexToBytes(`0x${s.output ?? ""}`));
      outputs.set(r.taskId, new DataView(plain.buffer, plain.byteOffset).getBigUint64(0));
    }
    // Record order: the counter's values follow the records.
    const inOrder = [...others].sort((a, b) => a.order - b.order);
    expect(inOrder.map((r) => outputs.get(r.taskId))).toEqual(inOrder.map((_, i) => BigInt(i + 1)));

    // The late input: its turn passed. The gateway says so at once, and status queries too.
    const before = await net.chain.tokenBalance(sender(0).address);
    await expect(rpc(gateway, "sendTaskInput", late.input)).rejects.toMatchObject({
      code: ErrorCode.TaskSkipped,
    });
    expect((await status(late.taskId, late.worker)).status).toBe("FAILED");
    // Refundable after the task timeout: its fee comes back in full.
    expect((await net.chain.getTaskRecord(late.taskId))?.status).toBe(1);
    await net.mine(net.chain.taskTimeout + 1);
    const enigma = new Contract(
      net.enigmaAddress,
      net.enigma.interface,
      sender(0).connect(net.provider),
    );
    await sent(enigma.getFunction("returnFeesForTask")(late.taskId));
    expect((await net.chain.getTaskRecord(late.taskId))?.status).toBe(5);
    expect((await net.chain.tokenBalance(sender(0).address)) - before).toBe(1_000_000n);
  }, 120_000);
});

/** Subscribes to a task on a gateway's WebSocket; `done` resolves with its final push. */
async function subscribe(
  rpcUrl: string,
  taskId: Hex,
): Promise<{ done: Promise<Record<string, unknown>> }> {
  const ws = new WebSocket(`${rpcUrl.replace(/^http/, "ws").replace(/\/$/, "")}/ws`);
  await new Promise((resolve, reject) => {
    ws.addEventListener("open", resolve, { once: true });
    ws.addEventListener("error", reject, { once: true });
  });
  const done = new Promise<Record<string, unknown>>((resolve) => {
    ws.addEventListener("message", (e: MessageEvent) => {
      const m = JSON.parse(String(e.data)) as { method?: string; params?: Record<string, unknown> };
      if (m.method === "taskStatus" && m.params?.["status"] !== "UNVERIFIED") {
        resolve(m.params ?? {});
        ws.close();
      }
    });
  });
  const subscribed = new Promise((resolve) => {
    ws.addEventListener("message", resolve, { once: true });
  });
  ws.send(
    JSON.stringify({ jsonrpc: "2.0", id: 1, method: "subscribeTaskStatus", params: { taskId } }),
  );
  await subscribed;
  return { done };
}

describe("results pushed to WebSocket subscribers", () => {
  it("carry the encrypted output, at the worker's gateway and at another one", async () => {
    const r = await record(1);
    const own = net.workers.find((w) => sameAddress(w.signer ?? "", r.worker));
    const pushes = await Promise.all(
      [own?.endpoints().rpcUrl ?? "", gateway].map((url) => subscribe(url, r.taskId)),
    );
    await rpc(gateway, "sendTaskInput", r.input);
    const [atWorker, atOther] = await Promise.all(pushes.map((p) => p.done));
    const polled = await status(r.taskId, r.worker);
    expect(polled.status).toBe("SUCCESS");
    // What getTaskStatus would have answered, without asking it: the client decrypts it.
    for (const p of [atWorker, atOther]) {
      expect(p).toMatchObject({ status: "SUCCESS", output: polled.output });
    }
    const plain = decryptFrom(
      r.user.privateKey,
      r.workerKey,
      hexToBytes(`0x${polled.output ?? ""}`),
    );
    expect(plain.length).toBeGreaterThan(0);
  }, 60_000);
});

describe("a worker restarted while a record waits for its input", () => {
  it("still holds later tasks for it after the restart, and runs it first when its input comes", async () => {
    const epoch = await net.chain.currentEpoch();
    const worker = epoch === undefined ? undefined : selectWorker(counter, epoch);
    const index = net.workers.findIndex((w) => sameAddress(w.signer ?? "", worker ?? ""));
    if (index === -1) throw new Error("no selected worker");
    // A deadline far longer than this test, so that only the input (not the clock) lets a
    // task go on; the probe's own input makes it run.
    const restart = async () => {
      const node = net.workers[index];
      if (node === undefined) throw new Error("no worker");
      const cfg = node.config;
      const old = node.endpoints().rpcUrl;
      await node.stop();
      const again = new EnigmaNode(
        resolveNodeConfig({
          ...cfg,
          rpc: { host: "127.0.0.1", port: 0 },
          worker: { ...cfg.worker, orderingDeadlineMs: 60_000 },
        }),
      );
      await again.start();
      net.workers[index] = again;
      const url = again.endpoints().rpcUrl ?? "";
      // (An epoch may have passed since: the selected worker can be the senders' gateway.)
      if (gateway === old) gateway = url;
      return url;
    };
    let url = await restart();
    const probe = await record(2);
    await rpc(url, "sendTaskInput", probe.input);
    const before = await waitFor(async () => {
      const x = await statusAt(url, probe.taskId, probe.worker);
      return x.status === "SUCCESS" ? x : undefined;
    }, "the probe task");
    const n = valueOf(probe, before.output);

    // The worker hears `first` (its input does not come yet) and `second` with its input:
    // `second` waits for `first`.
    const first = await record(3);
    const second = await record(4);
    await rpc(url, "sendTaskInput", second.input);
    await waitFor(async () => {
      const x = await statusAt(url, second.taskId, second.worker);
      return x.status === "UNVERIFIED" ? true : undefined;
    }, "the second input to be taken");
    // Restarted before `first`'s deadline: it must still hold `second` afterwards.
    url = await restart();
    await rpc(url, "sendTaskInput", first.input);
    const results = await Promise.all(
      [first, second].map((r) =>
        waitFor(async () => {
          const x = await statusAt(url, r.taskId, r.worker);
          return x.status === "SUCCESS" || x.status === "FAILED" ? x : undefined;
        }, `task ${r.taskId}`),
      ),
    );
    expect(results.map((x) => x.status)).toEqual(["SUCCESS", "SUCCESS"]);
    // Record order: `first` ran before `second`.
    expect([valueOf(first, results[0]?.output), valueOf(second, results[1]?.output)]).toEqual([
      n + 1n,
      n + 2n,
    ]);
  }, 120_000);
});

async function statusAt(url: string, taskId: Hex, worker: Hex) {
  return (
    (await rpc(url, "getTaskStatus", {
      taskId: taskId.slice(2),
      workerAddress: worker.slice(2),
      withResult: true,
    })) as { result: { status: string; output?: string } }
  ).result;
}

function valueOf(r: Recorded, output: string | undefined): bigint {
  const plain = decryptFrom(r.user.privateKey, r.workerKey, hexToBytes(`0x${output ?? ""}`));
  return new DataView(plain.buffer, plain.byteOffset).getBigUint64(0);
}
