import { EnigmaError, ErrorCode } from "./errors.js";

/** A `0x`-prefixed hex string. */
export type Hex = `0x${string}`;

/** Value of a hex digit by char code; -1 for anything else. */
const NIBBLE = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) NIBBLE[48 + i] = i;
for (let i = 0; i < 6; i++) {
  NIBBLE[65 + i] = 10 + i;
  NIBBLE[97 + i] = 10 + i;
}

/** Decodes hex (with or without `0x`, as Discovery's client sends both); throws on bad input. */
export function hexToBytes(hex: string, what = "value"): Uint8Array {
  const start = hex.startsWith("0x") ? 2 : 0;
  const digits = hex.length - start;
  const out = new Uint8Array(digits >> 1);
  let bad = digits % 2 !== 0;
  // One pass that decodes and validates (payloads run to megabytes: deltas, pre-code).
  for (let i = 0, j = start; i < out.length && !bad; i++, j += 2) {
    const hi = NIBBLE[hex.charCodeAt(j)] ?? -1;
    const lo = NIBBLE[hex.charCodeAt(j + 1)] ?? -1;
    if (hi < 0 || lo < 0) bad = true;
    out[i] = (hi << 4) | lo;
  }
  if (bad) {
    throw new EnigmaError(ErrorCode.InvalidArgument, `${what} must be an even-length hex string`, {
      details: { [what]: hex.length > 80 ? `${hex.slice(0, 80)}...` : hex },
    });
  }
  return out;
}

/** Encodes bytes as lower-case `0x` hex. */
export function bytesToHex(bytes: Uint8Array): Hex {
  let s = "0x";
  for (const b of bytes) s += BYTE_HEX[b] ?? "";
  return s as Hex;
}

const BYTE_HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));
