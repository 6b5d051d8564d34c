import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ErrorCode,
  TaskResultStatus,
  bytesToHex,
  isEnigmaError,
  keccak256,
  type ChainReceipt,
  type Hex,
} from "@enigma/protocol";
import { Level } from "level";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { NodeStore, TASK_CACHE, type StoredDelta } from "./store.js";

const enc = new TextEncoder();
const contract = bytesToHex(keccak256(enc.encode("contract A")));
const otherContract = bytesToHex(keccak256(enc.encode("contract B")));

/**
 * A chain of `n` deltas shaped like the enclave's `EncryptedDelta` ({index, hash, data} with
 * hash = keccak256(data)). The data stands in for ciphertext: it names the index and the
 * previous hash, so a test can check that order and chain survive. (Importing
 * @enigma/enclave's encryptDelta here would need the DOM lib in this package's tsconfig.)
 */
function chain(n: number, salt = "A"): StoredDelta[] {
  const out: StoredDelta[] = [];
  let prev = bytesToHex(new Uint8Array(32));
  for (let i = 0; i < n; i++) {
    const data = enc.encode(`${salt}|${i}|${prev}|${"x".repeat(i % 7)}`);
    const hash = keccak256(data);
    out.push({ index: i, hash, data });
    prev = bytesToHex(hash);
  }
  return out;
}

/** Checks a contract's chain end to end, as a state rebuild does; returns its length. */
function verifyChain(deltas: readonly StoredDelta[]): number {
  let prev = bytesToHex(new Uint8Array(32));
  deltas.forEach((d, i) => {
    const [, index, before] = new TextDecoder().decode(d.data).split("|");
    if (d.index !== i || index !== String(i) || before !== prev)
      throw new Error(`chain broken at ${i}`);
    if (bytesToHex(keccak256(d.data)) !== bytesToHex(d.hash)) throw new Error(`hash of ${i}`);
    prev = bytesToHex(d.hash);
  });
  return deltas.length;
}

function at<T>(xs: readonly T[], i: number): T {
  const x = xs[i];
  if (x === undefined) throw new Error(`no element ${i}`);
  return x;
}

function id(label: string): Hex {
  return bytesToHex(keccak256(enc.encode(label)));
}

function receipt(taskId: Hex, gasUsed = 21_000n): ChainReceipt {
  const zero = bytesToHex(new Uint8Array(32));
  return {
    taskId,
    scAddr: contract,
    inputsHash: id(`inputs of ${taskId}`),
    prevDeltaHash: zero,
    deltaIndex: 0,
    stateDeltaHash: zero,
    outputHash: id(`output of ${taskId}`),
    gasUsed,
    success: true,
    preCodeHash: zero,
    codeHash: zero,
    ethAddress: bytesToHex(new Uint8Array(20)),
    ethCalldata: "0x",
  };
}

async function rejectsWith(p: Promise<unknown>, code: ErrorCode): Promise<void> {
  const e: unknown = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!isEnigmaError(e, code)) {
    throw new Error(`expected EnigmaError ${code}, got ${String(e)}`, { cause: e });
  }
}

let dir: string;
let store: NodeStore;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "enigma-store-"));
  store = new NodeStore({ dir });
  await store.start();
});

afterEach(async () => {
  await store.stop();
  await rm(dir, { recursive: true, force: true });
});

async function restart(): Promise<void> {
  await store.stop();
  store = new NodeStore({ dir });
  await store.start();
}

