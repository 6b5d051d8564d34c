import {
  DEFAULT_EPOCH_POLICY,
  DEFAULT_SELECTION,
  EnigmaError,
  ErrorCode,
  getEpochPolicy,
  selectionContract,
} from "@enigma/protocol";

/** Timing and size of a devnet, resolved: every field has its value. */
export interface DevnetOptions {
  /** Number of worker nodes (the principal comes in addition). */
  readonly workers: number;
  /** Blocks per epoch. */
  readonly epochBlocks: number;
  /** Block interval in milliseconds, or "auto" to mine one block per transaction. */
  readonly blockTime: number | "auto";
  /**
   * Blocks after which a task nobody committed can be refunded. Unless set, the preset's
   * `taskTimeoutEpochs` times `epochBlocks`: the timeout follows the epoch length, as
   * Discovery's contract set it (`taskTimeoutSize = timeoutThreshold * epochSize`).
   */
  readonly taskTimeoutBlocks: number;
  /**
   * Longest wall time of an epoch, in seconds: when the chain produces blocks too slowly for
   * that (an idle chain with one block per transaction produces none), the devnet mines empty
   * blocks at the pace that ends an epoch (its blocks plus the confirmations nodes wait for)
   * in this time. 0 turns it off: epochs then end only when someone mines.
   */
  readonly epochSeconds: number;
  /** Seed for every key and random draw of the devnet: same seed, same network. */
  readonly seed: string;
  /** Blocks a worker waits on top of a task's record block before running it. */
  readonly confirmations: number;
  /**
   * The worker-selection strategy by registry name (`"group:3"`): deployed with `Enigma`, used
   * by every node and client of the devnet. Default `"discovery"`.
   */
  readonly selection: string;
  /** The epoch policy by registry name; only policies `Enigma` implements. Default `"discovery"`. */
  readonly epochPolicy: string;
}

/** What a preset fixes; `resolveDevnetOptions` derives the rest. */
export interface DevnetPreset {
  readonly workers: number;
  readonly epochBlocks: number;
  readonly blockTime: number | "auto";
  /** The task timeout in epochs (`taskTimeoutBlocks = taskTimeoutEpochs * epochBlocks`). */
  readonly taskTimeoutEpochs: number;
  /**
   * The epoch's longest wall time, or "blocks": as long as its blocks take at `blockTime`
   * (a preset with interval mining needs no extra blocks).
   */
  readonly epochSeconds: number | "blocks";
  readonly seed: string;
  readonly confirmations: number;
}

export type PresetName = "fast" | "realistic";

/**
 * `fast` is for tests (a block per transaction, short epochs that end after 5 s at most even
 * when nothing happens); `realistic` imitates a live network (1 s blocks, 100-block epochs).
 */
export const PRESETS: Readonly<Record<PresetName, DevnetPreset>> = Object.freeze({
  fast: Object.freeze({
    workers: 3,
    epochBlocks: 10,
    blockTime: "auto",
    taskTimeoutEpochs: 5,
    epochSeconds: 5,
    seed: "enigma",
    confirmations: 0,
  }),
  realistic: Object.freeze({
    workers: 5,
    epochBlocks: 100,
    blockTime: 1000,
    taskTimeoutEpochs: 3,
    epochSeconds: "blocks",
    seed: "enigma",
    confirmations: 2,
  }),
});

const LIMITS = {
  workers: [1, 64],
  epochBlocks: [2, 1_000_000],
  taskTimeoutBlocks: [1, 10_000_000],
  confirmations: [0, 64],
} as const;
/** Longest epoch the pacing accepts (a day). */
const MAX_EPOCH_SECONDS = 86_400;

/**
 * The shortest task timeout that lets a task be committed: one recorded in its epoch's first
 * block waits for the epoch's end and its confirmations, then for the principal's next epoch
 * and its confirmations, then for the commit transaction (two blocks of slack).
 */
export function minTaskTimeoutBlocks(epochBlocks: number, confirmations: number): number {
  return epochBlocks + 2 * confirmations + 2;
}

/**
 * Milliseconds between blocks that make an epoch (its blocks plus the confirmations nodes wait
 * for before they act on its last one) last `epochSeconds`; undefined when pacing is off.
 */
export function blockPaceMs(o: DevnetOptions): number | undefined {
  if (o.epochSeconds === 0) return undefined;
  return (o.epochSeconds * 1000) / (o.epochBlocks + o.confirmations);
}

/**
 * Resolves a preset plus overrides into validated options; `overrides` may be a larger options
 * object (only the `DevnetOptions` fields are read, undefined ones ignored). Derived fields
 * (`taskTimeoutBlocks`, and `epochSeconds` of a preset that says "blocks") follow the other
 * fields unless set. Bad values, or values that contradict each other, raise `InvalidConfig`
 * naming the field and what it must be.
 *
 * @example
 * resolveDevnetOptions("fast", { epochBlocks: 100 }) // taskTimeoutBlocks 500, epochSeconds 5
 */
