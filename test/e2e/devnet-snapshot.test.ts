// A devnet snapshot and its restore: the chain's history and every node's data folder, so that
// a network returns to a known state. The test takes a snapshot after two increments of a
// counter, moves on (a third increment), stops the devnet, restores the snapshot in a new
// devnet and runs a task there: it continues from the snapshot's state, not from later.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EnigmaChain } from "@enigma/node/chain";
import { ErrorCode, type Hex } from "@enigma/protocol";
import { rejectedCode } from "@enigma/protocol/testing";
import { compileSecretContract, exampleSourcePath } from "@enigma/secret-contract";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDevnet, type Devnet } from "../../packages/devnet/src/index.js";

const u64 = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(0);
let dir: string;
let counter: Uint8Array;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "enigma-snapshot-"));
  counter = (await compileSecretContract(exampleSourcePath("counter"))).wasm;
}, 60_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function increment(devnet: Devnet, scAddr: Hex) {
  const t = devnet.client(0).computeTask(scAddr, "increment()", [], {
    gasLimit: 1_000_000n,
    gasPx: 1n,
  });
  const taskId = await t.submitted();
  const value = u64((await t.result()).output);
  return { taskId, value, receipt: () => t.waitForReceipt() };
}

async function readChain(devnet: Devnet) {
  return EnigmaChain.connect({
    rpcUrl: devnet.chain.rpcUrl,
    enigmaAddress: devnet.chain.enigmaAddress,
    tokenAddress: devnet.chain.tokenAddress,
  });
}

describe("devnet snapshot and restore", () => {
  it("returns a network to the snapshot's state: chain, contract state and nodes, and runs tasks on it", async () => {
    const devnet = await startDevnet({ dir, workers: 2, users: 1, seed: "e2e-snapshot" });
    let scAddr: Hex;
    let second: Awaited<ReturnType<typeof increment>>;
    let third: Awaited<ReturnType<typeof increment>>;
    let started: number;
    try {
      const deploy = devnet.client(0).deploySecretContract(counter, "construct()", [], {
        gasLimit: 5_000_000n,
        gasPx: 1n,
      });
      scAddr = await deploy.submitted();
      await deploy.result();
      expect((await increment(devnet, scAddr)).value).toBe(1n);
      second = await increment(devnet, scAddr);
      expect(second.value).toBe(2n);
      expect((await second.receipt()).chainStatus).toBe(2);

      started = performance.now();
      const folder = await devnet.snapshot("two");
      console.log(`snapshot taken in ${((performance.now() - started) / 1000).toFixed(1)} s`);
      expect(folder).toBe(join(dir, "snapshots", "two"));
      // The network goes on after the snapshot (its nodes were restarted).
      third = await increment(devnet, scAddr);
      expect(third.value).toBe(3n);
      expect((await third.receipt()).chainStatus).toBe(2);
    } finally {
      await devnet.stop();
    }

    started = performance.now();
    const restored = await startDevnet({ dir, restore: "two" });
    console.log(`restored in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    try {
      const chain = await readChain(restored);
      try {
        // The chain is as it was at the snapshot: the second task settled, the third unknown.
        expect((await chain.getTaskRecord(second.taskId))?.status).toBe(2);
        expect(await chain.getTaskRecord(third.taskId)).toBeUndefined();
        expect((await chain.getSecretContract(scAddr))?.deltaCount).toBe(3);
      } finally {
        await chain.close();
      }
      // The contract's state is the snapshot's: the next increment gives 3 again.
      const next = await increment(restored, scAddr);
      expect(next.value).toBe(3n);
      expect((await next.receipt()).chainStatus).toBe(2);
    } finally {
      await restored.stop();
    }
  }, 180_000);

  it("refuses a snapshot that does not exist and a bad name, changing nothing", async () => {
    expect(await rejectedCode(startDevnet({ dir, restore: "nope" }))).toBe(
      ErrorCode.SnapshotNotFound,
    );
    expect(await rejectedCode(startDevnet({ dir, restore: "../x" }))).toBe(
      ErrorCode.SnapshotNotFound,
    );
  });
});
