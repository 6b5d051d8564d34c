/**
 * Deploys the Ethereum layer (`EnigmaToken` when no token is given, then `Enigma`) from the
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
  attestation: AttestationParams;
}

export interface EnigmaDeployment {
  enigma: Contract;
  token: Contract;
  enigmaAddress: string;
  tokenAddress: string;
}

interface Artifact {
  abi: InterfaceAbi;
  bytecode: string;
}

// Same depth from src/ and dist/: packages/devnet/<src|dist>/ -> the repository root.
const ARTIFACTS = new URL("../../../artifacts/contracts/", import.meta.url);

/** Reads a compiled contract (`pnpm build:contracts` first). */
export async function readArtifact(name: string, dir: URL = ARTIFACTS): Promise<Artifact> {
  const url = new URL(`${name}.sol/${name}.json`, dir);
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

export async function deployEnigma(
  deployer: Signer,
  params: EnigmaDeployParams,
): Promise<EnigmaDeployment> {
  const epochSize = BigInt(params.epochSize ?? 10);
  let token: Contract;
  if (params.token === undefined) {
    const a = await readArtifact("EnigmaToken");
    const deployed = await new ContractFactory(a.abi, a.bytecode, deployer).deploy();
    await deployed.waitForDeployment();
    token = new Contract(await deployed.getAddress(), a.abi, deployer);
  } else {
    const a = await readArtifact("EnigmaToken");
    token = new Contract(params.token, a.abi, deployer);
  }
  const tokenAddress = await token.getAddress();
  const a = await readArtifact("Enigma");
  const att = params.attestation;
  const deployed = await new ContractFactory(a.abi, a.bytecode, deployer).deploy(
    {
      token: tokenAddress,
      principal: params.principal,
      epochSize,
      taskTimeout: BigInt(params.taskTimeout ?? epochSize * 3n),
      stakingThreshold: params.stakingThreshold ?? 10n ** 8n,
      callbackGasLimit: params.callbackGasLimit ?? 500_000,
      maxWorkers: params.maxWorkers ?? 100,
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
  );
  await deployed.waitForDeployment();
  const enigmaAddress = await deployed.getAddress();
  return {
    enigma: new Contract(enigmaAddress, a.abi, deployer),
    token,
    enigmaAddress,
    tokenAddress,
  };
}
