import {
  EnigmaError,
  ErrorCode,
  isEnigmaError,
  rpcRequestSchema,
  validationIssues,
} from "@enigma/protocol";
import type { Logger, NodeMetrics } from "../observability.js";

/**
 * Transport-independent JSON-RPC 2.0 processing: one request text in, one response text out.
 * The HTTP server and each WebSocket use it with their own method table.
 */

/** The error codes JSON-RPC 2.0 reserves. Errors raised by a method carry catalog codes. */
export const JsonRpcErrorCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
} as const;

const INTERNAL_ERROR: JsonRpcError = Object.freeze({
  code: JsonRpcErrorCode.InternalError,
  message: "internal error",
});

export type JsonRpcId = string | number | null;

export interface JsonRpcError {
  code: number;
  message: string;
  data?: unknown;
}

export type JsonRpcResponse =
  | { jsonrpc: "2.0"; id: JsonRpcId; result: unknown }
  | { jsonrpc: "2.0"; id: JsonRpcId; error: JsonRpcError };

/** What a metric's `outcome` label can be: a small, fixed set. */
export type RpcOutcome =
  | "success"
  | "error"
  | "internal_error"
  | "invalid_params"
  | "method_not_found"
  | "invalid_request"
  | "parse_error"
  | "too_large"
  | "unsupported_media_type"
  | "busy";

/** One callable method: `parse` validates params (throwing `InvalidRpcParams`), then `call`. */
export interface MethodEntry {
  parse(params: unknown): unknown;
  call(params: unknown): Promise<unknown>;
}

/** Looks a method up by name; `undefined` when the transport does not offer it. */
export type MethodTable = (method: string) => MethodEntry | undefined;

/**
 * Runs a method's handler: the server's call limits (a slot per remote address, see
 * `CallLimiter`), or at once.
 */
export type CallScheduler = <T>(call: () => Promise<T>) => Promise<T>;
const AT_ONCE: CallScheduler = (call) => call();

export interface DispatcherOptions {
  /** Most entries in one batch; a longer batch is rejected whole (-32600). */
  maxBatchSize: number;
  logger: Logger;
  metrics?: NodeMetrics | undefined;
}

/** An error response outside any call (parse error, bad envelope, oversized body...). */
export function errorResponse(id: JsonRpcId, error: JsonRpcError): JsonRpcResponse {
  return { jsonrpc: "2.0", id, error };
}

/** The JSON-RPC error for an EnigmaError: its catalog code, its message, its JSON form. */
export function enigmaErrorObject(e: EnigmaError, code: number = e.code): JsonRpcError {
  return { code, message: e.message, data: e.toJSON() };
}

export class JsonRpcDispatcher {
  readonly #opts: DispatcherOptions;

  constructor(opts: DispatcherOptions) {
    this.#opts = opts;
  }

  /**
   * Answers a request body: the response text, or `undefined` when nothing is to be sent (a
   * notification, or a batch of notifications). Never throws.
   */
  async handle(
    text: string,
    methods: MethodTable,
    schedule: CallScheduler = AT_ONCE,
  ): Promise<string | undefined> {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      this.count("none", "parse_error");
      return JSON.stringify(
        errorResponse(null, { code: JsonRpcErrorCode.ParseError, message: "parse error" }),
      );
    }
    if (!Array.isArray(body)) return this.#one(body, methods, schedule);

