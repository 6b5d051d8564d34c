import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
// The built command, exactly as a user runs it (`pnpm enigma` at the root runs this file).
const bin = fileURLToPath(new URL("../../packages/cli/bin/enigma.js", import.meta.url));

describe("the built enigma command", () => {
  it("prints a resolved devnet configuration as JSON and nothing else on stdout", async () => {
    const { stdout } = await run(process.execPath, [
      bin,
      "devnet",
      "config",
      "--workers",
      "4",
      "--json",
    ]);
    expect(JSON.parse(stdout)).toEqual({
      workers: 4,
      epochBlocks: 10,
      blockTime: "auto",
      taskTimeoutBlocks: 50,
      epochSeconds: 5,
      seed: "enigma",
      confirmations: 0,
      selection: "discovery",
      epochPolicy: "discovery",
    });
  });

  it("resolves the policies by registry name and refuses one the devnet cannot run", async () => {
    const { stdout } = await run(process.execPath, [
      bin,
      "devnet",
      "config",
      "--selection",
      "group",
      "--json",
    ]);
    // The canonical name (the default parameter spelled out) is what nodes and clients get.
    expect(JSON.parse(stdout)).toMatchObject({ selection: "group:3", epochPolicy: "discovery" });
    for (const [flag, value, reason] of [
      ["--selection", "lottery", /unknown selection strategy "lottery"/],
      ["--epoch-policy", "capped:10", /runs in `enigma sim` only/],
    ] as const) {
      const failure = await run(process.execPath, [bin, "devnet", "config", flag, value]).then(
        () => undefined,
        (e: unknown) => e as { code: number; stdout: string; stderr: string },
      );
      expect(failure?.code).toBe(1);
      expect(failure?.stdout).toBe("");
      expect(failure?.stderr).toMatch(reason);
      expect(failure?.stderr.trim().split("\n")).toHaveLength(1);
    }
  });

  it("exits non-zero with a one-line reason on stderr for bad flags", async () => {
    const failure = await run(process.execPath, [
      bin,
      "devnet",
      "config",
      "--epoch-blocks",
      "1",
    ]).then(
      () => undefined,
      (e: unknown) => e as { code: number; stdout: string; stderr: string },
    );
    expect(failure?.code).toBe(1);
    expect(failure?.stdout).toBe("");
    expect(failure?.stderr).toBe(
      "enigma: epochBlocks must be an integer from 2 to 1000000, got 1\n",
    );
  });

  it("refuses a network command's bad input in one line, before looking for a network", async () => {
    const failure = await run(process.execPath, [bin, "call", "0x12", "f()"]).then(
      () => undefined,
      (e: unknown) => e as { code: number; stdout: string; stderr: string },
    );
    expect(failure?.code).toBe(1);
    expect(failure?.stdout).toBe("");
    expect(failure?.stderr).toBe(
      'enigma: the secret contract address must be 32 bytes of hex (0x + 64 digits), got "0x12"\n',
    );
  });
});
