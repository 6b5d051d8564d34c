/**
 * Gas benchmark of the Ethereum layer (not a timed test): task records, and receipt batches of
 * 1, 10 and 100 tasks with the amortised gas per task. Run with `pnpm bench:gas`.
 */
import hre from "hardhat";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import { keccak256, Signature, toUtf8Bytes, Wallet } from "ethers";
import {
  bindingOf,
  createTask,
  currentFirstBlock,
  deploySecretContract,
  type Env,
  mined,
  newEpoch,
  receipt,
  setup,
  signBatch,
  signedReport,
  as,
} from "../contracts/test/fixture.js";

const connection = await hre.network.create();
const rows: [string, string][] = [];
const row = (what: string, gas: bigint | number) => {
  rows.push([what, Number(gas).toLocaleString("en-US")]);
};

async function gasOf(p: Promise<unknown>): Promise<bigint> {
  return (await mined(p)).gasUsed;
}

async function recordGas(env: Env, u: HardhatEthersSigner, deployment = false): Promise<bigint> {
  const e = as(env.enigma, u);
  const nonce = (await env.enigma.getFunction("getUserTaskDeployments")(u.address)) as bigint;
  const first = await currentFirstBlock(env);
  const h = keccak256(toUtf8Bytes(`bench ${u.address} ${nonce}`));
  return deployment
    ? gasOf(e.getFunction("createDeploymentTaskRecord")(h, 1000n, 100n, first, nonce))
    : gasOf(e.getFunction("createTaskRecord")(h, 1000n, 100n, first));
}

async function batch(env: Env, n: number, senders: HardhatEthersSigner[], withDelta: boolean) {
  const first = senders[0];
  if (first === undefined) throw new Error("no sender");
  const { scAddr, enclave } = await deploySecretContract(env, first);
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push(await createTask(env, senders[i % senders.length] ?? first));
  const rs = ids.map((taskId, i) =>
    receipt({
      taskId,
      scAddr,
      gasUsed: 600n,
      ...(withDelta ? { stateDeltaHash: keccak256(toUtf8Bytes(`delta ${i} ${taskId}`)) } : {}),
    }),
  );
  const sig = await signBatch(env, enclave, rs);
  return gasOf(env.enigma.getFunction("commitReceipts")(rs, sig));
}

/**
 * A batch of `n` receipts with deltas spread over `contracts` secret contracts (task i on
 * contract i mod contracts), in a one-worker network so that every contract is that worker's.
 */
async function spreadBatch(env: Env, pool: string[], n: number, contracts: number) {
  const u = env.users[0];
  const enclave = env.enclaves[0];
  if (u === undefined || enclave === undefined) throw new Error("no user or worker");
  while (pool.length < contracts) pool.push((await deploySecretContract(env, u)).scAddr);
  const rs = [];
  for (let i = 0; i < n; i++) {
    const taskId = await createTask(env, u);
    const scAddr = pool[i % contracts] ?? "";
    rs.push(receipt({ taskId, scAddr, gasUsed: 600n, stateDeltaHash: keccak256(taskId) }));
  }
  const sig = await signBatch(env, enclave, rs);
  return gasOf(env.enigma.getFunction("commitReceipts")(rs, sig));
}

