// The task pipeline's ordering across workers: when a contract moves to this worker at an
// epoch change, a task waits for the result of an earlier record of the same contract that the
// previous worker still has to run (else both would write the same delta index).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  EnigmaError,
  ErrorCode,
  TaskResultStatus,
  bytesToHex,
  generateKeyPair,
  keccak256,
  selectWorker,
  type Hex,
} from "@enigma/protocol";
import type { WorkerEnclave } from "@enigma/enclave";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { EnigmaChain } from "../chain/enigma-chain.js";
import type { EpochInfo } from "../chain/types.js";
import type { NodeConfig } from "../config.js";
import type { NodeContext, RecordInfo } from "../context.js";
import { inputsHashOf, type TaskInput } from "../messages.js";
import { NodeMetrics, createLogger } from "../observability.js";
import type { P2PNetwork } from "../p2p/network.js";
import { NodeStore } from "../store/store.js";
import type { DeltaSync } from "../sync.js";
import { TaskPipeline, type PipelineDeps } from "./pipeline.js";
import type { ReceiptBatcher } from "./receipts.js";
import type { StateKeyClient } from "./state-keys.js";

const ME = "0x1111111111111111111111111111111111111111";
const OTHER = "0x2222222222222222222222222222222222222222";
const CONTRACT = bytesToHex(keccak256(new TextEncoder().encode("contract")));
const ANOTHER = bytesToHex(keccak256(new TextEncoder().encode("another contract")));
const id = (s: string) => bytesToHex(keccak256(new TextEncoder().encode(s)));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An epoch (first block `first`) whose seed selects `worker` for CONTRACT. */
function epochSelecting(worker: string, index: number, first: number): EpochInfo {
  for (let seed = 1n; ; seed++) {
    const e = { seed, workers: [ME, OTHER], stakes: [100n, 100n] };
    if (selectWorker(CONTRACT, e)?.toLowerCase() === worker) {
      return { ...e, index, firstBlockNumber: first, inclusionBlockNumber: first };
    }
  }
}

let dir: string;
let store: NodeStore;
let pipeline: TaskPipeline | undefined;
let computed: Hex[];
let settled: Set<string>;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "enigma-pipeline-"));
  store = new NodeStore({ dir });
  await store.start();
  computed = [];
  settled = new Set();
});

afterEach(async () => {
  await pipeline?.stop();
  pipeline = undefined;
  await store.stop();
  await rm(dir, { recursive: true, force: true });
});

/** A pipeline for worker ME: epoch 1 (blocks 10-19) selects OTHER, epoch 2 (20-) selects ME. */
async function startPipeline(
  extra: Partial<PipelineDeps> = {},
  orderingWindowMs = 50,
  o: { chain?: Partial<Record<keyof EnigmaChain, unknown>>; scannedThrough?: number } = {},
): Promise<TaskPipeline> {
  const epochs = [epochSelecting(OTHER, 1, 10), epochSelecting(ME, 2, 20)];
  const chain = {
    getEpoch: (block: number) => Promise.resolve(block < 20 ? epochs[0] : epochs[1]),
    // Every task is pending on chain unless the test settled it.
    getTaskRecord: (taskId: string) => Promise.resolve({ status: settled.has(taskId) ? 5 : 1 }),
    ...o.chain,
  } as unknown as EnigmaChain;
  const ctx: NodeContext = {
    config: {
      ethereum: { confirmations: 0 },
      worker: { orderingWindowMs, maxBatch: 100 },
    } as unknown as NodeConfig,
    store,
    chain,
    p2p: { publish: () => Promise.resolve() } as unknown as P2PNetwork,
    metrics: new NodeMetrics(),
    log: createLogger({ level: "silent", name: "pipeline-test" }),
  };
  const enclave = {
    signer: ME,
    hasContract: () => true,
    deltaCount: () => 0,
    compute: (task: { taskId: string }) => {
      computed.push(task.taskId as Hex);
      // What it computes does not matter here; failing keeps the fake small.
      throw new EnigmaError(ErrorCode.InvalidArgument, "fake enclave");
    },
  } as unknown as WorkerEnclave;
  const p = new TaskPipeline(ctx, {
    enclave,
    // Unused on this path (compute of a loaded contract, no Ethereum call).
    batcher: {} as unknown as ReceiptBatcher,
    stateKeys: {} as unknown as StateKeyClient,
    sync: {} as unknown as DeltaSync,
    ...extra,
  });
  await p.start(o.scannedThrough ?? 1_000);
  pipeline = p;
  return p;
}

function inputOf(taskId: Hex, contract: Hex, block: number): TaskInput {
  return {
    taskId,
    contractAddress: contract,
    workerAddress: block < 20 ? OTHER : ME,
    encryptedFn: "0x01",
    encryptedArgs: "0x02",
    userDHKey: bytesToHex(generateKeyPair().publicKey),
  };
}

/** A task of `contract` recorded at `block`, heard with its input (as gossip delivers it). */
async function hear(
  p: TaskPipeline,
  taskId: Hex,
  contract: Hex,
  block: number,
): Promise<RecordInfo> {
  const input = inputOf(taskId, contract, block);
  await store.addTask(taskId, contract);
  const record: RecordInfo = {
    taskId,
    inputsHash: inputsHashOf(input),
    gasLimit: 1_000_000n,
    gasPx: 1n,
    sender: ME,
    blockNumber: block,
    logIndex: 0,
    seenAt: Date.now(),
  };
  p.onRecord(record);
  p.onInput(input);
  return record;
}

