// The worker pipeline wired from its stages, with a fake enclave: the order across workers at an
// epoch change (a task waits for the previous worker's earlier task of its contract), and lanes
// that do not wait for their outcomes' writes.
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
  type Hex,
} from "@enigma/protocol";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { recordOrder, type RecordInfo } from "../context.js";
import { inputsHashOf, type TaskInput } from "../messages.js";
import { NodeMetrics, createLogger } from "../observability.js";
import { NodeStore } from "../store/store.js";
import type { InputVerdict } from "../tasks/validator.js";
import { Execution, type ContractSource, type EnclavePort } from "./execution.js";
import { TaskPipeline, lastRunKey, type PipelineDeps, type PipelineStore } from "./pipeline.js";
import { Publisher } from "./publishing.js";

const ME = "0x1111111111111111111111111111111111111111";
const OTHER = "0x2222222222222222222222222222222222222222";
const CONTRACT = bytesToHex(keccak256(new TextEncoder().encode("contract")));
const ANOTHER = bytesToHex(keccak256(new TextEncoder().encode("another contract")));
const id = (s: string) => bytesToHex(keccak256(new TextEncoder().encode(s)));
const log = createLogger({ level: "silent", name: "pipeline-test" });

let dir: string;
let store: NodeStore;
let pipeline: TaskPipeline | undefined;
/** Task ids in the order the fake enclave ran them. */
let computed: Hex[];
/** Wakes whoever waits for the enclave to have run something. */
let ran: (() => void)[];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "enigma-pipeline-"));
  store = new NodeStore({ dir });
  await store.start();
  computed = [];
  ran = [];
});

afterEach(async () => {
  await pipeline?.stop();
  pipeline = undefined;
  await store.stop();
  await rm(dir, { recursive: true, force: true });
});

/** Resolves once the fake enclave has run `taskId` (awaiting the event, not a clock). */
async function computedTask(taskId: Hex): Promise<void> {
  while (!computed.includes(taskId)) await new Promise<void>((r) => ran.push(r));
}

/** An enclave that runs every compute task by failing it (what it computes does not matter). */
const enclave: EnclavePort = {
  signer: ME,
  deploy: () => {
    throw new Error("no deployments here");
  },
  compute: (task) => {
    computed.push(task.taskId);
    for (const wake of ran.splice(0)) wake();
    throw new EnigmaError(ErrorCode.InvalidArgument, "fake enclave");
  },
  failNotDeployed: () => {
    throw new Error("every contract exists here");
  },
  hasContract: () => true,
  deltaCount: () => 0,
  loadContract: () => undefined,
};

const source: ContractSource = {
  code: () => Promise.resolve(new Uint8Array()),
  putCode: () => Promise.resolve(),
  deltaCount: () => Promise.resolve(0),
  deltas: () => Promise.resolve([]),
  catchUp: () => Promise.resolve(),
  ensureStateKeys: () => Promise.resolve(),
  deployment: () => Promise.resolve("deployed"),
};

/** A pipeline for worker ME over `s` (the node store unless a test wraps it). */
async function startPipeline(
  extra: Partial<PipelineDeps> = {},
  s: PipelineStore = store,
): Promise<TaskPipeline> {
  const metrics = new NodeMetrics();
  const p = new TaskPipeline({
    signer: ME,
    store: s,
    validate: (input, record) => Promise.resolve(verdict(input, record)),
    readRecord: () => Promise.resolve(undefined),
    execution: new Execution(enclave, source, { attempts: 1 }),
    publisher: new Publisher({
      store: s,
      publish: () => Promise.resolve(),
      notify: () => undefined,
      commitNow: () => Promise.resolve(),
      signer: ME,
      metrics,
      log,
    }),
    deadlineMs: 5_000,
    metrics,
    log,
    ...extra,
  });
  await p.start();
  pipeline = p;
  return p;
}

function inputOf(taskId: Hex, contract: Hex, worker: string): TaskInput {
  return {
    taskId,
    contractAddress: contract,
    workerAddress: worker as Hex,
    encryptedFn: "0x01",
    encryptedArgs: "0x02",
    userDHKey: bytesToHex(generateKeyPair().publicKey),
  };
}