try {
  const env = await setup(connection.ethers);
  const [u1, u2, u3] = env.users;
  if (u1 === undefined || u2 === undefined || u3 === undefined) throw new Error("users");

  {
    const signer = Wallet.createRandom().address;
    const { report, signature } = signedReport(env.root, signer, {
      binding: bindingOf(env, u3.address),
    });
    row(
      "register (attestation check)",
      await gasOf(as(env.enigma, u3).getFunction("register")(signer, report, signature)),
    );
  }
  // Epoch starts with 3 workers: the set of the next epoch is captured; after a policy change
  // each worker's attestation facts are re-checked once (no RSA).
  row("setWorkersParams, 3 workers", (await newEpoch(env, 11n)).gasUsed);
  await mined(env.enigma.getFunction("setMinIsvSvn")(0));
  row("setWorkersParams, 3 workers, after a policy change", (await newEpoch(env, 12n)).gasUsed);
  row("setWorkersParams, 3 workers (again)", (await newEpoch(env, 13n)).gasUsed);
  // The fee allowance (issue 13): `approve: "exact"` sends approve(fee) before each record (a
  // task is two transactions), `approve: "max"` one approve(2^256 - 1) for good (every later
  // task is one transaction: createTaskRecord alone). ERC-2612 permit, submitted by anyone.
  {
    const t = as(env.token, u3);
    row(
      "approve (allowance was 0, as before each task with approve: exact)",
      await gasOf(
        t
          .getFunction("approve")(env.enigmaAddress, 0n)
          .then(() => t.getFunction("approve")(env.enigmaAddress, 1000n * 100n)),
      ),
    );
    row(
      "approve(2^256 - 1), once (approve: max)",
      await gasOf(t.getFunction("approve")(env.enigmaAddress, 2n ** 256n - 1n)),
    );
    const { chainId } = await connection.ethers.provider.getNetwork();
    const owner = env.users[1];
    if (owner === undefined) throw new Error("user");
    const nonce = (await env.token.getFunction("nonces")(owner.address)) as bigint;
    const deadline = 2n ** 256n - 1n;
    const sig = Signature.from(
      await owner.signTypedData(
        { name: "Enigma", version: "1", chainId, verifyingContract: await env.token.getAddress() },
        {
          Permit: [
            { name: "owner", type: "address" },
            { name: "spender", type: "address" },
            { name: "value", type: "uint256" },
            { name: "nonce", type: "uint256" },
            { name: "deadline", type: "uint256" },
          ],
        },
        { owner: owner.address, spender: env.enigmaAddress, value: deadline, nonce, deadline },
      ),
    );
    row(
      "ERC-2612 permit on ENG (a transaction of its own)",
      await gasOf(
        t.getFunction("permit")(
          owner.address,
          env.enigmaAddress,
          deadline,
          deadline,
          sig.v,
          sig.r,
          sig.s,
        ),
      ),
    );
  }
  row("createTaskRecord, a sender's first task", await recordGas(env, u1));
  row("createTaskRecord, later tasks", await recordGas(env, u1));
  row("createDeploymentTaskRecord, later tasks", await recordGas(env, u1, true));
  {
    const hashes = Array.from({ length: 10 }, (_, i) => keccak256(toUtf8Bytes(`many ${i}`)));
    const g = await gasOf(
      as(env.enigma, u1).getFunction("createTaskRecords")(
        hashes,
        1000n,
        100n,
        await currentFirstBlock(env),
      ),
    );
    row("createTaskRecords x10, per task", g / 10n);
  }

  const scenarios: [string, HardhatEthersSigner[], boolean][] = [
    ["one sender, with delta", [u1], true],
    ["3 senders interleaved, with delta", [u1, u2, u3], true],
    ["one sender, no delta", [u1], false],
  ];
  const perTask: Record<string, Record<number, bigint>> = {};
  for (const [name, senders, withDelta] of scenarios) {
    perTask[name] = {};
    for (const n of [1, 10, 100]) {
      const g = await batch(env, n, senders, withDelta);
      (perTask[name] ?? {})[n] = g / BigInt(n);
      row(`commitReceipts x${n} (${name}): total`, g);
      row(`commitReceipts x${n} (${name}): per task`, g / BigInt(n));
    }
  }

  // Batches spanning many contracts: each contract a batch touches gets a `DeltaRun` slot.
  const solo = await setup(connection.ethers, { workers: 1, stakes: [100n * 10n ** 8n] });
  const pool: string[] = [];
  for (const [n, contracts] of [
    [10, 10],
    [100, 10],
    [100, 100],
  ] as const) {
    const g = await spreadBatch(solo, pool, n, contracts);
    row(`commitReceipts x${n} over ${contracts} contracts, with delta: per task`, g / BigInt(n));
  }

  const width = Math.max(...rows.map(([w]) => w.length));
  console.log(`\nEnigma gas benchmark (solc 0.8.30, optimizer 200 runs, prague, EDR)\n`);
  for (const [what, gas] of rows) console.log(`${what.padEnd(width)}  ${gas.padStart(12)}`);
  console.log("");
  for (const [name, byN] of Object.entries(perTask)) {
    const one = byN[1] ?? 1n;
    const hundred = byN[100] ?? 0n;
    const ratio = Number(hundred) / Number(one);
    console.log(
      `${name}: per task at 100 = ${(ratio * 100).toFixed(1)}% of a batch of 1 (target <= 33.3%: ${ratio <= 1 / 3 ? "met" : "NOT met"})`,
    );
  }
} finally {
  await connection.close();
}
