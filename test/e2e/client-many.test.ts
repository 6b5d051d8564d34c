// Many users at once through the client SDK (issue 13): 16 clients, each its own account
// (`startDevnet({ users })`), send tasks to one hot counter contract at the same time. Every
// task succeeds, tasks run in the order of their records, each client gets the result pushed
// over the node's WebSocket, and a standing approval makes every later task one transaction.
// Also: a node's `TaskSkipped` (435) reaches the caller at once, as a typed error.
import { readFile } from "node:fs/promises";
import { ErrorCode, isEnigmaError } from "@enigma/protocol";
import { EnigmaClient, type TaskHandle } from "@enigma/client";
import { Contract, Interface, JsonRpcProvider, MaxUint256, Transaction, Wallet } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rpcProxy, type RpcProxy } from "./rpc-proxy.js";
import { ENIGMA_ABI, ENIGMA_TOKEN_ABI } from "@enigma/protocol";
import { startDevnet, type Devnet } from "../../packages/devnet/src/index.js";

const GAS = { gasLimit: 5_000_000n, gasPx: 1n };
const ENIGMA_ABI_INTERFACE = new Interface(ENIGMA_ABI);
const SENDERS = 16;
const PER_SENDER = 3;
let devnet: Devnet;
let counter: Uint8Array;
const providers: JsonRpcProvider[] = [];

beforeAll(async () => {
  counter = new Uint8Array(
    await readFile(
      new URL("../../packages/secret-contract/build/examples/counter.wasm", import.meta.url),
    ),
  );
  devnet = await startDevnet({
    workers: 2,
    users: SENDERS + 1,
    epochBlocks: 1000,
    taskTimeoutBlocks: 2000,
  });
}, 120_000);

afterAll(async () => {
  for (const p of providers) p.destroy();
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- undefined when beforeAll failed
  await devnet?.stop();
}, 60_000);

/** A client as a dApp builds one: its own provider (no batching stall), a standing approval. */
function clientOf(
  account: number,
  extra: { nodeUrl?: string; chainUrl?: string; maxEpochChanges?: number } = {},
): EnigmaClient {
  const provider = new JsonRpcProvider(
    extra.chainUrl ?? devnet.chain.rpcUrl,
    devnet.chain.chainId,
    {
      staticNetwork: true,
      cacheTimeout: -1,
      batchMaxCount: 1,
    },
  );
  providers.push(provider);
  const a = devnet.accounts[account];
  if (a === undefined) throw new Error(`no account ${account}`);
  return new EnigmaClient({
    signer: new Wallet(a.privateKey, provider),
    enigmaAddress: devnet.chain.enigmaAddress,
    tokenAddress: devnet.chain.tokenAddress,
    nodeUrl: extra.nodeUrl ?? devnet.workers[account % devnet.workers.length]?.rpcUrl ?? "",
    trustRoot: devnet.trustRoot,
    attestationPolicy: devnet.attestationPolicy,
    approve: "max",
    resultTimeoutMs: 60_000,
    ...(extra.maxEpochChanges === undefined ? {} : { maxEpochChanges: extra.maxEpochChanges }),
  });
}

const u64be = (b: Uint8Array) =>
  new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(0, false);

describe("many clients at once", () => {
  it("runs every task of 16 concurrent senders on one contract, in record order", async () => {
    const deployer = clientOf(0);
    const scAddr = await deployer.deploySecretContract(counter, "construct()", [], GAS).submitted();
    const clients = Array.from({ length: SENDERS }, (_, i) => clientOf(i + 1));
    const tasks: TaskHandle[][] = await Promise.all(
      clients.map(async (c) => {
        const mine: TaskHandle[] = [];
        for (let i = 0; i < PER_SENDER; i++) {
          const t = c.computeTask(scAddr, "increment()", [], GAS);
          mine.push(t);
          await t.result();
        }
        return mine;
      }),
    );
    const all = tasks.flat();
    const done = await Promise.all(
      all.map(async (t) => {
        const r = await t.result();
        const recorded = t.events.find((e) => e.type === "recorded");
        return {
          value: u64be(r.output),
          block: recorded?.type === "recorded" ? recorded.blockNumber : -1,
        };
      }),
    );
    // The counter's value after each task is its place in record order (one record per block
    // on this chain): nothing lost, nothing run twice, nothing out of order.
    done.sort((a, b) => a.block - b.block);
    expect(done.map((d) => d.value)).toEqual(
      Array.from({ length: SENDERS * PER_SENDER }, (_, i) => BigInt(i + 1)),
    );
    // Each sender's own tasks in its order, and the input went out before the record was mined.
    for (const mine of tasks) {
      const values = await Promise.all(mine.map(async (t) => u64be((await t.result()).output)));
      expect([...values].sort((a, b) => (a < b ? -1 : 1))).toEqual(values);
      for (const t of mine) expect(t.timings.sent).toBeLessThanOrEqual(t.timings.recorded ?? 0);
    }
    // Results came pushed: every client holds an open socket to its gateway.
    expect(clients.every((c) => c.socket?.connected === true)).toBe(true);
    // One standing approval per sender: the allowance is still unlimited after its tasks.
    const token = new Contract(devnet.chain.tokenAddress, ENIGMA_TOKEN_ABI, providers[0]);
    const allowance = (await token.getFunction("allowance")(
      devnet.accounts[1]?.address,
      devnet.chain.enigmaAddress,
    )) as bigint;
    expect(allowance).toBe(MaxUint256);
    for (const c of [deployer, ...clients]) c.close();
  }, 180_000);

  it("surfaces a node's TaskSkipped (435) at once, as a typed error", async () => {
    const deployer = clientOf(0);
    const scAddr = await deployer.deploySecretContract(counter, "construct()", [], GAS).submitted();
    deployer.close();
    // A gateway that answers the input as a node does once the task's turn has passed.
    const skipping = await refusingGateway(devnet.workers[0]?.rpcUrl ?? "", "sendTaskInput", {
      code: 435,
      message: "the task's turn passed while its input was missing",
    });
    try {
      const c = clientOf(1, { nodeUrl: skipping.url });
      const started = performance.now();
      const err = await c
        .computeTask(scAddr, "increment()", [], GAS)
        .result()
        .catch((e: unknown) => e);
      expect(isEnigmaError(err, ErrorCode.TaskSkipped)).toBe(true);
      // Not the result timeout (60 s): the error is the node's answer to the input.
      expect(performance.now() - started).toBeLessThan(30_000);
      c.close();
    } finally {
      await skipping.close();
    }
  }, 60_000);
});

