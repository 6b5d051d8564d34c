// The worker enclave as a node drives it and as a client sees it: inputs encrypted exactly as
// a client encrypts them, outputs decrypted with the user's key, receipts checked the way
// `Enigma.commitReceipts` checks them (EIP-712 signer, field rules).
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import {
  ErrorCode,
  RECEIPT_BATCH_TYPES,
  aesDecrypt,
  aesEncrypt,
  bytesToHex,
  deploymentInputsHash,
  deriveSharedKey,
  enclaveReportData,
  enigmaDomain,
  generateKeyPair,
  hexToBytes,
  inputsHash,
  keccak256,
  recoverAddress,
  recoverWorkerKeySigner,
  type ChainReceipt,
  type Hex,
  type KeyPair,
} from "@enigma/protocol";
import { rejectedCode, thrownCode } from "@enigma/protocol/testing";
import { compileSecretContract, exampleSourcePath } from "@enigma/secret-contract";
import { AbiCoder, getAddress, getBytes, verifyTypedData, type TypedDataField } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimulatedAttestationService, devnetAttestationPolicy } from "./attestation-service.js";
import { peerIdentityDigest } from "./enclave-base.js";
import { PrincipalEnclave } from "./principal-enclave.js";
import { WorkerEnclave, type EnclaveTaskInput, type EnclaveTaskResult } from "./worker-enclave.js";

const CHAIN_ID = 31337n;
const ENIGMA = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const ZERO32 = `0x${"00".repeat(32)}`;
const ZERO_ADDRESS = `0x${"00".repeat(20)}`;
const GAS = 10_000_000n;
const abi = AbiCoder.defaultAbiCoder();
const utf8 = new TextEncoder();

// A contract that asks for an Ethereum call (no SDK example does).
const BRIDGE_SOURCE = `
import { AbiWriter, abiArgs, callEthereum, functionName, selector, unknownFunction, writeBytesState } from "SDK";
export function deploy(): void {}
export function call(): void {
  if (functionName() == "notify") {
    const a = abiArgs();
    const to = a.address();
    callEthereum(to, selector("ping(uint256)"), new AbiWriter().u256(a.u256()));
    writeBytesState("last", to);
  } else unknownFunction();
}
`;

let root: string;
let ias: SimulatedAttestationService;
let principal: PrincipalEnclave;
const wasm: Record<"counter" | "calculator" | "bridge", Uint8Array> = {
  counter: new Uint8Array(),
  calculator: new Uint8Array(),
  bridge: new Uint8Array(),
};
let dirs = 0;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "worker-enclave-"));
  ias = SimulatedAttestationService.generate();
  principal = await PrincipalEnclave.open({
    dir: join(root, "principal"),
    attest: (q) => ias.attest(q),
    chainId: CHAIN_ID,
    enigmaAddress: ENIGMA,
    trustRoot: ias.trustRoot,
    policy: devnetAttestationPolicy(),
  });
  wasm.counter = (await compileSecretContract(exampleSourcePath("counter"))).wasm;
  wasm.calculator = (await compileSecretContract(exampleSourcePath("calculator"))).wasm;
  const file = join(root, "bridge.ts");
  const sdk = exampleSourcePath("counter").replace(/examples\/counter\.ts$/, "assembly/index");
  await writeFile(file, BRIDGE_SOURCE.replace('"SDK"', JSON.stringify(relative(root, sdk))));
  wasm.bridge = (await compileSecretContract(file)).wasm;
}, 120_000);

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

function newDir(): string {
  return join(root, `worker-${++dirs}`);
}

function openWorker(dir = newDir(), seed?: Uint8Array): Promise<WorkerEnclave> {
  return WorkerEnclave.open({
    dir,
    attest: (q) => ias.attest(q),
    chainId: CHAIN_ID,
    enigmaAddress: ENIGMA,
    ...(seed === undefined ? {} : { seed }),
  });
}

