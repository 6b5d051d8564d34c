// A fresh devnet and Discovery's client pointed at it, the way a Discovery dApp set it up:
// web3 1.x on the chain's JSON-RPC, `new Enigma(web3, enigmaAddr, tokenAddr, rpcUrl, txDefaults)`,
// `admin()`, `setTaskKeyPair(seed)`. Senders are the chain's own unlocked accounts (as on
// Discovery's Ganache), funded with ENG by the deployer.
import { readFileSync } from "node:fs";
import { startDevnet, type Devnet, type DevnetOptions } from "@enigma/devnet";
import { ENIGMA_ABI, keccak256, selectWorker, bytesToHex } from "@enigma/protocol";
import { Contract, ContractFactory, JsonRpcProvider } from "ethers";
import {
  Enigma,
  Web3Ctor,
  eeConstants,
  once,
  type Enigma as EnigmaClient,
  type Task,
  type TaskArgs,
  type Web3,
} from "./enigma-js.js";

export const EXAMPLES = new URL("../../packages/secret-contract/build/examples/", import.meta.url);

/** A built example secret contract (the workspace build makes them). */
export function example(name: string): Buffer {
  return readFileSync(new URL(`${name}.wasm`, EXAMPLES));
}

/** ENG in grains (8 decimals): what each sender gets. */
const SENDER_FUNDS = 1_000_000n * 10n ** 8n;

export interface CompatNetwork {
  devnet: Devnet;
  web3: Web3;
  enigma: EnigmaClient;
  /** Unlocked chain accounts funded with ENG (not the deployer). */
  senders: string[];
  provider: JsonRpcProvider;
  /** Every task the client sent, with the worker it picked: checked against the chain's choice. */
  sent: Task[];
  stop(): Promise<void>;
}

export interface CompatOptions {
  workers?: number;
  seed: string;
  /**
   * The devnet's timing. Default: 100-block epochs that end on their own after 60 s, so that a
   * client's record lands in the epoch it encrypted for (enigma-js gives up on a wrong epoch),
   * and scenarios end epochs themselves (`advanceEpoch`) when they want receipts committed
   * sooner. `{}` gives the devnet's own defaults (the `fast` preset).
   */
  timing?: Partial<
    Pick<DevnetOptions, "epochBlocks" | "epochSeconds" | "taskTimeoutBlocks" | "blockTime">
  >;
  /** Funded accounts for our own client (`devnet.client(i)`). Default 0. */
  users?: number;
}

export async function startCompatNetwork(o: CompatOptions): Promise<CompatNetwork> {
  const devnet = await startDevnet({
    workers: o.workers ?? 3,
    seed: o.seed,
    ...(o.timing ?? { epochBlocks: 100, taskTimeoutBlocks: 150, epochSeconds: 60 }),
    users: o.users ?? 0,
    // ENIGMA_LOG=debug shows the nodes' logs (pino JSON on stderr).
    ...(process.env["ENIGMA_LOG"] === undefined
      ? {}
      : { logLevel: process.env["ENIGMA_LOG"] as "debug" }),
  });
  try {
    const web3 = new Web3Ctor(new Web3Ctor.providers.HttpProvider(devnet.chain.rpcUrl));
    const accounts = await web3.eth.getAccounts();
    const deployer = accounts[0];
    if (deployer === undefined) throw new Error("the chain has no unlocked accounts");
    const gateway = devnet.workers[0]?.rpcUrl;
    if (gateway === undefined) throw new Error("no worker gateway");
    const enigma = new Enigma(
      web3,
      devnet.chain.enigmaAddress,
      devnet.chain.tokenAddress,
      gateway,
      { gas: 5_000_000, from: deployer },
      // Retry getTaskResult quickly rather than from 2 s up (the client's own option).
      { retry: { retries: 20, factor: 1, minTimeout: 100 } },
    );
    // `admin()` replaces itself with the Admin object.
    (enigma as unknown as { admin(): void }).admin();
    enigma.setTaskKeyPair("compat-suite");
    const senders = accounts.slice(1, 5);
    for (const s of senders) {
      await enigma.tokenContract.methods
        .transfer(s, SENDER_FUNDS.toString())
        .send({ from: deployer });
    }
    const provider = new JsonRpcProvider(devnet.chain.rpcUrl, undefined, {
      staticNetwork: true,
      cacheTimeout: -1,
    });
    return {
      devnet,
      web3,
      enigma,
      senders,
      provider,
      sent: [],
      stop: async () => {
        provider.destroy();
        await devnet.stop();
      },
    };
  } catch (e) {
    await devnet.stop();
    throw e;
  }
}

/** `deploySecretContract` to the end of submission; the task as the client filled it in. */
export async function deploy(
  net: CompatNetwork,
  wasm: Buffer,
  ctor: string,
  args: TaskArgs,
  opts: { gasLimit?: number; gasPx?: number; sender?: string } = {},
): Promise<Task> {
  const task = await once<Task>(
    net.enigma.deploySecretContract(
      ctor,
      args,
      opts.gasLimit ?? 4_000_000,
      opts.gasPx ?? 1,
      opts.sender ?? sender(net),
      wasm,
    ),
    eeConstants.DEPLOY_SECRET_CONTRACT_RESULT,
  );
  net.sent.push(task);
  return task;
}

