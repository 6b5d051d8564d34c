// Which RPC failures are worth another attempt, and the backoff loop that makes them.

export interface RetryPolicy {
  /** Attempts in all (1 = no retry). */
  attempts: number;
  /** Wait before the second attempt; doubles after each further failure. */
  baseDelayMs: number;
}

// Socket-level failures: the request may not have reached the node, or its answer was lost.
const TRANSIENT_SOCKET_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "EAI_AGAIN",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
]);

// ethers codes that mean the answer itself is final (a revert, a bad argument, a nonce clash).
const FINAL_ETHERS_CODES = new Set([
  "CALL_EXCEPTION",
  "INVALID_ARGUMENT",
  "MISSING_ARGUMENT",
  "UNEXPECTED_ARGUMENT",
  "NUMERIC_FAULT",
  "BAD_DATA",
  "INSUFFICIENT_FUNDS",
  "NONCE_EXPIRED",
  "REPLACEMENT_UNDERPRICED",
  "TRANSACTION_REPLACED",
  "UNCONFIGURED_NAME",
  "OFFCHAIN_FAULT",
  "ACTION_REJECTED",
  "UNSUPPORTED_OPERATION",
  "NOT_IMPLEMENTED",
  "CANCELLED",
]);

interface ErrorLike {
  code?: unknown;
  message?: unknown;
  response?: { statusCode?: unknown } | null;
  error?: unknown;
  cause?: unknown;
  info?: { error?: unknown } | null;
}

/**
 * True for failures of the transport rather than of the request: connection refused or reset,
 * timeouts, HTTP 5xx and 429. Reverts and other answers from the node are never transient.
 */
export function isTransientRpcError(e: unknown): boolean {
  let current: unknown = e;
  for (let depth = 0; depth < 6 && typeof current === "object" && current !== null; depth++) {
    const o = current as ErrorLike;
    if (typeof o.code === "string") {
      if (TRANSIENT_SOCKET_CODES.has(o.code)) return true;
      if (o.code === "TIMEOUT" || o.code === "NETWORK_ERROR") return true;
      if (o.code === "SERVER_ERROR") {
        // ethers: a non-2xx HTTP answer (599 is its own "gave up on 429s"), or an unreadable body.
        const status = o.response?.statusCode;
        return typeof status !== "number" || status >= 500 || status === 429;
      }
      if (FINAL_ETHERS_CODES.has(o.code)) return false;
    }
    if (typeof o.message === "string" && /socket hang up|other side closed/i.test(o.message)) {
      return true;
    }
    current = o.error ?? o.cause ?? o.info?.error;
  }
  return false;
}

/** The socket error code somewhere in `e`'s cause chain (`ECONNREFUSED`...), if any. */
export function socketErrorCode(e: unknown): string | undefined {
  let current: unknown = e;
  for (let depth = 0; depth < 6 && typeof current === "object" && current !== null; depth++) {
    const o = current as ErrorLike;
    if (typeof o.code === "string" && TRANSIENT_SOCKET_CODES.has(o.code)) return o.code;
    current = o.error ?? o.cause ?? o.info?.error;
  }
  return undefined;
}

/** Waits `ms`, or less when `signal` aborts; leaves no timer behind either way. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) {
      resolve();
      return;
    }
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** The wait after the `failures`-th consecutive failure: base, 2x, 4x... capped at `maxMs`. */
export function backoffDelay(failures: number, baseDelayMs: number, maxMs = 10_000): number {
  return Math.min(maxMs, baseDelayMs * 2 ** Math.max(0, failures - 1));
}

// A function, so that TypeScript does not narrow `signal.aborted` across an await.
function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

/**
 * Runs `fn` until it succeeds, fails with a non-transient error, runs out of attempts or
 * `signal` aborts; rethrows the last error unchanged. `onFailure` sees every failed attempt.
 */
export async function withRetry<T>(
  fn: () => Promise<T>,
  policy: RetryPolicy,
  o: { signal?: AbortSignal; onFailure?: (e: unknown, attempt: number) => void } = {},
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      o.onFailure?.(e, attempt);
      if (attempt >= policy.attempts || !isTransientRpcError(e) || isAborted(o.signal)) throw e;
      await sleep(backoffDelay(attempt, policy.baseDelayMs, Number.MAX_SAFE_INTEGER), o.signal);
      if (isAborted(o.signal)) throw e;
    }
  }
}
