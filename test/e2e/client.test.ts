// The client SDK against a real network in one process (chain over HTTP, contracts, a
// principal and three workers): deploy and compute the examples, decrypt, wait for the
// batched commit and check the output hash on chain; refuse a worker that fails attestation
// (nothing recorded); retry a task record that lands in a new epoch.
import { readFile } from "node:fs/promises";
import { SIMULATED_ENCLAVE_MEASUREMENT, SimulatedAttestationService } from "@enigma/enclave";
import {
  ErrorCode,
  bytesToHex,
  discoveryEpochs,
  generateKeyPair,
  isEnigmaError,
  keccak256,
  signWorkerKey,
  type AttestationPolicy,
  type RsaTrustRoot,
} from "@enigma/protocol";
import {
  AbstractSigner,
  Contract,
  type Provider,
  type Signer,
  type TransactionRequest,
  type TransactionResponse,
  type TypedDataDomain,
  type TypedDataField,
  type Wallet,
} from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rpcProxy, type RpcProxy } from "./rpc-proxy.js";
import { EnigmaClient, type TaskEvent } from "@enigma/client";
import {
  ENG,
  account,
  sent,
  startTestNet,
  waitFor,
  type TestNet,
} from "../../packages/node/src/testnet.fixture.js";

let net: TestNet;
let counter: Uint8Array;
let calculator: Uint8Array;
let trustRoot: RsaTrustRoot;
const policy: AttestationPolicy = {
  acceptedStatuses: ["OK"],
  allowDebug: false,
  mrenclaves: [bytesToHex(SIMULATED_ENCLAVE_MEASUREMENT.mrenclave)],
  mrsigners: [bytesToHex(SIMULATED_ENCLAVE_MEASUREMENT.mrsigner)],
  minIsvSvn: 0,
};
const GAS = { gasLimit: 5_000_000n, gasPx: 1n };

beforeAll(async () => {
  // The examples as the build compiled them (the e2e project runs after a build).
  const example = async (name: string) =>
    new Uint8Array(
      await readFile(
        new URL(`../../packages/secret-contract/build/examples/${name}.wasm`, import.meta.url),
      ),
    );
  counter = await example("counter");
  calculator = await example("calculator");
  net = await startTestNet({ workers: 3 });
  trustRoot = net.trustRoot;
  // Users 15-17 get ENG from the fixture's funded account 10.
  const funder = new Contract(
    net.tokenAddress,
    net.token.interface,
    account(10).connect(net.provider),
  );
  for (const i of [15, 16, 17]) {
    await sent(funder.getFunction("transfer")(account(i).address, 1_000n * ENG));
  }
}, 120_000);

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- undefined when beforeAll failed
  await net?.stop();
}, 60_000);

function gateway(): string {
  const url = net.workers[0]?.endpoints().rpcUrl;
  if (url === undefined) throw new Error("no gateway");
  return url;
}

function clientFor(
  signer: Signer,
  extra: { trustRoot?: RsaTrustRoot; nodeUrl?: string } = {},
): EnigmaClient {
  return new EnigmaClient({
    signer,
    enigmaAddress: net.enigmaAddress,
    tokenAddress: net.tokenAddress,
    nodeUrl: extra.nodeUrl ?? gateway(),
    trustRoot: extra.trustRoot ?? trustRoot,
    attestationPolicy: policy,
    pollIntervalMs: 50,
    resultTimeoutMs: 30_000,
    receiptTimeoutMs: 60_000,
  });
}

function u64be(b: Uint8Array): bigint {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(0, false);
}

