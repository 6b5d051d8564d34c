import { EnigmaError, ErrorCode } from "@enigma/protocol";
import { describe, expect, it } from "vitest";
import { TaskHandle, type TaskEvent } from "./task.js";

const id = `0x${"01".repeat(32)}` as const;
const worker = `0x${"02".repeat(20)}` as const;

function handle(fail?: "submit" | "result"): TaskHandle {
  return new TaskHandle({
    submitted: async (emit) => {
      emit({ type: "created", taskId: id, worker, firstBlockNumber: 10n, attempt: 1 });
      if (fail === "submit") throw new EnigmaError(ErrorCode.SignerMismatch, "refused");
      emit({ type: "recorded", taskId: id, txHash: "0x", blockNumber: 11 });
      emit({ type: "submitted", taskId: id, worker });
      return Promise.resolve(id);
    },
    executed: (taskId, emit) => {
      const output = new Uint8Array([1]);
      const status = fail === "result" ? "FAILED" : "SUCCESS";
      emit({ type: "executed", taskId, status, output });
      return Promise.resolve({ taskId, status, output });
    },
    result: (x) => {
      if (x.status !== "SUCCESS") throw new EnigmaError(ErrorCode.ContractTrap, "trapped");
      return { taskId: x.taskId, status: x.status, output: x.output };
    },
    receipt: (x, emit) => {
      const chainStatus = x.status === "SUCCESS" ? 2 : 3;
      emit({ type: "committed", taskId: x.taskId, chainStatus, outputHash: "0x00" });
      return Promise.resolve({ taskId: x.taskId, chainStatus, outputHash: "0x00" });
    },
  });
}

async function collect(t: TaskHandle): Promise<TaskEvent["type"][]> {
  const seen: TaskEvent["type"][] = [];
  for await (const e of t) seen.push(e.type);
  return seen;
}

describe("TaskHandle", () => {
  it("iterates the whole lifecycle, replayed from the start", async () => {
    const t = handle();
    await t.result();
    expect(await collect(t)).toEqual(["created", "recorded", "submitted", "executed", "committed"]);
    expect((await t.waitForReceipt()).chainStatus).toBe(2);
  });

  it("calls listeners for their event type", async () => {
    const t = handle();
    const got: number[] = [];
    t.on("committed", (e) => got.push(e.chainStatus));
    await t.waitForReceipt();
    expect(got).toEqual([2]);
  });

  it("ends the iteration with the error of a refused task", async () => {
    const t = handle("submit");
    await expect(t.submitted()).rejects.toMatchObject({ code: ErrorCode.SignerMismatch });
    await expect(collect(t)).rejects.toMatchObject({ code: ErrorCode.SignerMismatch });
    expect(t.events.map((e) => e.type)).toEqual(["created"]);
  });

  it("still waits for the receipt of a failed task", async () => {
    const t = handle("result");
    await expect(t.result()).rejects.toMatchObject({ code: ErrorCode.ContractTrap });
    expect((await t.waitForReceipt()).chainStatus).toBe(3);
  });
});
