import { ENG_DECIMALS, GRAINS_PER_ENG } from "./constants.js";
import { EnigmaError, ErrorCode } from "./errors.js";

const ENG_RE = new RegExp(`^(\\d+)(?:\\.(\\d{1,${ENG_DECIMALS}}))?$`);

/** Parses a decimal ENG amount ("1.5") into grains (150000000n). Rejects what is not exact. */
export function engToGrains(eng: string): bigint {
  const m = ENG_RE.exec(eng.trim());
  if (m === null) {
    throw new EnigmaError(
      ErrorCode.InvalidAmount,
      `"${eng}" is not an ENG amount: use a non-negative decimal with at most ${ENG_DECIMALS} decimals`,
      { details: { input: eng } },
    );
  }
  const whole = BigInt(m[1] ?? "0");
  const frac = BigInt((m[2] ?? "").padEnd(ENG_DECIMALS, "0"));
  return whole * GRAINS_PER_ENG + frac;
}

/** Formats grains as a decimal ENG amount without trailing zeros (150000000n -> "1.5"). */
export function grainsToEng(grains: bigint): string {
  const sign = grains < 0n ? "-" : "";
  const abs = grains < 0n ? -grains : grains;
  const whole = abs / GRAINS_PER_ENG;
  const frac = (abs % GRAINS_PER_ENG).toString().padStart(ENG_DECIMALS, "0").replace(/0+$/, "");
  return `${sign}${whole}${frac === "" ? "" : `.${frac}`}`;
}
