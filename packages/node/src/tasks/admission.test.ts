// Admission bounds (issue 20): inputs with made-up task ids cost a bounded number of chain
// reads (not ~20 per input as the gateway's polling did), are held within bounds, and gossiped
// ones are penalised; an honest input is still admitted afterwards.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ErrorCode,
  bytesToHex,
  generateKeyPair,
  keccak256,
  selectWorker,
  type Hex,
} from "@enigma/protocol";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { EpochInfo } from "../chain/types.js";
import { inputsHashOf, type TaskInput } from "../messages.js";
import { NodeMetrics, createLogger } from "../observability.js";
import { NodeStore } from "../store/store.js";
import { Admission } from "./admission.js";
import { HeldInputs } from "./held-inputs.js";
import { RecordBook, type KnownRecord } from "./record-book.js";
import { ReadBudget, TaskValidator, type InputVerdict } from "./validator.js";

const ME = "0x1111111111111111111111111111111111111111";
const OTHER = "0x2222222222222222222222222222222222222222";
const CONTRACT = bytesToHex(keccak256(new TextEncoder().encode("contract")));
const epoch: EpochInfo = {
  index: 1,
  firstBlockNumber: 1,
  inclusionBlockNumber: 1,
  seed: 3n,
  workers: [ME, OTHER],
  stakes: [100n, 100n],
};
const selected = (selectWorker(CONTRACT, epoch) ?? ME).toLowerCase() as Hex;
const id = (s: string) => bytesToHex(keccak256(new TextEncoder().encode(s)));

function input(taskId: Hex): TaskInput {
  return {
    taskId,
    contractAddress: CONTRACT,
    workerAddress: selected,
    encryptedFn: "0x01",
    encryptedArgs: "0x02",
    userDHKey: bytesToHex(generateKeyPair().publicKey),
  };
}

function recordOf(i: TaskInput): KnownRecord {
  return {
    taskId: i.taskId,
    inputsHash: inputsHashOf(i),
    gasLimit: 1_000_000n,
    gasPx: 1n,
    sender: ME,
    blockNumber: 5,
    logIndex: 0,
    seenAt: Date.now(),
    pending: true,
    exact: true,
  };
}

let dir: string;
let store: NodeStore;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "enigma-admission-"));
  store = new NodeStore({ dir });
  await store.start();
});
afterEach(async () => {
  await store.stop();
  await rm(dir, { recursive: true, force: true });
});

function build(
  o: {
    chain?: Map<string, KnownRecord>;
    held?: HeldInputs;
    /** This node's worker (default: the selected one, so that nothing is handed over). */
    self?: Hex;
    watcherWaitMs?: number;
  } = {},
) {
  const book = new RecordBook();
  let reads = 0;
  const validator = new TaskValidator({
    book,
    readRecord: (taskId) => {
      reads++;
      return Promise.resolve(o.chain?.get(taskId));
    },
    epoch: () => Promise.resolve(epoch),
    group: () => Promise.resolve([selected]),
    watcherWaitMs: o.watcherWaitMs ?? 0,
  });
  const piped: [TaskInput, InputVerdict][] = [];
  const handed: TaskInput[] = [];
  const published: TaskInput[] = [];
  const metrics = new NodeMetrics();
  const admission = new Admission({
    validator,
    held: o.held ?? new HeldInputs(),
    store,
    pipeline: {
      onInput: (i, v) => piped.push([i, v]),
      skipped: () => Promise.resolve(false),
    },
    self: o.self ?? selected,
    publish: (i) => published.push(i),
    handOver: (i) => {
      handed.push(i);
      return Promise.resolve();
    },
    notify: () => undefined,
    reads: {
      client: new ReadBudget(10, 20),
      handOver: new ReadBudget(10, 20),
      gossip: new ReadBudget(10, 20),
    },
    deadlineMs: 5_000,
    metrics,
    log: createLogger({ level: "silent", name: "admission-test" }),
  });
  return { admission, book, piped, published, handed, metrics, reads: () => reads };
}

