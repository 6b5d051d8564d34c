// The enclave's debug interface (devnet "god mode"): off unless the enclave is opened with
// `debug: true`; when on, it shows a task's decrypted input and output and a contract's state.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ErrorCode,
  aesEncrypt,
  bytesToHex,
  decodeValues,
  deriveSharedKey,
  encodeValues,
  generateKeyPair,
  keccak256,
  type Hex,
} from "@enigma/protocol";
import { thrownCode } from "@enigma/protocol/testing";
import { compileSecretContract, exampleSourcePath } from "@enigma/secret-contract";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimulatedAttestationService, devnetAttestationPolicy } from "./attestation-service.js";
import { PrincipalEnclave } from "./principal-enclave.js";
import { WorkerEnclave } from "./worker-enclave.js";

const CHAIN_ID = 31337n;
const ENIGMA = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const utf8 = new TextEncoder();
let root: string;
let ias: SimulatedAttestationService;
let principal: PrincipalEnclave;
let counter: Uint8Array;
let n = 0;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "enclave-debug-"));
  ias = SimulatedAttestationService.generate();
  principal = await PrincipalEnclave.open({
    dir: join(root, "principal"),
    attest: (q) => ias.attest(q),
    chainId: CHAIN_ID,
    enigmaAddress: ENIGMA,
    trustRoot: ias.trustRoot,
    policy: devnetAttestationPolicy(),
  });
  counter = (await compileSecretContract(exampleSourcePath("counter"))).wasm;
}, 120_000);

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

function open(debug?: boolean): Promise<WorkerEnclave> {
  return WorkerEnclave.open({
    dir: join(root, `worker-${++n}`),
    attest: (q) => ias.attest(q),
    chainId: CHAIN_ID,
    enigmaAddress: ENIGMA,
    executor: "inline",
    ...(debug === undefined ? {} : { debug }),
  });
}

describe("the enclave's debug interface", { timeout: 30_000 }, () => {
  it("is off by default: no decrypted input, output or state comes out", async () => {
    const worker = await open();
    expect(worker.debugEnabled).toBe(false);
    expect(thrownCode(() => worker.debug)).toBe(ErrorCode.EnclaveDebugDisabled);
    const off = await open(false);
    expect(thrownCode(() => off.debug)).toBe(ErrorCode.EnclaveDebugDisabled);
    await worker.close();
    await off.close();
  });

  it("when a devnet turns it on: decrypts a task's input and output and shows the contract's state", async () => {
    const worker = await open(true);
    const user = generateKeyPair();
    const { workerEncryptionKey } = worker.workerEncryptionKey(user.publicKey);
    const shared = deriveSharedKey(user.privateKey, workerEncryptionKey);
    const task = (contract: Hex | undefined, fn: string, types: string[], values: unknown[]) => {
      const taskId = bytesToHex(keccak256(utf8.encode(`debug task ${++n}`)));
      return {
        taskId,
        contractAddress: contract ?? taskId,
        encryptedFn: aesEncrypt(shared, utf8.encode(fn)),
        encryptedArgs: aesEncrypt(shared, encodeValues(types, values)),
        userPubKey: user.publicKey,
        gasLimit: 10_000_000n,
      };
    };
    const deploy = task(undefined, "construct()", [], []);
    const keys = await principal.issueStateKeys(
      worker.createStateKeyRequest([deploy.contractAddress]),
      () => true,
    );
    await worker.acceptStateKeys(keys, principal.signer);
    const deployed = await worker.deploy({ ...deploy, preCode: counter });
    expect(deployed.success).toBe(true);
    const inc = task(deployed.contractAddress, "increment(uint256)", ["uint256"], [41n]);
    const r = await worker.compute(inc);
    expect(r.success).toBe(true);

    const input = worker.debug.decryptInput(inc);
    expect(input.fn).toBe("increment(uint256)");
    expect(decodeValues(["uint256"], input.args)).toEqual([41n]);
    // The counter returns its new value as a u64.
    const out = worker.debug.decryptOutput(user.publicKey, r.output);
    expect(BigInt(bytesToHex(out))).toBe(1n);

    const deltas = [deployed, r].map((x) => {
      if (x.delta === null) throw new Error("no delta");
      return x.delta;
    });
    expect(worker.debug.contractState(deployed.contractAddress, deltas)).toEqual([
      { key: "count", value: "1" },
    ]);
    // An enclave without the contract's state key cannot show its state.
    const other = await open(true);
    expect(thrownCode(() => other.debug.contractState(deployed.contractAddress, deltas))).toBe(
      ErrorCode.EnclaveDebugUnavailable,
    );
    await worker.close();
    await other.close();
  });
});
