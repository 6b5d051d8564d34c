/**
 * Deploys the Ethereum layer (`EnigmaToken` when no token is given, the `Attestation`,
 * `Workers` and `DeltaHashes` libraries, the worker-selection strategy's contract, then `Enigma`
 * linked to them) from the
 * Hardhat artifacts with a plain ethers signer, so that the devnet, scripts and tests share
 * one deployment path and need no Hardhat runtime.
 *
 * @example
 * const { enigma, token } = await deployEnigma(deployer, {
 *   principal: principalEnclaveSigner,
 *   attestation: { rsaModulus, rsaExponent, mrEnclaves: [mrenclave], mrSigners: [mrsigner] },
 * });
 */
import { readFile } from "node:fs/promises";
import { Contract, ContractFactory, type BytesLike, type InterfaceAbi, type Signer } from "ethers";
import { DEFAULT_SELECTION, selectionContract } from "@enigma/protocol";

export interface AttestationParams {
  /** RSA-2048 modulus of the attestation service (the trust root), big-endian bytes. */
  rsaModulus: BytesLike;
  /** RSA public exponent, big-endian bytes (usually 0x010001). */
  rsaExponent: BytesLike;
  /** Accepted `isvEnclaveQuoteStatus` values. Default `["OK"]`. */
  acceptedStatuses?: string[];
  /** Accept enclaves built in debug mode. Default false. */
  allowDebug?: boolean;
  mrEnclaves: BytesLike[];
  mrSigners: BytesLike[];
  /** Default 0. */
  minIsvSvn?: number;
}

export interface EnigmaDeployParams {
  /** An existing ENG token; when absent, a fresh `EnigmaToken` is deployed (supply to the deployer). */
  token?: string;
  /** The principal node's enclave signer address. */
  principal: string;
  /**
   * The worker-selection strategy by registry name (`"group:3"`): its Solidity twin
   * (`contracts/selection/`) is deployed and fixed in `Enigma` for good. Default `"discovery"`.
   */
  selection?: string;
  /** Blocks per epoch. Default 10. */
  epochSize?: bigint | number;
  /** Blocks after which a pending task may be refunded. Default 3 epochs. */
  taskTimeout?: bigint | number;
  /** Minimum stake (grains) to log in. Default 1 ENG. */
  stakingThreshold?: bigint;
  /** Gas handed to a task's Ethereum call. Default 500,000. */
  callbackGasLimit?: number;
  /** Cap on logged-in workers (bounds the epoch snapshot). Default 100. */
  maxWorkers?: number;
  /**
   * Lowest `gasPx` a task record may offer, in grains per gas unit (at least 1). Default 1, the
   * price Discovery's client examples and our compat suite use at the low end.
   */
  minGasPx?: bigint | number;
  /** Highest `gasLimit` a task record may ask for. Default `DEFAULT_MAX_GAS_LIMIT`. */
  maxGasLimit?: bigint | number;
  /** Oldest (seconds) an attestation report may be when it is registered. Default 1 day. */
  maxReportAge?: bigint | number;
  attestation: AttestationParams;
}

/**
 * The chain's default maximum gas limit per task: the enclave's default maximum
 * (`MAX_TASK_GAS_LIMIT` in `@enigma/enclave`, about 1.7 s of a plain loop; a test keeps them
 * equal), so that the chain refuses what no default worker would run.
 */
export const DEFAULT_MAX_GAS_LIMIT = 10_000_000_000n;

export interface EnigmaDeployment {
  enigma: Contract;
  token: Contract;
  enigmaAddress: string;
  tokenAddress: string;
  /** The selection strategy's contract (`Enigma.SELECTION()`). */
  selectionAddress: string;
}

interface Artifact {
  abi: InterfaceAbi;
  bytecode: string;
  /** Library placeholders in `bytecode`: source -> library -> byte ranges. */
  linkReferences?: Record<string, Record<string, { start: number; length: number }[]>>;
}

// Same depth from src/ and dist/: packages/devnet/<src|dist>/ -> the repository root.
const ARTIFACTS = new URL("../../../artifacts/contracts/", import.meta.url);

/**
 * Reads a compiled contract (`pnpm build:contracts` first). `name` may carry the source's folder
 * under `dir` (`libraries/Attestation`).
 */
export async function readArtifact(name: string, dir: URL = ARTIFACTS): Promise<Artifact> {
  const base = name.slice(name.lastIndexOf("/") + 1);
  const url = new URL(`${name}.sol/${base}.json`, dir);
  let text: string;
  try {
    text = await readFile(url, "utf8");
  } catch (cause) {
    throw new Error(
      `cannot read the ${name} artifact at ${url.pathname}: run \`pnpm build:contracts\` first`,
      { cause },
    );
  }
  return JSON.parse(text) as Artifact;
}

/**
 * `artifact.bytecode` with every library placeholder replaced by its address. Throws when a
 * library the bytecode needs has no address in `libraries` (by library name).
 */