describe("Admission of inputs with unknown task ids", () => {
  it("a client flood costs at most one read per id, within the budget; holds stay bounded", async () => {
    const held = new HeldInputs({ tasks: 50 });
    const a = build({ held });
    const flood = Array.from({ length: 200 }, (_, i) => input(id(`made-up ${i}`)));
    const answers = await Promise.allSettled(flood.map((i) => a.admission.submit(i)));
    // The read budget (burst 20) bounds the chain reads of the whole flood.
    expect(a.reads()).toBeLessThanOrEqual(20);
    // 50 held; the rest refused with a typed error, nothing evicted.
    expect(held.size).toBe(50);
    const refused = answers.filter((r) => r.status === "rejected");
    expect(refused).toHaveLength(150);
    expect((refused[0] as PromiseRejectedResult).reason).toMatchObject({
      code: ErrorCode.InputHoldFull,
    });
    // The same ids again: no read at all (answered from what the book remembers).
    const before = a.reads();
    await Promise.allSettled(flood.slice(0, 20).map((i) => a.admission.submit(i)));
    expect(a.reads()).toBe(before);
    expect(await store.getTask(flood[0]?.taskId ?? "0x")).toBeUndefined(); // nothing stored
  });

  it("an honest input held before its record is admitted when the record comes", async () => {
    const a = build();
    const honest = input(id("honest"));
    await a.admission.submit(honest);
    expect(a.piped).toHaveLength(0);
    const record = recordOf(honest);
    a.book.add(record);
    a.admission.onRecord(record);
    await expect.poll(() => a.piped.length).toBe(1);
    expect(a.piped[0]?.[1].kind).toBe("runnable");
    expect(a.published).toHaveLength(1);
    expect((await store.getTask(honest.taskId))?.status).toBe("UNVERIFIED");
  });

  it("gossiped inputs with made-up ids are rejected (the sender loses score), reads bounded; honest ones accepted", async () => {
    const a = build();
    const flood = Array.from({ length: 100 }, (_, i) => input(id(`gossip ${i}`)));
    const verdicts = await Promise.all(flood.map((i) => a.admission.gossipVerdict(i)));
    expect(a.reads()).toBeLessThanOrEqual(20);
    expect(verdicts.filter((v) => v === "reject").length).toBe(a.reads());
    expect(verdicts.every((v) => v === "reject" || v === "ignore")).toBe(true);
    const honest = input(id("honest gossip"));
    a.book.add(recordOf(honest));
    expect(await a.admission.gossipVerdict(honest)).toBe("accept");
    // Another input under an honest id is rejected too.
    expect(await a.admission.gossipVerdict({ ...honest, encryptedFn: "0x09" })).toBe("reject");
  });
});

describe("A client's input at a gateway that is not its worker", () => {
  it("goes to its worker at once when the record is not heard yet, and only once", async () => {
    // The gateway's watcher would take long to deliver the record (10 s wait): the worker
    // must not wait for it.
    const a = build({ self: "0x3333333333333333333333333333333333333333", watcherWaitMs: 10_000 });
    const early = input(id("early"));
    const answered = a.admission.submit(early);
    await expect.poll(() => a.handed.length).toBe(1);
    expect(a.handed[0]).toBe(early);
    expect(a.published).toHaveLength(0); // gossiped only once its record is mined and heard
    const record = recordOf(early);
    a.book.add(record);
    a.admission.onRecord(record);
    await answered;
    expect(a.published).toHaveLength(1);
    expect(a.handed).toHaveLength(1); // not handed over a second time
  });

  it("is handed over after the check when its record is known already", async () => {
    const a = build({ self: "0x3333333333333333333333333333333333333333" });
    const known = input(id("known"));
    a.book.add(recordOf(known));
    await a.admission.submit(known);
    expect(a.handed).toEqual([known]);
    expect(a.published).toEqual([known]);
  });
});