describe("EnigmaClient on an in-process network", () => {
  let client: EnigmaClient;

  it("deploys the counter, computes, decrypts, and checks the committed output hash", async () => {
    client = clientFor(account(15).connect(net.provider));
    const deploy = client.deploySecretContract(counter, "construct()", [], GAS);
    const scAddr = await deploy.submitted();
    expect((await deploy.result()).status).toBe("SUCCESS");

    const a = client.computeTask(scAddr, "increment()", [], GAS);
    const events: TaskEvent["type"][] = [];
    a.on("recorded", (e) => events.push(e.type));
    a.on("submitted", (e) => events.push(e.type));
    expect(u64be((await a.result()).output)).toBe(1n);
    const b = client.computeTask(scAddr, "increment()", [], GAS);
    expect(u64be((await b.result()).output)).toBe(2n);
    expect(events).toEqual(["recorded", "submitted"]);
    expect(a.events.map((e) => e.type)).toEqual(["created", "recorded", "submitted", "executed"]);

    // Receipts are committed in one batch when the epoch ends.
    expect((await client.getTaskStatus(b.events[0]?.taskId ?? "0x")).status).toBe(1);
    await net.advanceEpoch();
    const seen: string[] = [];
    for await (const e of b) seen.push(e.type);
    expect(seen).toEqual(["created", "recorded", "submitted", "executed", "committed"]);
    const receipt = await b.waitForReceipt();
    expect(receipt.chainStatus).toBe(2);
    const executed = b.events.find((e) => e.type === "executed");
    expect(receipt.outputHash).toBe(
      bytesToHex(keccak256(executed?.type === "executed" ? executed.output : new Uint8Array())),
    );
    expect((await deploy.waitForReceipt()).chainStatus).toBe(2);
    expect((await client.getTaskStatus(receipt.taskId)).status).toBe(2);
  }, 120_000);

  it("deploys the calculator and ABI-decodes its outputs", async () => {
    const deploy = client.deploySecretContract(calculator, "construct()", [], GAS);
    const scAddr = await deploy.submitted();
    const add = client.computeTask(scAddr, "add(uint256,uint256)", [24n, 67n], {
      ...GAS,
      returnTypes: ["uint256"],
    });
    expect((await add.result()).values).toEqual([91n]);
    const mul = await client
      .computeTask(scAddr, "mul(uint256,uint256)", [6, 7], { ...GAS, returnTypes: ["uint256"] })
      .result();
    expect(mul.values).toEqual([42n]);
    // A task that traps (underflow) rejects result() with a typed error.
    const sub = client.computeTask(scAddr, "sub(uint256,uint256)", [1, 2], GAS);
    const err = await sub.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isEnigmaError(err, ErrorCode.ContractTrap)).toBe(true);
    await net.advanceEpoch();
    expect((await add.waitForReceipt()).chainStatus).toBe(2);
    expect((await sub.waitForReceipt()).chainStatus).toBe(3);
  }, 120_000);

  it("refuses a worker whose attestation does not verify, and records nothing", async () => {
    const wallet = account(16).connect(net.provider);
    const other = SimulatedAttestationService.generate().trustRoot;
    const wary = clientFor(wallet, { trustRoot: other });
    const enigma = new Contract(net.enigmaAddress, net.enigma.interface, net.provider);
    const nonceBefore = (await enigma.getFunction("getUserTaskDeployments")(
      wallet.address,
    )) as bigint;
    const allowanceBefore = (await net.token.getFunction("allowance")(
      wallet.address,
      net.enigmaAddress,
    )) as bigint;
    const task = wary.deploySecretContract(counter, "construct()", [], GAS);
    const err = await task.submitted().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isEnigmaError(err, ErrorCode.AttestationSignatureInvalid)).toBe(true);
    expect(task.events).toEqual([]);
    expect(await enigma.getFunction("getUserTaskDeployments")(wallet.address)).toBe(nonceBefore);
    expect(await net.token.getFunction("allowance")(wallet.address, net.enigmaAddress)).toBe(
      allowanceBefore,
    );
  }, 60_000);

  it("refuses an encryption key not signed by the selected worker, and records nothing", async () => {
    // A gateway in the middle that hands out its own key, signed by a key of its own.
    const impostor = generateKeyPair(new Uint8Array(32).fill(7));
    const proxy = await rewritingProxy(gateway(), (method, result) => {
      if (method !== "getWorkerEncryptionKey") return result;
      return {
        result: {
          workerEncryptionKey: bytesToHex(impostor.publicKey).slice(2),
          workerSig: signWorkerKey(impostor.privateKey, impostor.publicKey).slice(2),
        },
      };
    });
    try {
      const wallet = account(16).connect(net.provider);
      const c = clientFor(wallet, { nodeUrl: proxy.url });
      const enigma = new Contract(net.enigmaAddress, net.enigma.interface, net.provider);
      const nonceBefore = (await enigma.getFunction("getUserTaskDeployments")(
        wallet.address,
      )) as bigint;
      const task = c.deploySecretContract(counter, "construct()", [], GAS);
      const err = await task.submitted().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isEnigmaError(err, ErrorCode.SignerMismatch)).toBe(true);
      expect(await enigma.getFunction("getUserTaskDeployments")(wallet.address)).toBe(nonceBefore);
    } finally {
      await proxy.close();
    }
  }, 60_000);

  it("runs concurrent tasks of one client in record order", async () => {
    const c = clientFor(account(16).connect(net.provider));
    const scAddr = await c.deploySecretContract(counter, "construct()", [], GAS).submitted();
    const tasks = [0, 1, 2].map(() => c.computeTask(scAddr, "increment()", [], GAS));
    const outputs = await Promise.all(tasks.map(async (t) => u64be((await t.result()).output)));
    expect(outputs).toEqual([1n, 2n, 3n]);
  }, 60_000);

  it("retries a deployment whose task nonce another client of the same account took", async () => {
    const a = clientFor(account(16).connect(net.provider));
    const b = clientFor(account(16).connect(net.provider));
    const ta = a.deploySecretContract(calculator, "construct()", [], GAS);
    const tb = b.deploySecretContract(calculator, "construct()", [], GAS);
    const [x, y] = await Promise.all([ta.submitted(), tb.submitted()]);
    // Both read the same task nonce: one of them had to record again.
    const attempts = [...ta.events, ...tb.events].filter((e) => e.type === "created").length;
    expect(attempts).toBeGreaterThan(2);
    expect(x).not.toBe(y);
    for (const sc of [x, y]) {
      const r = await a
        .computeTask(sc, "add(uint256,uint256)", [2, 2], { ...GAS, returnTypes: ["uint256"] })
        .result();
      expect(r.values).toEqual([4n]);
    }
  }, 60_000);

  it("refunds a task nobody executed once it timed out (returnFees)", async () => {
    // A gateway that accepts the input and drops it: the task stays recorded (status 1).
    const dropping = await rewritingProxy(gateway(), (_method, result) => result, [
      "sendTaskInput",
    ]);
    try {
      const c = clientFor(account(17).connect(net.provider), { nodeUrl: dropping.url });
      const deploy = c.deploySecretContract(calculator, "construct()", [], GAS);
      const sc = await deploy.submitted();
      // The deployment's refund lands with its commit: measure after it. A worker commits the
      // receipts it has when an epoch ends, so end one only once the deployment has run (see
      // "commits a task that ran after the epoch of its record ended").
      await deploy.result();
      await net.advanceEpoch();
      expect((await deploy.waitForReceipt()).chainStatus).toBe(2);
      const before = await c.tokenBalance();
      const task = c.computeTask(sc, "add(uint256,uint256)", [1, 1], GAS);
      const taskId = await task.submitted();
      expect(await c.tokenBalance()).toBe(before - GAS.gasLimit * GAS.gasPx);
      const early = await c.returnFees(taskId).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isEnigmaError(early, ErrorCode.TaskNotTimedOut)).toBe(true);
      const timeout = (await net.enigma.getFunction("getTaskTimeoutSize")()) as bigint;
      await net.mine(Number(timeout) + 1);
      await c.returnFees(taskId);
      expect((await c.getTaskStatus(taskId)).status).toBe(5);
      expect(await c.tokenBalance()).toBe(before);
    } finally {
      await dropping.close();
    }
  }, 60_000);

  it("commits a task that ran after the epoch of its record ended", async () => {
    // A record in the last block of an epoch can run after the workers' epoch-end commit (the
    // returnFees test once ended the epoch right after submitted() and waited 60 s for a
    // commit that was due only at the end of the next epoch). Here the gateway in the middle
    // holds the deployment's input until the epoch of its record is over.
    let release = (): void => undefined;
    const held = new Promise<void>((r) => (release = r));
    const holding = await rewritingProxy(gateway(), (_method, result) => result, [], {
      deploySecretContract: held,
    });
    try {
      const c = clientFor(account(17).connect(net.provider), { nodeUrl: holding.url });
      const deploy = c.deploySecretContract(calculator, "construct()", [], GAS);
      const recorded = new Promise<number>((r) => {
        deploy.on("recorded", (e) => {
          r(e.blockNumber);
        });
      });
      const block = await recorded;
      // End the epoch of the record (it may have ended already), and only that one: the worker
      // selected in it gets the contract's state key during the next epoch, not later.
      const head = await net.chain.blockNumber();
      const end = discoveryEpochs.nextEpochBlock(
        (await net.chain.getEpoch(block))?.firstBlockNumber ?? 0,
        net.chain.epochSize,
      );
      if (head < end) await net.mine(end - head);
      await waitFor(async () => {
        const now = await net.chain.currentEpoch();
        return (now?.firstBlockNumber ?? 0) > block ? true : undefined;
      }, "the epoch after the record's");
      release();
      expect((await deploy.result()).status).toBe("SUCCESS");
      // Too late for the batch of its own epoch's end: it goes with the next one.
      await net.advanceEpoch();
      expect((await deploy.waitForReceipt()).chainStatus).toBe(2);
    } finally {
      release();
      await holding.close();
    }
  }, 60_000);

  it("deposits stake for a worker and maps admin reverts to typed errors", async () => {
    const c = clientFor(account(16).connect(net.provider));
    const custodian = account(2).address;
    const before = await c.workerBalance(custodian);
    await c.deposit(5n * ENG, custodian);
    expect((await c.workerBalance(custodian)).balance).toBe(before.balance + 5n * ENG);
    const notRegistered = await c.deposit(1n, account(19).address).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isEnigmaError(notRegistered, ErrorCode.WorkerNotRegistered)).toBe(true);
    const notLoggedIn = await c.logout().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isEnigmaError(notLoggedIn, ErrorCode.WorkerStatusInvalid)).toBe(true);
  }, 60_000);

  it("re-selects and re-encrypts when the epoch changes before the record lands", async () => {
    const selector = net.enigma.interface.getFunction("createTaskRecord")?.selector ?? "-";
    const wallet = account(17).connect(net.provider);
    const signer = new HookedSigner(wallet, net.provider, async (tx) => {
      if (typeof tx.data === "string" && tx.data.startsWith(selector) && !signer.fired) {
        signer.fired = true;
        await net.advanceEpoch();
      }
    });
    const deployer = clientFor(account(17).connect(net.provider));
    const scAddr = await deployer
      .deploySecretContract(calculator, "construct()", [], GAS)
      .submitted();
    const flipping = clientFor(signer);
    const task = flipping.computeTask(scAddr, "add(uint256,uint256)", [1, 2], {
      ...GAS,
      returnTypes: ["uint256"],
    });
    expect((await task.result()).values).toEqual([3n]);
    expect(signer.fired).toBe(true);
    const created = task.events.filter((e) => e.type === "created");
    expect(created.map((e) => e.attempt)).toEqual([1, 2]);
    expect(created[1]?.firstBlockNumber).toBeGreaterThan(created[0]?.firstBlockNumber ?? 0n);
  }, 120_000);
});

