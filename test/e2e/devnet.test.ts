// The devnet as its users bring it up: `startDevnet` in process (what tests use), driven end
// to end with the client SDK, and `enigma devnet up` as a multi-process network in the
// foreground that stops everything it started on SIGTERM.
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:net";
import { fileURLToPath } from "node:url";
import { Wallet, JsonRpcProvider } from "ethers";
import { afterAll, describe, expect, it } from "vitest";
import { EnigmaClient } from "@enigma/client";
import { EnigmaChain, type EpochInfo } from "@enigma/node";
import { selectWorker } from "@enigma/protocol";
import { startDevnet, type Devnet, type DevnetInfo } from "../../packages/devnet/src/index.js";

const bin = fileURLToPath(new URL("../../packages/cli/bin/enigma.js", import.meta.url));
const GAS = { gasLimit: 5_000_000n, gasPx: 1n };

async function rpc(url: string, method: string, params: unknown = {}): Promise<unknown> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  const body = (await res.json()) as { result?: unknown; error?: { message: string } };
  if (body.error !== undefined) throw new Error(body.error.message);
  return body.result;
}

function run(args: string[]): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ["ignore", "pipe", "ignore"] });
    let stdout = "";
    child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
    child.on("close", (code) => {
      resolve({ code, stdout });
    });
  });
}

/** The devnet's current epoch (the one it came up with, right after `startDevnet`). */
async function epochOf(devnet: Devnet): Promise<{ now: EpochInfo; byIndex: Map<number, bigint> }> {
  const chain = await EnigmaChain.connect({
    rpcUrl: devnet.chain.rpcUrl,
    enigmaAddress: devnet.chain.enigmaAddress,
    tokenAddress: devnet.chain.tokenAddress,
  });
  try {
    const now = await chain.currentEpoch();
    if (now === undefined) throw new Error("no epoch");
    // Every earlier epoch's seed, by index, walking back from the current one.
    const byIndex = new Map<number, bigint>();
    for (let e: EpochInfo | undefined = now; e !== undefined;) {
      byIndex.set(e.index, e.seed);
      e = e.firstBlockNumber > 0 ? await chain.getEpoch(e.firstBlockNumber - 1) : undefined;
      if (e !== undefined && byIndex.has(e.index)) break;
    }
    return { now, byIndex };
  } finally {
    await chain.close();
  }
}

function u64(b: Uint8Array): bigint {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(0, false);
}

/** Whether something accepts TCP connections at the URL's host and port. */
function listening(url: string): Promise<boolean> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const s = connect({ host: u.hostname, port: Number(u.port) });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => {
      resolve(false);
    });
  });
}

describe("startDevnet in process", () => {
  let devnet: Devnet | undefined;
  let provider: JsonRpcProvider | undefined;
  let scAddress: string | undefined;
  let firstEpoch: EpochInfo | undefined;

  afterAll(async () => {
    provider?.destroy();
    await devnet?.stop();
  }, 60_000);

  it("brings up 3 workers and runs a task end to end with the client SDK", async () => {
    const counter = new Uint8Array(
      await readFile(
        new URL("../../packages/secret-contract/build/examples/counter.wasm", import.meta.url),
      ),
    );
    const t0 = performance.now();
    devnet = await startDevnet({ workers: 3, seed: "e2e-devnet" });
    const upMs = performance.now() - t0;
    // Reported, not asserted: benchmarks carry performance targets (STYLE.md).
    console.info(`in-process devnet with 3 workers up in ${upMs.toFixed(0)} ms`);
    expect(devnet.workers).toHaveLength(3);
    expect(devnet.nodes.map((n) => n.role)).toEqual(["principal", "worker", "worker", "worker"]);
    firstEpoch = (await epochOf(devnet)).now;

    const gateway = devnet.workers[0]?.rpcUrl;
    const user = devnet.accounts[0];
    if (gateway === undefined || user === undefined) throw new Error("no gateway or account");
    provider = new JsonRpcProvider(devnet.chain.rpcUrl, undefined, {
      cacheTimeout: -1,
      staticNetwork: true,
    });
    const client = new EnigmaClient({
      signer: new Wallet(user.privateKey, provider),
      enigmaAddress: devnet.chain.enigmaAddress,
      tokenAddress: devnet.chain.tokenAddress,
      nodeUrl: gateway,
      trustRoot: devnet.trustRoot,
      attestationPolicy: devnet.attestationPolicy,
      pollIntervalMs: 50,
      resultTimeoutMs: 30_000,
      receiptTimeoutMs: 60_000,
    });
    const deploy = client.deploySecretContract(counter, "construct()", [], GAS);
    const scAddr = await deploy.submitted();
    expect((await deploy.result()).status).toBe("SUCCESS");
    const task = client.computeTask(scAddr, "increment()", [], GAS);
    const { output } = await task.result();
    expect(u64(output)).toBe(1n);
    scAddress = scAddr;
  });

  it("hands out clients and restarts a worker on its data, ports and identity", async () => {
    if (devnet === undefined || scAddress === undefined) throw new Error("no devnet");
    const worker = devnet.workers[1];
    if (worker?.rpcUrl === undefined) throw new Error("no worker");
    const before = { rpcUrl: worker.rpcUrl, signer: worker.signer, peerId: worker.peerId };
    await worker.stop();
    expect(worker.running).toBe(false);
    expect(await listening(before.rpcUrl)).toBe(false);
    await worker.restart();
    expect({ rpcUrl: worker.rpcUrl, signer: worker.signer, peerId: worker.peerId }).toEqual(before);
    const info = (await rpc(before.rpcUrl, "getInfo")) as { signer: string };
    expect(info.signer.toLowerCase()).toBe(before.signer.toLowerCase());
    const task = devnet.client(1).computeTask(scAddress, "increment()", [], GAS);
    expect(u64((await task.result()).output)).toBe(2n);
  });

  it("is deterministic with the seed: accounts, enclave keys, trust root, epoch seeds, selections", async () => {
    const first = firstEpoch;
    if (devnet === undefined || first === undefined) throw new Error("no devnet");
    const info = devnet.info();
    const again = await startDevnet({ workers: 3, seed: "e2e-devnet" });
    try {
      const other = again.info();
      expect(other.accounts).toEqual(info.accounts);
      expect(other.nodes.map((n) => [n.signer, n.custodian, n.peerId])).toEqual(
        info.nodes.map((n) => [n.signer, n.custodian, n.peerId]),
      );
      expect(other.chain.enigmaAddress).toBe(info.chain.enigmaAddress);
      // The attestation service's RSA key follows from the seed too.
      expect(other.trustRoot).toEqual(info.trustRoot);
      expect(other.attestationUrl).not.toBe(info.attestationUrl); // each runs its own
      // Epoch seeds by index: the second devnet's epochs against the first's (which has moved
      // on since, so its seeds are read back by index).
      const mine = await epochOf(again);
      // Bring-up may end an epoch later on one than on the other (timing): catch up.
      while ((await epochOf(devnet)).now.index < mine.now.index) await devnet.chain.advanceEpoch();
      const theirs = await epochOf(devnet);
      for (const [index, seed] of mine.byIndex) expect(theirs.byIndex.get(index)).toBe(seed);
      // The epoch each came up with: same workers and stakes, so with the same seeds the same
      // worker is selected for any contract.
      expect([mine.now.workers, mine.now.stakes]).toEqual([first.workers, first.stakes]);
      const seedA = theirs.byIndex.get(mine.now.index);
      if (seedA === undefined) throw new Error("no such epoch on the first devnet");
      const contracts = Array.from({ length: 8 }, (_, i) => `0x${String(i + 1).padStart(64, "0")}`);
      expect(contracts.map((c) => selectWorker(c, mine.now))).toEqual(
        contracts.map((c) => selectWorker(c, { ...first, seed: seedA })),
      );
    } finally {
      await again.stop();
    }
  });
});

