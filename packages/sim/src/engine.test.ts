import { AbiCoder, keccak256 } from "ethers";
import { describe, expect, it } from "vitest";
import { getSelectionStrategy, selectGroup, type SelectionEpoch } from "@enigma/protocol";
import { runSimulation } from "./engine.js";
import { parseScenario } from "./scenario.js";
import { derive } from "./seeds.js";

const A = `0x${"aa".repeat(20)}`;
const B = `0x${"bb".repeat(20)}`;
const CONTRACTS = [1, 2, 3, 4].map((i) => `0x${i.toString(16).padStart(64, "0")}`);
const SEEDS = [11n, 22n, 33n].map((s) => `0x${s.toString(16).padStart(64, "0")}`);
const STAKES: [bigint, bigint] = [3n * 10n ** 8n, 10n ** 8n];

/**
 * DESIGN.md section 5 written out with ethers for two workers: A when r <= A's stake (r is
 * below the total, so B takes the rest).
 */
function discovery(seed: string, sc: string): string {
  const total = STAKES[0] + STAKES[1];
  const r =
    BigInt(
      keccak256(
        AbiCoder.defaultAbiCoder().encode(["uint256", "bytes32", "uint256"], [seed, sc, 0]),
      ),
    ) % total;
  return r <= STAKES[0] ? A : B;
}