export function resolveDevnetOptions(
  preset: string = "fast",
  overrides: Partial<DevnetOptions> = {},
): DevnetOptions {
  if (!Object.hasOwn(PRESETS, preset)) {
    throw new EnigmaError(
      ErrorCode.InvalidConfig,
      `unknown preset "${preset}" (use one of: ${Object.keys(PRESETS).join(", ")})`,
      {
        details: { path: "preset" },
      },
    );
  }
  const base = PRESETS[preset as PresetName];
  const pick = <K extends keyof DevnetOptions>(k: K): DevnetOptions[K] | undefined => overrides[k];
  const workers = pick("workers") ?? base.workers;
  const epochBlocks = pick("epochBlocks") ?? base.epochBlocks;
  const blockTime = pick("blockTime") ?? base.blockTime;
  const confirmations = pick("confirmations") ?? base.confirmations;
  const seed = pick("seed") ?? base.seed;
  const { selection, epochPolicy } = resolvePolicies(pick("selection"), pick("epochPolicy"));
  for (const [key, v] of Object.entries({ workers, epochBlocks, confirmations })) {
    checkRange(key as keyof typeof LIMITS, v);
  }
  if (
    blockTime !== "auto" &&
    (!Number.isInteger(blockTime) || blockTime < 1 || blockTime > 60_000)
  ) {
    throw new EnigmaError(
      ErrorCode.InvalidConfig,
      `blockTime must be "auto" or milliseconds from 1 to 60000, got ${String(blockTime)}`,
      {
        details: { path: "blockTime" },
      },
    );
  }
  if (typeof seed !== "string" || seed.length === 0) {
    throw new EnigmaError(ErrorCode.InvalidConfig, "seed must not be empty", {
      details: { path: "seed" },
    });
  }
  const minTimeout = minTaskTimeoutBlocks(epochBlocks, confirmations);
  // Derived, it is never below the minimum (many confirmations on short epochs).
  const taskTimeoutBlocks =
    pick("taskTimeoutBlocks") ??
    Math.min(
      LIMITS.taskTimeoutBlocks[1],
      Math.max(minTimeout, base.taskTimeoutEpochs * epochBlocks),
    );
  checkRange("taskTimeoutBlocks", taskTimeoutBlocks);
  if (taskTimeoutBlocks < minTimeout) {
    throw new EnigmaError(
      ErrorCode.InvalidConfig,
      `taskTimeoutBlocks (${taskTimeoutBlocks}) must be at least ${minTimeout} with ${epochBlocks}-block epochs and ${confirmations} confirmations: receipts are committed after their epoch ends (leave it out and it follows the epoch length)`,
      { details: { path: "taskTimeoutBlocks", min: minTimeout } },
    );
  }
  const epochSeconds =
    pick("epochSeconds") ??
    (base.epochSeconds === "blocks"
      ? naturalEpochSeconds(epochBlocks + confirmations, blockTime)
      : base.epochSeconds);
  if (
    typeof epochSeconds !== "number" ||
    !Number.isFinite(epochSeconds) ||
    (epochSeconds !== 0 && (epochSeconds < 1 || epochSeconds > MAX_EPOCH_SECONDS))
  ) {
    throw new EnigmaError(
      ErrorCode.InvalidConfig,
      `epochSeconds must be 0 (off) or seconds from 1 to ${MAX_EPOCH_SECONDS}, got ${String(epochSeconds)}`,
      { details: { path: "epochSeconds" } },
    );
  }
  return Object.freeze({
    workers,
    epochBlocks,
    blockTime,
    taskTimeoutBlocks,
    epochSeconds,
    seed,
    confirmations,
    selection,
    epochPolicy,
  });
}

/**
 * The devnet's policies, checked through the registry (`UnknownPolicy`, 120, lists the known
 * names): the strategy must have a Solidity twin to deploy, the epoch policy must be one the
 * `Enigma` contract implements (`PolicyNotOnChain`, 124: the others run in `enigma sim` only).
 */
function resolvePolicies(
  selection: string = DEFAULT_SELECTION,
  epochPolicy: string = DEFAULT_EPOCH_POLICY,
): { selection: string; epochPolicy: string } {
  // Canonical names (`group` is `group:3`): what nodes, clients and devnet.json then carry.
  const strategy = selectionContract(selection).strategy;
  const epochs = getEpochPolicy(epochPolicy);
  if (!epochs.onChain) {
    throw new EnigmaError(
      ErrorCode.PolicyNotOnChain,
      `epoch policy "${epochs.name}" runs in \`enigma sim\` only: the Enigma contract implements Discovery's epochs (use --epoch-policy discovery)`,
      { details: { path: "epochPolicy", name: epochs.name } },
    );
  }
  return { selection: strategy.name, epochPolicy: epochs.name };
}

/**
 * How long `blocks` take at `blockTime` (at least 1 s). With automine there is no block time:
 * a preset that imitates a live network then paces at one block a second.
 */
function naturalEpochSeconds(blocks: number, blockTime: number | "auto"): number {
  const ms = blockTime === "auto" ? 1000 : blockTime;
  return Math.min(MAX_EPOCH_SECONDS, Math.max(1, Math.ceil((blocks * ms) / 1000)));
}

function checkRange(key: keyof typeof LIMITS, v: number): void {
  const [min, max] = LIMITS[key];
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new EnigmaError(
      ErrorCode.InvalidConfig,
      `${key} must be an integer from ${min} to ${max}, got ${String(v)}`,
      {
        details: { path: key },
      },
    );
  }
}
