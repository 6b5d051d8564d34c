import { EnigmaError, ErrorCode } from "@enigma/protocol";
import { fromRpcError } from "./errors.js";

export interface RpcClientOptions {
  /** Per-request timeout in milliseconds (default 30 s). */
  timeoutMs?: number;
  /** Injected for tests and browsers without a global fetch. */
  fetch?: typeof fetch;
}

interface JsonRpcReply {
  jsonrpc?: unknown;
  id?: unknown;
  result?: unknown;
  error?: { code?: unknown; message?: unknown; data?: unknown };
}

/**
 * A JSON-RPC 2.0 client over HTTP POST, as Enigma nodes speak it (DESIGN.md section 5).
 * Transport failures raise `RpcTransport`; an error object from the node raises `RpcError`
 * with the node's code, message and data in `details`.
 *
 * @example
 * const rpc = new NodeRpcClient("http://127.0.0.1:3346");
 * const info = await rpc.call("getInfo", {});
 */
export class NodeRpcClient {
  readonly url: string;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;
  #nextId = 1;

  constructor(url: string, options: RpcClientOptions = {}) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch (cause) {
      throw new EnigmaError(ErrorCode.InvalidArgument, `node RPC URL is not a URL: ${url}`, {
        cause,
      });
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
      throw new EnigmaError(ErrorCode.InvalidArgument, `node RPC URL must be http(s): ${url}`);
    }
    this.url = url;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  }

  async call<T = unknown>(method: string, params: unknown): Promise<T> {
    const id = this.#nextId++;
    let response: Response;
    try {
      response = await this.#fetch(this.url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id, method, params }),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (cause) {
      throw new EnigmaError(ErrorCode.RpcTransport, `cannot reach the node at ${this.url}`, {
        details: { method },
        cause,
      });
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (cause) {
      throw new EnigmaError(
        ErrorCode.RpcTransport,
        `the node answered ${method} with HTTP ${response.status} and no JSON`,
        {
          details: { method, status: response.status, body: text.slice(0, 200) },
          cause,
        },
      );
    }
    return replyResult(method, id, parsed, text) as T;
  }
}

/**
 * The result of a JSON-RPC reply to call `id` of `method` (HTTP and WebSocket alike): a node's
 * error object raises its catalog code (`fromRpcError`), a malformed reply `RpcTransport`.
 */
export function replyResult(method: string, id: number, parsed: unknown, text: string): unknown {
  if (typeof parsed !== "object" || parsed === null || (parsed as JsonRpcReply).id !== id) {
    throw new EnigmaError(
      ErrorCode.RpcTransport,
      `the node answered ${method} with a malformed JSON-RPC reply`,
      {
        details: { method, body: text.slice(0, 200) },
      },
    );
  }
  const reply = parsed as JsonRpcReply;
  if (reply.error !== undefined) {
    const message = typeof reply.error.message === "string" ? reply.error.message : "unknown error";
    // A catalog code from the node (413 WorkerNotSelected...) becomes that EnigmaError.
    throw fromRpcError(
      new EnigmaError(ErrorCode.RpcError, `${method} failed: ${message}`, {
        details: { method, rpcCode: reply.error.code, data: reply.error.data },
      }),
    );
  }
  if (!("result" in reply)) {
    throw new EnigmaError(
      ErrorCode.RpcTransport,
      `the node answered ${method} with neither result nor error`,
      {
        details: { method },
      },
    );
  }
  return reply.result;
}
