// What a simulation runs: validated once (every problem with its path), then trusted.
import { z } from "zod";
import {
  EnigmaError,
  ErrorCode,
  engToGrains,
  getEpochPolicy,
  getSelectionStrategy,
  grainsToEng,
  isEnigmaError,
  validationIssues,
  type ValidationIssue,
} from "@enigma/protocol";

/** ENG as a JSON number or a decimal string, at most 8 decimals ("1.5", 1000). */
const eng = z.union([z.number().nonnegative(), z.string()]).transform((v, ctx) => {
  const text = typeof v === "number" ? String(v) : v;
  try {
    return engToGrains(text);
  } catch {
    ctx.addIssue({
      code: "custom",
      message: `"${text}" is not an ENG amount (at most 8 decimals)`,
    });
    return z.NEVER;
  }
});

const count = (what: string, max: number) =>
  z
    .number({ error: `${what} must be a number` })
    .int(`${what} must be an integer`)
    .min(1, `${what} must be at least 1`)
    .max(max, `${what} must be at most ${max.toLocaleString("en-US")}`);

/** A number in [min, max] (or (min, max) when `open`), an integer when `integer`. */
const within = (
  what: string,
  min: number,
  max: number,
  o: { integer?: boolean; open?: boolean } = {},
) => {
  const range = o.open === true ? `between ${min} and ${max} (exclusive)` : `from ${min} to ${max}`;
  const message = `${what} must be ${o.integer === true ? "an integer " : "a number "}${range}`;
  let n = z.number({ error: message });
  if (o.integer === true) n = n.int(message);
  return o.open === true
    ? n.gt(min, message).lt(max, message)
    : n.min(min, message).max(max, message);
};

const hexOf = (bytes: number, what: string) =>
  z
    .string()
    .regex(new RegExp(`^0x[0-9a-fA-F]{${2 * bytes}}$`), `${what} must be ${bytes} bytes of 0x hex`)
    .transform((s) => s.toLowerCase());

const stakeSchema = z.discriminatedUnion("distribution", [
  z.strictObject({ distribution: z.literal("equal"), mean: eng.default(1000n * 10n ** 8n) }),
  z.strictObject({
    distribution: z.literal("zipf"),
    mean: eng.default(1000n * 10n ** 8n),
    /** Stake of the worker of rank r proportional to 1 / r^exponent. */
    exponent: within("workers.stake.exponent", 0, 10, { open: true }).default(1),
  }),
  z.strictObject({
    distribution: z.literal("whale"),
    mean: eng.default(1000n * 10n ** 8n),
    /** The whale's share of all stake; the others split the rest equally. */
    share: within("workers.stake.share", 0, 1, { open: true }).default(0.5),
  }),
]);

const policyName = (kind: "selection" | "epoch") =>
  z.string().superRefine((name, ctx) => {
    try {
      if (kind === "selection") getSelectionStrategy(name);
      else getEpochPolicy(name);
    } catch (e) {
      ctx.addIssue({ code: "custom", message: isEnigmaError(e) ? e.message : String(e) });
    }
  });

/** The scenario a file or the command line describes (before defaults). */
export const scenarioSchema = z
  .strictObject({
    /** Any text or number: the same seed gives the same run, byte for byte. */
    seed: z.union([z.string().min(1).max(200), z.number().int().nonnegative()]).default("0"),
    workers: z.strictObject({
      count: count("workers.count", 100_000).optional(),
      stake: stakeSchema.default({ distribution: "equal", mean: 1000n * 10n ** 8n }),
      /** Explicit workers in login order (replaces count and stake), e.g. a devnet's. */
      list: z
        .array(z.strictObject({ signer: hexOf(20, "signer"), stake: eng }))
        .min(1)
        .max(100_000)
        .optional(),
    }),
    /** How many secret contracts, or their 32-byte addresses (e.g. a devnet's). */
    contracts: z.union([
      count("contracts", 1_000_000),
      z.array(hexOf(32, "contract")).min(1).max(1_000_000),
    ]),
    epochs: count("epochs", 100_000),
    /** Explicit epoch seeds (uint256 as 0x hex), one per epoch; derived from `seed` otherwise. */
    seeds: z.array(hexOf(32, "seed")).optional(),
    /**
     * The index of the first simulated epoch (0 by default): a rule that reads the index (a
     * term start under rotation:N) then sees the same numbers as a chain whose epochs are
     * replayed from there, e.g. a devnet whose epoch 0 had no worker yet.
     */
    firstEpochIndex: within("firstEpochIndex", 0, 1_000_000_000, { integer: true }).optional(),
    churn: z
      .strictObject({
        joins: within("churn.joins", 0, 100_000, { integer: true }).default(0),
        leaves: within("churn.leaves", 0, 100_000, { integer: true }).default(0),
      })
      .default({ joins: 0, leaves: 0 }),
    adversary: z
      .strictObject({
        /** The coalition's target share of the stake, 0 to 1 (0: no coalition). */
        stakeShare: within("adversary.stakeShare", 0, 1),
      })
      .default({ stakeShare: 0 }),
    /** Minimum stake to be in an epoch (Enigma's STAKING_THRESHOLD). */
    stakingThreshold: eng.default(10n ** 8n),
    selection: policyName("selection").default("discovery"),
    epochPolicy: policyName("epoch").default("discovery"),
  })
  .superRefine((s, ctx) => {
    if (s.workers.count === undefined && s.workers.list === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["workers", "count"],
        message: "workers.count or workers.list is required",
      });
    }
    if (
      s.workers.count !== undefined &&
      s.workers.list !== undefined &&
      s.workers.count !== s.workers.list.length
    ) {
      ctx.addIssue({
        code: "custom",
        path: ["workers", "count"],
        message: "workers.count disagrees with workers.list",
      });
    }
    const signers = s.workers.list?.map((w) => w.signer) ?? [];
    if (new Set(signers).size !== signers.length) {
      ctx.addIssue({
        code: "custom",
        path: ["workers", "list"],
        message: "signers must be distinct",
      });
    }
    if (s.seeds !== undefined && s.seeds.length !== s.epochs) {
      ctx.addIssue({
        code: "custom",
        path: ["seeds"],
        message: `seeds must have one entry per epoch (${s.epochs})`,
      });
    }
    const contracts = typeof s.contracts === "number" ? s.contracts : s.contracts.length;
    // Ten minutes of work at about a million draws a second: refuse more than that.
    if (contracts * s.epochs > 1_000_000_000) {
      ctx.addIssue({
        code: "custom",
        path: ["contracts"],
        message: "contracts x epochs must be at most 1,000,000,000",
      });
    }
  });