/** The principal hands `worker` the state keys of `contracts` (it is the selected worker). */
async function giveKeys(worker: WorkerEnclave, ...contracts: Hex[]): Promise<void> {
  const response = await principal.issueStateKeys(
    worker.createStateKeyRequest(contracts),
    (signer) => signer === worker.signer,
  );
  expect(await worker.acceptStateKeys(response, principal.signer)).toEqual(
    contracts.map((c) => c.toLowerCase()),
  );
}

let taskCounter = 0;
function newTaskId(): Hex {
  return bytesToHex(keccak256(utf8.encode(`task ${++taskCounter} ${Math.random()}`)));
}

/** What a client does: a user key pair, the worker's key (signature checked), AES-GCM. */
class User {
  readonly keys: KeyPair;
  readonly shared: Uint8Array;

  constructor(worker: WorkerEnclave, keys: KeyPair = generateKeyPair()) {
    this.keys = keys;
    const { workerEncryptionKey, workerSig } = worker.workerEncryptionKey(keys.publicKey);
    expect(recoverWorkerKeySigner(workerEncryptionKey, workerSig)).toBe(worker.signer);
    this.shared = deriveSharedKey(keys.privateKey, workerEncryptionKey);
  }

  task(
    contractAddress: Hex | undefined,
    fn: string,
    types: string[] = [],
    values: unknown[] = [],
    gasLimit = GAS,
    /** A fixed IV (reproducible inputs); random by default, as a client does. */
    iv?: Uint8Array,
  ): EnclaveTaskInput {
    const taskId = newTaskId();
    return {
      taskId,
      contractAddress: contractAddress ?? taskId,
      encryptedFn: aesEncrypt(this.shared, utf8.encode(fn), iv),
      encryptedArgs: aesEncrypt(this.shared, getBytes(abi.encode(types, values)), iv),
      userPubKey: this.keys.publicKey,
      gasLimit,
    };
  }

  output(r: EnclaveTaskResult): Uint8Array {
    return aesDecrypt(this.shared, r.output);
  }
}

const receiptTypes = Object.fromEntries(
  Object.entries(RECEIPT_BATCH_TYPES).map(([k, v]) => [k, [...v]]),
) as Record<string, TypedDataField[]>;

function batchSigner(receipts: ChainReceipt[], signature: string): string {
  return verifyTypedData(enigmaDomain(CHAIN_ID, ENIGMA), receiptTypes, { receipts }, signature);
}

function u64(bytes: Uint8Array): bigint {
  return BigInt(bytesToHex(bytes));
}

/** A worker with the counter deployed (delta 0) and its state key. */
async function counterWorker(dir?: string) {
  const worker = await openWorker(dir);
  const user = new User(worker);
  const deployTask = user.task(undefined, "construct()");
  await giveKeys(worker, deployTask.contractAddress);
  const deployed = await worker.deploy({ ...deployTask, preCode: wasm.counter });
  expect(deployed).toMatchObject({ success: true, delta: { index: 0 } });
  return { worker, user, contract: deployed.contractAddress, deployed };
}

function stored(r: EnclaveTaskResult) {
  if (r.delta === null) throw new Error(`task ${r.taskId} has no delta`);
  return r.delta;
}

