import { mkdir, mkdtemp, rm, writeFile, appendFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ErrorCode } from "@enigma/protocol";
import { rejectedCode } from "@enigma/protocol/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { logs } from "./logs.js";
import { main } from "./main.js";

const TASK = `0x${"ab".repeat(32)}`;
const CONTRACT = `0x${"cd".repeat(32)}`;
let dir: string;

/** An io that keeps what the command printed. */
function capture() {
  const io = {
    stdout: "",
    stderr: "",
    out: (t: string) => {
      io.stdout += t;
    },
    err: (t: string) => {
      io.stderr += t;
    },
  };
  return io;
}

const line = (o: Record<string, unknown>) => `${JSON.stringify(o)}\n`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "enigma-logs-"));
  for (const n of ["principal", "worker-1", "worker-2"]) {
    await mkdir(join(dir, "nodes", n), { recursive: true });
  }
  await writeFile(
    join(dir, "nodes", "worker-1", "node.log"),
    line({ level: "info", time: "2026-01-01T00:00:01.000Z", msg: "node started", peers: 2 }) +
      line({
        level: "info",
        time: "2026-01-01T00:00:03.000Z",
        msg: "task executed",
        taskId: TASK,
        contract: CONTRACT,
        gasUsed: "10012",
      }) +
      line({ level: "debug", time: "2026-01-01T00:00:04.000Z", msg: "chain events" }),
  );
  await writeFile(
    join(dir, "nodes", "worker-2", "node.log"),
    line({ level: "warn", time: "2026-01-01T00:00:02.000Z", msg: "task deferred", taskId: TASK }) +
      "Error: a stack trace line\n",
  );
  await writeFile(join(dir, "nodes", "principal", "node.log"), "");
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("enigma logs", () => {
  it("merges every node's log by time, pino-pretty style", async () => {
    const io = capture();
    await logs(io, { dir });
    expect(io.stdout.split("\n").filter(Boolean)).toEqual([
      "(worker-2) Error: a stack trace line",
      "[00:00:01.000] INFO  (worker-1): node started peers=2",
      "[00:00:02.000] WARN  (worker-2): task deferred taskId=" + TASK,
      `[00:00:03.000] INFO  (worker-1): task executed taskId=${TASK} contract=${CONTRACT} gasUsed=10012`,
      "[00:00:04.000] DEBUG (worker-1): chain events",
    ]);
  });

  it("filters by task, contract, node and level", async () => {
    const byTask = capture();
    await logs(byTask, { dir, task: TASK.slice(2) });
    expect(byTask.stdout.match(/^\[/gm)).toHaveLength(2);
    const byContract = capture();
    await logs(byContract, { dir, contract: CONTRACT, json: true });
    expect(JSON.parse(byContract.stdout)).toMatchObject({ node: "worker-1", msg: "task executed" });
    const byNode = capture();
    await logs(byNode, { dir, node: "worker-2", level: "warn" });
    expect(byNode.stdout).toContain("task deferred");
    expect(byNode.stdout).not.toContain("worker-1");
  });

  it("follows what the nodes write until stopped", async () => {
    const io = capture();
    const ac = new AbortController();
    const running = logs(io, { dir, node: "principal", follow: true }, ac.signal);
    await appendFile(
      join(dir, "nodes", "principal", "node.log"),
      line({ level: "info", time: "2026-01-01T00:00:05.000Z", msg: "epoch set" }),
    );
    await expect.poll(() => io.stdout, { timeout: 5_000 }).toContain("epoch set");
    ac.abort();
    await running;
  });

  it("refuses an unknown node, a bad task id and a missing devnet in one line", async () => {
    expect(await rejectedCode(logs(capture(), { dir, node: "worker-9" }))).toBe(
      ErrorCode.LogsNotFound,
    );
    expect(await rejectedCode(logs(capture(), { dir: join(dir, "none") }))).toBe(
      ErrorCode.LogsNotFound,
    );
    const io = capture();
    expect(await main(["logs", "--dir", dir, "--task", "0x12"], io)).toBe(1);
    expect(io.stderr).toMatch(/^enigma: --task must be 32 bytes/);
  });
});