describe("enigma devnet up", () => {
  it("runs a multi-process devnet in the foreground and stops it on SIGTERM (a second one waits for the stop)", async () => {
    const t0 = performance.now();
    const dir = await mkdtemp(join(tmpdir(), "enigma-devnet-cli-"));
    const child = spawn(
      process.execPath,
      [bin, "devnet", "up", "--workers", "2", "--dir", dir, "--json"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
    let info: DevnetInfo;
    let status: { code: number | null; stdout: string };
    try {
      info = await new Promise<DevnetInfo>((resolve, reject) => {
        child.stdout.on("data", (b: Buffer) => {
          stdout += b.toString();
          if (stdout.includes("\n")) resolve(JSON.parse(stdout) as DevnetInfo);
        });
        void exited.then(() => {
          reject(new Error(`devnet up exited early: ${stderr}`));
        });
      });
      console.info(
        `multi-process devnet with 2 workers up in ${(performance.now() - t0).toFixed(0)} ms`,
      );
      expect(info.nodes.map((n) => n.role)).toEqual(["principal", "worker", "worker"]);
      const worker = info.nodes[1];
      if (worker?.rpcUrl === undefined) throw new Error("no worker rpc");
      const got = (await rpc(worker.rpcUrl, "getInfo")) as { signer: string };
      expect(got.signer.toLowerCase()).toBe(worker.signer.toLowerCase());
      expect(await rpc(info.chain.rpcUrl, "eth_chainId", [])).toBe(
        `0x${info.chain.chainId.toString(16)}`,
      );
      // devnet.json records the same, and `devnet status` finds everything up.
      const record = JSON.parse(await readFile(join(dir, "devnet.json"), "utf8")) as unknown;
      expect(record).toEqual(info);
      status = await run(["devnet", "status", "--dir", dir, "--json"]);
    } finally {
      child.kill("SIGTERM");
    }
    // A second signal while it stops (an impatient Ctrl-C) must not kill it before its nodes.
    // (Or until it exits: a process that never says so fails the assertions below, not here.)
    await Promise.race([
      exited,
      new Promise<void>((resolve) => {
        const seen = () => {
          if (!stderr.includes("SIGTERM, stopping")) return false;
          child.stderr.off("data", seen);
          resolve();
          return true;
        };
        if (!seen()) child.stderr.on("data", seen);
      }),
    ]);
    const second = child.kill("SIGTERM");
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ healthy: true, running: true });
    expect(await exited).toBe(0);
    // (Unless it had stopped before the second signal was sent: it takes about a second.)
    if (second) expect(stderr).toMatch(/SIGTERM again; already stopping[\s\S]*devnet: stopped/);
    // Only the JSON object went to stdout.
    expect(stdout.trim().split("\n")).toHaveLength(1);
    for (const n of info.nodes) {
      if (n.rpcUrl !== undefined) expect(await listening(n.rpcUrl)).toBe(false);
    }
    expect(await listening(info.chain.rpcUrl)).toBe(false);
    // A stopped devnet leaves its logs but no record.
    expect((await run(["devnet", "status", "--dir", dir])).code).toBe(1);
    await rm(dir, { recursive: true, force: true });
  }, 120_000);
});
