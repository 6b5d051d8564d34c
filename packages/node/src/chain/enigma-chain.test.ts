// EnigmaChain against a real Hardhat chain served over HTTP (the production code path: JSON
// over a socket, not an in-process provider), plus a fault-injecting proxy in front of it
// for the transient-failure paths.
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import {
  EnclaveIdentity,
  SIMULATED_ENCLAVE_MEASUREMENT,
  SimulatedAttestationService,
} from "@enigma/enclave";
import {
  ENIGMA_ABI,
  ENIGMA_TOKEN_ABI,
  ErrorCode,
  GRAINS_PER_ENG,
  RECEIPT_BATCH_TYPES,
  WORKERS_PARAMS_TYPES,
  bytesToHex,
  enigmaDomain,
  isEnigmaError,
  type ChainReceipt,
} from "@enigma/protocol";
import { rejectedCode } from "@enigma/protocol/testing";
import {
  Contract,
  HDNodeWallet,
  JsonRpcProvider,
  Mnemonic,
  Network,
  TypedDataEncoder,
  getBytes,
  keccak256,
  solidityPacked,
  toUtf8Bytes,
  type TypedDataField,
} from "ethers";
import hre from "hardhat";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deployEnigma } from "../../../../scripts/deploy.js";
import { EnigmaChain, WorkerStatus, type ChainEvent, type EpochInfo } from "./enigma-chain.js";

const MNEMONIC = Mnemonic.fromPhrase("test test test test test test test test test test test junk");
const account = (i: number) => HDNodeWallet.fromMnemonic(MNEMONIC, `m/44'/60'/0'/0/${i}`);
const ENG = GRAINS_PER_ENG;
const ZERO32 = `0x${"00".repeat(32)}`;
const ZERO_ADDRESS = `0x${"00".repeat(20)}`;
const EPOCH_SIZE = 4;
const TASK_TIMEOUT = 3;
const STAKE = 100n * ENG;
const enc = new TextEncoder();
const h = (label: string) => keccak256(toUtf8Bytes(label));
const seedOf = (n: number) => BigInt(h(`seed ${n}`));

// -------------------------------------------- helpers ---------------------------------------------

type Types = Record<string, TypedDataField[]>;

function signWorkersParams(
  id: EnclaveIdentity,
  chain: EnigmaChain,
  blockNumber: number,
  seed: bigint,
  nonce: number,
): string {
  const digest = TypedDataEncoder.hash(
    enigmaDomain(chain.chainId, chain.enigmaAddress),
    WORKERS_PARAMS_TYPES as unknown as Types,
    { blockNumber, seed, nonce },
  );
  return bytesToHex(id.sign(getBytes(digest)));
}

function signBatch(id: EnclaveIdentity, chain: EnigmaChain, receipts: ChainReceipt[]): string {
  const digest = TypedDataEncoder.hash(
    enigmaDomain(chain.chainId, chain.enigmaAddress),
    RECEIPT_BATCH_TYPES as unknown as Types,
    { receipts },
  );
  return bytesToHex(id.sign(getBytes(digest)));
}

async function mined(tx: Promise<unknown>): Promise<void> {
  await ((await tx) as { wait(): Promise<unknown> }).wait();
}

/** Collects a watch's deliveries and lets a test await a condition on them. */
class Deliveries {
  readonly events: ChainEvent[] = [];
  readonly ranges: { from: number; to: number }[] = [];
  readonly errors: unknown[] = [];
  #next: number;
  #waiters: (() => void)[] = [];

  constructor(fromBlock: number) {
    this.#next = fromBlock;
  }

  get lastTo(): number {
    return this.#next - 1;
  }

  readonly onEvents = (events: ChainEvent[], to: number): void => {
    // Each range must start right after the previous one and hold only its own blocks.
    const from = this.#next;
    for (const e of events) {
      if (e.blockNumber < from || e.blockNumber > to)
        throw new Error(`event outside ${from}-${to}`);
    }
    this.ranges.push({ from, to });
    this.events.push(...events);
    this.#next = to + 1;
    this.#wake();
  };

