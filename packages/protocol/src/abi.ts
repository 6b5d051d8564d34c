import { AbiCoder, FunctionFragment, ParamType, Result } from "ethers";
import { toBytes, type BytesLike } from "./bytes.js";
import { EnigmaError, ErrorCode } from "./errors.js";
import { bytesToHex } from "./hex.js";

/** A parsed function signature: its name, canonical parameter types and canonical text. */
export interface FunctionSignature {
  readonly name: string;
  readonly types: readonly string[];
  /** Canonical form, as a secret contract receives it: `add(uint256,uint256)`. */
  readonly signature: string;
}

const coder = AbiCoder.defaultAbiCoder();
const SIGNATURE_RE = /^\s*[A-Za-z_$][A-Za-z0-9_$]*\s*\(.*\)\s*$/s;

/**
 * Parses and validates a function signature such as `add(uint256,uint256)` (spaces and
 * aliases such as `uint` are canonicalised); throws `InvalidFunctionSignature`.
 */
export function parseFunctionSignature(signature: string): FunctionSignature {
  if (!SIGNATURE_RE.test(signature)) {
    throw badSignature(signature, "expected name(type,...)");
  }
  let fragment: FunctionFragment;
  try {
    fragment = FunctionFragment.from(signature.trim());
  } catch (cause) {
    throw badSignature(signature, "unknown or malformed parameter type", cause);
  }
  const types = fragment.inputs.map((p) => p.format("sighash"));
  return Object.freeze({
    name: fragment.name,
    types: Object.freeze(types),
    signature: fragment.format("sighash"),
  });
}

/** Validates ABI type strings (`uint256`, `bytes32[]`, `(address,uint8)`), canonicalised. */
export function parseAbiTypes(types: readonly string[]): string[] {
  return types.map((t) => {
    try {
      return ParamType.from(t).format("sighash");
    } catch (cause) {
      throw new EnigmaError(ErrorCode.InvalidFunctionSignature, `unknown ABI type "${t}"`, {
        details: { type: t },
        cause,
      });
    }
  });
}

/**
 * ABI-encodes values for the parameters of `signature` (no selector: Discovery sends the
 * function name separately). Numbers may be given as number, bigint or decimal string.
 * Throws `AbiEncodingFailed` naming the argument when a value does not fit its type.
 *
 * @example
 * encodeArgs("add(uint256,uint256)", [24, 67n]); // 64 bytes
 */
export function encodeArgs(
  signature: string | FunctionSignature,
  values: readonly unknown[],
): Uint8Array {
  const sig = typeof signature === "string" ? parseFunctionSignature(signature) : signature;
  return encodeValues(sig.types, values, sig.signature);
}

/** ABI-encodes `values` for `types`; throws `AbiEncodingFailed`. */
export function encodeValues(
  types: readonly string[],
  values: readonly unknown[],
  context?: string,
): Uint8Array {
  const canonical = parseAbiTypes(types);
  if (values.length !== canonical.length) {
    throw new EnigmaError(
      ErrorCode.AbiEncodingFailed,
      `expected ${canonical.length} argument(s), got ${values.length}`,
      { details: { types: canonical, count: values.length, ...(context ? { context } : {}) } },
    );
  }
  for (let i = 0; i < canonical.length; i++) {
    try {
      coder.encode([canonical[i] ?? ""], [values[i]]);
    } catch (cause) {
      throw new EnigmaError(
        ErrorCode.AbiEncodingFailed,
        `argument ${i} does not fit ABI type ${canonical[i] ?? ""}`,
        {
          details: {
            index: i,
            type: canonical[i],
            value: preview(values[i]),
            ...(context ? { context } : {}),
          },
          cause,
        },
      );
    }
  }
  return toBytes(coder.encode(canonical, values), "abi");
}

/** Decodes a contract's ABI-encoded arguments for `signature`. */
export function decodeArgs(signature: string | FunctionSignature, data: BytesLike): unknown[] {
  const sig = typeof signature === "string" ? parseFunctionSignature(signature) : signature;
  return decodeValues(sig.types, data);
}

/**
 * Decodes ABI data (for example a task's decrypted output) for `types`. Integers come back
 * as bigint, addresses checksummed, bytes as 0x hex, tuples and arrays as plain arrays.
 * Throws `AbiDecodingFailed` when the data does not match.
 */
export function decodeValues(types: readonly string[], data: BytesLike): unknown[] {
  const canonical = parseAbiTypes(types);
  const bytes = toBytes(data, "data");
  try {
    return plain(coder.decode(canonical, bytes)) as unknown[];
  } catch (cause) {
    throw new EnigmaError(
      ErrorCode.AbiDecodingFailed,
      `data does not decode as (${canonical.join(",")})`,
      {
        details: { types: canonical, length: bytes.length, data: bytesToHex(bytes.slice(0, 64)) },
        cause,
      },
    );
  }
}

function plain(v: unknown): unknown {
  return v instanceof Result ? v.toArray().map(plain) : v;
}

function preview(v: unknown): string {
  let s: string;
  try {
    // JSON.stringify returns undefined for functions and undefined itself.
    const json = JSON.stringify(v, (_k, x: unknown) =>
      typeof x === "bigint" ? x.toString() : x,
    ) as string | undefined;
    s = json ?? String(v);
  } catch {
    s = Object.prototype.toString.call(v);
  }
  return s.length > 80 ? `${s.slice(0, 80)}...` : s;
}

function badSignature(signature: string, reason: string, cause?: unknown): EnigmaError {
  return new EnigmaError(
    ErrorCode.InvalidFunctionSignature,
    `"${signature.length > 80 ? signature.slice(0, 80) + "..." : signature}" is not a function signature: ${reason}`,
    { details: { signature, reason }, cause },
  );
}
