// The `enigma` commands that drive a running network: deploy, call, task status, epoch and
// worker list against one in-process devnet (recorded in its devnet.json, as `enigma devnet
// up` records itself), run through `main()` in this process; then `enigma devnet up --demo
// --exit` as a user runs it (the built command, nodes as OS processes).
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDevnet, type Devnet } from "../../packages/devnet/src/index.js";
import { exampleSourcePath, exampleWasmPath } from "../../packages/secret-contract/src/index.js";
import { runCli as run } from "../../packages/cli/src/cli.fixture.js";

const bin = fileURLToPath(new URL("../../packages/cli/bin/enigma.js", import.meta.url));

async function blockNumber(url: string): Promise<number> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_blockNumber", params: [] }),
  });
  return Number(((await res.json()) as { result: string }).result);
}

/** A local URL nothing listens on (a port just freed). */
async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return `http://127.0.0.1:${port}`;
}

/** The value after `key` on a `key   value` line of human output. */
function field(out: string, key: string): string {
  const m = new RegExp(`^\\s*${key}\\s+(\\S+)`, "m").exec(out);
  if (m?.[1] === undefined) throw new Error(`no "${key}" line in:\n${out}`);
  return m[1];
}

describe("enigma deploy, call, task status, epoch, worker list on a devnet", () => {
  let devnet: Devnet | undefined;
  let dir = "";
  let calculator = "";
  let failedTask = "";

  beforeAll(async () => {
    devnet = await startDevnet({ workers: 2, seed: "e2e-cli-network" });
    dir = devnet.dir;
    // What `enigma devnet up` writes; this process plays the devnet's process.
    const record = { ...devnet.info(), pid: process.pid };
    await writeFile(join(dir, "devnet.json"), JSON.stringify(record));
  });

  afterAll(async () => {
    await devnet?.stop();
  }, 60_000);

  it("deploy prints the lifecycle, the task id and the secret contract's address", async () => {
    const r = await run("deploy", exampleWasmPath("calculator"), "--dir", dir);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    for (const step of ["created", "recorded", "submitted"]) {
      expect(r.out).toMatch(new RegExp(`^${step} `, "m"));
    }
    expect(r.out).toMatch(
      /^created {4}task 0x[0-9a-f]{64}, selected worker 0x[0-9a-f]{40} \(worker-\d\)/,
    );
    expect(r.out).toMatch(/\nexecuted {3}SUCCESS/);
    expect(r.out).toMatch(/\nreceipt {4}pending until the epoch ends/);
    calculator = field(r.out, "address");
    expect(calculator).toMatch(/^0x[0-9a-f]{64}$/);
    expect(r.out).toContain(`task ${calculator}`);
  });

  it("deploy compiles a .ts source first; --json prints one object, progress on stderr", async () => {
    const r = await run(
      "deploy",
      exampleSourcePath("counter"),
      "--dir",
      dir,
      "--account",
      "1",
      "--json",
    );
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/^compiled .*counter\.ts \(\d+ bytes\)\n/);
    expect(r.err).toMatch(/\nexecuted {3}SUCCESS/);
    expect(r.out.trim().split("\n")).toHaveLength(1);
    const report = JSON.parse(r.out) as { address: string; taskId: string; status: string };
    expect(report.status).toBe("SUCCESS");
    expect(report.address).toBe(report.taskId);
  }, 120_000);

  it("call prints the lifecycle and the decrypted output; --advance-epoch waits for the receipt", async () => {
    const r = await run(
      "call",
      calculator,
      "add(uint256,uint256)",
      '[2, "40"]',
      "--returns",
      "uint256",
      "--advance-epoch",
      "--dir",
      dir,
    );
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toContain('\noutput     ["42"]\n');
    expect(r.out).toMatch(/\ncommitted {2}verified on chain \(output hash 0x[0-9a-f]{64}\)/);
    const lines = r.out.split("\n").map((l) => l.split(" ")[0]);
    // In the order they happened. A record mined after the devnet's epoch changed is refused
    // ('Wrong epoch') and created again under the new epoch's worker: each such line names its
    // attempt, and the task id stays the same.
    const steps = lines.filter((l) =>
      ["created", "recorded", "submitted", "executed", "committed"].includes(l ?? ""),
    );
    const attempts = steps.lastIndexOf("created") + 1;
    expect(steps).toEqual([
      ...Array<string>(attempts).fill("created"),
      "recorded",
      "submitted",
      "executed",
      "committed",
    ]);
    const created = [...r.out.matchAll(/^created {4}task (0x[0-9a-f]{64}),.*$/gm)];
    expect(created).toHaveLength(attempts);
    created.forEach((m, i) => {
      expect(m[1]).toBe(created[0]?.[1]);
      if (i > 0) expect(m[0]).toContain(`, attempt ${i + 1}`);
    });
    const taskId = created[0]?.[1] ?? "";

    const status = await run("task", "status", taskId, "--dir", dir);
    expect(status.code).toBe(0);
    expect(status.out).toContain("\nstatus     verified (2)\n");
    expect(field(status.out, "sender").toLowerCase()).toBe(
      devnet?.accounts[0]?.address.toLowerCase(),
    );
    expect(status.out).toMatch(
      /\nfee {8}0\.05 ENG escrowed \(gas limit 5000000 x gas price 1 grains\/gas\)/,
    );
    expect(status.out).toMatch(/\nreceipt {4}ReceiptVerified in block \d+/);
    expect(status.out).toMatch(
      /\ngas used {3}\d+: [\d.]+ ENG to the worker, [\d.]+ ENG back to the sender/,
    );
    const json = JSON.parse(
      (await run("task", "status", taskId, "--dir", dir, "--json")).out,
    ) as Record<string, unknown>;
    expect(json).toMatchObject({ taskId, status: "verified", chainStatus: 2, fee: "5000000" });
  });

  it("a call that fails in the contract exits 2, says why, and is committed as failed", async () => {
    const r = await run(
      "call",
      calculator,
      "sub(uint256,uint256)",
      "[1, 2]",
      "--advance-epoch",
      "--json",
      "--dir",
      dir,
    );
    expect(r.code).toBe(2);
    const report = JSON.parse(r.out) as {
      taskId: string;
      status: string;
      error: { name: string; reason: string };
      receipt: { status: string };
    };
    expect(report).toMatchObject({
      status: "FAILED",
      error: { name: "ContractTrap" },
      receipt: { status: "failed" },
    });
    expect(r.err).toMatch(/\nenigma: task 0x[0-9a-f]{64} failed: .*trapped/);
    failedTask = report.taskId;
    const status = await run("task", "status", failedTask, "--dir", dir);
    expect(status.out).toContain("\nstatus     failed (3)\n");
  });

  it("epoch shows the index, blocks, seed, workers and the worker selected per contract", async () => {
    const human = await run("epoch", "--dir", dir);
    expect(human.code).toBe(0);
    expect(human.out).toMatch(
      /^epoch {6}\d+\nblocks {5}from \d+; the next epoch is due at block \d+/,
    );
    expect(human.out).toMatch(/\n {2}0x[0-9a-f]{40} \(worker-1\) {2}stake \d+(\.\d+)? ENG\n/);
    expect(human.out).toMatch(
      /\npolicies {3}selection discovery \(one worker per contract\), epochs discovery\n/,
    );
    const e = JSON.parse((await run("epoch", "--dir", dir, "--json")).out) as {
      index: number;
      firstBlock: number;
      seed: string;
      workers: { signer: string; stake: string; name: string }[];
      contracts: { address: string; worker: string; group: string[] }[];
    };
    const signers = devnet?.workers.map((w) => w.signer.toLowerCase());
    expect(e.workers.map((w) => w.signer).sort()).toEqual([...(signers ?? [])].sort());
    expect(e.seed).toMatch(/^0x[0-9a-f]{64}$/);
    // Both deployments are committed by now, each with a selected worker of this epoch.
    const calc = e.contracts.find((c) => c.address === calculator);
    expect(signers).toContain(calc?.worker);
    expect(calc?.group).toEqual([calc?.worker]);
    expect(e.contracts).toHaveLength(2);
  });

  it("worker list shows every registered worker with its stake and selections", async () => {
    const r = await run("worker", "list", "--dir", dir, "--json");
    expect(r.code).toBe(0);
    const list = JSON.parse(r.out) as {
      workers: {
        signer: string;
        custodian: string;
        status: string;
        stake: string;
        selected: number;
        name?: string;
      }[];
    };
    const workers = list.workers.filter((w) => w.name?.startsWith("worker-") === true);
    expect(workers.map((w) => w.name).sort()).toEqual(["worker-1", "worker-2"]);
    for (const w of workers) {
      expect(w.status).toBe("logged-in");
      // 100 ENG staked, plus the fees of the tasks it ran.
      expect(BigInt(w.stake)).toBeGreaterThanOrEqual(100n * 10n ** 8n);
    }
    expect(workers.reduce((n, w) => n + w.selected, 0)).toBe(2);
    const human = await run("worker", "list", "--dir", dir);
    expect(human.out).toMatch(/^signer +custodian +status +stake \(ENG\) +selected +name\n/);
    expect(human.out).toMatch(/logged-in +\d+(\.\d+)? +\d +worker-1\n/);
  });

  it("bad input: one line `enigma: <reason>`, a non-zero exit and nothing sent", async () => {
    const rpcUrl = devnet?.chain.rpcUrl ?? "";
    const empty = await mkdtemp(join(tmpdir(), "enigma-cli-empty-"));
    const wasm = exampleWasmPath("calculator");
    const addr = devnet?.chain.enigmaAddress ?? "";
    const token = devnet?.chain.tokenAddress ?? "";
    const notWasm = join(empty, "not-wasm.wasm");
    await writeFile(notWasm, "hello world");
    const before = await blockNumber(rpcUrl);
    const cases: [string[], RegExp][] = [
      [["deploy", join(empty, "nope.wasm")], /cannot read .*nope\.wasm: ENOENT/],
      [["deploy", notWasm], /not-wasm\.wasm is not a WebAssembly module/],
      [["deploy", wasm, "--args", "{"], /bad args for construct\(\): not JSON/],
      [["deploy", wasm, "--gas-limit", "lots"], /--gas-limit must be a whole number/],
      [["deploy", wasm, "--account", "9"], /no account 9: the devnet has 3/],
      [["deploy", wasm, "--key", "0x1234"], /--key must be a secp256k1 private key/],
      [
        ["call", "0x1234", "add(uint256,uint256)", "[1,2]"],
        /secret contract address must be 32 bytes/,
      ],
      [["call", calculator, "add(uint256,uint256)", "[1,"], /not JSON/],
      [
        ["call", calculator, "add(uint256,uint256)", '["x", 1]'],
        /bad args for add\(uint256,uint256\)/,
      ],
      [["call", calculator, "add(uint256", "[]"], /signature/],
      [
        ["call", calculator, "add(uint256,uint256)", "[1,2]", "--returns", "uint7"],
        /--returns must be ABI types/,
      ],
      [
        ["call", `0x${"ab".repeat(32)}`, "add(uint256,uint256)", "[1,2]"],
        /no secret contract at 0x(ab){32}/,
      ],
      [["call", failedTask, "add(uint256,uint256)", "[1,2]"], /the task with that id ended failed/],
      [["task", "status", "12"], /task id must be 32 bytes/],
      [["task", "status", `0x${"cd".repeat(32)}`], /no task 0x(cd){32} on this chain/],
      [["epoch", "--enigma", "0x12"], /--enigma must be a 20-byte 0x address/],
      [["epoch", "--rpc", "ftp://x"], /--rpc must be an http\(s\) URL/],
      [["epoch", "--frobnicate"], /unknown option '--frobnicate'/],
      [["worker", "list", "--enigma", token], /no contract code|does not answer Enigma/],
    ];
    for (const [args, reason] of cases) {
      const r = await run(...args, ...(args.includes("--rpc") ? [] : ["--dir", dir]));
      expect(r.code, args.join(" ")).not.toBe(0);
      expect(r.out, args.join(" ")).toBe("");
      expect(r.err, args.join(" ")).toMatch(reason);
      expect(r.err, args.join(" ")).toMatch(/^enigma: [^\n]+\n$/);
    }
    // No devnet recorded, an unreachable chain.
    const closed = await closedPortUrl();
    for (const [args, reason] of [
      [["epoch", "--dir", empty], /^enigma: no devnet recorded in .*enigma devnet up/],
      [["call", calculator, "f()", "--dir", empty], /^enigma: no devnet recorded/],
      [
        ["worker", "list", "--dir", empty, "--rpc", closed, "--enigma", addr, "--token", token],
        /^enigma: cannot reach the chain at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\): is the devnet running\?/,
      ],
    ] as [string[], RegExp][]) {
      const r = await run(...args);
      expect(r.code, args.join(" ")).toBe(1);
      expect(r.err, args.join(" ")).toMatch(reason);
      expect(r.err.split("\n")).toHaveLength(2);
    }
    // Nothing was sent: every transaction mines a block on this chain.
    expect(await blockNumber(rpcUrl)).toBe(before);
    await rm(empty, { recursive: true, force: true });
  });

  it("explicit flags reach the same network without the record's endpoints", async () => {
    if (devnet === undefined) throw new Error("no devnet");
    const empty = await mkdtemp(join(tmpdir(), "enigma-cli-flags-"));
    const flags = [
      "--rpc",
      devnet.chain.rpcUrl,
      "--enigma",
      devnet.chain.enigmaAddress,
      "--token",
      devnet.chain.tokenAddress,
    ];
    const r = await run("epoch", "--dir", empty, "--json", ...flags);
    expect(r.code).toBe(0);
    expect((JSON.parse(r.out) as { workers: unknown[] }).workers).toHaveLength(2);
    const key = devnet.accounts[2]?.privateKey ?? "";
    const call = await run(
      "call",
      calculator,
      "mul(uint256,uint256)",
      "[6, 7]",
      "--returns",
      "uint256",
      "--dir",
      dir,
      "--key",
      key,
      "--gateway",
      devnet.workers[1]?.rpcUrl ?? "",
      ...flags,
    );
    expect(call.code).toBe(0);
    expect(call.out).toContain('\noutput     ["42"]\n');
    await rm(empty, { recursive: true, force: true });
  });
});

