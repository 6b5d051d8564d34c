// The simulation: a policy over virtual epochs, no chain, no network. Each epoch: churn, the
// epoch policy's snapshot, the strategy's group for every contract (the same `select` the nodes
// run, over draws equal to theirs), then the measures.
import {
  EnigmaError,
  ErrorCode,
  checkGroup,
  getEpochPolicy,
  getSelectionStrategy,
  type DrawsHistory,
} from "@enigma/protocol";
import { SimDraws, SimEpoch } from "./draws.js";
import { DrawHasher } from "./keccak-wasm.js";
import { gini, round6, totalVariation, windowProbabilities } from "./metrics.js";
import { Population } from "./population.js";
import { type Scenario, scenarioError, scenarioToJson } from "./scenario.js";
import { derive, toWord } from "./seeds.js";

/** Largest contracts x epochs for which `selections` may be asked (it lists every group). */
export const MAX_LISTED_SELECTIONS = 100_000;
/** Window lengths k for which the coalition's hold probability is reported. */
export const MAX_WINDOW = 64;

export interface SimulationOptions {
  /** List every epoch's group per contract (small scenarios only: `MAX_LISTED_SELECTIONS`). */
  selections?: boolean;
  /** Called after each epoch (for progress output). */
  onEpoch?: (epoch: number, epochs: number) => void;
}

/** Per-epoch series, index = epoch. */
export interface EpochSeries {
  /** Workers in the epoch's snapshot. */
  workers: number[];
  /** Gini coefficient of contracts per worker (group memberships), over the snapshot's workers. */
  gini: number[];
  /** The busiest worker's share of the epoch's memberships. */
  maxShare: number[];
  /** New group members, each a state-key hand-over and a state rebuild (0 in epoch 0). */
  handOvers: number[];
  /** Contracts whose group changed. */
  contractsChanged: number[];
  /** Total variation distance between shares of memberships and shares of stake. */
  proportionalityError: number[];
  /** The coalition's share of the snapshot's stake. */
  coalitionStake: number[];
  /** Share of contracts with a coalition member in their group. */
  coalitionHeld: number[];
}

export interface SimulationResult {
  selection: string;
  epochPolicy: string;
  scenario: Record<string, unknown>;
  totals: {
    epochs: number;
    contracts: number;
    /** Group memberships over all epochs. */
    memberships: number;
    handOvers: number;
    /** Mean over epochs 1.. (epoch 0 assigns, it hands nothing over). */
    handOversPerEpoch: number;
    contractsChangedPerEpoch: number;
    meanGini: number;
    maxGini: number;
    meanMaxShare: number;
    maxMaxShare: number;
    /** Mean of the per-epoch errors (sampling noise of one epoch included). */
    meanProportionalityError: number;
    /** Error of the memberships summed over all epochs against the stake summed the same way. */
    longRunProportionalityError: number;
    finalWorkers: number;
  };
  coalition: {
    stakeShare: number;
    /** Mean share of contracts held per epoch. */
    meanHeld: number;
    runs: number;
    meanRun: number;
    maxRun: number;
    /** [length, runs of exactly that length], ascending; runs open at the last epoch are cut there. */
    runLengths: [number, number][];
    /** P(a given contract is held for k epochs in a row from a given epoch), k = 1, 2, ... */
    windowProbability: number[];
  } | null;
  perEpoch: EpochSeries;
  /** `selections[epoch][contract]`: the group's signers (only when asked). */
  selections?: string[][][];
}

const hexBytes = (hex: string) => Uint8Array.from(Buffer.from(hex.slice(2), "hex"));
const toHex = (b: Uint8Array) => `0x${Buffer.from(b).toString("hex")}`;

/** Contract addresses: the scenario's, or derived from its seed (like task ids: 32 bytes). */
function contractsOf(s: Scenario): string[] {
  if (typeof s.contracts !== "number") return [...s.contracts];
  return Array.from({ length: s.contracts }, (_, c) => toHex(derive(s.seed, "contract", c)));
}

/**
 * Runs `scenario` and returns its measures; the same scenario gives the same result, and the
 * same JSON byte for byte (no clock, no unseeded randomness, fixed key order, rounded floats).
 *
 * @example
 * const r = runSimulation(parseScenario({ workers: { count: 100 }, contracts: 1000, epochs: 50 }));
 */