export type ScenarioInput = z.input<typeof scenarioSchema>;

/** A validated scenario with every default filled in; stakes in grains. */
export interface Scenario {
  readonly seed: string;
  readonly workers: {
    readonly count: number;
    readonly stake:
      | { readonly distribution: "equal"; readonly mean: bigint }
      | { readonly distribution: "zipf"; readonly mean: bigint; readonly exponent: number }
      | { readonly distribution: "whale"; readonly mean: bigint; readonly share: number };
    readonly list?: readonly { readonly signer: string; readonly stake: bigint }[];
  };
  readonly contracts: number | readonly string[];
  readonly epochs: number;
  readonly seeds?: readonly string[];
  readonly firstEpochIndex?: number;
  readonly churn: { readonly joins: number; readonly leaves: number };
  readonly adversary: { readonly stakeShare: number };
  readonly stakingThreshold: bigint;
  readonly selection: string;
  readonly epochPolicy: string;
}

/**
 * Validates a scenario (a parsed JSON file, or what flags built). Every problem is reported at
 * once, with its path, in one `InvalidScenario` (122) error: `details.issues` lists them.
 *
 * @example
 * const s = parseScenario({ workers: { count: 100 }, contracts: 1000, epochs: 50, seed: 7 });
 */
export function parseScenario(input: unknown): Scenario {
  const r = scenarioSchema.safeParse(input);
  if (!r.success) throw scenarioError(validationIssues(r.error));
  const s = r.data;
  const list = s.workers.list;
  return {
    ...s,
    seed: String(s.seed),
    workers: {
      count: list?.length ?? s.workers.count ?? 0,
      stake: s.workers.stake,
      ...(list === undefined ? {} : { list }),
    },
  };
}

/** The InvalidScenario error for `issues`, its message naming each path. */
export function scenarioError(issues: ValidationIssue[]): EnigmaError {
  const text = issues
    .map((i) => (i.path === "" ? i.message : `${i.path}: ${i.message}`))
    .join("; ");
  return new EnigmaError(ErrorCode.InvalidScenario, `invalid scenario: ${text}`, {
    details: { issues },
  });
}

/** The scenario as JSON (stakes in ENG as decimal strings), as results echo it. */
export function scenarioToJson(s: Scenario): Record<string, unknown> {
  const stake = { ...s.workers.stake, mean: grainsToEng(s.workers.stake.mean) };
  return {
    seed: s.seed,
    workers: {
      count: s.workers.count,
      stake,
      ...(s.workers.list === undefined
        ? {}
        : { list: s.workers.list.map((w) => ({ signer: w.signer, stake: grainsToEng(w.stake) })) }),
    },
    contracts: s.contracts,
    epochs: s.epochs,
    ...(s.seeds === undefined ? {} : { seeds: s.seeds }),
    ...(s.firstEpochIndex === undefined ? {} : { firstEpochIndex: s.firstEpochIndex }),
    churn: s.churn,
    adversary: s.adversary,
    stakingThreshold: grainsToEng(s.stakingThreshold),
    selection: s.selection,
    epochPolicy: s.epochPolicy,
  };
}