describe("enigma devnet up --demo --exit", () => {
  let child: ChildProcess | undefined;
  let dir = "";

  afterAll(async () => {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      const closed = new Promise((r) => child?.once("close", r));
      child.kill("SIGTERM");
      await closed;
    }
    if (dir !== "") await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it("brings a devnet up, runs the examples end to end, prints results and receipts, stops", async () => {
    dir = await mkdtemp(join(tmpdir(), "enigma-demo-"));
    const p = spawn(
      process.execPath,
      [bin, "devnet", "up", "--demo", "--exit", "--workers", "2", "--dir", dir],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    child = p;
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
    p.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    const code = await new Promise<number | null>((r) => p.once("close", r));
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/calculator\.add\(2, 40\).*\n(.*\n)*? {2}result {5}42\n/);
    expect(stdout).toMatch(/ {2}result {5}1000000000000000000000000000000000000000000\n/);
    expect(stdout).toMatch(/ {2}result {5}failed: ContractTrap/);
    expect(stdout).toMatch(
      /millionaires\.compute_richest\(\).*\n(.*\n)*? {2}result {5}account 1 \(0x[0-9a-f]{40}\)\n/,
    );
    expect(stdout).toMatch(/\nreceipts on chain \(epoch \d+\):\n/);
    expect(stdout).toMatch(/ {2}calculator\.add\(2, 40\) +0x[0-9a-f]{64} {2}verified\n/);
    expect(stdout).toMatch(/ {2}calculator\.sub\(1, 2\) +0x[0-9a-f]{64} {2}failed\n/);
    expect(stdout).toMatch(/ {2}millionaires\.compute_richest\(\) +0x[0-9a-f]{64} {2}verified\n/);
    expect(stderr).toMatch(/devnet: --exit, stopping\ndevnet: stopped\n$/);
  }, 180_000);
});
