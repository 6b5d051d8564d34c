import { EnigmaError, ErrorCode } from "./errors.js";
import { hexToBytes } from "./hex.js";

/** Bytes, or hex with or without `0x` (Discovery's client sends un-prefixed hex). */
export type BytesLike = Uint8Array | string;

/**
 * Bytes from `BytesLike`; with `length`, also checks the size. Throws `InvalidArgument`
 * naming `what`.
 */
export function toBytes(value: BytesLike, what: string, length?: number): Uint8Array {
  const bytes = typeof value === "string" ? hexToBytes(value, what) : value;
  if (length !== undefined && bytes.length !== length) {
    throw new EnigmaError(ErrorCode.InvalidArgument, `${what} must be ${length} bytes`, {
      details: { what, length: bytes.length },
    });
  }
  return bytes;
}
