// Shape checks in both directions: arguments a caller hands in (InvalidArgument) and values
// the chain hands back (ChainError: chain data is input from outside too).
import { EnigmaError, ErrorCode } from "@enigma/protocol";
import { isAddress } from "ethers";

const BYTES32 = /^0x[0-9a-fA-F]{64}$/;
const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const HEX = /^0x(?:[0-9a-fA-F]{2})*$/;
const UINT256_MAX = (1n << 256n) - 1n;

// ------------------------------------------ arguments ------------------------------------------

function invalid(name: string, message: string, value: unknown): EnigmaError {
  return new EnigmaError(ErrorCode.InvalidArgument, `${name} ${message}`, {
    details: { argument: name, value: typeof value === "bigint" ? value.toString() : value },
  });
}

/** A 20-byte address, lower-cased (EIP-55 mixed case must carry a valid checksum). */
export function argAddress(name: string, v: unknown): string {
  if (typeof v !== "string" || !ADDRESS.test(v) || !isAddress(v)) {
    throw invalid(name, "must be a 0x-prefixed 20-byte address", v);
  }
  return v.toLowerCase();
}

export function argBytes32(name: string, v: unknown): string {
  if (typeof v !== "string" || !BYTES32.test(v)) {
    throw invalid(name, "must be 0x followed by 64 hex digits", v);
  }
  return v.toLowerCase();
}

export function argHex(name: string, v: unknown): string {
  if (typeof v !== "string" || !HEX.test(v))
    throw invalid(name, "must be 0x-prefixed hex bytes", v);
  return v.toLowerCase();
}

export function argBlock(name: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
    throw invalid(name, "must be a non-negative integer block number", v);
  }
  return v;
}

/** A uint256 value (`min` 0 or 1). */
export function argUint(name: string, v: unknown, min: 0n | 1n = 0n): bigint {
  if (typeof v !== "bigint" || v < min || v > UINT256_MAX) {
    throw new EnigmaError(
      min === 1n ? ErrorCode.InvalidAmount : ErrorCode.InvalidArgument,
      `${name} must be a bigint ${min === 1n ? "above 0" : "of at least 0"} (grains for amounts)`,
      { details: { argument: name, value: String(v) } },
    );
  }
  return v;
}

export function argBool(name: string, v: unknown): boolean {
  if (typeof v !== "boolean") throw invalid(name, "must be a boolean", v);
  return v;
}

export function argBytes(name: string, v: unknown): Uint8Array {
  if (!(v instanceof Uint8Array) || v.length === 0)
    throw invalid(name, "must be non-empty bytes", "…");
  return v;
}

// ------------------------------------------ chain data -----------------------------------------

/** Reads fields of a decoded struct or event, checking each one's shape. */
export class ChainFields {
  readonly #what: string;
  readonly #get: (name: string) => unknown;

  constructor(what: string, get: (name: string) => unknown) {
    this.#what = what;
    this.#get = get;
  }

  #bad(field: string, value: unknown): EnigmaError {
    return new EnigmaError(
      ErrorCode.ChainError,
      `malformed ${this.#what} from the chain: bad ${field}`,
      {
        details: { source: this.#what, field, value: String(value) },
      },
    );
  }

  bytes32(name: string): string {
    const v = this.#get(name);
    if (typeof v !== "string" || !BYTES32.test(v)) throw this.#bad(name, v);
    return v.toLowerCase();
  }

  address(name: string): string {
    return this.#address(name, this.#get(name));
  }

  #address(name: string, v: unknown): string {
    if (typeof v !== "string" || !ADDRESS.test(v)) throw this.#bad(name, v);
    return v.toLowerCase();
  }

  hex(name: string): string {
    const v = this.#get(name);
    if (typeof v !== "string" || !HEX.test(v)) throw this.#bad(name, v);
    return v.toLowerCase();
  }

  string(name: string): string {
    const v = this.#get(name);
    if (typeof v !== "string") throw this.#bad(name, v);
    return v;
  }

  bigint(name: string): bigint {
    const v = this.#get(name);
    if (typeof v !== "bigint") throw this.#bad(name, v);
    return v;
  }

  number(name: string): number {
    const v = this.bigint(name);
    if (v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER)) throw this.#bad(name, v);
    return Number(v);
  }

  addresses(name: string): string[] {
    return this.#list(name).map((x) => this.#address(name, x));
  }

  bytes32s(name: string): string[] {
    return this.#list(name).map((x) => {
      if (typeof x !== "string" || !BYTES32.test(x)) throw this.#bad(name, x);
      return x.toLowerCase();
    });
  }

  bigints(name: string): bigint[] {
    return this.#list(name).map((x) => {
      if (typeof x !== "bigint") throw this.#bad(name, x);
      return x;
    });
  }

  #list(name: string): unknown[] {
    const v = this.#get(name);
    if (!Array.isArray(v)) throw this.#bad(name, v);
    return Array.from(v as unknown[]);
  }
}