describe("simulation", () => {
  it("matches a small scenario worked out by hand", () => {
    const r = runSimulation(
      parseScenario({
        workers: {
          list: [
            { signer: A, stake: 3 },
            { signer: B, stake: 1 },
          ],
        },
        contracts: CONTRACTS,
        epochs: 3,
        seeds: SEEDS,
        adversary: { stakeShare: 0.25 }, // only B fits in 25% of the stake
      }),
      { selections: true },
    );
    const expected = SEEDS.map((seed) => CONTRACTS.map((sc) => discovery(seed, sc)));
    const at = (e: number, c: number) => expected[e]?.[c];
    expect(r.selections).toEqual(expected.map((e) => e.map((w) => [w])));

    const loadOfA = expected.map((e) => e.filter((w) => w === A).length);
    expect(r.perEpoch.gini).toEqual(loadOfA.map((a) => Math.abs(a - (4 - a)) / 8));
    expect(r.perEpoch.maxShare).toEqual(loadOfA.map((a) => Math.max(a, 4 - a) / 4));
    expect(r.perEpoch.proportionalityError).toEqual(
      loadOfA.map((a) => (Math.abs(a / 4 - 3 / 4) + Math.abs((4 - a) / 4 - 1 / 4)) / 2),
    );
    const changes = [0, 1, 2].map((e) =>
      e === 0 ? 0 : CONTRACTS.filter((_, c) => at(e, c) !== at(e - 1, c)).length,
    );
    expect(r.perEpoch.handOvers).toEqual(changes);
    expect(r.totals.handOvers).toBe(changes.reduce((a, b) => a + b, 0));
    expect(r.totals.memberships).toBe(12);

    // B is the coalition: its runs per contract, epochs in a row.
    const runs = new Map<number, number>();
    for (let c = 0; c < 4; c++) {
      let run = 0;
      for (let e = 0; e < 3; e++) {
        if (at(e, c) === B) run++;
        else if (run > 0) {
          runs.set(run, (runs.get(run) ?? 0) + 1);
          run = 0;
        }
      }
      if (run > 0) runs.set(run, (runs.get(run) ?? 0) + 1);
    }
    expect(r.coalition?.stakeShare).toBe(0.25);
    expect(r.coalition?.runLengths).toEqual([...runs.entries()].sort((x, y) => x[0] - y[0]));
    expect(r.perEpoch.coalitionHeld).toEqual(
      expected.map((e) => e.filter((w) => w === B).length / 4),
    );
  });

  it("selects what the nodes' code selects, on both arithmetic paths and with history", () => {
    for (const stake of ["5", "100000000"]) {
      // 10^8 ENG each: totals above 2^52 grains take the bigint path.
      for (const name of ["discovery", "group:2", "rotation:2"]) {
        const workers = ["11", "22", "33", "44"].map((b, i) => ({
          signer: `0x${b.repeat(20)}`,
          stake: `${stake}${i}`,
        }));
        const s = parseScenario({
          workers: { list: workers },
          contracts: 6,
          epochs: 6,
          selection: name,
          seed: "x",
        });
        const r = runSimulation(s, { selections: true });
        const epochs: SelectionEpoch[] = (r.selections ?? []).map((_, index) => ({
          index,
          seed: BigInt(keccakOf("x", index)),
          workers: workers.map((w) => w.signer),
          stakes: workers.map((w) => BigInt(w.stake) * 10n ** 8n),
        }));
        const contracts = r.selections?.[0]?.map((_, c) => contractOf("x", c)) ?? [];
        epochs.forEach((e, i) => {
          contracts.forEach((sc, c) => {
            expect(r.selections?.[i]?.[c]).toEqual(
              selectGroup(sc, e, getSelectionStrategy(name), (j) => epochs[j]),
            );
          });
        });
      }
    }
  });

  it("numbers epochs from firstEpochIndex, as a chain replayed from there does", () => {
    const workers = ["11", "22", "33"].map((b) => ({ signer: `0x${b.repeat(20)}`, stake: 10 }));
    for (const first of [0, 1, 7]) {
      const s = parseScenario({
        workers: { list: workers },
        contracts: 8,
        epochs: 5,
        selection: "rotation:2",
        seed: "x",
        firstEpochIndex: first,
      });
      const r = runSimulation(s, { selections: true });
      // The chain's epoch `first + i`; before `first`, an epoch nobody was staked in (a
      // devnet's epoch 0): the sim's first epoch has no history either.
      const epochs = new Map<number, SelectionEpoch>();
      if (first > 0) epochs.set(first - 1, { index: first - 1, seed: 1n, workers: [], stakes: [] });
      for (let i = 0; i < 5; i++) {
        epochs.set(first + i, {
          index: first + i,
          seed: BigInt(keccakOf("x", i)),
          workers: workers.map((w) => w.signer),
          stakes: workers.map(() => 10n * 10n ** 8n),
        });
      }
      for (let i = 0; i < 5; i++) {
        for (let c = 0; c < 8; c++) {
          const e = epochs.get(first + i);
          if (e === undefined) throw new Error("unreachable");
          expect(r.selections?.[i]?.[c], `first ${first}, epoch ${i}, contract ${c}`).toEqual(
            selectGroup(contractOf("x", c), e, getSelectionStrategy("rotation:2"), (j) =>
              epochs.get(j),
            ),
          );
        }
      }
    }
  });

  it("gives the same JSON for the same seed, byte for byte, and another for another seed", () => {
    const scenario = {
      workers: { count: 40, stake: { distribution: "zipf" as const, exponent: 1.2 } },
      contracts: 300,
      epochs: 25,
      churn: { joins: 2, leaves: 2 },
      adversary: { stakeShare: 0.3 },
      selection: "rotation:3",
    };
    const a = JSON.stringify(runSimulation(parseScenario({ ...scenario, seed: 9 })));
    const b = JSON.stringify(runSimulation(parseScenario({ ...scenario, seed: 9 })));
    const c = JSON.stringify(runSimulation(parseScenario({ ...scenario, seed: 10 })));
    expect(a).toBe(b);
    expect(c).not.toBe(a);
  });

  it("limits a rotation's single-worker runs, and hands over more than Discovery", () => {
    const base = { workers: { count: 5 }, contracts: 200, epochs: 40, seed: 3 };
    const rot = runSimulation(parseScenario({ ...base, selection: "rotation:3" }), {
      selections: true,
    });
    const dis = runSimulation(parseScenario(base));
    for (let c = 0; c < 200; c++) {
      let run = 1;
      for (let e = 1; e < 40; e++) {
        run = rot.selections?.[e]?.[c]?.[0] === rot.selections?.[e - 1]?.[c]?.[0] ? run + 1 : 1;
        expect(run).toBeLessThanOrEqual(3);
      }
    }
    expect(rot.totals.handOvers).toBeGreaterThan(dis.totals.handOvers);
  });
});

function keccakOf(seed: string, epoch: number): string {
  return `0x${Buffer.from(derive(seed, "epoch", epoch)).toString("hex")}`;
}
function contractOf(seed: string, c: number): string {
  return `0x${Buffer.from(derive(seed, "contract", c)).toString("hex")}`;
}