  readonly onError = (e: unknown): void => {
    this.errors.push(e);
    this.#wake();
  };

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  of(type: ChainEvent["type"], taskId?: string): ChainEvent[] {
    return this.events.filter(
      (e) => e.type === type && (taskId === undefined || ("taskId" in e && e.taskId === taskId)),
    );
  }

  /** Resolves once `cond()` holds after some delivery (checked at once and after each). */
  async until(cond: () => boolean, timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error("condition not reached");
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, timeoutMs);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
}

type Fault = "503" | "reset" | "forward-then-reset";

/** An HTTP proxy to the chain that can fail requests, and counts the JSON-RPC methods it sees. */
class FaultyProxy {
  readonly #server: Server;
  readonly #target: string;
  readonly #faults: { fault: Fault; method?: string }[] = [];
  readonly methods: string[] = [];

  constructor(target: string) {
    this.#target = target;
    this.#server = createServer((req, res) => {
      // A request cut short (the proxy closed under it, its client gone) has nobody to answer:
      // its connection goes, and the test's chain client sees what it would from a dead chain.
      this.#handle(req, res).catch(() => {
        res.destroy();
      });
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  /** Fails the next request (for `method` only, when given). */
  fail(fault: Fault, method?: string, times = 1): void {
    for (let i = 0; i < times; i++) this.#faults.push({ fault, ...(method ? { method } : {}) });
  }

  count(method: string): number {
    return this.methods.filter((m) => m === method).length;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) =>
      this.#server.close(() => {
        resolve();
      }),
    );
  }

  async #handle(req: IncomingMessage, res: import("node:http").ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString();
    const parsed = JSON.parse(body) as { method: string } | { method: string }[];
    const methods = (Array.isArray(parsed) ? parsed : [parsed]).map((p) => p.method);
    this.methods.push(...methods);
    const i = this.#faults.findIndex((f) => f.method === undefined || methods.includes(f.method));
    const fault = i === -1 ? undefined : this.#faults.splice(i, 1)[0]?.fault;
    if (fault === "503") {
      res.writeHead(503).end("unavailable");
      return;
    }
    if (fault === "reset") {
      req.socket.destroy();
      return;
    }
    const answer = await fetch(this.#target, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    const text = await answer.text();
    // The node did the work; the client never hears of it.
    if (fault === "forward-then-reset") {
      req.socket.destroy();
      return;
    }
    res.writeHead(answer.status, { "content-type": "application/json" }).end(text);
  }
}

// -------------------------------------------- set-up ----------------------------------------------

let server: Awaited<ReturnType<typeof hre.network.createServer>>;
let url: string;
let admin: JsonRpcProvider;
let ias: SimulatedAttestationService;
let enigmaAddress: string;
let tokenAddress: string;
let token: Contract;
const principalId = EnclaveIdentity.generate(enc.encode("principal enclave seed 0001"));
const workerId = EnclaveIdentity.generate(enc.encode("worker enclave seed 000001"));
const deployer = account(0);
const principalCustodian = account(1);
const workerCustodian = account(2);
const user = account(3);
const spare = account(4);
let principal: EnigmaChain;
let worker: EnigmaChain;
let readOnly: EnigmaChain;
const opened: EnigmaChain[] = [];

async function connect(o: Partial<Parameters<typeof EnigmaChain.connect>[0]> = {}) {
  const chain = await EnigmaChain.connect({
    rpcUrl: url,
    enigmaAddress,
    tokenAddress,
    pollIntervalMs: 10,
    retry: { attempts: 4, baseDelayMs: 5 },
    ...o,
  });
  opened.push(chain);
  return chain;
}

/** A report of `id` bound to `custodian` on this chain and deployment (who may register it). */
function report(id: EnclaveIdentity, custodian: string): { report: Uint8Array; signature: string } {
  const signed = ias.attest(
    id.quote(SIMULATED_ENCLAVE_MEASUREMENT, {
      custodian: getBytes(custodian),
      chainId: 31337n,
      enigmaAddress: getBytes(enigmaAddress),
    }),
  );
  return { report: enc.encode(signed.report), signature: signed.signature };
}

function userEnigma(): Contract {
  return new Contract(enigmaAddress, ENIGMA_ABI, user.connect(admin));
}

