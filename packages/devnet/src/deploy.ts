// Deploys the Ethereum layer (a fresh `EnigmaToken`, then `Enigma`) from the Hardhat artifacts
// with a plain ethers signer. This is scripts/deploy.ts's deployment, carried in the package so
// that the compiled devnet (rootDir `src`) needs neither the scripts folder nor the Hardhat
// runtime to deploy; the artifacts are read from the repository's `artifacts/` folder.
import { readFile } from "node:fs/promises";
import { Contract, ContractFactory, type BytesLike, type InterfaceAbi, type Signer } from "ethers";

export interface DevnetDeployParams {
  /** The principal node's enclave signer address. */
  principal: string;
  epochSize: number;
  taskTimeout: number;
  attestation: {
    rsaModulus: BytesLike;
    rsaExponent: BytesLike;
    mrEnclaves: BytesLike[];
    mrSigners: BytesLike[];
  };
}

export interface DevnetDeployment {
  enigma: Contract;
  token: Contract;
  enigmaAddress: string;
  tokenAddress: string;
}

interface Artifact {
  abi: InterfaceAbi;
  bytecode: string;
}

// Same depth from src/ and dist/: packages/devnet/<src|dist>/ -> repository root.
const ARTIFACTS = new URL("../../../artifacts/contracts/", import.meta.url);

async function readArtifact(name: string): Promise<Artifact> {
  const url = new URL(`${name}.sol/${name}.json`, ARTIFACTS);
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

export async function deployContracts(
  deployer: Signer,
  params: DevnetDeployParams,
): Promise<DevnetDeployment> {
  const t = await readArtifact("EnigmaToken");
  const tokenDeployed = await new ContractFactory(t.abi, t.bytecode, deployer).deploy();
  await tokenDeployed.waitForDeployment();
  const tokenAddress = await tokenDeployed.getAddress();
  const a = await readArtifact("Enigma");
  const att = params.attestation;
  const deployed = await new ContractFactory(a.abi, a.bytecode, deployer).deploy(
    {
      token: tokenAddress,
      principal: params.principal,
      epochSize: BigInt(params.epochSize),
      taskTimeout: BigInt(params.taskTimeout),
      stakingThreshold: 10n ** 8n,
      callbackGasLimit: 500_000,
      maxWorkers: 100,
    },
    {
      rsaModulus: att.rsaModulus,
      rsaExponent: att.rsaExponent,
      acceptedStatuses: ["OK"],
      allowDebug: false,
      mrEnclaves: att.mrEnclaves,
      mrSigners: att.mrSigners,
      minIsvSvn: 0,
    },
  );
  await deployed.waitForDeployment();
  const enigmaAddress = await deployed.getAddress();
  return {
    enigma: new Contract(enigmaAddress, a.abi, deployer),
    token: new Contract(tokenAddress, t.abi, deployer),
    enigmaAddress,
    tokenAddress,
  };
}
