import { describe, expect, it } from "vitest";
import { Population } from "./population.js";
import { parseScenario } from "./scenario.js";

const ENG = 10n ** 8n;
const popOf = (workers: object, more: object = {}) =>
  new Population(parseScenario({ workers, contracts: 1, epochs: 1, seed: 5, ...more }));

describe("population", () => {
  it("keeps Enigma's login order: a logout moves the last logged-in worker into the gap", () => {
    const p = popOf({ count: 5 });
    p.leave(1);
    expect(p.active).toEqual([0, 4, 2, 3]);
    p.leave(3);
    expect(p.active).toEqual([0, 4, 2]);
    const id = p.join(ENG, false);
    expect(p.active).toEqual([0, 4, 2, id]);
    expect(p.standings().map((w) => w.signer)).toEqual([0, 4, 2, id].map((i) => p.signer[i]));
  });

  it("draws stakes from the distribution asked for", () => {
    const whale = popOf({ count: 5, stake: { distribution: "whale", share: 0.6, mean: 100 } });
    const stakes = [...whale.stake].sort((a, b) => (a < b ? 1 : -1));
    expect(stakes).toEqual([300n * ENG, 50n * ENG, 50n * ENG, 50n * ENG, 50n * ENG]);
    const zipf = popOf({ count: 4, stake: { distribution: "zipf", exponent: 1, mean: 25 } });
    // Weights 1, 1/2, 1/3, 1/4 of a total of 100 ENG (sum of weights 25/12).
    const z = [...zipf.stake].sort((a, b) => (a < b ? 1 : -1));
    expect(z).toEqual([4800000000n, 2400000000n, 1600000000n, 1200000000n]);
  });

  it("forms a coalition holding at most its share of the stake, as close as whole workers allow", () => {
    const p = popOf({ count: 100 }, { adversary: { stakeShare: 0.33 } });
    expect(p.coalitionShare).toBe(0.33);
    expect(p.adversarial.filter(Boolean)).toHaveLength(33);
    const none = popOf({ count: 10 });
    expect(none.coalitionShare).toBe(0);
  });

  it("churns: leavers are logged-in workers, joiners are new, one worker always stays", () => {
    const p = popOf({ count: 3 });
    p.churn(2, 10);
    expect(p.active).toHaveLength(3);
    expect(new Set(p.active).size).toBe(3);
    expect(p.active.filter((id) => id >= 3)).toHaveLength(2);
  });
});