/** The user records a task (a deployment when `deployment`) and returns its id. */
async function createTask(o: { deployment?: boolean; gasLimit?: bigint; gasPx?: bigint } = {}) {
  const enigma = userEnigma();
  const nonce = (await enigma.getFunction("getUserTaskDeployments")(user.address)) as bigint;
  const epoch = await worker.currentEpoch();
  if (epoch === undefined) throw new Error("no epoch");
  const args = [
    h(`inputs ${nonce}`),
    o.gasLimit ?? 1_000n,
    o.gasPx ?? 100n,
    epoch.firstBlockNumber,
  ];
  if (o.deployment === true) {
    await mined(enigma.getFunction("createDeploymentTaskRecord")(...args, nonce));
  } else {
    await mined(enigma.getFunction("createTaskRecord")(...args));
  }
  return keccak256(solidityPacked(["address", "uint256"], [user.address, nonce]));
}

async function mine(blocks: number): Promise<void> {
  await admin.send("hardhat_mine", [`0x${blocks.toString(16)}`]);
}

beforeAll(async () => {
  server = await hre.network.createServer("default", "127.0.0.1", 0);
  const { address, port } = await server.listen();
  url = `http://${address}:${port}`;
  admin = new JsonRpcProvider(url, Network.from(31337n), { staticNetwork: true, cacheTimeout: -1 });
  ias = SimulatedAttestationService.generate();
  const d = await deployEnigma(deployer.connect(admin), {
    principal: principalId.signer,
    epochSize: EPOCH_SIZE,
    taskTimeout: TASK_TIMEOUT,
    stakingThreshold: ENG,
    attestation: {
      rsaModulus: ias.trustRoot.modulus,
      rsaExponent: ias.trustRoot.exponent,
      mrEnclaves: [bytesToHex(SIMULATED_ENCLAVE_MEASUREMENT.mrenclave)],
      mrSigners: [bytesToHex(SIMULATED_ENCLAVE_MEASUREMENT.mrsigner)],
      minIsvSvn: SIMULATED_ENCLAVE_MEASUREMENT.isvSvn,
    },
  });
  enigmaAddress = d.enigmaAddress;
  tokenAddress = d.tokenAddress;
  token = d.token;
  for (const who of [workerCustodian, user]) {
    await mined(token.getFunction("transfer")(who.address, 1_000n * ENG));
  }
  await mined(
    new Contract(tokenAddress, ENIGMA_TOKEN_ABI, user.connect(admin)).getFunction("approve")(
      enigmaAddress,
      1_000n * ENG,
    ),
  );
  principal = await connect({ privateKey: principalCustodian.privateKey });
  worker = await connect({ privateKey: workerCustodian.privateKey });
  readOnly = await connect();
}, 30_000);

afterAll(async () => {
  await Promise.all(opened.map((c) => c.close()));
  admin.destroy();
  await server.close();
});

// --------------------------------------------- tests ----------------------------------------------

