// A devnet with a faulty last worker (`startDevnet({ faultyWorker })`): the client SDK refuses
// to send it anything, with the typed error a user can act on, before any transaction (the
// sender's nonce and balances do not move), while a task for a healthy worker still succeeds.
import { readFile } from "node:fs/promises";
import { Contract, JsonRpcProvider } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ENIGMA_ABI,
  ENIGMA_TOKEN_ABI,
  ErrorCode,
  isEnigmaError,
  sameAddress,
  selectWorker,
  taskId,
} from "@enigma/protocol";
import type { EnigmaClient } from "@enigma/client";
import {
  startDevnet,
  type Devnet,
  type FaultyWorkerKind,
} from "../../packages/devnet/src/index.js";

const GAS = { gasLimit: 5_000_000n, gasPx: 1n };
const USERS = 8;

const counter = readFile(
  new URL("../../packages/secret-contract/build/examples/counter.wasm", import.meta.url),
).then((b) => new Uint8Array(b));

/** What a deployment by `account` would record on chain: the sender's nonce and balances. */
async function footprint(devnet: Devnet, provider: JsonRpcProvider, account: number) {
  const a = devnet.accounts[account];
  if (a === undefined) throw new Error(`no account ${account}`);
  const token = new Contract(devnet.chain.tokenAddress, ENIGMA_TOKEN_ABI, provider);
  const enigma = new Contract(devnet.chain.enigmaAddress, ENIGMA_ABI, provider);
  return {
    nonce: await provider.getTransactionCount(a.address),
    eth: await provider.getBalance(a.address),
    eng: (await token.getFunction("balanceOf")(a.address)) as bigint,
    tasks: (await enigma.getFunction("getUserTaskDeployments")(a.address)) as bigint,
  };
}

/** The first account whose next deployment selects a worker for which `want` holds. */
async function accountSelecting(
  devnet: Devnet,
  provider: JsonRpcProvider,
  want: (worker: string) => boolean,
): Promise<number> {
  const epoch = await devnet.client(0).currentEpoch();
  for (let i = 0; i < devnet.accounts.length; i++) {
    const { tasks } = await footprint(devnet, provider, i);
    const selected = selectWorker(taskId(devnet.accounts[i]?.address ?? "", tasks), epoch);
    if (selected !== undefined && want(selected)) return i;
  }
  throw new Error("no account selects such a worker: use more users or another seed");
}

async function refusal(client: EnigmaClient): Promise<unknown> {
  try {
    await client.deploySecretContract(await counter, "construct()", [], GAS).submitted();
  } catch (e) {
    return e;
  }
  throw new Error("the client sent a task to the faulty worker");
}

const CASES: { kind: FaultyWorkerKind; code: ErrorCode }[] = [
  { kind: "measurement", code: ErrorCode.AttestationMrenclaveRejected },
  { kind: "key-signer", code: ErrorCode.SignerMismatch },
];

describe.each(CASES)("a devnet whose last worker has a $kind fault", ({ kind, code }) => {
  let devnet: Devnet | undefined;
  let provider: JsonRpcProvider | undefined;

  beforeAll(async () => {
    devnet = await startDevnet({
      workers: 2,
      users: USERS,
      seed: `e2e-devnet-faults-${kind}`,
      faultyWorker: kind,
    });
    provider = new JsonRpcProvider(devnet.chain.rpcUrl, undefined, {
      cacheTimeout: -1,
      staticNetwork: true,
    });
  }, 60_000);

  afterAll(async () => {
    provider?.destroy();
    await devnet?.stop();
  }, 60_000);

  it("is refused by the client with a typed error, and nothing is recorded on chain", async () => {
    if (devnet === undefined || provider === undefined) throw new Error("no devnet");
    const faulty = devnet.workers[1];
    if (faulty?.rpcUrl === undefined) throw new Error("no faulty worker");
    expect(devnet.info().faultyWorker).toEqual({ name: "worker-2", kind });
    // The contract took it: it is registered, staked and in the epoch.
    const epoch = await devnet.client(0).currentEpoch();
    expect(epoch.workers.some((w) => sameAddress(w, faulty.signer))).toBe(true);

    const account = await accountSelecting(devnet, provider, (w) => sameAddress(w, faulty.signer));
    const before = await footprint(devnet, provider, account);
    // Through a healthy worker's gateway, and through the faulty worker's own (which hands out
    // its key without a gateway in between re-checking it).
    for (const nodeUrl of [devnet.workers[0]?.rpcUrl, faulty.rpcUrl]) {
      const e = await refusal(devnet.client(account, nodeUrl === undefined ? {} : { nodeUrl }));
      expect(isEnigmaError(e, code), String(e)).toBe(true);
    }
    expect(await footprint(devnet, provider, account)).toEqual(before);
  });

  it("still runs a task for a healthy worker", async () => {
    if (devnet === undefined || provider === undefined) throw new Error("no devnet");
    const faulty = devnet.workers[1];
    if (faulty === undefined) throw new Error("no faulty worker");
    const account = await accountSelecting(devnet, provider, (w) => !sameAddress(w, faulty.signer));
    const client = devnet.client(account, { resultTimeoutMs: 30_000, receiptTimeoutMs: 60_000 });
    const deploy = client.deploySecretContract(await counter, "construct()", [], GAS);
    await deploy.submitted();
    expect((await deploy.result()).status).toBe("SUCCESS");
  });
});
