import { EnigmaError, ErrorCode } from "@enigma/protocol";

/** Timing and size of a devnet. Every field can be overridden on top of a preset. */
export interface DevnetOptions {
  /** Number of worker nodes (the principal comes in addition). */
  readonly workers: number;
  /** Blocks per epoch. */
  readonly epochBlocks: number;
  /** Block interval in milliseconds, or "auto" to mine one block per transaction. */
  readonly blockTime: number | "auto";
  /** Blocks after which a task nobody committed can be refunded. */
  readonly taskTimeoutBlocks: number;
  /** Seed for every key and random draw of the devnet: same seed, same network. */
  readonly seed: string;
  /** Blocks a worker waits on top of a task's record block before running it. */
  readonly confirmations: number;
}

export type PresetName = "fast" | "realistic";

/** `fast` is for tests (instant blocks, short epochs); `realistic` imitates a live network. */
export const PRESETS: Readonly<Record<PresetName, DevnetOptions>> = Object.freeze({
  fast: Object.freeze({
    workers: 3,
    epochBlocks: 10,
    blockTime: "auto",
    taskTimeoutBlocks: 50,
    seed: "enigma",
    confirmations: 0,
  }),
  realistic: Object.freeze({
    workers: 5,
    epochBlocks: 100,
    blockTime: 1000,
    taskTimeoutBlocks: 300,
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

/**
 * Resolves a preset plus overrides into validated options; `overrides` may be a larger options
 * object (only the `DevnetOptions` fields are read, undefined ones ignored). Bad values raise
 * `InvalidConfig` naming the field and its allowed range.
 *
 * @example
 * resolveDevnetOptions("fast", { workers: 5 })
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
  const given = Object.fromEntries(
    Object.keys(base)
      .map((k) => [k, overrides[k as keyof DevnetOptions]] as const)
      .filter(([, v]) => v !== undefined),
  ) as Partial<DevnetOptions>;
  const options = { ...base, ...given };
  for (const [key, [min, max]] of Object.entries(LIMITS)) {
    const v = options[key as keyof typeof LIMITS];
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
  if (
    options.blockTime !== "auto" &&
    (!Number.isInteger(options.blockTime) || options.blockTime < 1 || options.blockTime > 60_000)
  ) {
    throw new EnigmaError(
      ErrorCode.InvalidConfig,
      `blockTime must be "auto" or milliseconds from 1 to 60000, got ${String(options.blockTime)}`,
      {
        details: { path: "blockTime" },
      },
    );
  }
  if (options.seed.length === 0) {
    throw new EnigmaError(ErrorCode.InvalidConfig, "seed must not be empty", {
      details: { path: "seed" },
    });
  }
  if (options.taskTimeoutBlocks <= options.epochBlocks) {
    throw new EnigmaError(
      ErrorCode.InvalidConfig,
      `taskTimeoutBlocks (${options.taskTimeoutBlocks}) must exceed epochBlocks (${options.epochBlocks}): receipts are committed at epoch end`,
      { details: { path: "taskTimeoutBlocks" } },
    );
  }
  return Object.freeze(options);
}