    const max = this.#opts.maxBatchSize;
    if (body.length === 0 || body.length > max) {
      this.count("none", "invalid_request");
      const message = body.length === 0 ? "empty batch" : `batch of more than ${max} calls`;
      return JSON.stringify(
        errorResponse(null, {
          code: JsonRpcErrorCode.InvalidRequest,
          message,
          data: { batchSize: body.length, maxBatchSize: max },
        }),
      );
    }
    // Every entry is parsed at once; their handlers run as `schedule` lets them (a batch of
    // 100 does not run 100 handlers at once).
    const parts = await Promise.all(body.map((entry) => this.#one(entry, methods, schedule)));
    const answered = parts.filter((p) => p !== undefined);
    return answered.length === 0 ? undefined : `[${answered.join(",")}]`;
  }

  count(method: string, outcome: RpcOutcome, seconds?: number): void {
    const m = this.#opts.metrics;
    if (!m) return;
    m.rpcRequests.inc({ method, outcome });
    if (seconds !== undefined) m.rpcRequestDuration.observe({ method }, seconds);
  }

  async #one(
    entry: unknown,
    methods: MethodTable,
    schedule: CallScheduler,
  ): Promise<string | undefined> {
    const started = performance.now();
    const envelope = rpcRequestSchema.safeParse(entry);
    if (!envelope.success) {
      this.count("none", "invalid_request");
      this.#opts.logger.debug({ outcome: "invalid_request" }, "rpc call");
      const err = new EnigmaError(ErrorCode.InvalidMessage, "invalid JSON-RPC 2.0 request", {
        details: { issues: validationIssues(envelope.error) },
      });
      // An error object built here always encodes.
      return JSON.stringify(
        errorResponse(echoableId(entry), enigmaErrorObject(err, JsonRpcErrorCode.InvalidRequest)),
      );
    }
    const req = envelope.data;
    // A request without an `id` member is a notification: run it, answer nothing.
    const notification = !Object.hasOwn(entry as object, "id");
    const id = req.id ?? null;
    const method = methods(req.method);
    // Unknown names do not become label values: a client must not grow the metric set.
    const label = method ? req.method : "unknown";

    let response: JsonRpcResponse;
    let outcome: RpcOutcome;
    if (!method) {
      outcome = "method_not_found";
      const err = new EnigmaError(
        ErrorCode.MethodNotFound,
        `method "${clip(req.method)}" not found`,
        { details: { method: clip(req.method) } },
      );
      response = errorResponse(id, enigmaErrorObject(err, JsonRpcErrorCode.MethodNotFound));
    } else {
      [outcome, response] = await this.#call(id, req.method, method, req.params, schedule);
    }
    let text: string | undefined;
    if (!notification) {
      text = this.#serialize(response);
      if (text === undefined) {
        outcome = "internal_error";
        text = JSON.stringify(errorResponse(id, INTERNAL_ERROR));
      }
    }
    const seconds = (performance.now() - started) / 1000;
    this.count(label, outcome, method ? seconds : undefined);
    this.#opts.logger.debug(
      { method: clip(req.method), id, outcome, durationMs: Math.round(seconds * 1e4) / 10 },
      "rpc call",
    );
    return text;
  }

  async #call(
    id: JsonRpcId,
    name: string,
    method: MethodEntry,
    rawParams: unknown,
    schedule: CallScheduler,
  ): Promise<[RpcOutcome, JsonRpcResponse]> {
    let params: unknown;
    try {
      params = method.parse(rawParams);
    } catch (e) {
      if (isEnigmaError(e)) {
        return [
          "invalid_params",
          errorResponse(id, enigmaErrorObject(e, JsonRpcErrorCode.InvalidParams)),
        ];
      }
      return ["internal_error", this.#internal(id, name, e)];
    }
    try {
      const result = await schedule(() => method.call(params));
      // `result` is required in a success response; a handler resolving nothing means null.
      return ["success", { jsonrpc: "2.0", id, result: result ?? null }];
    } catch (e) {
      if (isEnigmaError(e, ErrorCode.ServerBusy)) {
        return ["busy", errorResponse(id, enigmaErrorObject(e))];
      }
      if (isEnigmaError(e)) return ["error", errorResponse(id, enigmaErrorObject(e))];
      return ["internal_error", this.#internal(id, name, e)];
    }
  }

  #internal(id: JsonRpcId, method: string, e: unknown): JsonRpcResponse {
    // The stack and message stay in the log: they may name files, keys or peers.
    this.#opts.logger.error({ err: e, method: clip(method), id }, "rpc handler failed");
    return errorResponse(id, INTERNAL_ERROR);
  }

  /** The response's JSON, or `undefined` when it cannot be encoded (logged). */
  #serialize(response: JsonRpcResponse): string | undefined {
    try {
      return JSON.stringify(response);
    } catch (e) {
      // A result that JSON cannot carry (a bigint, a cycle) is a handler bug.
      this.#opts.logger.error({ err: e, id: response.id }, "rpc result not serializable");
      return undefined;
    }
  }
}

/** The request's id when it is a valid one, so that a client can match even an invalid request. */
function echoableId(entry: unknown): JsonRpcId {
  if (typeof entry !== "object" || entry === null || Array.isArray(entry)) return null;
  const id = (entry as Record<string, unknown>)["id"];
  return typeof id === "string" || typeof id === "number" ? id : null;
}

/** Bounds what untrusted names put in logs and error messages. */
function clip(s: string): string {
  return s.length > 64 ? `${s.slice(0, 64)}...` : s;
}
