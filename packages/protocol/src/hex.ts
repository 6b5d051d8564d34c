import { EnigmaError, ErrorCode } from "./errors.js";

/** A `0x`-prefixed hex string. */
export type Hex = `0x${string}`;

const HEX_RE = /^(0x)?([0-9a-fA-F]{2})*$/;

/** Decodes hex (with or without `0x`, as Discovery's client sends both); throws on bad input. */
export function hexToBytes(hex: string, what = "value"): Uint8Array {
  if (!HEX_RE.test(hex)) {
    throw new EnigmaError(ErrorCode.InvalidArgument, `${what} must be an even-length hex string`, {
      details: { [what]: hex.length > 80 ? `${hex.slice(0, 80)}...` : hex },
    });
  }
  const body = hex.startsWith("0x") ? hex.slice(2) : hex;
  const out = new Uint8Array(body.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(body.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Encodes bytes as lower-case `0x` hex. */
export function bytesToHex(bytes: Uint8Array): Hex {
  let s = "0x";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s as Hex;
}
