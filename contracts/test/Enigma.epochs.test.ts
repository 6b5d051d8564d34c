import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";
import { type BaseWallet, type Contract, hexlify, Wallet } from "ethers";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { discoveryEpochs, discoverySelection, drawWorker } from "@enigma/protocol";
import {
  as,
  customErrorOf,
  domain,
  ENG,
  EPOCH_SIZE,
  mine,
  mined,
  newEpoch,
  setup,
  WORKERS_PARAMS_TYPES,
  type Env,
} from "./fixture.js";
import { useChain } from "./chain.js";

let ethers: HardhatEthers;
useChain((e) => {
  ethers = e;
});

async function revertName(env: Env, p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    const data = (e as { data?: string }).data;
    const parsed = typeof data === "string" ? env.enigma.interface.parseError(data) : null;
    if (parsed !== null) return parsed.name;
    throw e;
  }
  throw new Error("expected a revert");
}

async function principalSig(
  env: Env,
  blockNumber: number,
  seed: bigint,
  nonce: number,
  signer?: BaseWallet,
) {
  return (signer ?? env.principalEnclave).signTypedData(domain(env), WORKERS_PARAMS_TYPES, {
    blockNumber,
    seed,
    nonce,
  });
}

describe("Enigma: epochs", () => {
  it("snapshots logged-in staked workers with their stakes, one epoch ahead, and keeps every past epoch", async () => {
    const env = await setup(ethers, { epoch: false });
    const bn = await ethers.provider.getBlockNumber();
    const rc = await mined(
      env.enigma.getFunction("setWorkersParams")(bn, 42n, await principalSig(env, bn, 42n, 0)),
    );
    const ev = rc.logs
      .map((l) => env.enigma.interface.parseLog(l))
      .find((l) => l?.name === "WorkersParameterized");
    const signers = env.enclaves.map((w) => w.address);
    expect(
      ev?.args.toArray().map((a: unknown) => (Array.isArray(a) ? [...(a as unknown[])] : a)),
    ).toEqual([
      42n,
      BigInt(rc.blockNumber),
      BigInt(bn),
      signers,
      [100n * ENG, 200n * ENG, 300n * ENG],
      0n,
    ]);
    const first = rc.blockNumber;
    expect(await env.enigma.getFunction("getFirstBlockNumber")(first)).toBe(BigInt(first));
    expect(await env.enigma.getFunction("getFirstBlockNumber")(first - 1)).toBe(0n);
    expect(await env.enigma.getFunction("getWorkerParams")(first - 1)).toEqual([0n, 0n, [], []]);

    // During epoch 0: worker 0 logs out, worker 2 gets more stake. Epoch 1's set was captured
    // when epoch 0 started, so the changes count from epoch 2 on.
    const [c0, , c2] = env.custodians;
    if (c0 === undefined || c2 === undefined) throw new Error();
    await mined(as(env.enigma, c0).getFunction("logout")());
    await mined(as(env.token, env.owner).getFunction("approve")(env.enigmaAddress, ENG));
    await mined(env.enigma.getFunction("deposit")(c2.address, ENG));
    // The boundary is the epoch policy's (discoveryEpochs, what nodes, clients, the CLI and the
    // devnet compute): the contract's refusal names it, and the next epoch starts right there.
    const next = discoveryEpochs.nextEpochBlock(first, EPOCH_SIZE);
    expect(await customErrorOf(env.enigma, newEpochAt(env, first + EPOCH_SIZE - 2, 7n, 1))).toEqual(
      { name: "EpochTooEarly", args: [BigInt(next)] },
    );
    const rc1 = await newEpoch(env, 7n);
    expect(rc1.blockNumber).toBe(next);
    const p1: unknown = await env.enigma.getFunction("getWorkerParams")(rc1.blockNumber + 3);
    expect(p1).toEqual([
      BigInt(rc1.blockNumber),
      7n,
      signers,
      [100n * ENG, 200n * ENG, 300n * ENG],
    ]);
    const rc2 = await newEpoch(env, 9n);
    // logout swaps the last logged-in worker into the leaver's place.
    const p2: unknown = await env.enigma.getFunction("getWorkerParams")(rc2.blockNumber);
    expect(p2).toEqual([
      BigInt(rc2.blockNumber),
      9n,
      [signers[2], signers[1]],
      [301n * ENG, 200n * ENG],
    ]);
    const ev2 = rc2.logs
      .map((l) => env.enigma.interface.parseLog(l))
      .find((l) => l?.name === "WorkersParameterized");
    expect([...(ev2?.args[3] as string[])]).toEqual([signers[2], signers[1]]);
    // Old epochs are still readable by block number (receipts and refunds use them).
    const p0: unknown = await env.enigma.getFunction("getWorkerParams")(rc1.blockNumber - 1);
    expect(p0).toEqual([BigInt(first), 42n, signers, [100n * ENG, 200n * ENG, 300n * ENG]]);
  });

  it("accepts only the principal enclave's signature over this chain, contract and nonce", async () => {
    const env = await setup(ethers, { epoch: false });
    const bn = await ethers.provider.getBlockNumber();
    const set = (sig: string, seed = 1n, at = bn) =>
      env.enigma.getFunction("setWorkersParams")(at, seed, sig);
    expect(
      await revertName(env, set(await principalSig(env, bn, 1n, 0, Wallet.createRandom()))),
    ).toBe("InvalidPrincipalSignature");
    expect(await revertName(env, set(await principalSig(env, bn, 1n, 1)))).toBe(
      "InvalidPrincipalSignature",
    );
    expect(await revertName(env, set(await principalSig(env, bn, 2n, 0)))).toBe(
      "InvalidPrincipalSignature",
    );
    const otherChain = await env.principalEnclave.signTypedData(
      domain(env, 999n),
      WORKERS_PARAMS_TYPES,
      {
        blockNumber: bn,
        seed: 1n,
        nonce: 0,
      },
    );
    expect(await revertName(env, set(otherChain))).toBe("InvalidPrincipalSignature");
    const future = bn + 100;
    expect(await revertName(env, set(await principalSig(env, future, 1n, 0), 1n, future))).toBe(
      "InvalidEpochBlockNumber",
    );
    // Anyone may relay the principal's signed parameters.
    await mined(
      as(env.enigma, env.users[0] ?? env.owner).getFunction("setWorkersParams")(
        bn,
        1n,
        await principalSig(env, bn, 1n, 0),
      ),
    );
  });

  it("requires the principal to be registered", async () => {
    const env = await setup(ethers, { workers: 0, epoch: false });
    await mined(as(env.enigma, env.principalCustodian).getFunction("unregister")());
    const bn = await ethers.provider.getBlockNumber();
    expect(
      await revertName(
        env,
        env.enigma.getFunction("setWorkersParams")(bn, 1n, await principalSig(env, bn, 1n, 0)),
      ),
    ).toBe("PrincipalNotRegistered");
  });
});