describe("EnigmaChain.connect", () => {
  it("reads the deployment's constants", async () => {
    expect(worker.chainId).toBe(31337n);
    expect(worker.epochSize).toBe(EPOCH_SIZE);
    expect(worker.taskTimeout).toBe(TASK_TIMEOUT);
    expect(worker.enigmaAddress).toBe(enigmaAddress.toLowerCase());
    expect(worker.tokenAddress).toBe(tokenAddress.toLowerCase());
    expect(worker.account).toBe(workerCustodian.address.toLowerCase());
    expect(readOnly.account).toBeUndefined();
    expect(await worker.principal()).toBe(principalId.signer.toLowerCase());
    expect(await worker.blockNumber()).toBe(await admin.getBlockNumber());
    expect(await worker.tokenBalance(user.address)).toBe(1_000n * ENG);
  });

  it("fails with ChainError after its retries when nothing listens", async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) =>
      probe.close(() => {
        resolve();
      }),
    );
    const e: unknown = await EnigmaChain.connect({
      rpcUrl: `http://127.0.0.1:${port}`,
      enigmaAddress,
      tokenAddress,
      retry: { attempts: 3, baseDelayMs: 5 },
    }).catch((x: unknown) => x);
    expect(isEnigmaError(e, ErrorCode.ChainError)).toBe(true);
    if (!isEnigmaError(e)) return;
    expect(e.message).toMatch(/cannot reach .* after 3 attempt\(s\) .*ECONNREFUSED/);
    expect(e.details).toMatchObject({ attempts: 3, endpoint: `http://127.0.0.1:${port}` });
  });

  it("fails with ChainError when there is no contract at enigmaAddress", async () => {
    const e: unknown = await EnigmaChain.connect({
      rpcUrl: url,
      enigmaAddress: spare.address,
      tokenAddress,
    }).catch((x: unknown) => x);
    expect(isEnigmaError(e, ErrorCode.ChainError)).toBe(true);
    expect((e as Error).message).toMatch(/no contract code at enigmaAddress/);
  });

  it("refuses a token that is not the contract's, and malformed options", async () => {
    expect(
      await rejectedCode(
        EnigmaChain.connect({ rpcUrl: url, enigmaAddress, tokenAddress: spare.address }),
      ),
    ).toBe(ErrorCode.InvalidConfig);
    expect(
      await rejectedCode(EnigmaChain.connect({ rpcUrl: "ws://x", enigmaAddress, tokenAddress })),
    ).toBe(ErrorCode.InvalidArgument);
    const badKey: unknown = await EnigmaChain.connect({
      rpcUrl: url,
      enigmaAddress,
      tokenAddress,
      privateKey: "0x1234-secret",
    }).catch((x: unknown) => x);
    expect(isEnigmaError(badKey, ErrorCode.InvalidArgument)).toBe(true);
    expect(JSON.stringify(badKey)).not.toContain("secret");
    expect(
      await rejectedCode(
        EnigmaChain.connect({ rpcUrl: url, enigmaAddress, tokenAddress, privateKey: ZERO32 }),
      ),
    ).toBe(ErrorCode.InvalidArgument);
  });
});

