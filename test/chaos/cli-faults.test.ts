// The nemesis and the checker from the command line, as a user drives them: `enigma devnet up
// --faults` runs in the background; `enigma devnet fault` kills a worker for a while (it comes
// back on its own), partitions the network, cuts a worker off the chain, and refuses what does
// not exist; tasks run meanwhile (`enigma deploy`, `enigma call`); `enigma check --refund`
// then passes (exit 0) and names the faults it was told of.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exampleWasmPath } from "../../packages/secret-contract/src/index.js";
import { runCli as run } from "../../packages/cli/src/cli.fixture.js";

const bin = fileURLToPath(new URL("../../packages/cli/bin/enigma.js", import.meta.url));
let dir = "";
let up: ChildProcess | undefined;
let upLog = "";

async function history(): Promise<{ kind: string; target: string }[]> {
  const rec = JSON.parse(await readFile(join(dir, "devnet.json"), "utf8")) as { faultsUrl: string };
  const r = await fetch(`${rec.faultsUrl}/history`);
  return ((await r.json()) as { history: { kind: string; target: string }[] }).history;
}

async function until<T>(
  probe: () => Promise<T | undefined>,
  what: string,
  ms = 60_000,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${upLog}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "enigma-cli-faults-"));
  const child = spawn(
    process.execPath,
    [bin, "devnet", "up", "--faults", "--workers", "3", "--dir", dir, "--seed", "cli-faults"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  up = child;
  child.stderr.on("data", (b: Buffer) => (upLog = (upLog + b.toString()).slice(-6000)));
  child.stdout.on("data", () => undefined);
  await until(
    async () => JSON.parse(await readFile(join(dir, "devnet.json"), "utf8")) as object,
    "devnet.json",
    120_000,
  );
}, 180_000);

afterAll(async () => {
  if (up !== undefined && up.exitCode === null) {
    const closed = new Promise((r) => up?.once("close", r));
    up.kill("SIGTERM");
    await closed;
  }
  await rm(dir, { recursive: true, force: true });
}, 60_000);

describe("enigma devnet fault and enigma check", () => {
  it("injects faults, undoes them after --for, refuses nonsense, and the check passes", async () => {
    const killed = await run("devnet", "fault", "kill", "worker-2", "--for", "1s", "--dir", dir);
    expect(killed.code, killed.err).toBe(0);
    expect(killed.out).toMatch(/kill worker-2 \(signal SIGKILL\); undone at /);
    // It restarts on its own when the time is up.
    await until(
      async () =>
        (await history()).some((e) => e.kind === "restart" && e.target === "worker-2")
          ? true
          : undefined,
      "worker-2's restart",
    );

    const split = await run(
      "devnet",
      "fault",
      "partition",
      "principal,worker-1|worker-2,worker-3",
      "--for",
      "2s",
      "--dir",
      dir,
    );
    expect(split.code, split.err).toBe(0);
    const outage = await run(
      "devnet",
      "fault",
      "chain-outage",
      "worker-3",
      "--mode",
      "hang",
      "--for",
      "2s",
      "--dir",
      dir,
    );
    expect(outage.code, outage.err).toBe(0);
    expect(outage.out).toContain("chain-outage worker-3 (hang)");

    const unknown = await run("devnet", "fault", "kill", "worker-9", "--dir", dir);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toMatch(/^enigma: no node named "worker-9"/);
    const badKind = await run("devnet", "fault", "melt", "worker-1", "--dir", dir);
    expect(badKind.code).toBe(1);
    expect(badKind.err).toMatch(/unknown fault kind "melt"/);
    const badFor = await run("devnet", "fault", "pause", "worker-1", "--for", "soon", "--dir", dir);
    expect(badFor.code).not.toBe(0);

    // Tasks once the partition and the outage are undone (their --for ran out).
    await until(
      async () =>
        (await history()).filter((e) => e.kind === "heal" || e.kind === "restore-chain").length >= 2
          ? true
          : undefined,
      "the partition and the outage undone",
    );
    const deployed = await run("deploy", exampleWasmPath("calculator"), "--dir", dir, "--json");
    expect(deployed.code, deployed.err).toBe(0);
    const address = (JSON.parse(deployed.out) as { address: string }).address;
    const called = await run(
      "call",
      address,
      "add(uint256,uint256)",
      "[2, 40]",
      "--returns",
      "uint256",
      "--advance-epoch",
      "--dir",
      dir,
    );
    expect(called.code, called.err).toBe(0);
    expect(called.out).toContain('output     ["42"]');

    const checked = await run("check", "--dir", dir, "--refund", "--settle", "60");
    expect(checked.err).not.toMatch(/^enigma:/m);
    expect(checked.out).toMatch(/^PASS {2}tasks-settled/m);
    expect(checked.out).toMatch(/no violations\n$/);
    expect(checked.code).toBe(0);
    expect(checked.out).toMatch(/\d+ faults/);
  }, 240_000);
});
