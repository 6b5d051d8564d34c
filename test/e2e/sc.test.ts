import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const root = fileURLToPath(new URL("../../", import.meta.url));
const bin = join(root, "packages/cli/bin/enigma.js");
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "enigma-sc-e2e-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("enigma sc, as separate processes", () => {
  it("compiles an example and runs it: the user sees the decoded result and the gas", async () => {
    const wasm = join(dir, "calculator.wasm");
    await run(process.execPath, [
      bin,
      "sc",
      "compile",
      join(root, "packages/secret-contract/examples/calculator.ts"),
      "-o",
      wasm,
    ]);
    // `--wasm` once collided with the AssemblyScript compiler's own argv parsing: this runs
    // the real command line, not the in-process entry point.
    const { stdout } = await run(process.execPath, [
      bin,
      "sc",
      "exec",
      "--wasm",
      wasm,
      "--fn",
      "mul(uint256,uint256)",
      "--args",
      "[6,7]",
      "--returns",
      "uint256",
      "--json",
    ]);
    // One JSON array of task results: the constructor, then the call.
    const tasks = JSON.parse(stdout) as {
      task: string;
      ok: boolean;
      decoded?: unknown;
      gasUsed: number;
    }[];
    expect(tasks.map((t) => t.task)).toEqual(["deploy construct()", "call mul(uint256,uint256)"]);
    expect(tasks[1]).toMatchObject({ ok: true, decoded: ["42"] });
    expect(tasks[1]?.gasUsed).toBeGreaterThan(10_000);
  }, 60_000);

  it("keeps state across runs with --state-dir", async () => {
    const stateDir = join(dir, "counter-state");
    const wasm = join(root, "packages/secret-contract/build/examples/counter.wasm");
    const once = async () =>
      JSON.parse(
        (
          await run(process.execPath, [
            bin,
            "sc",
            "exec",
            "--wasm",
            wasm,
            "--fn",
            "increment()",
            "--state-dir",
            stateDir,
            "--json",
          ])
        ).stdout,
      ) as { task: string; output: string; delta: { index: number } | null }[];
    const first = (await once()).at(-1);
    const second = await once();
    // The second run finds the deployed contract in the state dir: no constructor again.
    expect(second.map((t) => t.task)).toEqual(["call increment()"]);
    expect(BigInt(second[0]?.output ?? "0x0")).toBe(BigInt(first?.output ?? "0x0") + 1n);
    expect(second[0]?.delta?.index).toBe((first?.delta?.index ?? 0) + 1);
  }, 60_000);
});