describe("records that meet epoch changes", () => {
  // A chain proxy that starts a new epoch just before each of the first `changes` record
  // transactions reaches the chain: each of them reverts WrongEpoch, as a record does under
  // load on a devnet with short epochs (10 blocks of one transaction each: a new epoch every
  // ~100 ms with 32 senders, `pnpm bench:e2e`).
  async function epochChangingChain(changes: number) {
    const record = ENIGMA_ABI_INTERFACE.getFunction("createTaskRecord")?.selector ?? "";
    let left = changes;
    const proxy = await rpcProxy(devnet.chain.rpcUrl, async (msg) => {
      const raw = (msg as { params?: unknown[] }).params?.[0];
      if (msg.method === "eth_sendRawTransaction" && typeof raw === "string" && left > 0) {
        if (Transaction.from(raw).data.startsWith(record)) {
          left--;
          await devnet.chain.advanceEpoch();
        }
      }
      return { forward: true };
    });
    return { proxy, met: () => changes - left };
  }

  // Deployed, and run, before the epochs move on: five epochs in a second would leave its
  // worker outside the principal's window for the contract's state key.
  async function deployedCounter(): Promise<string> {
    const deployer = clientOf(0);
    const deployment = deployer.deploySecretContract(counter, "construct()", [], GAS);
    const scAddr = await deployment.submitted();
    await deployment.result();
    deployer.close();
    return scAddr;
  }

  it("prepares the task again for each new epoch, beyond maxRecordAttempts, and it succeeds", async () => {
    const scAddr = await deployedCounter();
    const chain = await epochChangingChain(5);
    try {
      const c = clientOf(2, { chainUrl: chain.proxy.url });
      const t = c.computeTask(scAddr, "increment()", [], GAS);
      const r = await t.result();
      expect(u64be(r.output)).toBe(1n);
      expect(chain.met()).toBe(5);
      // Six records were prepared (maxRecordAttempts is 3: epoch changes have their own budget).
      const attempts = t.events.flatMap((e) => (e.type === "created" ? [e.attempt] : []));
      expect(attempts).toEqual([1, 2, 3, 4, 5, 6]);
      // One record on chain, the last one (the reverted ones left none): pending or committed.
      const record = await c.getTaskStatus(r.taskId);
      expect(record.sender.toLowerCase()).toBe(devnet.accounts[2]?.address.toLowerCase());
      expect([1, 2]).toContain(record.status);
      c.close();
    } finally {
      await chain.proxy.close();
    }
  }, 120_000);

  it("fails with WrongEpoch once its record met maxEpochChanges epoch changes", async () => {
    const scAddr = await deployedCounter();
    const chain = await epochChangingChain(2);
    try {
      const c = clientOf(3, { chainUrl: chain.proxy.url, maxEpochChanges: 2 });
      const err = await c
        .computeTask(scAddr, "increment()", [], GAS)
        .result()
        .catch((e: unknown) => e);
      expect(isEnigmaError(err, ErrorCode.WrongEpoch)).toBe(true);
      expect(chain.met()).toBe(2);
      expect(() => clientOf(3, { maxEpochChanges: 0 })).toThrow(
        /maxEpochChanges must be an integer from 1, got 0/,
      );
      c.close();
    } finally {
      await chain.proxy.close();
    }
  }, 120_000);
});

/** A JSON-RPC proxy to `target` (HTTP only) that answers `method` with a JSON-RPC error. */
function refusingGateway(
  target: string,
  method: string,
  error: { code: number; message: string },
): Promise<RpcProxy> {
  return rpcProxy(target, (msg) =>
    msg.method === method ? { reply: { error } } : { forward: true },
  );
}
