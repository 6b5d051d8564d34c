// Issue 20, "anyone can evict users' encryption keys": `getWorkerEncryptionKey` needs no
// authentication (enigma-js sends unsigned requests), and the enclave used to keep 16 keys per
// user key and 10,000 in total, dropping the oldest. So 16 requests naming a victim's public
// key (it is on gossip), or 10,016 requests for other keys, made the victim's task fail to
// decrypt (gas 0). Worker encryption keys are now derived from the enclave's secret and the
// user's key: there is nothing to evict. Both attacks, replayed against the worker enclave:
// the victim's task still decrypts and succeeds, and its output is the right one.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  aesDecrypt,
  aesEncrypt,
  bytesToHex,
  deriveSharedKey,
  generateKeyPair,
  keccak256,
  type Hex,
} from "@enigma/protocol";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { compileSecretContract, exampleSourcePath } from "@enigma/secret-contract";
import { AbiCoder, getBytes } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimulatedAttestationService, devnetAttestationPolicy } from "./attestation-service.js";
import { PrincipalEnclave } from "./principal-enclave.js";
import { WorkerEnclave } from "./worker-enclave.js";

const CHAIN_ID = 31337n;
const ENIGMA = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const abi = AbiCoder.defaultAbiCoder();
const utf8 = new TextEncoder();

let root: string;
let worker: WorkerEnclave;
let calculator: Hex;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "key-eviction-"));
  const ias = SimulatedAttestationService.generate();
  const attest = (q: Uint8Array) => ias.attest(q);
  const principal = await PrincipalEnclave.open({
    dir: join(root, "principal"),
    attest,
    chainId: CHAIN_ID,
    enigmaAddress: ENIGMA,
    trustRoot: ias.trustRoot,
    policy: devnetAttestationPolicy(),
  });
  worker = await WorkerEnclave.open({
    dir: join(root, "worker"),
    attest,
    chainId: CHAIN_ID,
    enigmaAddress: ENIGMA,
  });
  const wasm = (await compileSecretContract(exampleSourcePath("calculator"))).wasm;
  const owner = new Victim();
  const deployment = owner.task(undefined, "construct()");
  await worker.acceptStateKeys(
    await principal.issueStateKeys(
      worker.createStateKeyRequest([deployment.contractAddress]),
      () => true,
    ),
    principal.signer,
  );
  // deploy() and compute() may return a Promise (the runtime runs in a worker thread).
  const deployed = await Promise.resolve(worker.deploy({ ...deployment, preCode: wasm }));
  expect(deployed.success).toBe(true);
  calculator = deployed.contractAddress;
}, 120_000);

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

let tasks = 0;

/** A user as enigma-js is one: asks the worker for its key, encrypts a task to it. */
class Victim {
  readonly keys = generateKeyPair();
  readonly shared: Uint8Array;

  constructor() {
    const { workerEncryptionKey } = worker.workerEncryptionKey(this.keys.publicKey);
    this.shared = deriveSharedKey(this.keys.privateKey, workerEncryptionKey);
  }

  task(contractAddress: Hex | undefined, fn: string, args: bigint[] = []) {
    const taskId = bytesToHex(keccak256(utf8.encode(`eviction task ${++tasks}`)));
    return {
      taskId,
      contractAddress: contractAddress ?? taskId,
      encryptedFn: aesEncrypt(this.shared, utf8.encode(fn)),
      encryptedArgs: aesEncrypt(
        this.shared,
        getBytes(
          abi.encode(
            args.map(() => "uint256"),
            args,
          ),
        ),
      ),
      userPubKey: this.keys.publicKey,
      gasLimit: 1_000_000n,
    };
  }
}

/** The victim's task, encrypted before the attack, run after it: succeeds with 2 + 40. */
async function runsAfter(victim: Victim, task: ReturnType<Victim["task"]>): Promise<void> {
  const r = await Promise.resolve(worker.compute(task));
  expect(r.error).toBeUndefined();
  expect(r.success).toBe(true);
  expect(r.gasUsed).toBeGreaterThan(0n);
  expect(abi.decode(["uint256"], aesDecrypt(victim.shared, r.output))[0]).toBe(42n);
}

describe("user keys that no one else can evict", () => {
  it("16 key requests naming the victim's public key leave the victim's task decryptable", async () => {
    const victim = new Victim();
    const task = victim.task(calculator, "add(uint256,uint256)", [2n, 40n]);
    // The attacker knows the victim's public key (gossip carries it) and asks in its name.
    for (let i = 0; i < 16; i++) worker.workerEncryptionKey(victim.keys.publicKey);
    await runsAfter(victim, task);
  });

  it("10,016 key requests for other users' keys leave the victim's task decryptable", async () => {
    const victim = new Victim();
    const task = victim.task(calculator, "add(uint256,uint256)", [2n, 40n]);
    // Fresh keys are cheap to make (one point addition each: k*G, (k+1)*G, ...); each request
    // used to push a held key out.
    let point = secp256k1.Point.BASE.multiply(0xe71c7n);
    for (let i = 0; i < 10_016; i++) {
      point = point.add(secp256k1.Point.BASE);
      worker.workerEncryptionKey(point.toBytes(false).subarray(1));
    }
    await runsAfter(victim, task);
  }, 120_000);
});
