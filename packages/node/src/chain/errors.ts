// Turns what ethers throws into catalog errors: a contract revert gets the contract error's
// code (contractErrorCode) and its arguments by name; anything else is ChainError.
import {
  ENIGMA_ABI,
  ENIGMA_TOKEN_ABI,
  EnigmaError,
  ErrorCode,
  contractErrorCode,
  contractErrorName,
  isEnigmaError,
} from "@enigma/protocol";
import { Interface, isHexString } from "ethers";
import { socketErrorCode } from "./retry.js";

// Enigma's errors plus the token's: SafeERC20 bubbles the token's revert data up unchanged.
const REVERTS = new Interface([
  ...ENIGMA_ABI.filter((f) => f.startsWith("error ")),
  ...ENIGMA_TOKEN_ABI.filter((f) => f.startsWith("error ")),
]);

export interface DecodedRevert {
  /** The custom error's name (`TaskNotPending`). */
  name: string;
  /** Its arguments by parameter name, JSON-safe (see `jsonSafe`). */
  args: Record<string, unknown>;
}

/**
 * The custom error in revert `data` (or the error a known reason string stands for: Discovery's
 * `Wrong epoch for this task` is `WrongEpoch`), or undefined when it is none of the known ones.
 */
export function decodeRevert(data: string): DecodedRevert | undefined {
  let parsed;
  try {
    parsed = REVERTS.parseError(data);
  } catch {
    return undefined;
  }
  if (parsed === null) return undefined;
  const name = contractErrorName(parsed.name, parsed.args);
  if (name === undefined) return undefined;
  const args: Record<string, unknown> = {};
  parsed.fragment.inputs.forEach((input, i) => {
    args[input.name === "" ? `arg${i}` : input.name] = jsonSafe(parsed.args[i] as unknown);
  });
  return { name, args };
}

/** Lower-case hex, numbers for small integers and decimal strings for big ones. */
export function jsonSafe(v: unknown): unknown {
  if (typeof v === "bigint") {
    return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(v)
      : v.toString();
  }
  if (typeof v === "string") return isHexString(v) ? v.toLowerCase() : v;
  if (Array.isArray(v)) return v.map((x: unknown) => jsonSafe(x));
  return v;
}

interface ErrorLike {
  code?: unknown;
  data?: unknown;
  shortMessage?: unknown;
  message?: unknown;
  reason?: unknown;
  error?: unknown;
  info?: { error?: unknown } | null;
  cause?: unknown;
}

/** The revert data carried somewhere in an ethers error (`CALL_EXCEPTION.data`, nested RPC errors). */
export function revertDataOf(e: unknown): string | undefined {
  let current: unknown = e;
  for (let depth = 0; depth < 6 && typeof current === "object" && current !== null; depth++) {
    const o = current as ErrorLike;
    if (typeof o.data === "string" && isHexString(o.data) && o.data.length >= 10) return o.data;
    current = o.error ?? o.info?.error ?? o.cause;
  }
  return undefined;
}

/** True when `e` says the call reverted (with or without data we can decode). */
export function isRevert(e: unknown): boolean {
  return (e as ErrorLike | null)?.code === "CALL_EXCEPTION" || revertDataOf(e) !== undefined;
}

/** A one-line description of an ethers or socket error, without ethers' JSON dump. */
export function describeError(e: unknown): string {
  if (typeof e !== "object" || e === null) return String(e);
  const o = e as ErrorLike;
  const text =
    typeof o.shortMessage === "string"
      ? o.shortMessage
      : typeof o.message === "string"
        ? o.message
        : "unknown error";
  const socket = socketErrorCode(e);
  if (socket !== undefined && !text.includes(socket)) return `${text} (${socket})`;
  return typeof o.code === "string" && !text.includes(o.code) ? `${text} (${o.code})` : text;
}

export interface FailureContext {
  /** What was being done: `commitReceipts`, `getTaskRecord`, `eth_blockNumber`... */
  operation: string;
  /** The endpoint's origin (never its path: it may carry an API key). */
  endpoint: string;
  /** Attempts made (1 when the error was not retried). */
  attempts?: number;
  /** Extra context for the details (a task id, a batch's task ids...). */
  details?: Record<string, unknown>;
  /** Code for failures that are not reverts. Default ChainError. */
  fallbackCode?: ErrorCode;
}

/**
 * The catalog error for a failed chain operation. A decoded revert keeps the contract's code
 * and names its arguments in `details.args` (and `details.taskId` when the error names one).
 */
export function toChainError(e: unknown, ctx: FailureContext): EnigmaError {
  if (isEnigmaError(e)) return e;
  const data = revertDataOf(e);
  const revert = data === undefined ? undefined : decodeRevert(data);
  if (revert !== undefined) {
    const code = contractErrorCode(revert.name);
    const list = Object.entries(revert.args)
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(", ");
    const taskId = revert.args.taskId;
    return new EnigmaError(code, `${ctx.operation} reverted: ${revert.name}(${list})`, {
      details: {
        operation: ctx.operation,
        error: revert.name,
        args: revert.args,
        ...(typeof taskId === "string" ? { taskId } : {}),
        ...ctx.details,
      },
      cause: e,
    });
  }
  if (isRevert(e)) {
    const reason = (e as ErrorLike).reason;
    const why =
      typeof reason === "string" && reason !== "" ? `: ${reason}` : " without a known error";
    return new EnigmaError(
      ctx.fallbackCode ?? ErrorCode.ChainError,
      `${ctx.operation} reverted${why}`,
      {
        details: {
          operation: ctx.operation,
          ...(data === undefined ? {} : { data }),
          ...ctx.details,
        },
        cause: e,
      },
    );
  }
  const attempts = ctx.attempts ?? 1;
  const after = attempts > 1 ? ` after ${attempts} attempts` : "";
  return new EnigmaError(
    ctx.fallbackCode ?? ErrorCode.ChainError,
    `${ctx.operation} failed${after} at ${ctx.endpoint}: ${describeError(e)}`,
    {
      details: { operation: ctx.operation, endpoint: ctx.endpoint, attempts, ...ctx.details },
      cause: e,
    },
  );
}