describe("workers and epochs", () => {
  let epoch0: EpochInfo;

  it("registers the principal's enclave", async () => {
    const r = report(principalId, principalCustodian.address);
    await principal.register(principalId.signer, r.report, r.signature);
    const w = await readOnly.getWorker(principalCustodian.address);
    expect(w).toMatchObject({
      custodian: principalCustodian.address.toLowerCase(),
      signer: principalId.signer.toLowerCase(),
      status: WorkerStatus.LoggedOut,
      balance: 0n,
    });
    expect(JSON.parse(w.report)).toHaveProperty("isvEnclaveQuoteBody");
    expect(await readOnly.getWorkerBySigner(principalId.signer)).toEqual(w);
    expect(await readOnly.getWorkerBySigner(workerId.signer)).toBeUndefined();
  });

  it("ensureWorker registers, deposits and logs in, then does nothing", async () => {
    const r = report(workerId, workerCustodian.address);
    const bring = { signer: workerId.signer, ...r, stake: STAKE };
    expect(await worker.ensureWorker(bring)).toEqual({
      registered: true,
      deposited: STAKE,
      loggedIn: true,
    });
    expect(await worker.getWorker(workerCustodian.address)).toMatchObject({
      signer: workerId.signer.toLowerCase(),
      status: WorkerStatus.LoggedIn,
      balance: STAKE,
    });
    const block = await worker.blockNumber();
    expect(await worker.ensureWorker(bring)).toEqual({
      registered: false,
      deposited: 0n,
      loggedIn: false,
    });
    expect(await worker.blockNumber()).toBe(block); // not one transaction
  });

  it("setWorkersParams starts epoch 0 with the logged-in worker and its stake", async () => {
    expect(await worker.currentEpoch()).toBeUndefined();
    const head = await principal.blockNumber();
    // A signature over another nonce is the principal's, but not for this epoch.
    const wrong = signWorkersParams(principalId, principal, head, seedOf(0), 7);
    expect(await rejectedCode(principal.setWorkersParams(head, seedOf(0), wrong))).toBe(
      ErrorCode.EpochRejected,
    );

    const sig = signWorkersParams(principalId, principal, head, seedOf(0), 0);
    const { blockNumber } = await principal.setWorkersParams(head, seedOf(0), sig);
    expect(blockNumber).toBe(await admin.getBlockNumber());
    epoch0 = (await worker.getEpoch(blockNumber)) as EpochInfo;
    expect(epoch0).toEqual({
      index: 0,
      firstBlockNumber: blockNumber,
      inclusionBlockNumber: head,
      seed: seedOf(0),
      workers: [workerId.signer.toLowerCase()],
      stakes: [STAKE],
    });
    expect(await worker.getEpoch(blockNumber - 1)).toBeUndefined();
    expect(await worker.currentEpoch()).toEqual(epoch0);
  });

  it("a second epoch: each block maps to its epoch, from cache once the successor is known", async () => {
    await mine(EPOCH_SIZE);
    const head = await principal.blockNumber();
    const sig = signWorkersParams(principalId, principal, head, seedOf(1), 1);
    const { blockNumber: first1 } = await principal.setWorkersParams(head, seedOf(1), sig);
    const proxy = new FaultyProxy(url);
    const counted = await connect({ rpcUrl: await proxy.listen() });
    try {
      const epoch1 = await counted.getEpoch(first1);
      expect(epoch1).toMatchObject({ index: 1, firstBlockNumber: first1, seed: seedOf(1) });
      expect(await counted.getEpoch(epoch0.firstBlockNumber)).toEqual(epoch0);
      const calls = proxy.count("eth_call") + proxy.count("eth_getLogs");
      // Both epochs known: every block of epoch 0 is answered without a request.
      for (let b = epoch0.firstBlockNumber; b < first1; b++) {
        expect((await counted.getEpoch(b))?.index).toBe(0);
      }
      expect(await counted.getEpoch(epoch0.firstBlockNumber - 1)).toBeUndefined();
      expect(proxy.count("eth_call") + proxy.count("eth_getLogs")).toBe(calls);
    } finally {
      await counted.close();
      await proxy.close();
    }
  });
  it("getEpoch of a block just ahead of a watcher waits for the watcher instead of asking the chain", async () => {
    const current = await principal.getEpoch(await principal.blockNumber());
    expect(current).toBeDefined();
    const proxy = new FaultyProxy(url);
    const counted = await connect({ rpcUrl: await proxy.listen(), pollIntervalMs: 50 });
    try {
      const w = counted.watch({
        fromBlock: current?.firstBlockNumber ?? 0,
        onEvents: async () => {},
        onError: () => {},
      });
      await mine(1);
      const calls = proxy.count("eth_call");
      // Each new block is asked about before the watcher's next poll has scanned it.
      for (let i = 0; i < 3; i++) {
        await mine(1);
        const b = await admin.getBlockNumber();
        expect((await counted.getEpoch(b))?.index).toBe(current?.index);
      }
      expect(proxy.count("eth_call")).toBe(calls);
      // Without a watcher, the same question goes to the chain.
      await w.stop();
      await mine(1);
      expect((await counted.getEpoch(await admin.getBlockNumber()))?.index).toBe(current?.index);
      expect(proxy.count("eth_call")).toBeGreaterThan(calls);
    } finally {
      await counted.close();
      await proxy.close();
    }
  });
});

