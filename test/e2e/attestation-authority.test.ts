// One attestation authority (issue 20): every node used to load the attestation service's RSA
// private key (`attestation.serviceKeyFile`), so any operator could sign a report for any
// MRENCLAVE. Now the devnet's harness runs the service and alone holds its key; nodes send their
// enclave's quote to it over HTTP. A devnet of node processes is brought up and every file it
// wrote (node configs, data folders, logs) is searched for the key: it is in none of them, and
// the workers are registered all the same.
import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EnigmaChain, WorkerStatus } from "@enigma/node";
import { startDevnet, type Devnet } from "../../packages/devnet/src/index.js";
import { baseSeed } from "../../packages/devnet/src/chain.js";
import { seededAttestationService } from "../../packages/devnet/src/service-key.js";

const SEED = "e2e-attestation-authority";
let devnet: Devnet;

beforeAll(async () => {
  devnet = await startDevnet({ inProcess: false, workers: 2, users: 0, seed: SEED });
}, 120_000);

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- undefined when beforeAll failed
  await devnet?.stop();
}, 60_000);

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(path)));
    else if (e.isFile()) out.push(path);
  }
  return out;
}

describe("one attestation authority", () => {
  it("leaves the service's private key out of every node config, data folder and log", async () => {
    // The key the devnet's service holds (it follows from the seed).
    const pem = seededAttestationService(baseSeed(SEED)).exportPem();
    const body = pem.split("\n").filter((l) => l.length === 64); // full base64 lines of the key
    expect(body.length).toBeGreaterThan(10);
    const files = await filesUnder(devnet.dir);
    const configs = files.filter((f) => f.endsWith("config.json"));
    expect(configs).toHaveLength(3);
    for (const file of files) {
      const text = (await readFile(file)).toString("latin1");
      expect(text, file).not.toContain("PRIVATE KEY");
      for (const line of body) expect(text.includes(line), file).toBe(false);
    }
    // A node's config names the service and its public key, nothing else.
    for (const file of configs) {
      const config = JSON.parse(await readFile(file, "utf8")) as { attestation: object };
      expect(config.attestation).toEqual({
        url: devnet.info().attestationUrl,
        trustRoot: devnet.trustRoot,
      });
    }
  });

  it("registers every worker with a report the service signed over its enclave's quote", async () => {
    const chain = await EnigmaChain.connect({
      rpcUrl: devnet.chain.rpcUrl,
      enigmaAddress: devnet.chain.enigmaAddress,
      tokenAddress: devnet.chain.tokenAddress,
    });
    try {
      for (const w of devnet.workers) {
        const onChain = await chain.getWorker(w.custodian);
        expect(onChain.signer.toLowerCase()).toBe(w.signer.toLowerCase());
        expect(onChain.status).toBe(WorkerStatus.LoggedIn);
      }
    } finally {
      await chain.close();
    }
  });
});
