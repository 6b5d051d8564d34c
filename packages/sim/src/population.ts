// Workers over a simulation: stakes from the scenario's distribution, a coalition, churn, and
// the login order the Enigma contract keeps (a logout moves the last logged-in worker into the
// leaver's place), which is the order selection walks.
import type { WorkerStanding } from "@enigma/protocol";
import type { Scenario } from "./scenario.js";
import { Rng } from "./seeds.js";

export class Population {
  /** Signer address, stake (grains) and coalition membership by worker id. */
  readonly signer: string[] = [];
  readonly stake: bigint[] = [];
  readonly adversarial: boolean[] = [];
  /** Logged-in worker ids in login order. */
  readonly active: number[] = [];
  readonly #position = new Map<number, number>();
  readonly #idOf = new Map<string, number>();
  readonly #joinStakes: bigint[];
  readonly #rng: Rng;
  readonly #coalitionShare: number;

  constructor(s: Scenario) {
    this.#rng = new Rng(s.seed, "population");
    const initial = initialStakes(s, this.#rng);
    this.#joinStakes = initial.map((w) => w.stake);
    if (s.workers.stake.distribution === "whale" && s.workers.list === undefined) {
      // Newcomers are ordinary workers, not whales.
      const whale = maxOf(this.#joinStakes);
      const ordinary = this.#joinStakes.filter((x) => x !== whale);
      if (ordinary.length > 0) this.#joinStakes = ordinary;
    }
    const coalition = chooseCoalition(
      initial.map((w) => w.stake),
      s.adversary.stakeShare,
      this.#rng,
    );
    initial.forEach((w, i) => this.join(w.stake, coalition.has(i), w.signer));
    const total = this.stake.reduce((a, b) => a + b, 0n);
    let held = 0n;
    this.stake.forEach((x, i) => {
      if (this.adversarial[i] === true) held += x;
    });
    this.#coalitionShare = total === 0n ? 0 : Number((held * 1_000_000n) / total) / 1_000_000;
  }

  /** The coalition's share of the initial stake (its target, rounded down to whole workers). */
  get coalitionShare(): number {
    return this.#coalitionShare;
  }

  /** The id of a worker by signer, or -1. */
  idOf(signer: string): number {
    return this.#idOf.get(signer) ?? -1;
  }

  join(stake: bigint, adversarial: boolean, signer?: string): number {
    const id = this.signer.length;
    const address = signer ?? `0x${id.toString(16).padStart(40, "0")}`;
    this.signer.push(address);
    this.stake.push(stake);
    this.adversarial.push(adversarial);
    this.#idOf.set(address, id);
    this.#position.set(id, this.active.length);
    this.active.push(id);
    return id;
  }

  leave(id: number): void {
    const at = this.#position.get(id);
    if (at === undefined) return;
    const last = this.active.pop();
    if (last !== undefined && last !== id) {
      this.active[at] = last;
      this.#position.set(last, at);
    }
    this.#position.delete(id);
  }

  /** One epoch's churn: `leaves` random logged-in workers leave (one always stays), `joins` join. */
  churn(joins: number, leaves: number): void {
    const leaving = Math.min(leaves, this.active.length - 1);
    for (let k = 0; k < leaving; k++) {
      const id = this.active[this.#rng.below(this.active.length)];
      if (id !== undefined) this.leave(id);
    }
    for (let k = 0; k < joins; k++) {
      const stake = this.#joinStakes[this.#rng.below(this.#joinStakes.length)] ?? 0n;
      this.join(stake, this.#rng.unit() < this.#coalitionShare);
    }
  }

  /** The logged-in workers in login order, as an epoch policy snapshots them. */
  standings(): WorkerStanding[] {
    return this.active.map((id) => ({
      signer: this.signer[id] ?? "",
      stake: this.stake[id] ?? 0n,
    }));
  }
}

function maxOf(xs: readonly bigint[]): bigint {
  return xs.reduce((a, b) => (b > a ? b : a), 0n);
}

/** The initial workers: an explicit list, or `count` stakes from the distribution. */
function initialStakes(s: Scenario, rng: Rng): { stake: bigint; signer?: string }[] {
  if (s.workers.list !== undefined) return s.workers.list.map((w) => ({ ...w }));
  const n = s.workers.count;
  const d = s.workers.stake;
  const total = d.mean * BigInt(n);
  let stakes: bigint[];
  if (d.distribution === "equal") {
    stakes = Array.from({ length: n }, () => d.mean);
  } else if (d.distribution === "whale") {
    const whale = n === 1 ? total : BigInt(Math.round(Number(total) * d.share));
    const rest = n === 1 ? 0n : (total - whale) / BigInt(n - 1);
    stakes = Array.from({ length: n }, (_, i) => (i === 0 ? whale : rest));
  } else {
    const weights = Array.from({ length: n }, (_, r) => 1 / (r + 1) ** d.exponent);
    const sum = weights.reduce((a, b) => a + b, 0);
    stakes = weights.map((w) => {
      const x = BigInt(Math.floor((Number(total) * w) / sum));
      return x > 0n ? x : 1n;
    });
  }
  // Ranks land at random places in the login order (position matters a little to the walk).
  for (let i = stakes.length - 1; i > 0; i--) {
    const j = rng.below(i + 1);
    const t = stakes[i] ?? 0n;
    stakes[i] = stakes[j] ?? 0n;
    stakes[j] = t;
  }
  return stakes.map((stake) => ({ stake }));
}

/**
 * The coalition: workers taken in a random order while their stake stays within `share` of the
 * total (a worker that would overshoot is skipped), so the coalition holds at most its target.
 */
function chooseCoalition(stakes: readonly bigint[], share: number, rng: Rng): Set<number> {
  const members = new Set<number>();
  if (share <= 0) return members;
  const total = stakes.reduce((a, b) => a + b, 0n);
  const target = BigInt(Math.floor(Number(total) * share));
  const order = stakes.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = rng.below(i + 1);
    const t = order[i] ?? 0;
    order[i] = order[j] ?? 0;
    order[j] = t;
  }
  let held = 0n;
  for (const i of order) {
    const x = stakes[i] ?? 0n;
    if (held + x <= target) {
      members.add(i);
      held += x;
    }
  }
  return members;
}