async function until(probe: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 5_000;
  while (!probe()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe("TaskPipeline across an epoch change", () => {
  it("holds a task until the previous worker's result of an earlier record of its contract", async () => {
    const p = await startPipeline();
    const earlier = id("earlier");
    const later = id("later");
    await hear(p, earlier, CONTRACT, 15); // epoch 1: OTHER's task
    await hear(p, later, CONTRACT, 25); // epoch 2: this worker's
    await sleep(300);
    expect(computed).toEqual([]);
    // OTHER's result arrives (gossip stores it with its final status).
    await store.updateTask(earlier, { status: TaskResultStatus.Success });
    await until(() => computed.length > 0, "the held task to run");
    expect(computed).toEqual([later]);
  });

  it("stops waiting once the earlier task is settled on chain without a result (refunded)", async () => {
    const p = await startPipeline();
    await hear(p, id("earlier"), CONTRACT, 15);
    await hear(p, id("later"), CONTRACT, 25);
    await sleep(200);
    expect(computed).toEqual([]);
    settled.add(id("earlier"));
    await until(() => computed.length > 0, "the held task to run");
    expect(computed).toEqual([id("later")]);
  });

  it("stops waiting once the earlier task is older than the bound", async () => {
    const p = await startPipeline({ foreignWaitMs: 200 });
    await hear(p, id("earlier"), CONTRACT, 15);
    await hear(p, id("later"), CONTRACT, 25);
    await until(() => computed.length > 0, "the held task to run");
    expect(computed).toEqual([id("later")]);
  });

  it("does not wait for another worker's task of another contract", async () => {
    const p = await startPipeline();
    await hear(p, id("elsewhere"), ANOTHER, 15);
    await hear(p, id("mine"), CONTRACT, 25);
    // Well inside the 30 s bound: nothing held it.
    await until(() => computed.includes(id("mine")), "the task to run");
  });
});

describe("TaskPipeline order", () => {
  it("a record heard again after its task ran holds nothing up", async () => {
    // A long ordering window: a record without an input would hold later tasks for 10 s.
    const p = await startPipeline({}, 10_000);
    const first = await hear(p, id("first"), CONTRACT, 25);
    await until(() => computed.includes(id("first")), "the first task to run");
    // The watcher and a fetch of the record both deliver it.
    p.onRecord({ ...first, seenAt: Date.now() });
    await hear(p, id("second"), CONTRACT, 26);
    const started = Date.now();
    await until(() => computed.includes(id("second")), "the second task to run");
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(computed).toEqual([id("first"), id("second")]);
  });
});

describe("TaskPipeline and records the watcher has not reached", () => {
  it("an input whose record it fetched waits for earlier records up to that block", async () => {
    // Watcher through block 20; two clients recorded A (block 21) then B (block 22); B's
    // input comes first, handed over with its record by the gateway.
    const a = inputOf(id("A"), CONTRACT, 25);
    const b = inputOf(id("B"), CONTRACT, 25);
    const event = (i: TaskInput, block: number) => ({
      type: "TaskRecordCreated",
      taskId: i.taskId,
      inputsHash: inputsHashOf(i),
      gasLimit: 1_000_000n,
      gasPx: 1n,
      sender: ME,
      blockNumber: block,
      logIndex: 0,
    });
    const ranges: [number, number][] = [];
    const p = await startPipeline({}, 10_000, {
      scannedThrough: 20,
      chain: {
        getEvents: (from: number, to: number) => {
          ranges.push([from, to]);
          return Promise.resolve(
            [event(a, 21), event(b, 22)].filter(
              (e) => e.blockNumber >= from && e.blockNumber <= to,
            ),
          );
        },
      },
    });
    await store.addTask(b.taskId, CONTRACT);
    p.onInput(b, {
      taskId: b.taskId,
      inputsHash: inputsHashOf(b),
      gasLimit: 1_000_000n,
      gasPx: 1n,
      sender: ME,
      blockNumber: 22,
      status: 1,
    } as unknown as Parameters<TaskPipeline["onInput"]>[1]);
    await until(() => ranges.length > 0, "the record fetch");
    expect(ranges).toEqual([[21, 22]]);
    // A's record is known now and has no input: B waits (10 s window) instead of running.
    await sleep(200);
    expect(computed).toEqual([]);
    await store.addTask(a.taskId, CONTRACT);
    p.onInput(a);
    await until(() => computed.length === 2, "both tasks to run");
    expect(computed).toEqual([a.taskId, b.taskId]);
  });
});

describe("TaskPipeline writes", () => {
  it("runs a task again after a crash between its two batches, and records its outcome with its order", async () => {
    const t = id("interrupted");
    const input = inputOf(t, CONTRACT, 25);
    // What the lane's first batch leaves when the worker dies during the run.
    await store.addTask(t, CONTRACT, TaskResultStatus.Unverified, { input });
    await store.updateTask(t, {
      status: TaskResultStatus.InProgress,
      messages: {
        input,
        record: {
          inputsHash: inputsHashOf(input),
          gasLimit: "1000000",
          gasPx: "1",
          sender: ME,
          blockNumber: 25,
          logIndex: 3,
        },
      },
    });
    await startPipeline();
    await until(() => computed.includes(t), "the interrupted task to run again");
    // The fake enclave fails the task: its status and the contract's last run go together.
    const end = Date.now() + 5_000;
    while ((await store.getTask(t))?.status !== TaskResultStatus.Failed && Date.now() < end) {
      await sleep(10);
    }
    expect((await store.getTask(t))?.status).toBe(TaskResultStatus.Failed);
    expect(await store.getMeta(`lastRun:${CONTRACT}`)).toBe(25 * 1_000_000 + 3);
    expect(computed).toEqual([t]);
  });
});
