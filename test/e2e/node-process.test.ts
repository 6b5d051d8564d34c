// `enigma node start` as a user runs it: a separate OS process with a JSON config, against a
// chain served over HTTP. It registers, stakes and logs its worker in, serves JSON-RPC, and
// stops cleanly on SIGTERM. Bad configs are refused before anything starts.
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import {
  AttestationServer,
  SIMULATED_ENCLAVE_MEASUREMENT,
  SimulatedAttestationService,
} from "@enigma/enclave";
import { trustRootToJwk } from "@enigma/protocol";
import { Contract, HDNodeWallet, JsonRpcProvider, NonceManager, Wallet, hexlify } from "ethers";
import hre from "hardhat";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deployEnigma } from "../../scripts/deploy.js";

const bin = fileURLToPath(new URL("../../packages/cli/bin/enigma.js", import.meta.url));
const MNEMONIC = "test test test test test test test test test test test junk";
const account = (i: number) =>
  new Wallet(HDNodeWallet.fromPhrase(MNEMONIC, undefined, `m/44'/60'/0'/0/${i}`).privateKey);

let dir: string;
let server: Awaited<ReturnType<typeof hre.network.createServer>>;
let provider: JsonRpcProvider;
let config: Record<string, unknown>;
let attestation: AttestationServer | undefined;
let enigma: Contract;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "enigma-node-process-"));
  server = await hre.network.createServer("default", "127.0.0.1", 0);
  const { address, port } = await server.listen();
  const rpcUrl = `http://${address}:${port}`;
  provider = new JsonRpcProvider(rpcUrl, undefined, { cacheTimeout: -1, staticNetwork: true });
  const deployer = new NonceManager(account(0).connect(provider));
  const service = SimulatedAttestationService.generate();
  attestation = new AttestationServer({ service });
  await attestation.start();
  const jwk = trustRootToJwk(service.trustRoot);
  const b64 = (s: string) => hexlify(Buffer.from(s, "base64url"));
  const d = await deployEnigma(deployer, {
    principal: account(19).address,
    attestation: {
      rsaModulus: b64(jwk.n),
      rsaExponent: b64(jwk.e),
      mrEnclaves: [SIMULATED_ENCLAVE_MEASUREMENT.mrenclave],
      mrSigners: [SIMULATED_ENCLAVE_MEASUREMENT.mrsigner],
    },
  });
  enigma = d.enigma;
  const custodian = account(2);
  const tx = (await d.token.getFunction("transfer")(custodian.address, 500n * 10n ** 8n)) as {
    wait(): Promise<unknown>;
  };
  await tx.wait();
  config = {
    roles: ["worker", "gateway"],
    dataDir: join(dir, "worker"),
    ethereum: {
      rpcUrl,
      enigmaAddress: d.enigmaAddress,
      tokenAddress: d.tokenAddress,
      privateKey: custodian.privateKey,
      pollIntervalMs: 50,
    },
    attestation: { url: attestation.url, trustRoot: service.trustRoot },
    worker: { stake: "250" },
    logLevel: "warn",
  };
}, 60_000);

afterAll(async () => {
  // Both are undefined when beforeAll failed early.
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
  provider?.destroy();
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
  await server?.close();
  await attestation?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function configFile(name: string, value: unknown): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, typeof value === "string" ? value : JSON.stringify(value));
  return file;
}

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args]);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    child.on("close", (code) => {
      resolve({ code, stdout, stderr });
    });
  });
}

describe("enigma node start", () => {
  it("validates a config with --check-config and refuses a broken one with every problem", async () => {
    const ok = await run([
      "node",
      "start",
      "--config",
      await configFile("ok.json", config),
      "--check-config",
    ]);
    expect(ok).toMatchObject({ code: 0, stdout: "config ok\n" });
    const bad = await run([
      "node",
      "start",
      "--config",
      await configFile("bad.json", { ...config, dataDir: "", p2p: { port: 99_999 } }),
      "--check-config",
    ]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/dataDir/);
    expect(bad.stderr).toMatch(/p2p\.port/);
    const notJson = await run([
      "node",
      "start",
      "--config",
      await configFile("nj.json", "{"),
      "--check-config",
    ]);
    expect(notJson.code).toBe(1);
    expect(notJson.stderr).toMatch(/not valid JSON/);
  });

  it("runs as its own process: registers, stakes and logs in, serves JSON-RPC, stops on SIGTERM", async () => {
    const file = await configFile("worker.json", config);
    const child = spawn(process.execPath, [bin, "node", "start", "--config", file, "--json"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
    try {
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout }).once("line", resolve);
        child.once("close", () => {
          reject(new Error(`node exited before it was up: ${stderr}`));
        });
      });
      const endpoints = JSON.parse(line) as { rpcUrl: string; signer: string; roles: string[] };
      expect(endpoints.roles).toEqual(["worker", "gateway"]);
      const res = await fetch(endpoints.rpcUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "getInfo", params: {} }),
      });
      const info = (await res.json()) as { result: { signer: string } };
      expect(info.result.signer.toLowerCase()).toBe(endpoints.signer.toLowerCase());
      // On chain: registered with its enclave signer, staked and logged in.
      const w = (await enigma.connect(provider).getFunction("getWorker")(account(2).address)) as {
        signer: string;
        status: bigint;
        balance: bigint;
      };
      expect(w.signer.toLowerCase()).toBe(endpoints.signer.toLowerCase());
      expect(w.status).toBe(1n);
      expect(w.balance).toBe(250n * 10n ** 8n);
    } finally {
      child.kill("SIGTERM");
    }
    expect(await exited).toBe(0);
  }, 60_000);
});