describe("tasks, events and receipts", () => {
  let task1: string;
  let task2: string;

  it("watch delivers a TaskRecordCreated exactly once, in contiguous ranges", async () => {
    const from = (await worker.blockNumber()) + 1;
    const seen = new Deliveries(from);
    const w = worker.watch({ fromBlock: from, onEvents: seen.onEvents, onError: seen.onError });
    task1 = await createTask();
    const record = await worker.getTaskRecord(task1);
    expect(record).toEqual({
      taskId: task1,
      sender: user.address.toLowerCase(),
      inputsHash: expect.stringMatching(/^0x[0-9a-f]{64}$/) as string,
      outputHash: ZERO32,
      gasLimit: 1_000n,
      gasPx: 100n,
      blockNumber: await admin.getBlockNumber(),
      status: 1,
    });
    await seen.until(() => seen.of("TaskRecordCreated", task1).length > 0);
    // More blocks and more polls: the record is never delivered again.
    await mine(3);
    const head = await admin.getBlockNumber();
    await seen.until(() => seen.lastTo >= head);
    await w.stop();
    expect(seen.of("TaskRecordCreated", task1)).toEqual([
      {
        type: "TaskRecordCreated",
        taskId: task1,
        inputsHash: record?.inputsHash,
        gasLimit: 1_000n,
        gasPx: 100n,
        sender: user.address.toLowerCase(),
        blockNumber: record?.blockNumber,
        logIndex: expect.any(Number) as number,
        transactionHash: expect.stringMatching(/^0x[0-9a-f]{64}$/) as string,
      },
    ]);
    expect(seen.ranges[0]?.from).toBe(from);
    expect(seen.errors).toEqual([]);
    expect(await worker.getTaskRecord(h("no such task"))).toBeUndefined();
  });

  it("watch with confirmations=2 holds the newest blocks back until two are mined on top", async () => {
    const from = (await worker.blockNumber()) + 1;
    const seen = new Deliveries(from);
    const w = worker.watch({ fromBlock: from, confirmations: 2, onEvents: seen.onEvents });
    task2 = await createTask();
    const n = (await worker.getTaskRecord(task2))?.blockNumber ?? -1;
    await mine(1);
    await seen.until(() => seen.lastTo >= n - 1);
    expect(seen.lastTo).toBe(n - 1);
    expect(seen.of("TaskRecordCreated", task2)).toEqual([]);
    await mine(1);
    await seen.until(() => seen.lastTo >= n);
    await w.stop();
    expect(seen.lastTo).toBe(n);
    expect(seen.of("TaskRecordCreated", task2).map((e) => e.blockNumber)).toEqual([n]);
  });

  it("commitReceipts commits a signed batch: events, status 2, contract deployed, worker paid", async () => {
    const scAddr = await createTask({ deployment: true, gasLimit: 10_000n, gasPx: 10n });
    const receipts: ChainReceipt[] = [
      {
        taskId: scAddr,
        scAddr,
        inputsHash: (await worker.getTaskRecord(scAddr))?.inputsHash ?? "",
        prevDeltaHash: ZERO32,
        deltaIndex: 0,
        stateDeltaHash: h("delta 0"),
        outputHash: h("deploy output"),
        gasUsed: 4_000n,
        success: true,
        preCodeHash: h("precode"),
        codeHash: h("code"),
        ethAddress: ZERO_ADDRESS,
        ethCalldata: "0x",
      },
      {
        taskId: task1,
        scAddr,
        inputsHash: (await worker.getTaskRecord(task1))?.inputsHash ?? "",
        // Read-only, on the deployment's state (delta 0, committed earlier in the batch).
        prevDeltaHash: h("delta 0"),
        deltaIndex: 1,
        stateDeltaHash: ZERO32, // recorded before the deployment: no delta allowed after it
        outputHash: h("task 1 output"),
        gasUsed: 600n,
        success: true,
        preCodeHash: ZERO32,
        codeHash: ZERO32,
        ethAddress: ZERO_ADDRESS,
        ethCalldata: "0x",
      },
    ];
    const fees = 4_000n * 10n + 600n * 100n;
    const sig = signBatch(workerId, worker, receipts);
    // Anyone may submit a batch: here the read-only node's neighbour, the principal's account.
    const done = await principal.commitReceipts(receipts, sig);
    expect(done.transactionHash).toMatch(/^0x[0-9a-f]{64}$/);
    expect(done.blockNumber).toBe(await admin.getBlockNumber());
    expect(done.events.map((e) => e.type)).toEqual([
      "SecretContractDeployed",
      "ReceiptVerified",
      "ReceiptVerified",
      "ReceiptsCommitted",
    ]);
    expect(done.events[1]).toEqual({
      type: "ReceiptVerified",
      taskId: scAddr,
      stateDeltaHash: h("delta 0"),
      outputHash: h("deploy output"),
      scAddr,
      gasUsed: 4_000n,
      deltaHashIndex: 0,
      workerAddress: workerId.signer.toLowerCase(),
      ethAddress: ZERO_ADDRESS,
      ethCalldata: "0x",
      blockNumber: done.blockNumber,
      logIndex: expect.any(Number) as number,
      transactionHash: done.transactionHash,
    });
    expect(done.events[3]).toMatchObject({
      workerSigner: workerId.signer.toLowerCase(),
      count: 2,
      fees,
    });
    expect((await worker.getTaskRecord(scAddr))?.status).toBe(2);
    expect(await worker.getTaskRecord(task1)).toMatchObject({
      status: 2,
      outputHash: h("task 1 output"),
    });
    expect(await worker.getSecretContract(scAddr)).toEqual({
      address: scAddr,
      owner: user.address.toLowerCase(),
      preCodeHash: h("precode"),
      codeHash: h("code"),
      deltaCount: 1,
      status: 1,
    });
    expect(await worker.getStateDeltaHashes(scAddr)).toEqual([h("delta 0")]);
    expect(await worker.getStateDeltaHashes(scAddr, 1)).toEqual([]);
    expect(await worker.getSecretContract(h("nothing here"))).toBeUndefined();
    expect(await worker.secretContractAddresses()).toEqual([scAddr]);
    expect((await worker.getWorker(workerCustodian.address)).balance).toBe(STAKE + fees);
    // The same events through getEvents.
    expect(await worker.getEvents(done.blockNumber, done.blockNumber)).toEqual(done.events);

    // The same batch again: the contract's TaskNotPending, naming the first task; no change.
    const block = await admin.getBlockNumber();
    const again: unknown = await worker.commitReceipts(receipts, sig).catch((x: unknown) => x);
    expect(isEnigmaError(again, ErrorCode.TaskNotPending)).toBe(true);
    expect((again as { details: unknown }).details).toMatchObject({
      error: "TaskNotPending",
      taskId: scAddr,
      args: { taskId: scAddr, status: 2 },
      taskIds: [scAddr, task1],
    });
    expect(await admin.getBlockNumber()).toBe(block);
    expect((await worker.getWorker(workerCustodian.address)).balance).toBe(STAKE + fees);
  });

  it("returnFeesForTask refunds a timed-out task; unknown and early tasks are refused", async () => {
    expect(await rejectedCode(worker.returnFeesForTask(h("never recorded")))).toBe(
      ErrorCode.TaskRecordNotFound,
    );
    const early = await createTask();
    expect(await rejectedCode(worker.returnFeesForTask(early))).toBe(ErrorCode.TaskNotTimedOut);
    await mine(TASK_TIMEOUT + 1);
    const before = await worker.tokenBalance(user.address);
    await worker.returnFeesForTask(task2);
    expect(await worker.tokenBalance(user.address)).toBe(before + 1_000n * 100n);
    expect((await worker.getTaskRecord(task2))?.status).toBe(5);
    const head = await worker.blockNumber();
    expect((await worker.getEvents(head, head)).map((e) => e.type)).toEqual(["TaskFeeReturned"]);
  });

  it("getEvents over many small chunks equals one request", async () => {
    const chunky = await connect({ logChunkBlocks: 2 });
    const head = await worker.blockNumber();
    const all = await worker.getEvents(0, head);
    expect(await chunky.getEvents(0, head)).toEqual(all);
    const order = all.map((e) => [e.blockNumber, e.logIndex] as const);
    expect(order).toEqual([...order].sort((a, b) => a[0] - b[0] || a[1] - b[1]));
    expect(all.filter((e) => e.type === "WorkersParameterized").map((e) => e.nonce)).toEqual([
      0, 1,
    ]);
    expect(await rejectedCode(worker.getEvents(5, 4))).toBe(ErrorCode.InvalidArgument);
  });
});