describe("NodeStore deltas", () => {
  it("keeps deltas in order across a restart, as an unbroken chain", async () => {
    const deltas = chain(300); // past 255, where a non-big-endian key would sort wrongly
    for (const d of deltas) expect(await store.putDelta(contract, d)).toBe(true);
    await store.putDelta(otherContract, at(chain(2, "B"), 0));
    await restart();

    const back = await store.getDeltas(contract);
    expect(back.map((d) => d.index)).toEqual(deltas.map((d) => d.index));
    expect(back.map((d) => bytesToHex(d.hash))).toEqual(deltas.map((d) => bytesToHex(d.hash)));
    expect(await store.deltaCount(contract)).toBe(300);
    expect(await store.deltaCount(otherContract)).toBe(1);
    expect((await store.lastDelta(contract))?.index).toBe(299);
    expect(verifyChain(back)).toBe(300);
  });

  it("reads a window of deltas with an iterator limited to the window (classic-level sizes its native read-ahead by it)", async () => {
    const deltas = chain(40);
    await store.putDeltas(contract, deltas);
    const iterator = vi.spyOn(Level.prototype, "iterator");
    try {
      const one = await store.getDeltas(contract, 7, 8);
      expect(one.map((d) => d.index)).toEqual([7]);
      expect(bytesToHex(at(one, 0).hash)).toBe(bytesToHex(at(deltas, 7).hash));
      // Past the end: only what is stored.
      expect((await store.getDeltas(contract, 36, 44)).map((d) => d.index)).toEqual([
        36, 37, 38, 39,
      ]);
      expect(await store.getDeltas(contract, 5, 5)).toEqual([]);
      expect(iterator.mock.calls.map((c) => (c[0] as { limit?: number }).limit)).toEqual([1, 8, 0]);
      expect(verifyChain(await store.getDeltas(contract))).toBe(40);
    } finally {
      iterator.mockRestore();
    }
  });

  it("refuses a gap and a conflicting delta, changes nothing, and accepts an identical re-put", async () => {
    const deltas = chain(3);
    await store.putDelta(contract, at(deltas, 0));
    await rejectsWith(store.putDelta(contract, at(deltas, 2)), ErrorCode.DeltaIndexGap);
    const forged = at(chain(1, "forged"), 0);
    await rejectsWith(store.putDelta(contract, forged), ErrorCode.DeltaConflict);
    expect(await store.putDelta(contract, at(deltas, 0))).toBe(false);
    expect(await store.deltaCount(contract)).toBe(1);
    expect(bytesToHex(at(await store.getDeltas(contract), 0).hash)).toBe(
      bytesToHex(at(deltas, 0).hash),
    );

    // A batch (a peer's range answer) with a gap in the middle is refused as a whole.
    await rejectsWith(
      store.putDeltas(contract, [at(deltas, 1), at(chain(5), 4)]),
      ErrorCode.DeltaIndexGap,
    );
    expect(await store.deltaCount(contract)).toBe(1);
    expect(await store.putDeltas(contract, deltas)).toBe(2);
    expect(await store.deltaCount(contract)).toBe(3);
  });

  it("refuses malformed input with a typed error and writes nothing", async () => {
    const d = at(chain(1), 0);
    await rejectsWith(store.putDelta("0x1234", d), ErrorCode.InvalidArgument);
    await rejectsWith(store.putDelta(42 as unknown as string, d), ErrorCode.InvalidArgument);
    await rejectsWith(store.putDelta(contract, { ...d, index: -1 }), ErrorCode.InvalidArgument);
    await rejectsWith(store.putDelta(contract, { ...d, index: 0.5 }), ErrorCode.InvalidArgument);
    await rejectsWith(
      store.putDelta(contract, { ...d, hash: "nope" as unknown as Uint8Array }),
      ErrorCode.InvalidArgument,
    );
    await rejectsWith(
      store.putDelta(contract, { ...d, data: d.data.slice(1) }),
      ErrorCode.DeltaTampered,
    );
    await rejectsWith(store.getDeltas(contract, 5, 2), ErrorCode.InvalidArgument);
    expect(await store.deltaCount(contract)).toBe(0);
  });

  it("counts deltas through appends, task updates, drops and restarts", async () => {
    const five = chain(5);
    expect(await store.deltaCount(contract)).toBe(0);
    await store.putDeltas(contract, five.slice(0, 2));
    expect(await store.deltaCount(contract)).toBe(2);
    const t = id("task with delta");
    await store.addTask(t, contract);
    await store.updateTask(t, { status: TaskResultStatus.Success, delta: at(five, 2) });
    expect(await store.deltaCount(contract)).toBe(3);
    expect(await store.dropLastDelta(contract, 2)).toBe(true);
    expect(await store.deltaCount(contract)).toBe(2);
    // The next index is 2 again: 3 is a gap, a different delta 1 a conflict.
    await rejectsWith(store.putDelta(contract, at(five, 3)), ErrorCode.DeltaIndexGap);
    await rejectsWith(store.putDelta(contract, at(chain(2, "B"), 1)), ErrorCode.DeltaConflict);
    expect(await store.putDelta(contract, at(five, 2))).toBe(true);
    await restart();
    expect(await store.deltaCount(contract)).toBe(3);
    await store.putDeltas(contract, five.slice(3));
    expect(await store.deltaCount(contract)).toBe(5);
    expect(verifyChain(await store.getDeltas(contract))).toBe(5);
    expect(await store.deltaCount(otherContract)).toBe(0);
  });

  it("truncates a contract's deltas from an index with the tasks that wrote them; the chain goes on from there", async () => {
    const five = chain(5);
    await store.putDeltas(contract, five.slice(0, 2));
    const t = id("task of delta 2");
    await store.addTask(t, contract);
    await store.updateTask(t, { status: TaskResultStatus.Success, delta: at(five, 2) });
    expect(await store.deltaTask(contract, 2)).toBe(t);
    expect(await store.deltaTask(contract, 1)).toBeUndefined(); // from a peer: no task known
    expect(await store.truncateDeltas(contract, 1)).toBe(2);
    expect(await store.deltaCount(contract)).toBe(1);
    expect(await store.deltaTask(contract, 2)).toBeUndefined();
    // Another delta 1 is welcome now (the one the chain committed).
    const other = chain(2, "B");
    expect(await store.putDelta(contract, { ...at(other, 1), index: 1 })).toBe(true);
    await restart();
    expect(await store.deltaCount(contract)).toBe(2);
    expect(await store.truncateDeltas(contract, 5)).toBe(0);
    expect(await store.truncateDeltas(otherContract, 0)).toBe(0);
  });

  it("range reads return exactly the asked window", async () => {
    await store.putDeltas(contract, chain(50));
    const idx = async (from?: number, to?: number) =>
      (await store.getDeltas(contract, from, to)).map((d) => d.index);
    expect(await idx(10, 15)).toEqual([10, 11, 12, 13, 14]);
    expect(await idx(0, 1)).toEqual([0]);
    expect(await idx(7, 7)).toEqual([]);
    expect(await idx(45)).toEqual([45, 46, 47, 48, 49]);
    expect(await idx(48, 100)).toEqual([48, 49]);
    expect(await idx(60, 70)).toEqual([]);
    expect(await store.getDeltas(otherContract, 0, 10)).toEqual([]);
  });

  it("serialises concurrent appends: one of two racing writers of the same index wins", async () => {
    const a = at(chain(1), 0);
    const b = at(chain(1, "racer"), 0);
    const results = await Promise.allSettled([
      store.putDelta(contract, a),
      store.putDelta(contract, b),
    ]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected"]);
    expect(await store.deltaCount(contract)).toBe(1);
  });
});

describe("NodeStore code", () => {
  it("stores code with its keccak256 hash, refuses different code for the same contract", async () => {
    const code = enc.encode("\0asm fake module");
    const { codeHash } = await store.putCode(contract, code);
    expect(bytesToHex(codeHash)).toBe(bytesToHex(keccak256(code)));
    await store.putCode(contract, code);
    await rejectsWith(store.putCode(contract, enc.encode("other")), ErrorCode.ContractCodeConflict);
    await restart();
    const got = await store.getCode(contract);
    expect(got && bytesToHex(got.code)).toBe(bytesToHex(code));
    expect(await store.getCode(otherContract)).toBeUndefined();
  });
});

describe("NodeStore tasks", () => {
  it("a final task status cannot be overwritten", async () => {
    const t = id("task 1");
    await store.addTask(t, contract);
    expect((await store.getTask(t))?.status).toBe(TaskResultStatus.Unverified);
    await store.updateTask(t, { status: TaskResultStatus.InProgress });
    const output = enc.encode("encrypted output");
    await store.updateTask(t, {
      status: TaskResultStatus.Failed,
      result: { output, usedGas: 500 },
    });

    await rejectsWith(
      store.updateTask(t, { status: TaskResultStatus.Success }),
      ErrorCode.TaskStatusTransition,
    );
    await rejectsWith(
      store.updateTask(t, { status: TaskResultStatus.InProgress }),
      ErrorCode.TaskStatusTransition,
    );
    await rejectsWith(
      store.updateTask(t, { status: TaskResultStatus.Failed, result: { usedGas: 1 } }),
      ErrorCode.TaskStatusTransition,
    );
    // The same final status and result again (a duplicate) is accepted and changes nothing.
    expect(
      await store.updateTask(t, {
        status: TaskResultStatus.Failed,
        result: { output, usedGas: 500 },
      }),
    ).toBe(false);

    await restart();
    const task = await store.getTask(t);
    expect(task?.status).toBe(TaskResultStatus.Failed);
    expect(task?.result?.usedGas).toBe(500);
    expect(task?.result?.output && bytesToHex(task.result.output)).toBe(bytesToHex(output));
  });

  it("refuses going back, unknown tasks, a task moved to another contract, unknown statuses", async () => {
    const t = id("task 2");
    await store.addTask(t, contract, TaskResultStatus.InProgress);
    await rejectsWith(
      store.updateTask(t, { status: TaskResultStatus.Unverified }),
      ErrorCode.TaskStatusTransition,
    );
    await rejectsWith(
      store.updateTask(id("never added"), { status: TaskResultStatus.Success }),
      ErrorCode.TaskUnknown,
    );
    await rejectsWith(store.addTask(t, otherContract), ErrorCode.TaskConflict);
    await rejectsWith(
      store.updateTask(t, { status: "DONE" as TaskResultStatus }),
      ErrorCode.InvalidArgument,
    );
  });

  it("writes status, result, delta, receipt, messages and metadata together, or none of them", async () => {
    const t = id("task 3");
    const two = chain(2);
    const d0 = at(two, 0);
    const d1 = at(two, 1);
    await store.addTask(t, contract);
    const extra = { messages: { result: { taskId: t, output: "0x01" } }, meta: { lastRun: 7 } };
    // The delta is out of order: the whole update is refused, the status stays.
    await rejectsWith(
      store.updateTask(t, {
        status: TaskResultStatus.Success,
        delta: d1,
        receipt: receipt(t),
        ...extra,
      }),
      ErrorCode.DeltaIndexGap,
    );
    expect((await store.getTask(t))?.status).toBe(TaskResultStatus.Unverified);
    expect(await store.pendingReceipts()).toEqual([]);
    expect(await store.getMessage("result", t)).toBeUndefined();
    expect(await store.getMeta("lastRun")).toBeUndefined();

    await store.updateTask(t, {
      status: TaskResultStatus.Success,
      result: { delta: { index: 0, hash: d0.hash } },
      delta: d0,
      receipt: receipt(t),
      ...extra,
    });
    await restart();
    expect((await store.getTask(t))?.status).toBe(TaskResultStatus.Success);
    expect(await store.deltaCount(contract)).toBe(1);
    expect((await store.pendingReceipts()).map((r) => r.taskId)).toEqual([t]);
    expect(await store.getMessage("result", t)).toEqual(extra.messages.result);
    expect(await store.getMeta("lastRun")).toBe(7);
    // Bad metadata is refused before anything is written.
    await rejectsWith(
      store.updateTask(t, { status: TaskResultStatus.Success, meta: { x: Number.NaN } }),
      ErrorCode.InvalidArgument,
    );
  });

  it("adds a task with its messages in one batch, keeping the first message of each kind", async () => {
    const t = id("task with input");
    const first = { taskId: t, encryptedArgs: "0x01" };
    await store.addTask(t, contract, TaskResultStatus.Unverified, { input: first });
    expect(await store.getMessage("input", t)).toEqual(first);
    // Heard again (gossip and the gateway's hand-over): the task and the first input stay.
    const again = await store.addTask(t, contract, TaskResultStatus.Unverified, {
      input: { taskId: t, encryptedArgs: "0x02" },
      record: { blockNumber: 3 },
    });
    expect(again.status).toBe(TaskResultStatus.Unverified);
    expect(await store.getMessage("input", t)).toEqual(first);
    expect(await store.getMessage("record", t)).toEqual({ blockNumber: 3 });
    // Another contract: refused, and its message is not kept either.
    const other = id("task of another contract");
    await store.addTask(other, otherContract);
    await rejectsWith(
      store.addTask(other, contract, TaskResultStatus.Unverified, { input: first }),
      ErrorCode.TaskConflict,
    );
    expect(await store.getMessage("input", other)).toBeUndefined();
  });

  it("updateTask with the task's contract records a task it does not know, in the same batch", async () => {
    const t = id("heard result");
    await rejectsWith(
      store.updateTask(t, { status: TaskResultStatus.Success }),
      ErrorCode.TaskUnknown,
    );
    await store.updateTask(t, {
      contract,
      status: TaskResultStatus.Success,
      messages: { result: { ok: 1 } },
      receipt: receipt(t),
    });
    expect(await store.getTask(t)).toEqual({
      taskId: t,
      contract,
      status: "SUCCESS",
      committed: false,
    });
    expect(await store.pendingReceipts()).toHaveLength(1);
    // Known under another contract: TaskConflict, nothing changes.
    await rejectsWith(
      store.updateTask(t, {
        contract: otherContract,
        status: TaskResultStatus.EthereumFailure,
      }),
      ErrorCode.TaskConflict,
    );
    // A failed batch records nothing: the task stays unknown.
    const gap = id("gap");
    await rejectsWith(
      store.updateTask(gap, { contract, status: TaskResultStatus.Success, delta: at(chain(2), 1) }),
      ErrorCode.DeltaIndexGap,
    );
    expect(await store.getTask(gap)).toBeUndefined();
    await restart();
    expect(await store.getTask(t)).toEqual({
      taskId: t,
      contract,
      status: "SUCCESS",
      committed: false,
    });
    expect(await store.getMessage("result", t)).toEqual({ ok: 1 });
  });

  it("answers from what it wrote as it would from disk, and the same after a restart", async () => {
    // The store keeps the tasks it wrote (and which messages each has) in memory: every
    // answer must be what the disk holds.
    const t = id("cached task");
    const input = { taskId: t, encryptedArgs: "0x01" };
    await store.addTask(t, contract, TaskResultStatus.Unverified, { input });
    const answers = async () => ({
      task: await store.getTask(t),
      input: await store.getMessage("input", t),
      result: await store.getMessage("result", t),
      outcome: await store.getMessage("outcome", t),
    });
    expect(await answers()).toEqual({
      task: { taskId: t, contract, status: "UNVERIFIED", committed: false },
      input,
      result: undefined,
      outcome: undefined,
    });
    await store.updateTask(t, {
      status: TaskResultStatus.InProgress,
      messages: { record: { b: 1 } },
    });
    await store.putMessage("result", t, { ok: true });
    // A caller that changes what it got changes nothing stored.
    const got = await store.getTask(t);
    if (got !== undefined) got.status = TaskResultStatus.Failed;
    await store.updateTask(t, {
      status: TaskResultStatus.Failed,
      messages: { outcome: { code: 435 } },
      receipt: receipt(t),
    });
    await store.addTask(t, contract, TaskResultStatus.Unverified, { input: { other: 1 } });
    await store.commitReceipts([t]);
    const before = await answers();
    expect(before).toEqual({
      task: { taskId: t, contract, status: "FAILED", committed: true },
      input,
      result: { ok: true },
      outcome: { code: 435 },
    });
    expect(await store.getMessage("record", t)).toEqual({ b: 1 });
    await restart();
    expect(await answers()).toEqual(before);
    // A task read back from disk (messages unknown to the cache) keeps its first input too.
    await store.addTask(t, contract, TaskResultStatus.Unverified, { input: { other: 2 } });
    expect(await store.getMessage("input", t)).toEqual(input);
  });
});

describe("NodeStore task cache", () => {
  it("keeps at most its bound of tasks in memory; older ones are read back from disk", async () => {
    // A principal stores every task it hears and reads none back: with no reader the cache
    // must still stop at its bound (it was 10,000, which a 10,000-task soak never filled).
    const small = new NodeStore({ dir: join(dir, "small"), taskCache: 50 });
    await small.start();
    try {
      const ids = Array.from({ length: 500 }, (_, i) => id(`bounded ${i}`));
      for (const [i, t] of ids.entries()) {
        await small.addTask(t, contract, TaskResultStatus.Unverified, { input: { i } });
        await small.updateTask(t, { status: TaskResultStatus.InProgress });
        await small.updateTask(t, {
          status: TaskResultStatus.Success,
          result: { output: enc.encode(`output ${i}`), usedGas: i },
          receipt: receipt(t),
        });
        await small.commitReceipts([t]);
        expect(small.cachedTasks).toBeLessThanOrEqual(50);
      }
      expect(small.cachedTasks).toBe(50);
      // The first task left the cache long ago: every answer comes from disk, unchanged.
      const first = at(ids, 0);
      expect(await small.getTask(first)).toMatchObject({
        status: "SUCCESS",
        committed: true,
        result: { usedGas: 0 },
      });
      expect(await small.getMessage("input", first)).toEqual({ i: 0 });
      // A read-check-write of an evicted task still refuses what the disk forbids.
      await rejectsWith(
        small.updateTask(first, { status: TaskResultStatus.InProgress }),
        ErrorCode.TaskStatusTransition,
      );
      await small.addTask(first, contract, TaskResultStatus.Unverified, { input: { i: -1 } });
      expect(await small.getMessage("input", first)).toEqual({ i: 0 });
      expect(small.cachedTasks).toBe(50);
    } finally {
      await small.stop();
    }
  });

  it("holds 2,000 tasks by default", async () => {
    expect(TASK_CACHE).toBe(2_000);
    for (let i = 0; i < TASK_CACHE + 100; i++) await store.addTask(id(`default ${i}`), contract);
    expect(store.cachedTasks).toBe(TASK_CACHE);
  });

  it("refuses a bound that is not a non-negative integer", () => {
    for (const taskCache of [-1, 1.5, Number.NaN]) {
      expect(() => new NodeStore({ dir, taskCache })).toThrow(/taskCache/);
    }
  });
});

describe("NodeStore pending receipts", () => {
  it("survive a restart in insertion order and are removed atomically when committed", async () => {
    expect(await store.hasPendingReceipts()).toBe(false);
    const tasks = ["c", "a", "b", "d"].map((l) => id(`task ${l}`));
    for (const t of tasks) {
      await store.addTask(t, contract);
      await store.updateTask(t, { status: TaskResultStatus.Success });
      await store.queueReceipt(receipt(t, 1000n + BigInt(t.length)));
    }
    await restart();
    expect(await store.hasPendingReceipts()).toBe(true);
    const pending = await store.pendingReceipts();
    expect(pending.map((r) => r.taskId)).toEqual(tasks);
    expect(pending[0]).toEqual(receipt(at(tasks, 0), 1000n + BigInt(at(tasks, 0).length)));

    // One unknown id in the set: nothing is removed, nothing is marked.
    await rejectsWith(
      store.commitReceipts([at(tasks, 0), id("not queued")]),
      ErrorCode.ReceiptNotPending,
    );
    expect((await store.pendingReceipts()).length).toBe(4);
    expect((await store.getTask(at(tasks, 0)))?.committed).toBe(false);

    await store.commitReceipts([at(tasks, 0), at(tasks, 2)]);
    await restart();
    expect((await store.pendingReceipts()).map((r) => r.taskId)).toEqual([tasks[1], tasks[3]]);
    expect((await store.getTask(at(tasks, 0)))?.committed).toBe(true);
    expect((await store.getTask(at(tasks, 1)))?.committed).toBe(false);

    // A later receipt still comes after the ones already waiting.
    const late = id("task late");
    await store.addTask(late, contract, TaskResultStatus.Failed);
    await store.queueReceipt(receipt(late));
    expect((await store.pendingReceipts()).map((r) => r.taskId)).toEqual([
      tasks[1],
      tasks[3],
      late,
    ]);
  });

  it("keeps the queue order across restarts, commits and a refused update", async () => {
    const queue = async (label: string) => {
      const t = id(label);
      await store.addTask(t, contract);
      await store.updateTask(t, { status: TaskResultStatus.Failed, receipt: receipt(t) });
      return t;
    };
    const a = await queue("first");
    await restart();
    const b = await queue("after a restart");
    // A refused update (its delta has a gap) queues nothing, and later receipts still go last.
    const refused = id("refused");
    await store.addTask(refused, contract);
    await rejectsWith(
      store.updateTask(refused, {
        status: TaskResultStatus.Success,
        delta: at(chain(2), 1),
        receipt: receipt(refused),
      }),
      ErrorCode.DeltaIndexGap,
    );
    const c = await queue("after a refused update");
    expect((await store.pendingReceipts()).map((r) => r.taskId)).toEqual([a, b, c]);
    await store.commitReceipts([a, b, c]);
    const d = await queue("after the queue emptied");
    await restart();
    const e = await queue("after another restart");
    expect((await store.pendingReceipts()).map((r) => r.taskId)).toEqual([d, e]);
  });

  it("never queues a task's receipt twice", async () => {
    const t = id("task once");
    await store.addTask(t, contract, TaskResultStatus.Success);
    expect(await store.queueReceipt(receipt(t))).toBe(true);
    expect(await store.queueReceipt(receipt(t))).toBe(false);
    await rejectsWith(store.queueReceipt(receipt(t, 1n)), ErrorCode.ReceiptAlreadyQueued);
    expect((await store.pendingReceipts()).length).toBe(1);
    await store.commitReceipts([t]);
    await rejectsWith(store.queueReceipt(receipt(t)), ErrorCode.ReceiptAlreadyCommitted);
    await rejectsWith(store.commitReceipts([t]), ErrorCode.ReceiptNotPending);
    expect(await store.pendingReceipts()).toEqual([]);
    await rejectsWith(store.queueReceipt(receipt(id("unknown task"))), ErrorCode.TaskUnknown);
    await rejectsWith(
      store.queueReceipt({ ...receipt(t), gasUsed: 5 as unknown as bigint }),
      ErrorCode.InvalidArgument,
    );
    await rejectsWith(store.commitReceipts([t, t]), ErrorCode.InvalidArgument);
  });
});

describe("NodeStore metadata and lifecycle", () => {
  it("metadata persists across a restart", async () => {
    await store.putMeta("lastBlock", 1234);
    await store.putMeta("epoch", { seed: "0xab", index: 3 });
    await store.putMeta("gone", true);
    await store.delMeta("gone");
    await restart();
    expect(await store.getMeta("lastBlock")).toBe(1234);
    expect(await store.getMeta("epoch")).toEqual({ index: 3, seed: "0xab" });
    expect(await store.getMeta("gone")).toBeUndefined();
    await rejectsWith(store.putMeta("x", 1n as unknown as number), ErrorCode.InvalidArgument);
    await rejectsWith(store.putMeta("x", Number.NaN), ErrorCode.InvalidArgument);
    await rejectsWith(store.putMeta("", 1), ErrorCode.InvalidArgument);
    expect(await store.getMeta("x")).toBeUndefined();
  });

  it("reports a damaged record as StoreCorrupt instead of returning half of it", async () => {
    const t = id("task damaged");
    await store.addTask(t, contract);
    await store.stop();
    const raw = new Level<Uint8Array, Uint8Array>(dir, {
      keyEncoding: "view",
      valueEncoding: "view",
    });
    await raw
      .sublevel<Uint8Array, Uint8Array>("task", { keyEncoding: "view", valueEncoding: "view" })
      .put(keccak256(enc.encode("task damaged")), enc.encode('{"taskId":"0x12"}'));
    await raw.close();
    await store.start();
    await rejectsWith(store.getTask(t), ErrorCode.StoreCorrupt);
  });

  it("starts once when asked twice at the same time", async () => {
    await store.stop();
    await Promise.all([store.start(), store.start()]);
    expect(store.isStarted).toBe(true);
    await store.putMeta("k", 1);
    expect(await store.getMeta("k")).toBe(1);
  });

  it("refuses use before start and a second opener of the same directory", async () => {
    const other = new NodeStore({ dir });
    await rejectsWith(other.getMeta("lastBlock"), ErrorCode.StoreNotOpen);
    await rejectsWith(other.start(), ErrorCode.StoreOpenFailed);
    expect(other.isStarted).toBe(false);
    await store.stop();
    await store.stop(); // idempotent
    await rejectsWith(store.putMeta("k", 1), ErrorCode.StoreNotOpen);
    expect(() => new NodeStore({ dir: "" })).toThrow();
  });
});