/** `computeTask` to the end of submission. */
export async function compute(
  net: CompatNetwork,
  scAddr: string,
  fn: string,
  args: TaskArgs,
  opts: { gasLimit?: number; gasPx?: number; sender?: string } = {},
): Promise<Task> {
  const task = await once<Task>(
    net.enigma.computeTask(
      fn,
      args,
      opts.gasLimit ?? 1_000_000,
      opts.gasPx ?? 1,
      opts.sender ?? sender(net),
      scAddr,
    ),
    eeConstants.SEND_TASK_INPUT_RESULT,
  );
  net.sent.push(task);
  return task;
}

function sender(net: CompatNetwork): string {
  const s = net.senders[0];
  if (s === undefined) throw new Error("no sender");
  return s;
}

/** `pollTaskStatus` until the node says SUCCESS or FAILED (the client stops there too). */
export async function executed(net: CompatNetwork, task: Task): Promise<Task> {
  return new Promise<Task>((resolve, reject) => {
    net.enigma
      .pollTaskStatus(task)
      .on(eeConstants.POLL_TASK_STATUS_RESULT, (t: Task) => {
        if (t.engStatus === "SUCCESS" || t.engStatus === "FAILED") resolve(t);
      })
      .on(eeConstants.ERROR, (e: unknown) => {
        reject(e instanceof Error ? e : new Error(JSON.stringify(e)));
      });
  });
}

/** `getTaskResult` then `decryptTaskResult`: the task with its decrypted output (hex). */
export async function result(net: CompatNetwork, task: Task): Promise<Task> {
  const withResult = await once<Task>(
    net.enigma.getTaskResult(task),
    eeConstants.GET_TASK_RESULT_RESULT,
  );
  return net.enigma.decryptTaskResult(withResult);
}

/**
 * Ends the epoch now (receipts are committed then; it would end on its own within the epoch's
 * time) and waits, mining nothing, until every task has left status 1.
 */
export async function commitEpoch(net: CompatNetwork, tasks: Task[]): Promise<number[]> {
  await net.devnet.chain.advanceEpoch();
  return settled(net, tasks);
}

/** Waits, mining nothing, until every task has left status 1 (the devnet paces its blocks). */
export async function settled(
  net: CompatNetwork,
  tasks: Task[],
  timeoutMs = 60_000,
): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const statuses: number[] = [];
    for (const t of tasks) statuses.push((await net.enigma.getTaskRecordStatus(t)).ethStatus);
    if (statuses.every((s) => s !== 1)) return statuses;
    if (Date.now() > deadline) return statuses;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The chain's `getWorkerGroup` and our protocol's `selectWorker` for the task's epoch. */
export async function ourSelection(
  net: CompatNetwork,
  task: Task,
): Promise<{ chain: string; protocol: string }> {
  const enigma = new Contract(net.devnet.chain.enigmaAddress, ENIGMA_ABI, net.provider);
  const block = task.creationBlockNumber > 0 ? task.creationBlockNumber : task.firstBlockNumber;
  const group = (await enigma.getFunction("getWorkerGroup")(block, task.scAddr)) as string[];
  const [, seed, workers, stakes] = (await enigma.getFunction("getWorkerParams")(block)) as [
    bigint,
    bigint,
    string[],
    bigint[],
  ];
  return {
    chain: (group[0] ?? "").toLowerCase(),
    protocol: (selectWorker(task.scAddr, { seed, workers, stakes }) ?? "").toLowerCase(),
  };
}

/** `0x`-prefixed keccak256 of bytes, as the contract stores code hashes. */
export function keccakHex(bytes: Uint8Array): string {
  return bytesToHex(keccak256(bytes));
}

/** The client's worker address (`abc...`, no 0x) as a checksum-free `0x` address. */
export function addr(workerAddress: string): string {
  return `0x${workerAddress.replace(/^0x/, "").toLowerCase()}`;
}

/** Every task the client sent named the worker our chain's `getWorkerGroup` and `selectWorker` pick. */
export async function selectionsAgree(net: CompatNetwork): Promise<number> {
  for (const t of net.sent) {
    const ours = await ourSelection(net, t);
    if (addr(t.workerAddress) !== ours.chain || ours.protocol !== ours.chain) {
      throw new Error(
        `task ${t.taskId}: client picked ${addr(t.workerAddress)}, chain ${ours.chain}, protocol ${ours.protocol}`,
      );
    }
  }
  return net.sent.length;
}

/** The ENG balance (grains) of `account`, read through the client's token contract. */
export async function engBalance(net: CompatNetwork, account: string): Promise<bigint> {
  return BigInt(await net.enigma.tokenContract.methods.balanceOf(account).call());
}

/** Deploys the calculator example and commits it (status 2); resolves with its address. */
export async function committedCalculator(net: CompatNetwork): Promise<string> {
  const t = await deploy(net, example("calculator"), "construct()", []);
  if ((await executed(net, t)).engStatus !== "SUCCESS") throw new Error("calculator failed");
  const [status] = await commitEpoch(net, [t]);
  if (status !== 2) throw new Error(`calculator deployment ended with status ${String(status)}`);
  return t.scAddr;
}

/**
 * Deploys the `VotingTally` mock, the Ethereum contract the examples' callbacks publish to,
 * bound to this network's `Enigma`.
 */
export async function deployVotingTally(net: CompatNetwork): Promise<Contract> {
  const artifact = JSON.parse(
    readFileSync(
      new URL("../../artifacts/contracts/mocks/VotingTally.sol/VotingTally.json", import.meta.url),
      "utf8",
    ),
  ) as { abi: []; bytecode: string };
  const deployer = await net.provider.getSigner(0);
  const tally = (await new ContractFactory(artifact.abi, artifact.bytecode, deployer).deploy(
    net.devnet.chain.enigmaAddress,
  )) as Contract;
  await tally.waitForDeployment();
  return tally;
}