/**
 * A JSON-RPC proxy to `target` that lets `rewrite` change results, drops `drop` calls (answering
 * `sendTaskResult: true`) and forwards the calls of a `hold` method only once its promise resolved.
 */
function rewritingProxy(
  target: string,
  rewrite: (method: string, result: unknown) => unknown,
  drop: readonly string[] = [],
  hold: Readonly<Record<string, Promise<void>>> = {},
): Promise<RpcProxy> {
  return rpcProxy(target, async (msg) => {
    if (drop.includes(msg.method)) return { reply: { result: { sendTaskResult: true } } };
    await hold[msg.method];
    return { forward: true, rewrite: (r) => rewrite(msg.method, r) };
  });
}

/** A Signer that runs `before` ahead of each transaction (to move the chain under the client). */
class HookedSigner extends AbstractSigner {
  fired = false;
  readonly #inner: Wallet;
  readonly #before: (tx: TransactionRequest) => Promise<void>;

  constructor(
    inner: Wallet,
    provider: Provider,
    before: (tx: TransactionRequest) => Promise<void>,
  ) {
    super(provider);
    this.#inner = inner;
    this.#before = before;
  }

  getAddress(): Promise<string> {
    return this.#inner.getAddress();
  }

  connect(): Signer {
    return this;
  }

  signTransaction(tx: TransactionRequest): Promise<string> {
    return this.#inner.signTransaction(tx);
  }

  signMessage(message: string | Uint8Array): Promise<string> {
    return this.#inner.signMessage(message);
  }

  signTypedData(
    domain: TypedDataDomain,
    types: Record<string, TypedDataField[]>,
    value: Record<string, unknown>,
  ): Promise<string> {
    return this.#inner.signTypedData(domain, types, value);
  }

  override async sendTransaction(tx: TransactionRequest): Promise<TransactionResponse> {
    await this.#before(tx);
    return this.#inner.sendTransaction(tx);
  }
}