function recordOf(input: TaskInput, block: number): RecordInfo {
  return {
    taskId: input.taskId,
    inputsHash: inputsHashOf(input),
    gasLimit: 1_000_000n,
    gasPx: 1n,
    sender: ME,
    blockNumber: block,
    logIndex: 0,
    seenAt: Date.now(),
  };
}

/** The validator's verdict: runnable, by the worker the input names (tests pick it). */
function verdict(input: TaskInput, record: RecordInfo): InputVerdict {
  return {
    kind: "runnable",
    record: { ...record, pending: true, exact: true },
    selected: input.workerAddress.toLowerCase() as Hex,
    preCode: undefined,
  };
}

/** A task of `contract` selected to `worker`, recorded at `block`, heard with its input. */
async function hear(
  p: TaskPipeline,
  name: string,
  contract: Hex,
  block: number,
  worker: string,
): Promise<Hex> {
  const input = inputOf(id(name), contract, worker);
  // The node stores what it keeps (admission) before the pipeline hears it.
  if (worker === ME) await store.addTask(input.taskId, contract, undefined, { input });
  const record = recordOf(input, block);
  p.onRecord(record);
  p.onInput(input, verdict(input, record));
  return input.taskId;
}

/** Gives pending timers and I/O a few turns (to show that something did NOT happen). */
const turns = async (n = 20) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setTimeout(r, 5));
};

describe("TaskPipeline across an epoch change", () => {
  it("holds a task until the previous worker's result of an earlier record of its contract", async () => {
    const p = await startPipeline();
    const earlier = await hear(p, "earlier", CONTRACT, 15, OTHER); // OTHER's, epoch before
    const later = await hear(p, "later", CONTRACT, 25, ME);
    await turns();
    expect(computed).toEqual([]);
    // OTHER's result arrives (gossip stores it, then tells the pipeline).
    p.onResult(earlier);
    await computedTask(later);
    expect(computed).toEqual([later]);
  });

  it("stops waiting once the earlier task is settled on chain without a result (refunded)", async () => {
    const p = await startPipeline();
    const earlier = await hear(p, "earlier", CONTRACT, 15, OTHER);
    const later = await hear(p, "later", CONTRACT, 25, ME);
    await turns();
    expect(computed).toEqual([]);
    p.onSettled(earlier);
    await computedTask(later);
    expect(computed).toEqual([later]);
  });

  it("stops waiting once the earlier task is older than the bound", async () => {
    const p = await startPipeline({ foreignWaitMs: 100 });
    await hear(p, "earlier", CONTRACT, 15, OTHER);
    const later = await hear(p, "later", CONTRACT, 25, ME);
    await computedTask(later);
    expect(computed).toEqual([later]);
  });

  it("does not wait for another worker's task of another contract, nor for a later one", async () => {
    const p = await startPipeline();
    await hear(p, "elsewhere", ANOTHER, 15, OTHER);
    const mine = await hear(p, "mine", CONTRACT, 25, ME);
    await hear(p, "after", CONTRACT, 26, OTHER); // recorded after it: no reason to wait
    await computedTask(mine);
  });

  it("a result heard before the previous worker's input holds nothing up", async () => {
    const p = await startPipeline();
    const input = inputOf(id("earlier"), CONTRACT, OTHER);
    const record = recordOf(input, 15);
    p.onRecord(record);
    p.onResult(input.taskId); // the result's gossip overtook the input's
    p.onInput(input, verdict(input, record));
    const later = await hear(p, "later", CONTRACT, 25, ME);
    await computedTask(later);
  });
});

