// One place where RPC calls are made: retried when transient, mapped to catalog errors, and
// refused once the connection is closed.
import { EnigmaError, ErrorCode } from "@enigma/protocol";
import {
  isHexString,
  type FetchRequest,
  type Interface,
  type JsonRpcProvider,
  type Result,
} from "ethers";
import { toChainError } from "./errors.js";
import { withRetry, type RetryPolicy } from "./retry.js";

export interface RunOptions {
  /** false: one attempt (the caller has its own loop, e.g. `watch`). Default true. */
  retry?: boolean;
  details?: Record<string, unknown>;
  /** Code for failures that are not decodable reverts. Default ChainError. */
  fallbackCode?: ErrorCode;
}

export class Rpc {
  readonly provider: JsonRpcProvider;
  /** The endpoint's origin, for messages (never the path: it may hold an API key). */
  readonly endpoint: string;
  readonly policy: RetryPolicy;
  readonly closed: AbortSignal;

  constructor(
    provider: JsonRpcProvider,
    endpoint: string,
    policy: RetryPolicy,
    closed: AbortSignal,
  ) {
    this.provider = provider;
    this.endpoint = endpoint;
    this.policy = policy;
    this.closed = closed;
  }

  /** Throws ChainError once `close()` has begun. */
  assertOpen(operation: string): void {
    if (this.closed.aborted) {
      throw new EnigmaError(ErrorCode.ChainError, `${operation}: the chain connection is closed`, {
        details: { operation },
      });
    }
  }

  /** Runs one RPC step with the retry policy; failures become catalog errors. */
  async run<T>(operation: string, fn: () => Promise<T>, o: RunOptions = {}): Promise<T> {
    this.assertOpen(operation);
    let attempts = 0;
    try {
      return await withRetry(
        () => {
          attempts++;
          return fn();
        },
        o.retry === false ? { attempts: 1, baseDelayMs: 0 } : this.policy,
        { signal: this.closed },
      );
    } catch (e) {
      this.assertOpen(operation);
      throw toChainError(e, {
        operation,
        endpoint: this.endpoint,
        attempts,
        ...(o.details === undefined ? {} : { details: o.details }),
        ...(o.fallbackCode === undefined ? {} : { fallbackCode: o.fallbackCode }),
      });
    }
  }

  /** Calls a view function and decodes its outputs. */
  async view(
    iface: Interface,
    to: string,
    fn: string,
    args: readonly unknown[],
    o: RunOptions = {},
  ): Promise<Result> {
    const data = iface.encodeFunctionData(fn, args);
    const out = await this.run(fn, () => this.provider.call({ to, data }), o);
    try {
      return iface.decodeFunctionResult(fn, out);
    } catch (cause) {
      throw new EnigmaError(
        ErrorCode.ChainError,
        `${fn} at ${to} returned data that does not decode: is this the Enigma deployment?`,
        { details: { operation: fn, address: to }, cause },
      );
    }
  }
}

/** The endpoint's chain id, by one `eth_chainId` request (no provider, no background loop). */
export async function probeChainId(request: FetchRequest): Promise<bigint> {
  const req = request.clone();
  req.body = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] });
  req.setHeader("content-type", "application/json");
  const resp = await req.send();
  resp.assertOk();
  const body = resp.bodyJson as { result?: unknown; error?: { message?: unknown } } | null;
  if (typeof body?.result === "string" && isHexString(body.result)) return BigInt(body.result);
  throw new EnigmaError(ErrorCode.ChainError, "the endpoint does not answer eth_chainId", {
    details: {
      error: typeof body?.error?.message === "string" ? body.error.message : "no result",
    },
  });
}
