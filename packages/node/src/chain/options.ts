// ChainOptions checked once and filled with defaults; the rest of the chain code trusts them.
import { EnigmaError, ErrorCode } from "@enigma/protocol";
import { SigningKey } from "ethers";
import { webSocketUrlOf } from "./heads.js";
import type { RetryPolicy } from "./retry.js";
import type { ChainOptions } from "./types.js";
import { argAddress } from "./values.js";

export interface ResolvedOptions {
  rpcUrl: string;
  endpoint: string;
  enigmaAddress: string;
  tokenAddress: string;
  privateKey: string | undefined;
  pollIntervalMs: number;
  /** Where new heads are pushed (`watch` polls only when undefined). */
  wsUrl: string | undefined;
  minPollGapMs: number;
  busyPollGapMs: number;
  retry: RetryPolicy;
  requestTimeoutMs: number;
  receiptTimeoutMs: number;
  logChunkBlocks: number;
}

function positiveInt(name: string, v: unknown, fallback: number, min = 1): number {
  if (v === undefined) return fallback;
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min) {
    throw new EnigmaError(
      ErrorCode.InvalidArgument,
      `${name} must be an integer of at least ${min}`,
      {
        details: { option: name, value: typeof v === "number" ? v : typeof v },
      },
    );
  }
  return v;
}

function checkKey(key: unknown): string {
  const hex = typeof key === "string" ? (key.startsWith("0x") ? key : `0x${key}`) : "";
  let valid = /^0x[0-9a-fA-F]{64}$/.test(hex);
  try {
    if (valid) SigningKey.computePublicKey(hex); // refuses 0 and values beyond the curve order
  } catch {
    valid = false;
  }
  if (!valid) {
    // Never echo the value: it is a secret even when malformed.
    throw new EnigmaError(
      ErrorCode.InvalidArgument,
      "privateKey must be a 32-byte secp256k1 key in hex",
      {
        details: { option: "privateKey" },
      },
    );
  }
  return hex;
}

export function resolveOptions(o: ChainOptions): ResolvedOptions {
  let url: URL;
  try {
    url = new URL(o.rpcUrl);
  } catch {
    url = new URL("invalid:");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new EnigmaError(
      ErrorCode.InvalidArgument,
      "rpcUrl must be an http:// or https:// JSON-RPC endpoint",
      { details: { option: "rpcUrl" } },
    );
  }
  const key = o.privateKey === undefined ? undefined : checkKey(o.privateKey);
  return {
    rpcUrl: o.rpcUrl,
    endpoint: url.origin,
    enigmaAddress: argAddress("enigmaAddress", o.enigmaAddress),
    tokenAddress: argAddress("tokenAddress", o.tokenAddress),
    privateKey: key,
    pollIntervalMs: positiveInt("pollIntervalMs", o.pollIntervalMs, 250),
    wsUrl: resolveWsUrl(o),
    minPollGapMs: positiveInt("minPollGapMs", o.minPollGapMs, 10, 0),
    busyPollGapMs: positiveInt("busyPollGapMs", o.busyPollGapMs, 25, 0),
    retry: {
      attempts: positiveInt("retry.attempts", o.retry?.attempts, 5),
      baseDelayMs: positiveInt("retry.baseDelayMs", o.retry?.baseDelayMs, 100, 0),
    },
    requestTimeoutMs: positiveInt("requestTimeoutMs", o.requestTimeoutMs, 30_000),
    receiptTimeoutMs: positiveInt("receiptTimeoutMs", o.receiptTimeoutMs, 120_000),
    logChunkBlocks: positiveInt("logChunkBlocks", o.logChunkBlocks, 2_000),
  };
}

function resolveWsUrl(o: ChainOptions): string | undefined {
  if (o.wsUrl === false) return undefined;
  if (o.wsUrl === undefined) return webSocketUrlOf(o.rpcUrl);
  let url: URL | undefined;
  try {
    url = new URL(o.wsUrl);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== "ws:" && url.protocol !== "wss:")) {
    throw new EnigmaError(
      ErrorCode.InvalidArgument,
      "wsUrl must be a ws:// or wss:// JSON-RPC endpoint (or false)",
      { details: { option: "wsUrl" } },
    );
  }
  return o.wsUrl;
}
