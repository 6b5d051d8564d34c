// The principal enclave: epoch seeds and their EIP-712 signature as `setWorkersParams`
// checks it, and state keys handed only to attested, authorised workers.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ErrorCode,
  WORKERS_PARAMS_TYPES,
  aesEncrypt,
  bytesToHex,
  deriveSharedKey,
  enigmaDomain,
  generateKeyPair,
  keccak256,
  recoverAddress,
  verifyAttestationReport,
  type Hex,
} from "@enigma/protocol";
import { rejectedCode, thrownCode } from "@enigma/protocol/testing";
import { compileSecretContract, exampleSourcePath } from "@enigma/secret-contract";
import { verifyTypedData } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  SIMULATED_ENCLAVE_MEASUREMENT,
  SimulatedAttestationService,
  devnetAttestationPolicy,
} from "./attestation-service.js";
import { EnclaveIdentity } from "./identity.js";
import { peerIdentityDigest } from "./enclave-base.js";
import { PrincipalEnclave } from "./principal-enclave.js";
import { WorkerEnclave } from "./worker-enclave.js";

const CHAIN_ID = 31337n;
const ENIGMA = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const paramsTypes = { WorkersParams: [...WORKERS_PARAMS_TYPES.WorkersParams] };

let root: string;
let ias: SimulatedAttestationService;
let dirs = 0;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "principal-enclave-"));
  ias = SimulatedAttestationService.generate();
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

function newDir(): string {
  return join(root, `enclave-${++dirs}`);
}

function openPrincipal(dir = newDir(), seed?: Uint8Array): Promise<PrincipalEnclave> {
  return PrincipalEnclave.open({
    dir,
    attest: (q) => ias.attest(q),
    chainId: CHAIN_ID,
    enigmaAddress: ENIGMA,
    trustRoot: ias.trustRoot,
    policy: devnetAttestationPolicy(),
    ...(seed === undefined ? {} : { seed }),
  });
}

function openWorker(dir = newDir()): Promise<WorkerEnclave> {
  return WorkerEnclave.open({
    dir,
    attest: (q) => ias.attest(q),
    chainId: CHAIN_ID,
    enigmaAddress: ENIGMA,
  });
}

const contract = (n: number): Hex => bytesToHex(keccak256(Uint8Array.of(n)));

