// The previous worker's deltas before a hand-over, between two real libp2p nodes: the worker
// that is behind asks once per (contract, epoch), gets the results behind the deltas it lacks,
// and hands them to `accept` in index order, skipping what does not fit (another contract, a
// gap). The node-level behaviour (verification, storing, the counter going on) is in
// recovery.test.ts.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Hex } from "@enigma/protocol";
import type { EpochInfo } from "../chain/types.js";
import type { TaskResult } from "../messages.js";
import { silentLogger } from "../observability.js";
import { P2PNetwork } from "../p2p/network.js";
import { PredecessorDeltas } from "./predecessors.js";
import { resultLike } from "./results.fixture.js";

const hex = (body: string): Hex => `0x${body}`;
const C = hex("cc".repeat(32));
const OTHER = hex("dd".repeat(32));
const id = (n: number) => hex(n.toString(16).padStart(64, "0"));

function result(n: number, contract: Hex, index: number): TaskResult {
  return resultLike(id(n), contract, index, `0x${index.toString(16).padStart(8, "0")}`);
}

/** A store answering for the results it holds (deltas 0..count-1 of C, 1.. with their task). */
function store(results: TaskResult[], count: () => number) {
  return {
    deltaCount: (c: string) => Promise.resolve(c === C ? count() : 0),
    deltaTask: (c: string, index: number) =>
      Promise.resolve(
        results.find((r) => r.contractAddress === c && r.delta?.index === index)?.taskId,
      ),
    getMessage: (_kind: string, taskId: string) =>
      Promise.resolve(results.find((r) => r.taskId === taskId)),
  };
}

const epoch = (index: number) => Promise.resolve({ index } as EpochInfo);
let ahead: P2PNetwork;
let behind: P2PNetwork;
let served = 0;

beforeAll(async () => {
  ahead = new P2PNetwork();
  behind = new P2PNetwork();
  // The previous worker holds deltas 0..4 of C (1..4 from its tasks) and one of another contract.
  const held = [1, 2, 3, 4].map((i) => result(i, C, i));
  held.push(result(9, OTHER, 1));
  const serving = new PredecessorDeltas({
    p2p: ahead,
    store: {
      ...store(held, () => 5),
      deltaCount: (c: string) => {
        served++;
        return Promise.resolve(c === C ? 5 : 0);
      },
    },
    epoch,
    workerPeers: () => [],
    accept: () => Promise.resolve(),
    log: silentLogger(),
  });
  await serving.serve();
  await ahead.start();
  await behind.start();
  await behind.dial(ahead.multiaddrs[0] ?? "");
});

afterAll(async () => {
  await behind.stop();
  await ahead.stop();
});

describe("PredecessorDeltas", () => {
  it("fetches the deltas it lacks in index order, and spaces its asks unless it fell behind", async () => {
    let count = 2; // deltas 0 and 1
    const accepted: number[] = [];
    const fetching = new PredecessorDeltas({
      p2p: behind,
      store: store([], () => count),
      epoch,
      workerPeers: () => [ahead.peerId],
      accept: (r) => {
        accepted.push(r.delta?.index ?? -1);
        if (r.delta?.index === count) count++;
        return Promise.resolve();
      },
      log: silentLogger(),
    });
    await fetching.ensure(C, 100);
    expect(accepted).toEqual([2, 3, 4]);
    expect(count).toBe(5);
    expect(fetching.fetched).toBe(3);
    const asked = served;
    await fetching.ensure(C, 101); // right after: not asked again
    expect(served).toBe(asked);
    fetching.behind(C); // a delta came ahead of the others: asked again at once
    await new Promise((r) => setTimeout(r, 200));
    expect(served).toBeGreaterThan(asked);
  });

  it("stops at a delta it cannot accept, and asks nobody when no worker peer is there", async () => {
    let count = 1;
    const accepted: number[] = [];
    const fetching = new PredecessorDeltas({
      p2p: behind,
      store: store([], () => count),
      epoch: (b) => epoch(b),
      workerPeers: () => [ahead.peerId],
      accept: (r) => {
        accepted.push(r.delta?.index ?? -1);
        // Delta 2 is refused (a forged result, say): nothing after it can be applied.
        if (r.delta?.index === 2) return Promise.reject(new Error("not signed by its worker"));
        if (r.delta?.index === count) count++;
        return Promise.resolve();
      },
      log: silentLogger(),
    });
    await fetching.ensure(C, 7);
    expect(accepted).toEqual([1, 2]);
    expect(count).toBe(2);

    const lonely = new PredecessorDeltas({
      p2p: behind,
      store: store([], () => 0),
      epoch,
      workerPeers: () => [],
      accept: () => Promise.reject(new Error("never")),
      log: silentLogger(),
    });
    await lonely.ensure(C, 1);
    expect(lonely.fetched).toBe(0);
  });
});