describe("writes", () => {
  it("concurrent writes all land (one queue, no nonce race)", async () => {
    const before = (await worker.getWorker(workerCustodian.address)).balance;
    await Promise.all([worker.deposit(1n * ENG), worker.deposit(2n * ENG), worker.deposit(3n)]);
    expect((await worker.getWorker(workerCustodian.address)).balance).toBe(before + 3n * ENG + 3n);
  });

  it("maps reverts and refuses bad input before sending", async () => {
    // Withdrawing while logged in: the contract's WorkerNotLoggedOut.
    expect(await rejectedCode(worker.withdraw(1n))).toBe(ErrorCode.WorkerStatusInvalid);
    expect(await rejectedCode(worker.deposit(0n))).toBe(ErrorCode.InvalidAmount);
    expect(await rejectedCode(worker.deposit(10_000n * ENG))).toBe(ErrorCode.InvalidAmount);
    expect(await rejectedCode(worker.returnFeesForTask("0x12"))).toBe(ErrorCode.InvalidArgument);
  });

  it("a read-only connection refuses writes with InvalidArgument", async () => {
    const e: unknown = await readOnly.login().catch((x: unknown) => x);
    expect(isEnigmaError(e, ErrorCode.InvalidArgument)).toBe(true);
    expect((e as Error).message).toMatch(/read-only/);
  });
});