describe("PrincipalEnclave", () => {
  it("opens attested (its report passes the devnet policy for its signer)", async () => {
    const p = await openPrincipal();
    const verified = await verifyAttestationReport(
      p.attestation,
      ias.trustRoot,
      devnetAttestationPolicy(),
      p.signer,
    );
    expect(verified).toBeDefined();
    expect(recoverAddress(peerIdentityDigest("peer"), p.signPeerIdentity("peer"))).toBe(p.signer);
    expect(JSON.parse(JSON.stringify(p))).toEqual({ signer: p.signer });
  });

  it("a seeded principal draws the same epoch seeds every time; an unseeded one draws fresh ones", async () => {
    const seed = new Uint8Array(32).fill(9);
    const a = await openPrincipal(newDir(), seed);
    const b = await openPrincipal(newDir(), seed);
    const seeds = [0, 1, 2].map((i) => a.epochSeed(i));
    expect([0, 1, 2].map((i) => b.epochSeed(i))).toEqual(seeds);
    expect([0, 1, 2].map((i) => a.epochSeed(i))).toEqual(seeds);
    expect(new Set(seeds).size).toBe(3);
    expect(b.signer).toBe(a.signer);

    const u = await openPrincipal();
    const v = await openPrincipal();
    expect(u.epochSeed(0)).not.toBe(v.epochSeed(0));
    expect(u.epochSeed(0)).not.toBe(u.epochSeed(0));
    expect(u.epochSeed(0)).toBeLessThan(2n ** 256n);
  });

  it("signs WorkersParams with the Enigma domain, and only for a seed it drew for that epoch", async () => {
    const p = await openPrincipal();
    const seed = p.epochSeed(3);
    const sig = p.signWorkersParams(120, seed, 3);
    const recovered = verifyTypedData(
      enigmaDomain(CHAIN_ID, ENIGMA),
      paramsTypes,
      { blockNumber: 120n, seed, nonce: 3n },
      sig,
    );
    expect(recovered).toBe(p.signer);
    expect(p.signWorkersParams(120n, seed, 3n)).toBe(sig);
    expect(thrownCode(() => p.signWorkersParams(120, seed + 1n, 3))).toBe(
      ErrorCode.InvalidArgument,
    );
    expect(thrownCode(() => p.signWorkersParams(120, seed, 4))).toBe(ErrorCode.InvalidArgument);
    expect(thrownCode(() => p.signWorkersParams(-1, seed, 3))).toBe(ErrorCode.InvalidArgument);
    expect(thrownCode(() => p.epochSeed(-1))).toBe(ErrorCode.InvalidArgument);
  });

  it("issues state keys to an authorised, attested worker and refuses one that is not authorised", async () => {
    const p = await openPrincipal();
    const selected = await openWorker();
    const other = await openWorker();
    const authorize = (signer: Hex) => signer === selected.signer;
    const c = contract(1);

    expect(await rejectedCode(p.issueStateKeys(other.createStateKeyRequest([c]), authorize))).toBe(
      ErrorCode.StateKeyRequestRefused,
    );
    const refused = await p
      .issueStateKeys(other.createStateKeyRequest([c]), authorize)
      .catch((e: unknown) => e);
    expect(refused).toMatchObject({ details: { signer: other.signer, contractAddress: c } });
    expect(other.hasStateKey(c)).toBe(false);

    const response = await p.issueStateKeys(selected.createStateKeyRequest([c]), authorize);
    expect(response.recipient).toBe(selected.signer);
    // Addressed to `selected`: another enclave cannot take it in.
    expect(await rejectedCode(other.acceptStateKeys(response, p.signer))).toBe(
      ErrorCode.SignerMismatch,
    );
    expect(await selected.acceptStateKeys(response, p.signer)).toEqual([c]);
    expect(selected.hasStateKey(c)).toBe(true);
  });

  it("after a restart the principal has the same signer and hands out the same state keys", async () => {
    const dir = newDir();
    const first = await openPrincipal(dir);
    const wasm = (await compileSecretContract(exampleSourcePath("counter"))).wasm;
    const taskId = contract(2);
    // Worker a gets the key from the first run and deploys the counter.
    const a = await openWorker();
    await a.acceptStateKeys(
      await first.issueStateKeys(a.createStateKeyRequest([taskId]), () => true),
      first.signer,
    );
    const user = generateKeyPair();
    const shared = deriveSharedKey(
      user.privateKey,
      a.workerEncryptionKey(user.publicKey).workerEncryptionKey,
    );
    const deployed = await a.deploy({
      taskId,
      contractAddress: taskId,
      preCode: wasm,
      encryptedFn: aesEncrypt(shared, new TextEncoder().encode("construct()")),
      encryptedArgs: aesEncrypt(shared, new Uint8Array()),
      userPubKey: user.publicKey,
      gasLimit: 1_000_000n,
    });
    expect(deployed.success).toBe(true);
    if (deployed.delta === null) throw new Error("no delta 0");

    // Worker b gets the key from the restarted principal: it decrypts a's delta 0.
    const again = await openPrincipal(dir);
    expect(again.signer).toBe(first.signer);
    const b = await openWorker();
    await b.acceptStateKeys(
      await again.issueStateKeys(b.createStateKeyRequest([taskId]), () => true),
      again.signer,
    );
    b.loadContract(taskId, wasm, [deployed.delta]);
    expect(b.deltaCount(taskId)).toBe(1);
  }, 60_000);
});

describe("opening an enclave", () => {
  it("refuses an attestation for another quote than its own", async () => {
    // A well-formed quote (the service signs only those) of another enclave.
    const other = EnclaveIdentity.generate(
      new TextEncoder().encode("another enclave, seeded"),
    ).quote(SIMULATED_ENCLAVE_MEASUREMENT);
    await expect(
      WorkerEnclave.open({
        dir: newDir(),
        attest: () => ias.attest(other),
        chainId: CHAIN_ID,
        enigmaAddress: ENIGMA,
      }),
    ).rejects.toMatchObject({ code: ErrorCode.AttestationSignerMismatch });
    expect(
      await rejectedCode(
        WorkerEnclave.open({
          dir: newDir(),
          attest: (q) => ias.attest(q),
          chainId: CHAIN_ID,
          enigmaAddress: "0x1234",
        }),
      ),
    ).toBe(ErrorCode.InvalidArgument);
  });
});