export function linkBytecode(artifact: Artifact, libraries: Record<string, string>): string {
  let code = artifact.bytecode;
  for (const bySource of Object.values(artifact.linkReferences ?? {})) {
    for (const [lib, refs] of Object.entries(bySource)) {
      const address = libraries[lib];
      if (address === undefined) throw new Error(`bytecode needs library ${lib}: no address given`);
      const hex = address.toLowerCase().replace(/^0x/, "");
      if (!/^[0-9a-f]{40}$/.test(hex)) throw new Error(`library ${lib}: bad address ${address}`);
      for (const { start, length } of refs) {
        if (length !== 20) throw new Error(`library ${lib}: a ${String(length)}-byte placeholder`);
        // Offsets are in bytes of the code; the string has a 0x prefix.
        const at = 2 + start * 2;
        code = code.slice(0, at) + hex + code.slice(at + 40);
      }
    }
  }
  return code;
}

async function deployed(factory: ContractFactory, args: unknown[] = []): Promise<string> {
  const c = await factory.deploy(...args);
  await c.waitForDeployment();
  return c.getAddress();
}

export async function deployEnigma(
  deployer: Signer,
  params: EnigmaDeployParams,
): Promise<EnigmaDeployment> {
  const epochSize = BigInt(params.epochSize ?? 10);
  // Resolved first: an unknown strategy name deploys nothing.
  const twin = selectionContract(params.selection ?? DEFAULT_SELECTION);
  let token: Contract;
  if (params.token === undefined) {
    const a = await readArtifact("EnigmaToken");
    token = new Contract(
      await deployed(new ContractFactory(a.abi, a.bytecode, deployer)),
      a.abi,
      deployer,
    );
  } else {
    const a = await readArtifact("EnigmaToken");
    token = new Contract(params.token, a.abi, deployer);
  }
  const tokenAddress = await token.getAddress();
  // The report check, the worker registry and the delta hash reader are external libraries:
  // inlined, Enigma's code would pass EIP-170's limit.
  const lib = await readArtifact("libraries/Attestation");
  const attestationLibrary = await deployed(new ContractFactory(lib.abi, lib.bytecode, deployer));
  const workersArtifact = await readArtifact("libraries/Workers");
  const workersLibrary = await deployed(
    new ContractFactory(
      workersArtifact.abi,
      linkBytecode(workersArtifact, { Attestation: attestationLibrary }),
      deployer,
    ),
  );
  const deltasArtifact = await readArtifact("libraries/DeltaHashes");
  const deltaHashesLibrary = await deployed(
    new ContractFactory(deltasArtifact.abi, deltasArtifact.bytecode, deployer),
  );
  const strategy = await readArtifact(`selection/${twin.contract}`);
  const selectionAddress = await deployed(
    new ContractFactory(strategy.abi, strategy.bytecode, deployer),
    [...twin.args],
  );
  const a = await readArtifact("Enigma");
  const bytecode = linkBytecode(a, {
    Attestation: attestationLibrary,
    Workers: workersLibrary,
    DeltaHashes: deltaHashesLibrary,
  });
  const att = params.attestation;
  const enigmaAddress = await deployed(new ContractFactory(a.abi, bytecode, deployer), [
    {
      token: tokenAddress,
      selection: selectionAddress,
      principal: params.principal,
      epochSize,
      taskTimeout: BigInt(params.taskTimeout ?? epochSize * 3n),
      stakingThreshold: params.stakingThreshold ?? 10n ** 8n,
      callbackGasLimit: params.callbackGasLimit ?? 500_000,
      maxWorkers: params.maxWorkers ?? 100,
      minGasPx: BigInt(params.minGasPx ?? 1),
      maxGasLimit: BigInt(params.maxGasLimit ?? DEFAULT_MAX_GAS_LIMIT),
      maxReportAge: BigInt(params.maxReportAge ?? 86_400),
    },
    {
      rsaModulus: att.rsaModulus,
      rsaExponent: att.rsaExponent,
      acceptedStatuses: att.acceptedStatuses ?? ["OK"],
      allowDebug: att.allowDebug ?? false,
      mrEnclaves: att.mrEnclaves,
      mrSigners: att.mrSigners,
      minIsvSvn: att.minIsvSvn ?? 0,
    },
  ]);
  // Enigma finds its receipt logs by CREATE nonce (contracts/libraries/ReceiptLog.sol): log n
  // is its CREATE with nonce n + 1, so it must start at 1 (EIP-161) on this chain.
  const nonce = await deployer.provider?.getTransactionCount(enigmaAddress);
  if (nonce !== undefined && nonce !== 1) {
    throw new Error(
      `Enigma at ${enigmaAddress} starts with nonce ${String(nonce)}, not 1: its receipt logs would be misplaced`,
    );
  }
  return {
    enigma: new Contract(enigmaAddress, a.abi, deployer),
    token,
    enigmaAddress,
    tokenAddress,
    selectionAddress,
  };
}