export function runSimulation(s: Scenario, options: SimulationOptions = {}): SimulationResult {
  const strategy = getSelectionStrategy(s.selection);
  const policy = getEpochPolicy(s.epochPolicy);
  const contracts = contractsOf(s);
  const C = contracts.length;
  if (options.selections === true && C * s.epochs > MAX_LISTED_SELECTIONS) {
    throw scenarioError([
      {
        path: "contracts",
        message: `listing selections needs contracts x epochs <= ${MAX_LISTED_SELECTIONS.toLocaleString("en-US")}`,
      },
    ]);
  }
  const hasher = new DrawHasher(contracts.map(hexBytes));
  const tags = Uint32Array.from(contracts, (c) => Number.parseInt(c.slice(-8), 16));
  const pop = new Population(s);
  const k = strategy.groupSize;

  // Group members of the previous epoch (worker ids), -1 for none.
  let previous = new Int32Array(C * k).fill(-1);
  let current = new Int32Array(C * k).fill(-1);
  const runLength = new Int32Array(C);
  const runHistogram: number[] = [];
  let cumulativeLoad = new Float64Array(1024);
  let cumulativeExpected = new Float64Array(1024);
  const series: EpochSeries = {
    workers: [],
    gini: [],
    maxShare: [],
    handOvers: [],
    contractsChanged: [],
    proportionalityError: [],
    coalitionStake: [],
    coalitionHeld: [],
  };
  const selections: string[][][] = [];
  const past: SimDraws[] = [];
  let memberships = 0;
  let handOversTotal = 0;
  const hasCoalition = pop.coalitionShare > 0;

  for (let e = 0; e < s.epochs; e++) {
    if (e > 0) pop.churn(s.churn.joins, s.churn.leaves);
    const snap = policy.snapshot(pop.standings(), s.stakingThreshold);
    const seedHex = s.seeds?.[e];
    const seed = seedHex === undefined ? toWord(derive(s.seed, "epoch", e)) : BigInt(seedHex);
    const epoch = new SimEpoch(
      (s.firstEpochIndex ?? 0) + e,
      seed,
      snap.workers,
      snap.stakes,
      hasher,
      k,
    );
    const draws = new SimDraws(epoch, contracts, tags);
    const n = epoch.count;
    const ids = Int32Array.from(snap.workers, (w) => pop.idOf(w));
    const adversarial = Uint8Array.from(ids, (id) => (pop.adversarial[id] === true ? 1 : 0));
    const load = new Float64Array(n);

    let bound = 0;
    const history: DrawsHistory = (back) => {
      if (!Number.isSafeInteger(back) || back < 1 || back > strategy.lookback) {
        throw new EnigmaError(
          ErrorCode.InvalidArgument,
          `strategy ${strategy.name} read ${back} epochs back with a lookback of ${strategy.lookback}`,
        );
      }
      return past[past.length - back]?.bind(bound);
    };

    let handOvers = 0;
    let changed = 0;
    let held = 0;
    const listed: string[][] = [];
    for (let c = 0; c < C; c++) {
      bound = c;
      const picked = strategy.select(draws.bind(c), history);
      checkGroup(strategy, picked, n);
      const base = c * k;
      let isHeld = false;
      let fresh = 0;
      for (let j = 0; j < k; j++) current[base + j] = -1;
      for (let j = 0; j < picked.length; j++) {
        const i = picked[j] ?? 0;
        const id = ids[i] ?? -1;
        current[base + j] = id;
        load[i] = (load[i] ?? 0) + 1;
        if (adversarial[i] === 1) isHeld = true;
        let before = false;
        for (let m = 0; m < k; m++) if (previous[base + m] === id) before = true;
        if (!before) fresh++;
      }
      memberships += picked.length;
      if (e > 0) {
        let kept = 0;
        for (let m = 0; m < k; m++) if ((previous[base + m] ?? -1) >= 0) kept++;
        handOvers += fresh;
        if (fresh > 0 || kept !== picked.length) changed++;
      }
      if (isHeld) {
        held++;
        runLength[c] = (runLength[c] ?? 0) + 1;
      } else if ((runLength[c] ?? 0) > 0) {
        const L = runLength[c] ?? 0;
        runHistogram[L] = (runHistogram[L] ?? 0) + 1;
        runLength[c] = 0;
      }
      if (options.selections === true) listed.push(picked.map((i) => draws.worker(i)));
    }
    if (options.selections === true) selections.push(listed);
    [previous, current] = [current, previous];
    handOversTotal += handOvers;

    // Measures of the epoch, over the snapshot's workers.
    let assigned = 0;
    let busiest = 0;
    let coalitionStake = 0;
    let totalStake = 0;
    const stakes = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const x = load[i] ?? 0;
      assigned += x;
      if (x > busiest) busiest = x;
      stakes[i] = epoch.stakeNumber(i);
      totalStake += stakes[i] ?? 0;
      if (adversarial[i] === 1) coalitionStake += stakes[i] ?? 0;
    }
    const maxId = ids.reduce((a, b) => Math.max(a, b), 0);
    if (maxId >= cumulativeLoad.length) {
      const grow = (a: Float64Array) => {
        const b = new Float64Array(Math.max(2 * a.length, maxId + 1));
        b.set(a);
        return b;
      };
      cumulativeLoad = grow(cumulativeLoad);
      cumulativeExpected = grow(cumulativeExpected);
    }
    for (let i = 0; i < n; i++) {
      const id = ids[i] ?? 0;
      cumulativeLoad[id] = (cumulativeLoad[id] ?? 0) + (load[i] ?? 0);
      if (totalStake > 0) {
        cumulativeExpected[id] =
          (cumulativeExpected[id] ?? 0) + (assigned * (stakes[i] ?? 0)) / totalStake;
      }
    }
    series.workers.push(n);
    series.gini.push(round6(gini(load)));
    series.maxShare.push(round6(assigned === 0 ? 0 : busiest / assigned));
    series.handOvers.push(handOvers);
    series.contractsChanged.push(changed);
    series.proportionalityError.push(round6(totalVariation(load, stakes)));
    series.coalitionStake.push(round6(totalStake === 0 ? 0 : coalitionStake / totalStake));
    series.coalitionHeld.push(round6(held / C));

    past.push(draws);
    if (past.length > strategy.lookback) past.shift();
    options.onEpoch?.(e, s.epochs);
  }
  // Runs still open at the end are cut there (a lower bound of their length).
  for (let c = 0; c < C; c++) {
    const L = runLength[c] ?? 0;
    if (L > 0) runHistogram[L] = (runHistogram[L] ?? 0) + 1;
  }

  const mean = (xs: readonly number[]) =>
    xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length;
  const after0 = <T>(xs: readonly T[]) => xs.slice(1);
  const runs: [number, number][] = [];
  runHistogram.forEach((count, L) => {
    if (count > 0) runs.push([L, count]);
  });
  const runCount = runs.reduce((a, [, c]) => a + c, 0);
  const result: SimulationResult = {
    selection: strategy.name,
    epochPolicy: policy.name,
    scenario: scenarioToJson(s),
    totals: {
      epochs: s.epochs,
      contracts: C,
      memberships,
      handOvers: handOversTotal,
      handOversPerEpoch: round6(mean(after0(series.handOvers))),
      contractsChangedPerEpoch: round6(mean(after0(series.contractsChanged))),
      meanGini: round6(mean(series.gini)),
      maxGini: series.gini.reduce((a, b) => Math.max(a, b), 0),
      meanMaxShare: round6(mean(series.maxShare)),
      maxMaxShare: series.maxShare.reduce((a, b) => Math.max(a, b), 0),
      meanProportionalityError: round6(mean(series.proportionalityError)),
      longRunProportionalityError: round6(totalVariation(cumulativeLoad, cumulativeExpected)),
      finalWorkers: series.workers[series.workers.length - 1] ?? 0,
    },
    coalition: hasCoalition
      ? {
          stakeShare: round6(pop.coalitionShare),
          meanHeld: round6(mean(series.coalitionHeld)),
          runs: runCount,
          meanRun: round6(runCount === 0 ? 0 : runs.reduce((a, [L, c]) => a + L * c, 0) / runCount),
          maxRun: runs.length === 0 ? 0 : (runs[runs.length - 1]?.[0] ?? 0),
          runLengths: runs,
          windowProbability: windowProbabilities(runHistogram, C, s.epochs, MAX_WINDOW).map((p) =>
            Number(p.toPrecision(6)),
          ),
        }
      : null,
    perEpoch: series,
  };
  if (options.selections === true) result.selections = selections;
  return result;
}
