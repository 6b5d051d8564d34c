/**
 * Shared set-up for the Enigma contract tests: an RSA attestation root, signed reports in the
 * DESIGN.md section 6 format, registered and staked workers, epochs and EIP-712 receipt batches.
 */
import { createSign, generateKeyPairSync, type KeyObject } from "node:crypto";
import type { HardhatEthers, HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import {
  type BaseWallet,
  Contract,
  type ContractTransactionResponse,
  getBytes,
  hexlify,
  keccak256,
  solidityPacked,
  toUtf8Bytes,
  Wallet,
} from "ethers";
import {
  DEFAULT_SELECTION,
  enclaveReportData,
  encodeQuote,
  getSelectionStrategy,
  RECEIPT_BATCH_TYPES,
  selectGroup,
  type SelectionEpoch,
  type WorkerSelectionStrategy,
  WORKERS_PARAMS_TYPES as PROTOCOL_WORKERS_PARAMS_TYPES,
} from "@enigma/protocol";
import { deployEnigma } from "../../scripts/deploy.js";

export const ENG = 10n ** 8n;
export const MRENCLAVE = keccak256(toUtf8Bytes("enigma-core enclave"));
export const MRSIGNER = keccak256(toUtf8Bytes("enigma signer"));
export const EPOCH_SIZE = 10;
export const TASK_TIMEOUT = 30;
export const CALLBACK_GAS = 200_000;

export interface AttestationRoot {
  privateKey: KeyObject;
  modulus: string;
  exponent: string;
}

/** A fresh RSA-2048 attestation service key (the trust root). */
export function attestationRoot(): AttestationRoot {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const jwk = publicKey.export({ format: "jwk" });
  const b64 = (s: string | undefined) => hexlify(Buffer.from(s ?? "", "base64url"));
  return { privateKey, modulus: b64(jwk.n), exponent: b64(jwk.e) };
}

export interface ReportOptions {
  status?: string;
  debug?: boolean;
  mrenclave?: string;
  mrsigner?: string;
  isvSvn?: number;
  /** Address written into report_data (defaults to the signer). */
  reportDataSigner?: string;
  /**
   * The custodian and chain the report binds the signer to (report_data bytes 20-64); unbound
   * (only the signer) when absent: `register` refuses such a report.
   */
  binding?: { custodian: string; chainId: bigint; enigmaAddress: string };
  /** The report's timestamp. Default now. */
  timestamp?: Date;
  /** Sign with this key instead of the root's. */
  signingKey?: KeyObject;
  id?: string;
}

/** A report exactly as the simulated attestation service produces it, and its signature. */
export function signedReport(
  root: AttestationRoot,
  signer: string,
  o: ReportOptions = {},
): { report: Uint8Array; signature: string } {
  const quote = encodeQuote({
    version: 2,
    signType: 1,
    debug: o.debug ?? false,
    mrenclave: getBytes(o.mrenclave ?? MRENCLAVE),
    mrsigner: getBytes(o.mrsigner ?? MRSIGNER),
    isvProdId: 0,
    isvSvn: o.isvSvn ?? 1,
    reportData: enclaveReportData(
      getBytes(o.reportDataSigner ?? signer),
      o.binding === undefined
        ? undefined
        : {
            custodian: getBytes(o.binding.custodian),
            chainId: o.binding.chainId,
            enigmaAddress: getBytes(o.binding.enigmaAddress),
          },
    ),
  });
  const text = JSON.stringify({
    id: o.id ?? "142090828149453720542199954221331392599",
    // IAS's format: UTC, microseconds, no zone (as the simulated attestation service writes it).
    timestamp: (o.timestamp ?? new Date()).toISOString().replace("Z", "000"),
    version: 4,
    isvEnclaveQuoteStatus: o.status ?? "OK",
    isvEnclaveQuoteBody: Buffer.from(quote).toString("base64"),
  });
  const sig = createSign("sha256")
    .update(text)
    .sign(o.signingKey ?? root.privateKey);
  return { report: toUtf8Bytes(text), signature: hexlify(sig) };
}

/** Sends a transaction and waits for its receipt. */
export async function mined(tx: Promise<unknown>) {
  const receipt = await ((await tx) as ContractTransactionResponse).wait();
  if (receipt === null) throw new Error("no receipt");
  return receipt;
}

export interface ReceiptInput {
  taskId: string;
  scAddr: string;
  /** Default: the record's (filled in by `signBatch`). */
  inputsHash?: string;
  /** Default: the contract's delta chain head after the batch's earlier receipts (`signBatch`). */
  prevDeltaHash?: string;
  deltaIndex?: number;
  stateDeltaHash?: string;
  outputHash?: string;
  gasUsed: bigint;
  success?: boolean;
  preCodeHash?: string;
  codeHash?: string;
  ethAddress?: string;
  ethCalldata?: string;
}

export const ZERO32 = `0x${"00".repeat(32)}`;
export const ZERO_ADDRESS = `0x${"00".repeat(20)}`;

export interface Receipt {
  taskId: string;
  scAddr: string;
  inputsHash: string | undefined;
  prevDeltaHash: string | undefined;
  deltaIndex: number | undefined;
  stateDeltaHash: string;
  outputHash: string;
  gasUsed: bigint;
  success: boolean;
  preCodeHash: string;
  codeHash: string;
  ethAddress: string;
  ethCalldata: string;
}

/** A receipt; what it leaves undefined, `signBatch` (or `complete`) fills in from the chain. */
export function receipt(r: ReceiptInput): Receipt {
  return {
    taskId: r.taskId,
    scAddr: r.scAddr,
    inputsHash: r.inputsHash,
    prevDeltaHash: r.prevDeltaHash,
    deltaIndex: r.deltaIndex,
    stateDeltaHash: r.stateDeltaHash ?? ZERO32,
    outputHash: r.outputHash ?? keccak256(toUtf8Bytes(`output of ${r.taskId}`)),
    gasUsed: r.gasUsed,
    success: r.success ?? true,
    preCodeHash: r.preCodeHash ?? ZERO32,
    codeHash: r.codeHash ?? ZERO32,
    ethAddress: r.ethAddress ?? ZERO_ADDRESS,
    ethCalldata: r.ethCalldata ?? "0x",
  };
}

// The formats the node signs with, from the protocol package: a test here proves they match.
export const RECEIPT_TYPES = RECEIPT_BATCH_TYPES as unknown as Record<
  string,
  { name: string; type: string }[]
>;
export const WORKERS_PARAMS_TYPES = PROTOCOL_WORKERS_PARAMS_TYPES as unknown as Record<
  string,
  { name: string; type: string }[]
>;

export interface Env {
  ethers: HardhatEthers;
  root: AttestationRoot;
  enigma: Contract;
  token: Contract;
  enigmaAddress: string;
  owner: HardhatEthersSigner;
  principalCustodian: HardhatEthersSigner;
  /** Worker custodians (accounts that pay gas and hold stake). */
  custodians: HardhatEthersSigner[];
  /** Their enclave signing keys (same order). */
  enclaves: Wallet[];
  principalEnclave: Wallet;
  users: HardhatEthersSigner[];
  chainId: bigint;
  /** The selection strategy `Enigma` was deployed with (its TypeScript twin). */
  selection: WorkerSelectionStrategy;
}

const KEY = (n: number) => keccak256(solidityPacked(["string", "uint256"], ["enclave", n]));

/**
 * Deploys token + Enigma, registers the principal, and (by default) registers, stakes and logs
 * in three workers with stakes 100, 200 and 300 ENG, then starts epoch 0. Users get 10,000 ENG
 * each and approve Enigma.
 */
export async function setup(
  ethers: HardhatEthers,
  opts: {
    workers?: number;
    stakes?: bigint[];
    epoch?: boolean;
    root?: AttestationRoot;
    /** Register the principal's enclave (default true). */
    principal?: boolean;
    /** The selection strategy by registry name (default Discovery's). */
    selection?: string;
  } = {},
): Promise<Env> {
  const signers = await ethers.getSigners();
  const [owner, principalCustodian] = signers;
  if (owner === undefined || principalCustodian === undefined) throw new Error("accounts");
  const nWorkers = opts.workers ?? 3;
  const custodians = signers.slice(2, 2 + nWorkers);
  const users = signers.slice(2 + nWorkers, 5 + nWorkers);
  const root = opts.root ?? attestationRoot();
  const principalEnclave = new Wallet(KEY(0));
  const enclaves = custodians.map((_, i) => new Wallet(KEY(i + 1)));
  const selection = opts.selection ?? DEFAULT_SELECTION;
  const d = await deployEnigma(owner, {
    principal: principalEnclave.address,
    selection,
    epochSize: EPOCH_SIZE,
    taskTimeout: TASK_TIMEOUT,
    stakingThreshold: ENG,
    callbackGasLimit: CALLBACK_GAS,
    maxWorkers: 10,
    attestation: {
      rsaModulus: root.modulus,
      rsaExponent: root.exponent,
      mrEnclaves: [MRENCLAVE],
      mrSigners: [MRSIGNER],
    },
  });
  const network = await ethers.provider.getNetwork();
  const env: Env = {
    ethers,
    root,
    enigma: d.enigma,
    token: d.token,
    enigmaAddress: d.enigmaAddress,
    owner,
    principalCustodian,
    custodians,
    enclaves,
    principalEnclave,
    users,
    chainId: network.chainId,
    selection: getSelectionStrategy(selection),
  };
  if (opts.principal ?? true) await register(env, principalCustodian, principalEnclave.address);
  const stakes = opts.stakes ?? [100n * ENG, 200n * ENG, 300n * ENG];
  for (const [i, c] of custodians.entries()) {
    const enclave = enclaves[i];
    if (enclave === undefined) continue;
    await register(env, c, enclave.address);
    await fund(env, c, stakes[i] ?? 100n * ENG);
    await mined(as(env.enigma, c).getFunction("deposit")(c.address, stakes[i] ?? 100n * ENG));
    await mined(as(env.enigma, c).getFunction("login")());
  }
  for (const u of users) await fund(env, u, 10_000n * ENG);
  if (opts.epoch ?? true) await newEpoch(env, 1n);
  return env;
}

/** The contract connected to another signer. */
export function as(c: Contract, signer: HardhatEthersSigner): Contract {
  return new Contract(c.target, c.interface, signer);
}

/** The binding of a report for `custodian` on this chain and Enigma deployment. */
export function bindingOf(env: Env, custodian: string): NonNullable<ReportOptions["binding"]> {
  return { custodian, chainId: env.chainId, enigmaAddress: env.enigmaAddress };
}

/** Registers `signer` for `custodian` with a report bound to it (unless `o.binding` says else). */
export async function register(
  env: Env,
  custodian: HardhatEthersSigner,
  signer: string,
  o: ReportOptions = {},
) {
  const { report, signature } = signedReport(env.root, signer, {
    binding: bindingOf(env, custodian.address),
    ...o,
  });
  return mined(as(env.enigma, custodian).getFunction("register")(signer, report, signature));
}

/** Gives `who` ENG and approves Enigma for all of it. */
export async function fund(env: Env, who: HardhatEthersSigner, amount: bigint) {
  await mined(env.token.getFunction("transfer")(who.address, amount));
  await mined(as(env.token, who).getFunction("approve")(env.enigmaAddress, amount * 1000n));
}

export async function mine(env: Env, blocks: number) {
  await env.ethers.provider.send("hardhat_mine", [`0x${blocks.toString(16)}`]);
}

export function domain(env: Env, chainId = env.chainId, verifyingContract = env.enigmaAddress) {
  return { name: "Enigma", version: "1", chainId, verifyingContract };
}

/** Mines to the next epoch boundary if needed and starts an epoch signed by the principal. */
export async function newEpoch(env: Env, seed: bigint) {
  const [first] = (await env.enigma.getFunction("getWorkerParams")(
    await env.ethers.provider.getBlockNumber(),
  )) as [bigint];
  const now = await env.ethers.provider.getBlockNumber();
  if (first !== 0n && BigInt(now) + 1n < first + BigInt(EPOCH_SIZE)) {
    await mine(env, Number(first + BigInt(EPOCH_SIZE) - BigInt(now) - 1n));
  }
  const blockNumber = await env.ethers.provider.getBlockNumber();
  const nonce = await epochCount(env);
  const sig = await env.principalEnclave.signTypedData(domain(env), WORKERS_PARAMS_TYPES, {
    blockNumber,
    seed,
    nonce,
  });
  return mined(env.enigma.getFunction("setWorkersParams")(blockNumber, seed, sig));
}

/** Number of epochs so far, read from the event log. */
export async function epochCount(env: Env): Promise<number> {
  const logs = await env.enigma.queryFilter(env.enigma.getEvent("WorkersParameterized"));
  return logs.length;
}

export async function currentFirstBlock(env: Env): Promise<bigint> {
  const bn = await env.ethers.provider.getBlockNumber();
  return ((await env.enigma.getFunction("getWorkerParams")(bn)) as [bigint])[0];
}

export function taskIdOf(sender: string, nonce: bigint): string {
  return keccak256(solidityPacked(["address", "uint256"], [sender, nonce]));
}

/** Creates a task record (deployment when `deployment`) and returns its id. */
export async function createTask(
  env: Env,
  user: HardhatEthersSigner,
  o: { gasLimit?: bigint; gasPx?: bigint; deployment?: boolean; inputsHash?: string } = {},
): Promise<string> {
  const nonce = (await env.enigma.getFunction("getUserTaskDeployments")(user.address)) as bigint;
  const first = await currentFirstBlock(env);
  const inputsHash = o.inputsHash ?? keccak256(toUtf8Bytes(`inputs ${user.address} ${nonce}`));
  const e = as(env.enigma, user);
  if (o.deployment === true) {
    await mined(
      e.getFunction("createDeploymentTaskRecord")(
        inputsHash,
        o.gasLimit ?? 1000n,
        o.gasPx ?? 100n,
        first,
        nonce,
      ),
    );
  } else {
    await mined(
      e.getFunction("createTaskRecord")(inputsHash, o.gasLimit ?? 1000n, o.gasPx ?? 100n, first),
    );
  }
  return taskIdOf(user.address, nonce);
}

/** Every epoch so far by index, read from the `WorkersParameterized` events. */
export async function epochsOf(
  env: Env,
): Promise<(SelectionEpoch & { firstBlockNumber: number })[]> {
  const logs = await env.enigma.queryFilter(env.enigma.getEvent("WorkersParameterized"));
  return logs.map((l) => {
    const a = (l as unknown as { args: [bigint, bigint, bigint, string[], bigint[], bigint] }).args;
    return {
      seed: a[0],
      firstBlockNumber: Number(a[1]),
      workers: [...a[3]],
      stakes: [...a[4]],
      index: Number(a[5]),
    };
  });
}

/**
 * The group the env's strategy selects for `scAddr` in the epoch at `blockNumber` (default: the
 * head), computed in TypeScript from the chain's epochs (what nodes and clients do).
 */
export async function groupOf(env: Env, scAddr: string, blockNumber?: number): Promise<string[]> {
  const bn = blockNumber ?? (await env.ethers.provider.getBlockNumber());
  const epochs = await epochsOf(env);
  const epoch = epochs.filter((e) => e.firstBlockNumber <= bn).at(-1);
  if (epoch === undefined) return [];
  return selectGroup(scAddr, epoch, env.selection, (i) => epochs[i]);
}

/** The enclave wallet of `signer`. */
export function enclaveOf(env: Env, signer: string | undefined): Wallet {
  const w = env.enclaves.find((e) => e.address.toLowerCase() === signer?.toLowerCase());
  if (w === undefined) throw new Error(`no enclave for ${String(signer)}`);
  return w;
}

/**
 * The enclave wallet of the worker selected for `scAddr` in the epoch at `blockNumber` (the
 * group's first member).
 */
export async function selectedEnclave(
  env: Env,
  scAddr: string,
  blockNumber?: number,
): Promise<Wallet> {
  return enclaveOf(env, (await groupOf(env, scAddr, blockNumber))[0]);
}

/** An enclave that is registered but not in the group selected for `scAddr`. */
export async function otherEnclave(env: Env, scAddr: string): Promise<Wallet> {
  const group = (await groupOf(env, scAddr)).map((a) => a.toLowerCase());
  const w = env.enclaves.find((e) => !group.includes(e.address.toLowerCase()));
  if (w === undefined) throw new Error("need a worker outside the group");
  return w;
}

/**
 * Fills in what the receipts leave undefined, in place: the record's inputs hash, and the delta
 * a task ran on (the contract's committed head, moved along by the batch's earlier successful
 * receipts with a delta), as an honest enclave would name them. Returns `receipts`.
 */
export async function complete(env: Env, receipts: Receipt[]): Promise<Receipt[]> {
  const heads = new Map<string, { count: number; last: string }>();
  for (const r of receipts) {
    r.inputsHash ??= (await taskRecord(env, r.taskId)).inputsHash;
    const key = r.scAddr.toLowerCase();
    let head = heads.get(key);
    if (head === undefined) {
      head = await deltaHead(env, r.scAddr);
      heads.set(key, head);
    }
    r.deltaIndex ??= head.count;
    r.prevDeltaHash ??= head.last;
    if (r.success && r.stateDeltaHash !== ZERO32) {
      heads.set(key, { count: r.deltaIndex + 1, last: r.stateDeltaHash });
    }
  }
  return receipts;
}

/** A contract's committed delta count and last delta hash (zero hash when none). */
export async function deltaHead(
  env: Env,
  scAddr: string,
): Promise<{ count: number; last: string }> {
  const count = Number(await env.enigma.getFunction("countStateDeltas")(scAddr));
  if (count === 0) return { count, last: ZERO32 };
  const [last] = (await env.enigma.getFunction("getStateDeltaHashes")(
    scAddr,
    count - 1,
    count,
  )) as string[];
  return { count, last: last ?? ZERO32 };
}

/** Signs a batch (EIP-712), after filling in what its receipts leave open (`complete`). */
export async function signBatch(
  env: Env,
  enclave: BaseWallet,
  receipts: Receipt[],
  d = domain(env),
): Promise<string> {
  await complete(env, receipts);
  return enclave.signTypedData(d, RECEIPT_TYPES, { receipts });
}

/** Deploys a secret contract through a deployment task committed by its selected worker. */
export async function deploySecretContract(
  env: Env,
  user: HardhatEthersSigner,
  initDelta?: string,
) {
  const taskId = await createTask(env, user, { deployment: true });
  const enclave = await selectedEnclave(env, taskId);
  const r = receipt({
    taskId,
    scAddr: taskId,
    gasUsed: 500n,
    preCodeHash: keccak256(toUtf8Bytes("precode")),
    codeHash: keccak256(toUtf8Bytes("code")),
    stateDeltaHash: initDelta ?? keccak256(toUtf8Bytes(`delta0 ${taskId}`)),
  });
  await mined(env.enigma.getFunction("commitReceipts")([r], await signBatch(env, enclave, [r])));
  return { scAddr: taskId, enclave };
}

export async function balanceOf(env: Env, who: string): Promise<bigint> {
  return (await env.token.getFunction("balanceOf")(who)) as bigint;
}

export async function stakeOf(env: Env, custodian: string): Promise<bigint> {
  const w = (await env.enigma.getFunction("getWorker")(custodian)) as { balance: bigint };
  return w.balance;
}

/** The decoded custom error (name and arguments) of an Enigma call that must revert. */
export async function revertOf(
  env: Env,
  p: Promise<unknown>,
): Promise<{ name: string; args: unknown[] }> {
  return customErrorOf(env.enigma, p);
}

/** The custom error of `contract`'s ABI (name and arguments) that a call must revert with. */
export async function customErrorOf(
  contract: Contract,
  p: Promise<unknown>,
): Promise<{ name: string; args: unknown[] }> {
  try {
    await p;
  } catch (e) {
    const data = (e as { data?: string }).data;
    const parsed = typeof data === "string" ? contract.interface.parseError(data) : null;
    if (parsed !== null) return { name: parsed.name, args: [...parsed.args] };
    throw e;
  }
  throw new Error("expected a revert");
}

/** Status, output hash and the rest of a task record. */
export async function taskRecord(env: Env, taskId: string) {
  const t = (await env.enigma.getFunction("getTaskRecord")(taskId)) as {
    sender: string;
    inputsHash: string;
    outputHash: string;
    gasLimit: bigint;
    gasPx: bigint;
    blockNumber: bigint;
    status: bigint;
    proof: string;
  };
  return {
    sender: t.sender,
    inputsHash: t.inputsHash,
    outputHash: t.outputHash,
    gasLimit: t.gasLimit,
    gasPx: t.gasPx,
    blockNumber: t.blockNumber,
    status: t.status,
    proof: t.proof,
  };
}

/** Names of the Enigma events in a transaction receipt, in order. */
export function eventNames(
  env: Env,
  rc: { logs: readonly { topics: readonly string[]; data: string }[] },
) {
  return rc.logs
    .map((l) => {
      try {
        return env.enigma.interface.parseLog({ topics: [...l.topics], data: l.data })?.name;
      } catch {
        return undefined;
      }
    })
    .filter((n): n is string => n !== undefined);
}