describe("transient failures", () => {
  it("retries reads through 503s and resets", async () => {
    const proxy = new FaultyProxy(url);
    const chain = await connect({ rpcUrl: await proxy.listen() });
    try {
      proxy.fail("503");
      proxy.fail("reset");
      const before = proxy.count("eth_blockNumber");
      expect(await chain.blockNumber()).toBe(await admin.getBlockNumber());
      expect(proxy.count("eth_blockNumber") - before).toBe(3);
      // Past the retry budget: a ChainError saying how often it tried.
      proxy.fail("503", undefined, 4);
      const e: unknown = await chain.blockNumber().catch((x: unknown) => x);
      expect(isEnigmaError(e, ErrorCode.ChainError)).toBe(true);
      expect((e as Error).message).toMatch(/after 4 attempts/);
    } finally {
      await chain.close();
      await proxy.close();
    }
  });

  it("a broadcast whose answer is lost is retried without sending twice", async () => {
    const proxy = new FaultyProxy(url);
    const chain = await connect({ rpcUrl: await proxy.listen(), privateKey: spare.privateKey });
    try {
      const nonce = await admin.getTransactionCount(spare.address);
      const id = EnclaveIdentity.generate(enc.encode("spare enclave seed 0000001"));
      const r = report(id, spare.address);
      proxy.fail("forward-then-reset", "eth_sendRawTransaction");
      await chain.register(id.signer, r.report, r.signature);
      expect(proxy.count("eth_sendRawTransaction")).toBe(2);
      expect(await admin.getTransactionCount(spare.address)).toBe(nonce + 1);
      expect((await chain.getWorker(spare.address)).signer).toBe(id.signer.toLowerCase());
    } finally {
      await chain.close();
      await proxy.close();
    }
  });

  it("watch reports failures to onError and goes on; stop() waits for the handler", async () => {
    const proxy = new FaultyProxy(url);
    const chain = await connect({ rpcUrl: await proxy.listen() });
    try {
      const from = (await chain.blockNumber()) + 1;
      const seen = new Deliveries(from);
      proxy.fail("503", undefined, 3);
      const w = chain.watch({ fromBlock: from, onEvents: seen.onEvents, onError: seen.onError });
      const taskId = await createTask();
      await seen.until(() => seen.of("TaskRecordCreated", taskId).length > 0);
      expect(seen.errors.length).toBeGreaterThanOrEqual(1);
      expect(seen.errors.every((e) => isEnigmaError(e, ErrorCode.ChainError))).toBe(true);
      expect(seen.of("TaskRecordCreated", taskId)).toHaveLength(1);
      await w.stop();

      // A handler in flight: stop() resolves only after it returns.
      let release = () => {};
      const gate = new Promise<void>((resolve) => (release = resolve));
      let entered = () => {};
      const inHandler = new Promise<void>((resolve) => (entered = resolve));
      const slow = chain.watch({
        fromBlock: from,
        onEvents: async () => {
          entered();
          await gate;
        },
      });
      await inHandler;
      let stopped = false;
      const stopping = slow.stop().then(() => (stopped = true));
      for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
      expect(stopped).toBe(false);
      release();
      await stopping;
      expect(stopped).toBe(true);
    } finally {
      await chain.close();
      await proxy.close();
    }
    // Closed: every call is refused.
    expect(await rejectedCode(chain.blockNumber())).toBe(ErrorCode.ChainError);
  });
});