async function newEpochAt(env: Env, targetBlock: number, seed: bigint, nonce: number) {
  const now = await ethers.provider.getBlockNumber();
  if (targetBlock - 1 > now) await mine(env, targetBlock - 1 - now);
  const bn = await ethers.provider.getBlockNumber();
  return mined(
    env.enigma.getFunction("setWorkersParams")(bn, seed, await principalSig(env, bn, seed, nonce)),
  );
}

describe("worker selection: Solidity and TypeScript agree", () => {
  let harness: Contract;
  beforeAll(async () => {
    harness = await ethers.deployContract("SelectionHarness");
  });

  const arbAddr = fc.uint8Array({ minLength: 20, maxLength: 20 }).map((b) => hexlify(b));
  const arbSc = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => hexlify(b));
  const arbEpoch = fc.record({
    seed: fc.bigInt({ min: 0n, max: 2n ** 256n - 1n }),
    entries: fc.array(
      fc.tuple(
        arbAddr,
        fc.oneof(fc.bigInt({ min: 0n, max: 10n }), fc.bigInt({ min: 1n, max: 10n ** 24n })),
      ),
      { minLength: 0, maxLength: 16 },
    ),
  });

  it("for random seeds, contract addresses, stake sets and draw numbers", async () => {
    await fc.assert(
      fc.asyncProperty(arbSc, arbEpoch, fc.integer({ min: 0, max: 3 }), async (sc, e, n) => {
        const workers = e.entries.map(([a]) => a);
        const stakes = e.entries.map(([, s]) => s);
        const sol = (await harness.getFunction("draw")(e.seed, sc, n, workers, stakes)) as string;
        const ts = drawWorker(sc, { seed: e.seed, workers, stakes }, n);
        expect(sol.toLowerCase()).toBe((ts ?? `0x${"00".repeat(20)}`).toLowerCase());
        if (n === 0) {
          expect(await harness.getFunction("select")(e.seed, sc, workers, stakes)).toBe(sol);
        }
      }),
      { numRuns: 150 },
    );
  });

  it("for the Enigma contract's getWorkerGroup over real epochs", async () => {
    const env = await setup(ethers, { workers: 4, stakes: [ENG, 7n * ENG, 3n * ENG, 123n * ENG] });
    await fc.assert(
      fc.asyncProperty(arbSc, async (sc) => {
        const bn = await ethers.provider.getBlockNumber();
        const [, seed, workers, stakes] = (await env.enigma.getFunction("getWorkerParams")(bn)) as [
          bigint,
          bigint,
          string[],
          bigint[],
        ];
        const group = (await env.enigma.getFunction("getWorkerGroup")(bn, sc)) as string[];
        expect([...group]).toEqual(
          discoverySelection.selectWorkerGroup(sc, {
            seed,
            workers: [...workers],
            stakes: [...stakes],
          }),
        );
      }),
      { numRuns: 60 },
    );
    for (const seed of [2n, 2n ** 255n + 12345n]) {
      await newEpoch(env, seed);
      const bn = await ethers.provider.getBlockNumber();
      const sc = hexlify(Wallet.createRandom().privateKey);
      const group = (await env.enigma.getFunction("getWorkerGroup")(bn, sc)) as string[];
      const [, s, workers, stakes] = (await env.enigma.getFunction("getWorkerParams")(bn)) as [
        bigint,
        bigint,
        string[],
        bigint[],
      ];
      expect(s).toBe(seed);
      expect([...group]).toEqual(
        discoverySelection.selectWorkerGroup(sc, {
          seed,
          workers: [...workers],
          stakes: [...stakes],
        }),
      );
    }
    expect(await env.enigma.getFunction("getWorkerGroup")(0, hexlify(new Uint8Array(32)))).toEqual(
      [],
    );
  });
});