describe("TaskPipeline and a delta held for its predecessors", () => {
  it("holds later tasks while another worker's result is in but its delta is not stored yet", async () => {
    // Gossip brought the previous worker's result of `earlier` ahead of the delta before it:
    // its delta waits, and running `later` now would build on the state without it (a fork).
    const p = await startPipeline();
    const earlier = await hear(p, "earlier", CONTRACT, 15, OTHER);
    const later = await hear(p, "later", CONTRACT, 25, ME);
    p.onResult(earlier, { contract: CONTRACT });
    await turns();
    expect(computed).toEqual([]);
    p.onResult(earlier); // its delta stored
    await computedTask(later);
  });

  it("holds later tasks when the held result came before the previous worker's input", async () => {
    const p = await startPipeline();
    const input = inputOf(id("earlier"), CONTRACT, OTHER);
    const record = recordOf(input, 15);
    p.onRecord(record);
    p.onResult(input.taskId, { contract: CONTRACT });
    const later = await hear(p, "later", CONTRACT, 25, ME);
    p.onInput(input, verdict(input, record)); // the input still comes: nothing changes
    await turns();
    expect(computed).toEqual([]);
    p.onResult(input.taskId);
    await computedTask(later);
  });

  it("a held delta holds its own contract only, and for the bound at most", async () => {
    const p = await startPipeline({ foreignWaitMs: 100 });
    const earlier = await hear(p, "earlier", CONTRACT, 15, OTHER);
    p.onResult(earlier, { contract: CONTRACT });
    const other = await hear(p, "other", ANOTHER, 20, ME);
    await computedTask(other);
    const later = await hear(p, "later", CONTRACT, 25, ME);
    await computedTask(later); // after foreignWaitMs
    expect(computed).toEqual([other, later]);
  });
});

describe("TaskPipeline records without inputs", () => {
  it("a record whose input never came holds later tasks until its result is heard", async () => {
    // After a restart a record can be known without its input ever coming again (it was
    // gossiped before the stop): its result, heard from its worker, releases what waits.
    const p = await startPipeline({ deadlineMs: 60_000 });
    const silent = inputOf(id("silent"), ANOTHER, OTHER);
    p.onRecord(recordOf(silent, 24));
    const later = await hear(p, "later", CONTRACT, 25, ME);
    await turns();
    expect(computed).toEqual([]);
    p.onResult(silent.taskId);
    await computedTask(later);
  });
});

describe("TaskPipeline lanes", () => {
  it("runs a contract's next task without waiting for the previous outcome's batch, and writes outcomes in order", async () => {
    // The store holds back every outcome batch (FAILED) until the test opens the gate.
    let open: () => void = () => undefined;
    const gate = new Promise<void>((r) => (open = r));
    const held: string[] = [];
    let heldMore: (() => void) | undefined;
    const gated: PipelineStore = {
      getTask: (t) => store.getTask(t),
      addTask: (...a) => store.addTask(...a),
      getMeta: (k) => store.getMeta(k),
      listTasks: (s) => store.listTasks(s),
      getMessage: (k, t) => store.getMessage(k, t),
      updateTask: async (t, u) => {
        if (u.status === TaskResultStatus.Failed) {
          held.push(typeof t === "string" ? t.toLowerCase() : bytesToHex(t));
          heldMore?.();
          await gate;
        }
        return store.updateTask(t, u);
      },
    };
    const p = await startPipeline({}, gated);
    try {
      const first = await hear(p, "first", CONTRACT, 25, ME);
      const second = await hear(p, "second", CONTRACT, 26, ME);
      await computedTask(second);
      while (held.length < 2) await new Promise<void>((r) => (heldMore = r));
      // Both ran, in record order, while the first outcome was still unwritten.
      expect(computed).toEqual([first, second]);
      expect(held).toEqual([first, second]);
      expect((await store.getTask(first))?.status).not.toBe(TaskResultStatus.Failed);
      open();
      await p.stop();
      pipeline = undefined;
      expect((await store.getTask(first))?.status).toBe(TaskResultStatus.Failed);
      expect((await store.getTask(second))?.status).toBe(TaskResultStatus.Failed);
    } finally {
      open();
    }
    // The contract's last run is the later task's (its batch landed after the first's).
    expect(await store.getMeta(lastRunKey(CONTRACT))).toBe(
      recordOrder({ blockNumber: 26, logIndex: 0 }),
    );
  });
});
