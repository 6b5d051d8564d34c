import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import {
  ErrorCode,
  bytesToHex,
  decodeQuote,
  generateKeyPair,
  isEnigmaError,
  publicKeyToAddress,
  recoverAddress,
  verifyWorkerKey,
  decryptFrom,
} from "@enigma/protocol";
import { computeAddress, SigningKey } from "ethers";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { EnclaveIdentity, IDENTITY_FILE, loadOrCreatePlatformKey } from "./identity.js";
import { SIMULATED_ENCLAVE_MEASUREMENT } from "./attestation-service.js";
import { Sealer } from "./sealing.js";

const platformA = new Uint8Array(32).fill(1);
const platformB = new Uint8Array(32).fill(2);
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "enigma-identity-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function code(p: Promise<unknown>): Promise<number | undefined> {
  try {
    await p;
  } catch (e) {
    return isEnigmaError(e) ? e.code : -1;
  }
  return undefined;
}

describe("EnclaveIdentity", () => {
  it("signs as its signer address (checked with ethers)", () => {
    const id = EnclaveIdentity.generate();
    expect(id.signer).toBe(computeAddress("0x04" + bytesToHex(id.signingPublicKey).slice(2)));
    const digest = new Uint8Array(32).fill(5);
    expect(recoverAddress(digest, id.sign(digest))).toBe(id.signer);
    const key = generateKeyPair().publicKey;
    expect(() => {
      verifyWorkerKey(key, id.signWorkerKey(key), id.signer);
    }).not.toThrow();
  });

  it("has a separate key-exchange key that does ECDH inside", () => {
    const id = EnclaveIdentity.generate();
    expect(id.keyExchangePublicKey).not.toEqual(id.signingPublicKey);
    const peer = generateKeyPair();
    const wire = id.encryptTo(peer.publicKey, Uint8Array.of(1, 2, 3));
    expect(decryptFrom(peer.privateKey, id.keyExchangePublicKey, wire)).toEqual(
      Uint8Array.of(1, 2, 3),
    );
  });

  it("never shows a private key: no getter, not in JSON, not in inspect", () => {
    const seed = new TextEncoder().encode("a seed of 16+ bytes");
    const id = EnclaveIdentity.generate(seed);
    const json = JSON.stringify(id);
    expect(Object.keys(JSON.parse(json) as object).sort()).toEqual([
      "keyExchangePublicKey",
      "signer",
      "signingPublicKey",
    ]);
    const text =
      json +
      inspect(id, { showHidden: true, depth: 5 }) +
      Object.getOwnPropertyNames(Object.getPrototypeOf(id)).join();
    // Private keys as derived by the same seed path: none of them appears anywhere.
    for (const label of ["/enigma/identity/signing", "/enigma/identity/exchange"]) {
      const priv = generateKeyPair(
        new Uint8Array([...seed, ...new TextEncoder().encode(label)]),
      ).privateKey;
      expect(computeAddress(new SigningKey(priv).publicKey)).toBe(
        label.endsWith("signing") ? id.signer : publicKeyToAddress(id.keyExchangePublicKey),
      );
      expect(text).not.toContain(bytesToHex(priv).slice(2));
    }
    expect(Object.getOwnPropertyNames(Object.getPrototypeOf(id))).not.toContain("privateKey");
  });

  it("is reproducible from a seed", () => {
    const seed = new TextEncoder().encode("devnet worker 1 seed");
    expect(EnclaveIdentity.generate(seed).signer).toBe(EnclaveIdentity.generate(seed).signer);
    expect(EnclaveIdentity.generate(seed).signer).not.toBe(EnclaveIdentity.generate().signer);
  });

  it("builds its quote with report_data = signer address", () => {
    const id = EnclaveIdentity.generate();
    const q = decodeQuote(id.quote(SIMULATED_ENCLAVE_MEASUREMENT));
    expect(bytesToHex(q.reportData.slice(0, 20))).toBe(id.signer.toLowerCase());
    expect(q.reportData.slice(20).every((b) => b === 0)).toBe(true);
    expect(q.mrenclave).toEqual(SIMULATED_ENCLAVE_MEASUREMENT.mrenclave);
  });
});

describe("loadOrCreate", () => {
  it("returns the same identity after a restart, sealed with mode 0600", async () => {
    const a = await EnclaveIdentity.loadOrCreate(dir, platformA);
    const b = await EnclaveIdentity.loadOrCreate(dir, new Sealer(platformA));
    expect(b.signer).toBe(a.signer);
    expect(b.keyExchangePublicKey).toEqual(a.keyExchangePublicKey);
    expect((await stat(join(dir, IDENTITY_FILE))).mode & 0o777).toBe(0o600);
  });

  it("refuses a blob from another platform or tampered, and leaves it in place", async () => {
    const a = await EnclaveIdentity.loadOrCreate(dir, platformA);
    expect(await code(EnclaveIdentity.loadOrCreate(dir, platformB))).toBe(
      ErrorCode.SealedDataRejected,
    );
    const file = join(dir, IDENTITY_FILE);
    const blob = await readFile(file);
    const tampered = Buffer.from(blob);
    tampered[tampered.length - 40] = (tampered[tampered.length - 40] ?? 0) ^ 0x10;
    await writeFile(file, tampered);
    expect(await code(EnclaveIdentity.loadOrCreate(dir, platformA))).toBe(
      ErrorCode.SealedDataRejected,
    );
    await writeFile(file, blob);
    expect((await EnclaveIdentity.loadOrCreate(dir, platformA)).signer).toBe(a.signer);
    // A blob sealed under another label (another purpose) is refused too.
    await writeFile(file, new Sealer(platformA).seal("other", new Uint8Array(65)));
    expect(await code(EnclaveIdentity.loadOrCreate(dir, platformA))).toBe(
      ErrorCode.SealedDataRejected,
    );
  });

  it("with a seed, creates the seeded identity and refuses a different one on disk", async () => {
    const seed = new TextEncoder().encode("devnet worker 7 seed");
    const a = await EnclaveIdentity.loadOrCreate(dir, platformA, { seed });
    expect(a.signer).toBe(EnclaveIdentity.generate(seed).signer);
    expect((await EnclaveIdentity.loadOrCreate(dir, platformA, { seed })).signer).toBe(a.signer);
    const other = new TextEncoder().encode("devnet worker 8 seed");
    expect(await code(EnclaveIdentity.loadOrCreate(dir, platformA, { seed: other }))).toBe(
      ErrorCode.IdentityMismatch,
    );
  });

  it("keeps a platform key in a file", async () => {
    const file = join(dir, "platform.key");
    const k = await loadOrCreatePlatformKey(file);
    expect(k.length).toBe(32);
    expect(await loadOrCreatePlatformKey(file)).toEqual(k);
    await writeFile(file, "short");
    expect(await code(loadOrCreatePlatformKey(file))).toBe(ErrorCode.InvalidConfig);
  });
});