// Each enclave starts its execution threads on its first task (about 0.5-1 s from the sources
// under the test runner, more on a loaded machine).
describe("WorkerEnclave", { timeout: 30_000 }, () => {
  it("opens with an attestation naming its signer and signs its peer id", async () => {
    const worker = await openWorker();
    expect(worker.signer).toMatch(/^0x[0-9a-fA-F]{40}$/);
    const body = JSON.parse(worker.attestation.report) as { isvEnclaveQuoteBody: string };
    const quote = Buffer.from(body.isvEnclaveQuoteBody, "base64");
    expect(bytesToHex(quote.subarray(368, 388)).toLowerCase()).toBe(worker.signer.toLowerCase());
    const sig = worker.signPeerIdentity("12D3KooWpeer");
    expect(recoverAddress(peerIdentityDigest("12D3KooWpeer"), sig)).toBe(worker.signer);
    // Logging the enclave shows public parts only.
    expect(JSON.parse(JSON.stringify(worker))).toEqual({
      signer: worker.signer,
      contracts: 0,
      stateKeys: 0,
    });
  });

  it("binds its attestation to the custodian that may register it, on this chain and contract", async () => {
    const custodian = "0x00000000000000000000000000000000000c0de5";
    const worker = await WorkerEnclave.open({
      dir: newDir(),
      attest: (q) => ias.attest(q),
      chainId: CHAIN_ID,
      enigmaAddress: ENIGMA,
      custodian,
    });
    const body = JSON.parse(worker.attestation.report) as { isvEnclaveQuoteBody: string };
    const reportData = Buffer.from(body.isvEnclaveQuoteBody, "base64").subarray(368, 432);
    expect(bytesToHex(reportData)).toBe(
      bytesToHex(
        enclaveReportData(hexToBytes(worker.signer), {
          custodian: hexToBytes(custodian),
          chainId: CHAIN_ID,
          enigmaAddress: hexToBytes(ENIGMA),
        }),
      ),
    );
    expect(bytesToHex(reportData.subarray(20, 40))).toBe(custodian);
  });

  it("deploys and computes a calculator; the user decrypts the result; receipts are commitReceipts-shaped and signed", async () => {
    const worker = await openWorker();
    const user = new User(worker);
    const deployTask = user.task(undefined, "construct()");
    await giveKeys(worker, deployTask.contractAddress);
    const deployed = await worker.deploy({ ...deployTask, preCode: wasm.calculator });
    const codeHash = bytesToHex(keccak256(wasm.calculator));
    expect(deployed).toMatchObject({
      taskId: deployTask.taskId,
      contractAddress: deployTask.taskId,
      success: true,
      ethCall: null,
      delta: { index: 0 },
    });
    expect(deployed.error).toBeUndefined();
    expect(deployed.receipt).toEqual({
      taskId: deployTask.taskId,
      scAddr: deployTask.taskId,
      // The inputs as the enclave ran them (the chain compares them with the record)...
      inputsHash: deploymentInputsHash(
        deployTask.encryptedFn,
        deployTask.encryptedArgs,
        wasm.calculator,
        deployTask.userPubKey,
      ),
      // ...and no state before the constructor.
      prevDeltaHash: ZERO32,
      deltaIndex: 0,
      stateDeltaHash: stored(deployed).hash,
      outputHash: bytesToHex(keccak256(deployed.output)),
      gasUsed: deployed.gasUsed,
      success: true,
      preCodeHash: codeHash,
      codeHash,
      ethAddress: ZERO_ADDRESS,
      ethCalldata: "0x",
    });
    expect(bytesToHex(keccak256(stored(deployed).data))).toBe(stored(deployed).hash);
    expect(batchSigner([deployed.receipt], deployed.signature)).toBe(worker.signer);

    const addTask = user.task(
      deployed.contractAddress,
      "add(uint256,uint256)",
      ["uint256", "uint256"],
      [2n ** 130n, 5n],
    );
    const added = await worker.compute(addTask);
    expect(added).toMatchObject({ success: true, delta: null, ethCall: null });
    expect(abi.decode(["uint256"], user.output(added))[0]).toBe(2n ** 130n + 5n);
    expect(added.gasUsed).toBeGreaterThan(10_000n);
    expect(added.receipt).toMatchObject({
      taskId: addTask.taskId,
      scAddr: deployed.contractAddress,
      inputsHash: inputsHash(
        addTask.encryptedFn,
        addTask.encryptedArgs,
        deployed.contractAddress,
        addTask.userPubKey,
      ),
      // It ran on the constructor's state: delta 0.
      prevDeltaHash: stored(deployed).hash,
      deltaIndex: 1,
      stateDeltaHash: ZERO32,
      outputHash: bytesToHex(keccak256(added.output)),
      gasUsed: added.gasUsed,
      success: true,
      preCodeHash: ZERO32,
      codeHash: ZERO32,
    });
    expect(batchSigner([added.receipt], added.signature)).toBe(worker.signer);

    // One signature over both, as commitReceipts takes them.
    const batch = [deployed.receipt, added.receipt];
    expect(batchSigner(batch, worker.signReceipts(batch))).toBe(worker.signer);
  });

  it("keeps state across tasks with consecutive delta indices chained from delta 0", async () => {
    const { worker, user, contract, deployed } = await counterWorker();
    const results: EnclaveTaskResult[] = [];
    for (let i = 0; i < 3; i++)
      results.push(await worker.compute(user.task(contract, "increment()")));
    expect(results.map((r) => u64(user.output(r)))).toEqual([1n, 2n, 3n]);
    expect(results.map((r) => stored(r).index)).toEqual([1, 2, 3]);
    expect(results.map((r) => r.receipt.stateDeltaHash)).toEqual(
      results.map((r) => stored(r).hash),
    );
    // Each receipt names the delta its task ran on and that delta's successor index.
    expect(results.map((r) => [r.receipt.prevDeltaHash, r.receipt.deltaIndex])).toEqual(
      [deployed, ...results.slice(0, 2)].map((r, i) => [stored(r).hash, i + 1]),
    );
    expect(new Set([deployed, ...results].map((r) => stored(r).hash)).size).toBe(4);
    const get = await worker.compute(user.task(contract, "get()"));
    expect(u64(user.output(get))).toBe(3n);
    expect(get.delta).toBeNull(); // a read writes no delta
    expect(worker.deltaCount(contract)).toBe(4);
  });

  it("after close and reopen: same signer, state keys unsealed, state rebuilt from the stored deltas, old receipts still signable", async () => {
    const dir = newDir();
    const { worker, user, contract, deployed } = await counterWorker(dir);
    const results = [
      deployed,
      await worker.compute(user.task(contract, "increment()")),
      await worker.compute(user.task(contract, "increment()")),
    ];
    const deltas = results.map(stored);
    await worker.close();

    const again = await openWorker(dir);
    expect(again.signer).toBe(worker.signer);
    expect(again.hasStateKey(contract)).toBe(true);
    expect(again.hasContract(contract)).toBe(false);
    expect(await rejectedCode(again.compute(user.task(contract, "get()")))).toBe(
      ErrorCode.SecretContractNotDeployed,
    );
    again.loadContract(contract, wasm.counter, deltas);
    expect(again.deltaCount(contract)).toBe(3);
    // A task encrypted to a key handed out before the restart still decrypts (the key derives
    // from a sealed secret): a worker killed between taking an input and running it loses
    // nothing.
    const fromBefore = await again.compute(user.task(contract, "get()"));
    expect(fromBefore.success).toBe(true);
    expect(u64(user.output(fromBefore))).toBe(2n);
    const user2 = new User(again);
    const next = await again.compute(user2.task(contract, "increment()"));
    expect(u64(user2.output(next))).toBe(3n);
    expect(stored(next).index).toBe(3);
    // Receipts produced before the restart are still this enclave's to sign.
    const pending = [...results.map((r) => r.receipt), next.receipt];
    expect(batchSigner(pending, again.signReceipts(pending))).toBe(worker.signer);
  }, 30_000); // two enclaves start their execution threads

  it("a second worker that receives the keys from the principal continues the state; the first catches up with appendDelta", async () => {
    const { worker: a, user, contract, deployed } = await counterWorker();
    const chain = [deployed, await a.compute(user.task(contract, "increment()"))].map(stored);

    const b = await openWorker();
    expect(b.signer).not.toBe(a.signer);
    expect(b.hasStateKey(contract)).toBe(false);
    expect(
      thrownCode(() => {
        b.loadContract(contract, wasm.counter, chain);
      }),
    ).toBe(ErrorCode.StateKeyUnknown);
    await giveKeys(b, contract);
    b.loadContract(contract, wasm.counter, chain);
    const userB = new User(b);
    const fromB = await b.compute(userB.task(contract, "increment()"));
    expect(u64(userB.output(fromB))).toBe(2n);
    expect(stored(fromB).index).toBe(2);
    expect(batchSigner([fromB.receipt], fromB.signature)).toBe(b.signer);

    // Worker a hears b's delta on gossip, then takes over again.
    expect(a.appendDelta(contract, stored(fromB))).toBe(true);
    expect(a.appendDelta(contract, stored(fromB))).toBe(false); // heard twice
    expect(a.deltaCount(contract)).toBe(3);
    const fromA = await a.compute(user.task(contract, "increment()"));
    expect(u64(user.output(fromA))).toBe(3n);
    expect(stored(fromA).index).toBe(3);

    // fromA extends b's chain as well (b holds fromA's predecessor, its own delta).
    expect(b.appendDelta(contract, stored(fromA))).toBe(true);
    // A gap, a conflicting delta at a taken index and a tampered delta are refused.
    const later = await a.compute(user.task(contract, "increment()"));
    const afterLater = await a.compute(user.task(contract, "increment()"));
    expect(thrownCode(() => b.appendDelta(contract, stored(afterLater)))).toBe(
      ErrorCode.DeltaChainBroken,
    );
    expect(thrownCode(() => b.appendDelta(contract, { ...stored(later), index: 2 }))).toBe(
      ErrorCode.DeltaChainBroken,
    );
    const data = stored(later).data.slice();
    data[0] = (data[0] ?? 0) ^ 1;
    expect(thrownCode(() => b.appendDelta(contract, { ...stored(later), data }))).toBe(
      ErrorCode.DeltaTampered,
    );
    expect(b.deltaCount(contract)).toBe(4);
  });

  it("input the enclave cannot decrypt is a failure result: error code, empty or encrypted message, no delta, no gas", async () => {
    const { worker, user, contract } = await counterWorker();
    // A user key that is not a curve point: no key, nothing can be encrypted back.
    const unknown = await worker.compute({
      ...user.task(contract, "increment()"),
      userPubKey: new Uint8Array(64),
    });
    expect(unknown).toMatchObject({
      success: false,
      delta: null,
      ethCall: null,
      gasUsed: 0n,
      error: { code: ErrorCode.InvalidPublicKey },
    });
    expect(unknown.output).toHaveLength(0);
    expect(unknown.receipt).toMatchObject({
      success: false,
      stateDeltaHash: ZERO32,
      gasUsed: 0n,
      outputHash: bytesToHex(keccak256(new Uint8Array())),
    });
    expect(batchSigner([unknown.receipt], unknown.signature)).toBe(worker.signer);

    // Inputs encrypted for one user, named as another's: they do not open under the other's
    // key; the error goes back encrypted to the key the task named.
    const stranger = new User(worker, generateKeyPair());
    const misnamed = await worker.compute({
      ...user.task(contract, "increment()"),
      userPubKey: stranger.keys.publicKey,
    });
    expect(misnamed).toMatchObject({
      success: false,
      delta: null,
      gasUsed: 0n,
      error: { code: ErrorCode.DecryptionFailed },
    });
    expect(new TextDecoder().decode(stranger.output(misnamed))).toBe(misnamed.error?.message);

    // Encrypted under another key than the one the enclave holds for this user.
    const wrong = await worker.compute({
      ...user.task(contract, "increment()"),
      encryptedFn: aesEncrypt(new Uint8Array(32).fill(7), utf8.encode("increment()")),
    });
    expect(wrong).toMatchObject({
      success: false,
      delta: null,
      gasUsed: 0n,
      error: { code: ErrorCode.DecryptionFailed },
    });
    expect(new TextDecoder().decode(user.output(wrong))).toBe(wrong.error?.message);
    // State did not move.
    expect(u64(user.output(await worker.compute(user.task(contract, "get()"))))).toBe(0n);
  });

  it("out of gas costs the whole gas limit and changes nothing; an unknown function is UnknownFunction", async () => {
    const { worker, user, contract } = await counterWorker();
    const oog = await worker.compute(user.task(contract, "increment()", [], [], 10_500n));
    expect(oog).toMatchObject({
      success: false,
      gasUsed: 10_500n,
      delta: null,
      error: { code: ErrorCode.OutOfGas },
      receipt: { gasUsed: 10_500n, success: false, stateDeltaHash: ZERO32 },
    });
    expect(new TextDecoder().decode(user.output(oog))).toBe("out of gas");
    const unknown = await worker.compute(user.task(contract, "decrement()"));
    expect(unknown).toMatchObject({
      success: false,
      delta: null,
      error: { code: ErrorCode.UnknownFunction },
    });
    expect(unknown.gasUsed).toBeGreaterThan(0n);
    expect(unknown.gasUsed).toBeLessThan(GAS);
    expect(worker.deltaCount(contract)).toBe(1);
    expect(u64(user.output(await worker.compute(user.task(contract, "increment()"))))).toBe(1n);
  });

  it("a failed deployment is a failure receipt with zero code hashes and no contract", async () => {
    const worker = await openWorker();
    const user = new User(worker);
    const bad = user.task(undefined, "construct()");
    await giveKeys(worker, bad.contractAddress);
    const r = await worker.deploy({
      ...bad,
      preCode: Uint8Array.of(0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 9),
    });
    expect(r).toMatchObject({
      success: false,
      delta: null,
      error: { code: ErrorCode.MalformedModule },
      receipt: { success: false, preCodeHash: ZERO32, codeHash: ZERO32, stateDeltaHash: ZERO32 },
    });
    // Nothing ran: no gas, as Discovery's module creation errors carried none.
    expect(r.gasUsed).toBe(0n);
    expect(worker.hasContract(bad.contractAddress)).toBe(false);
    const oog = user.task(undefined, "construct()", [], [], 100n);
    await giveKeys(worker, oog.contractAddress);
    expect(await worker.deploy({ ...oog, preCode: wasm.counter })).toMatchObject({
      success: false,
      gasUsed: 100n,
      error: { code: ErrorCode.OutOfGas },
    });
  });

  it("an Ethereum call requested by the contract lands in the result and the receipt", async () => {
    const worker = await openWorker();
    const user = new User(worker);
    const d = user.task(undefined, "construct()");
    await giveKeys(worker, d.contractAddress);
    expect((await worker.deploy({ ...d, preCode: wasm.bridge })).success).toBe(true);
    const target = getAddress("0x00000000000000000000000000000000000000aa");
    const r = await worker.compute(
      user.task(
        d.contractAddress,
        "notify(address,uint256)",
        ["address", "uint256"],
        [target, 42n],
      ),
    );
    const calldata =
      bytesToHex(keccak256(utf8.encode("ping(uint256)")).slice(0, 4)) +
      42n.toString(16).padStart(64, "0");
    expect(r).toMatchObject({ success: true, delta: { index: 1 } });
    expect(r.ethCall?.address).toBe(target);
    expect(bytesToHex(r.ethCall?.payload ?? new Uint8Array())).toBe(calldata);
    expect(r.receipt).toMatchObject({ ethAddress: target, ethCalldata: calldata });
    expect(batchSigner([r.receipt], r.signature)).toBe(worker.signer);
  });

  it("signs only receipts it produced", async () => {
    const { worker, user, contract, deployed } = await counterWorker();
    const inc = await worker.compute(user.task(contract, "increment()"));
    const other = await openWorker();
    expect(thrownCode(() => other.signReceipts([inc.receipt]))).toBe(ErrorCode.ReceiptRejected);
    // Any changed field makes it another receipt.
    expect(thrownCode(() => worker.signReceipts([{ ...inc.receipt, gasUsed: 1n }]))).toBe(
      ErrorCode.ReceiptRejected,
    );
    expect(
      thrownCode(() => worker.signReceipts([deployed.receipt, { ...inc.receipt, success: false }])),
    ).toBe(ErrorCode.ReceiptRejected);
    expect(thrownCode(() => worker.signReceipts([]))).toBe(ErrorCode.InvalidArgument);
    // Case does not matter: the same receipt in other spelling.
    const upper = { ...inc.receipt, taskId: inc.receipt.taskId.toUpperCase().replace("0X", "0x") };
    expect(batchSigner([inc.receipt], worker.signReceipts([upper]))).toBe(worker.signer);
  });

  it("throws for misuse: unknown state key, contract not loaded, bad arguments", async () => {
    const worker = await openWorker();
    const user = new User(worker);
    const t = user.task(undefined, "construct()");
    expect(await rejectedCode(worker.deploy({ ...t, preCode: wasm.counter }))).toBe(
      ErrorCode.StateKeyUnknown,
    );
    await giveKeys(worker, t.contractAddress);
    expect(
      await rejectedCode(
        worker.deploy({ ...t, contractAddress: newTaskId(), preCode: wasm.counter }),
      ),
    ).toBe(ErrorCode.InvalidArgument);
    expect(await rejectedCode(worker.deploy({ ...t, gasLimit: -1n, preCode: wasm.counter }))).toBe(
      ErrorCode.InvalidArgument,
    );
    expect(await rejectedCode(worker.compute(user.task(t.contractAddress, "get()")))).toBe(
      ErrorCode.SecretContractNotDeployed,
    );
    expect(
      thrownCode(() => {
        worker.loadContract(t.contractAddress, wasm.counter, []);
      }),
    ).toBe(ErrorCode.DeltaChainBroken);
    expect((await worker.deploy({ ...t, preCode: wasm.counter })).success).toBe(true);
    expect(await rejectedCode(worker.deploy({ ...t, preCode: wasm.counter }))).toBe(
      ErrorCode.InvalidArgument,
    );
    expect(
      await rejectedCode(
        worker.acceptStateKeys(
          await principal.issueStateKeys(
            worker.createStateKeyRequest([t.contractAddress]),
            () => true,
          ),
          worker.signer, // not the principal
        ),
      ),
    ).toBe(ErrorCode.SignerMismatch);
  });

  it("with the same seed, two enclaves give the same signer, outputs, deltas and signatures", async () => {
    const seed = new Uint8Array(32).fill(42);
    const run = async () => {
      const worker = await openWorker(newDir(), seed);
      const user = new User(worker, generateKeyPair(new Uint8Array(32).fill(1)));
      const taskId = bytesToHex(keccak256(utf8.encode("seeded deploy")));
      // The same encrypted inputs both times (a client uses random IVs; the receipt binds them).
      const iv = new Uint8Array(12).fill(7);
      const d = { ...user.task(taskId, "construct()", [], [], GAS, iv), taskId };
      await giveKeys(worker, taskId);
      const deployed = await worker.deploy({ ...d, preCode: wasm.counter });
      const incId = bytesToHex(keccak256(utf8.encode("seeded increment")));
      const inc = await worker.compute({
        ...user.task(taskId, "increment()", [], [], GAS, iv),
        taskId: incId,
      });
      return { signer: worker.signer, deployed, inc };
    };
    const a = await run();
    const b = await run();
    expect(b.signer).toBe(a.signer);
    expect(b.inc.receipt.stateDeltaHash).toBe(a.inc.receipt.stateDeltaHash);
    expect(b.deployed.receipt).toEqual(a.deployed.receipt);
    expect(b.inc.receipt.gasUsed).toBe(a.inc.receipt.gasUsed);
    // The output's synthetic-IV ciphertext is the same.
    expect(b.inc.output).toEqual(a.inc.output);
    expect(b.inc.signature).toBe(a.inc.signature);
  });
});
