import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { Duplex } from "node:stream";
import {
  EnigmaError,
  ErrorCode,
  RPC_LIMITS,
  type RPC_METHODS,
  bytes32Schema,
  isRpcMethod,
  parseRpcParams,
  validationIssues,
  type Hex,
  type RpcMethod,
  type RpcParams,
} from "@enigma/protocol";
import { Counter, Gauge } from "prom-client";
import { WebSocket, WebSocketServer, type RawData } from "ws";
import { z } from "zod";
import { silentLogger, type Logger, type NodeMetrics } from "../observability.js";
import { readBoundedBody } from "./body.js";
import {
  JsonRpcDispatcher,
  JsonRpcErrorCode,
  enigmaErrorObject,
  errorResponse,
  type JsonRpcError,
  type MethodEntry,
  type MethodTable,
} from "./jsonrpc.js";
import { CallLimiter, ConnectionGuard, addressKey } from "./limits.js";
import { TaskSubscriptions } from "./subscriptions.js";

/**
 * A method's result as it goes on the wire: the result schema's *input* type. Hex may be
 * un-prefixed (enigma-js prepends `0x` to `workerSig`, `output`...; use `toRpcHex`), which
 * `RpcResult<M>`, the parsed form with `0x` hex, does not allow. Every `RpcResult<M>` is
 * also an `RpcWireResult<M>`.
 */
export type RpcWireResult<M extends RpcMethod> = z.input<(typeof RPC_METHODS)[M]["result"]>;

/** One function per Discovery RPC method; each receives params already validated and normalized. */
export type RpcHandlers = {
  [M in RpcMethod]: (params: RpcParams<M>) => Promise<RpcWireResult<M>>;
};

export interface RpcServerOptions {
  /** Interface to listen on; `127.0.0.1` by default (not reachable from other machines). */
  host?: string;
  /** 0 (the default) picks a free port; read it back from `url`. */
  port?: number;
  handlers: RpcHandlers;
  /**
   * Methods beside Discovery's six (the node's read-only inspection methods such as
   * `getTaskTrace`), each validating its own params; they cannot replace one of the six.
   */
  extraMethods?: Readonly<Record<string, MethodEntry>>;
  /** Largest request body (HTTP) or message (WebSocket), in bytes. */
  maxBodyBytes?: number;
  /** Most calls in one batch; 100 by default. */
  maxBatchSize?: number;
  /** Most task subscriptions one WebSocket may hold; 1000 by default. */
  maxSubscriptionsPerSocket?: number;
  /**
   * Open connections (HTTP and WebSocket together), overall and from one remote address;
   * 1024 and 256 by default. Past either, a new connection gets HTTP 503 (`ConnectionLimit`)
   * and is closed.
   */
  maxConnections?: number;
  maxConnectionsPerAddress?: number;
  /** Open WebSockets, overall and from one address; 256 and 32 by default (503 past them). */
  maxWebSockets?: number;
  maxWebSocketsPerAddress?: number;
  /**
   * Method handlers running at once, overall and for one address (a batch runs this many of
   * its calls at a time); 64 and 8 by default. More wait, fairly across addresses.
   */
  maxConcurrentCalls?: number;
  maxConcurrentCallsPerAddress?: number;
  /** Calls of one address waiting for a slot; 256 by default, more get `ServerBusy` (423). */
  maxQueuedCallsPerAddress?: number;
  /**
   * Bytes queued on a WebSocket (replies and notifications it has not read); 8 MiB by
   * default. A client that far behind is dropped, not buffered without bound.
   */
  maxWsBufferedBytes?: number;
  /** Messages of one WebSocket being answered at once; 16 by default, then it is not read. */
  maxWsMessagesInFlight?: number;
  metrics?: NodeMetrics;
  logger?: Logger;
}

/** Room for a maximal deployment: the pre-code plus its encrypted arguments and the envelope. */
export const DEFAULT_MAX_BODY_BYTES = RPC_LIMITS.maxPreCodeChars + 256 * 1024;
const DEFAULT_MAX_BATCH = 100;
const DEFAULT_MAX_SUBSCRIPTIONS = 1000;
/** The defaults of the endpoint's bounds (see `RpcServerOptions`). */
export const RPC_SERVER_BOUNDS = Object.freeze({
  maxConnections: 1024,
  maxConnectionsPerAddress: 256,
  maxWebSockets: 256,
  maxWebSocketsPerAddress: 32,
  maxConcurrentCalls: 64,
  maxConcurrentCallsPerAddress: 8,
  maxQueuedCallsPerAddress: 256,
  maxWsBufferedBytes: 8 * 1024 * 1024,
  maxWsMessagesInFlight: 16,
});
/** Headers must arrive within this (slow clients holding sockets open). */
const HEADERS_TIMEOUT_MS = 20_000;
/** A whole request (up to the body limit) must arrive within this. */
const REQUEST_TIMEOUT_MS = 60_000;

const JSON_MEDIA = /^application\/(json|json-rpc|jsonrequest|[a-z0-9.+-]+\+json)$/;
// What a preflight may ask to send; echoed back, so it must be a plain header list.
const HEADER_LIST = /^[A-Za-z0-9-]+(\s*,\s*[A-Za-z0-9-]+)*$/;

const subscribeParams = z.object({ taskId: bytes32Schema });
const unsubscribeParams = z.object({ subscription: z.string().min(1).max(64) });

/**
 * The node's JSON-RPC 2.0 endpoint (Discovery's methods, DESIGN.md section 5) over HTTP, with
 * task-status subscriptions over a WebSocket on the same port.
 *
 * - `POST` to any path: a request or a batch (enigma-js posts to whatever URL it was given).
 * - `GET /health`: `{"ok":true}`. `GET /metrics`: Prometheus text (404 without `metrics`).
 * - `/ws`: WebSocket; the same methods plus `subscribeTaskStatus` and `unsubscribe`.
 *
 * Params are validated before a handler runs. A handler's `EnigmaError` reaches the client
 * with its catalog code; anything else is logged and answered `-32603 internal error`.
 *
 * @example
 * const rpc = new RpcServer({ handlers, metrics, logger, port: 3346 });
 * await rpc.start();
 * console.log(rpc.url); // http://127.0.0.1:3346
 * rpc.notifyTaskStatus(taskId, "SUCCESS", { output });
 * await rpc.stop();
 */
export class RpcServer {
  readonly #host: string;
  readonly #port: number;
  readonly #maxBodyBytes: number;
  readonly #metrics: NodeMetrics | undefined;
  readonly #log: Logger;
  readonly #dispatcher: JsonRpcDispatcher;
  readonly #methods: MethodTable;
  readonly #subs: TaskSubscriptions<WebSocket>;
  readonly #connections: ConnectionGuard;
  readonly #webSockets: ConnectionGuard;
  readonly #limiter: CallLimiter;
  readonly #maxWsBufferedBytes: number;
  readonly #maxWsInFlight: number;
  readonly #gauges: RpcGauges | undefined;
  #server: Server | undefined;
  #wss: WebSocketServer | undefined;
  #starting: Promise<void> | undefined;
  #address: AddressInfo | undefined;

  constructor(o: RpcServerOptions) {
    this.#host = o.host ?? "127.0.0.1";
    this.#port = checkInt("port", o.port ?? 0, 0, 65_535);
    this.#maxBodyBytes = checkInt("maxBodyBytes", o.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES, 1);
    const maxBatchSize = checkInt("maxBatchSize", o.maxBatchSize ?? DEFAULT_MAX_BATCH, 1);
    const maxSubs = checkInt(
      "maxSubscriptionsPerSocket",
      o.maxSubscriptionsPerSocket ?? DEFAULT_MAX_SUBSCRIPTIONS,
      1,
    );
    this.#metrics = o.metrics;
    this.#log = (o.logger ?? silentLogger()).child({ component: "rpc" });
    this.#methods = handlerTable(o.handlers, o.extraMethods);
    this.#dispatcher = new JsonRpcDispatcher({
      maxBatchSize,
      logger: this.#log,
      metrics: this.#metrics,
    });
    this.#subs = new TaskSubscriptions(maxSubs);
    const bound = (name: keyof typeof RPC_SERVER_BOUNDS) =>
      checkInt(name, o[name] ?? RPC_SERVER_BOUNDS[name], 1);
    this.#connections = new ConnectionGuard(
      bound("maxConnections"),
      bound("maxConnectionsPerAddress"),
    );
    this.#webSockets = new ConnectionGuard(
      bound("maxWebSockets"),
      bound("maxWebSocketsPerAddress"),
    );
    this.#limiter = new CallLimiter({
      maxConcurrent: bound("maxConcurrentCalls"),
      maxConcurrentPerAddress: bound("maxConcurrentCallsPerAddress"),
      maxQueuedPerAddress: bound("maxQueuedCallsPerAddress"),
    });
    this.#maxWsBufferedBytes = bound("maxWsBufferedBytes");
    this.#maxWsInFlight = bound("maxWsMessagesInFlight");
    this.#gauges = this.#metrics === undefined ? undefined : rpcGauges(this.#metrics);
    const gauges = this.#gauges;
    if (gauges !== undefined) {
      this.#limiter.onActive = (n) => {
        gauges.callsInFlight.set(n);
      };
    }
  }

  /** What the bounds hold now: open connections and WebSockets, running and waiting calls. */
  load(): { connections: number; webSockets: number; callsRunning: number; callsQueued: number } {
    return {
      connections: this.#connections.total,
      webSockets: this.#webSockets.total,
      callsRunning: this.#limiter.active,
      callsQueued: this.#limiter.queued,
    };
  }

  /** Listens; resolves once the port is bound. Calling it again while running is a no-op. */
  start(): Promise<void> {
    this.#starting ??= this.#listen().catch((e: unknown) => {
      this.#starting = undefined;
      throw e;
    });
    return this.#starting;
  }

  /**
   * Stops listening and drops every connection (keep-alive, in-flight and WebSocket); nothing
   * of the server is left running when it resolves. A stopped server can be started again.
   */
  async stop(): Promise<void> {
    const starting = this.#starting;
    if (!starting) return;
    await starting.catch(() => undefined);
    const server = this.#server;
    const wss = this.#wss;
    this.#server = undefined;
    this.#wss = undefined;
    this.#address = undefined;
    this.#starting = undefined;
    if (wss) {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
    }
    this.#subs.clear();
    if (server) {
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      });
    }
    this.#log.info("rpc server stopped");
  }

  /** `http://host:port` once started. */
  get url(): string {
    return `http://${this.#authority()}`;
  }

  /** `ws://host:port/ws` once started. */
  get wsUrl(): string {
    return `ws://${this.#authority()}/ws`;
  }

  /**
   * Tells the WebSocket clients subscribed to `taskId` (with or without `0x`) its new status:
   * `{"jsonrpc":"2.0","method":"taskStatus","params":{"subscription","taskId","status",...extra}}`.
   * The task id is sent as lower-case `0x` hex. `extra` cannot override those three fields.
   */
  notifyTaskStatus(taskId: string, status: string, extra: Record<string, unknown> = {}): void {
    const parsed = bytes32Schema.safeParse(taskId);
    if (!parsed.success) {
      throw new EnigmaError(
        ErrorCode.InvalidArgument,
        "notifyTaskStatus: taskId must be 32 bytes",
        {
          details: { taskId: taskId.slice(0, 80) },
        },
      );
    }
    const id: Hex = parsed.data;
    const rest = { ...extra };
    delete rest["subscription"];
    delete rest["taskId"];
    delete rest["status"];
    // Checked even with no subscriber, so that a caller's bad `extra` shows up in tests.
    try {
      JSON.stringify(rest);
    } catch (e) {
      throw new EnigmaError(ErrorCode.InvalidArgument, "notifyTaskStatus: extra must be JSON", {
        details: { taskId: id },
        cause: e,
      });
    }
    const subscribers = this.#subs.subscribers(id);
    for (const [subscription, ws] of subscribers) {
      const params = { subscription, taskId: id, status, ...rest };
      this.#wsSend(ws, JSON.stringify({ jsonrpc: "2.0", method: "taskStatus", params }));
    }
  }

  /**
   * Sends on a WebSocket unless its client is too far behind: a client that does not read its
   * replies and notifications is dropped, never buffered without bound.
   */
  #wsSend(ws: WebSocket, text: string): void {
    if (ws.readyState !== WebSocket.OPEN) return;
    if (ws.bufferedAmount + Buffer.byteLength(text) > this.#maxWsBufferedBytes) {
      this.#log.warn(
        { buffered: ws.bufferedAmount, limit: this.#maxWsBufferedBytes },
        "dropping a WebSocket client that does not read",
      );
      this.#refused("ws_backpressure");
      ws.terminate();
      return;
    }
    ws.send(text);
  }

  #refused(reason: "connections" | "websockets" | "ws_backpressure"): void {
    this.#gauges?.refused.inc({ reason });
  }

  #authority(): string {
    const a = this.#address;
    if (!a) {
      throw new EnigmaError(ErrorCode.NodeNotReady, "the RPC server is not started", {
        details: { host: this.#host, port: this.#port },
      });
    }
    // A wildcard address is for listening; clients on this machine reach it on loopback.
    let host = a.address;
    if (host === "0.0.0.0") host = "127.0.0.1";
    if (host === "::") host = "::1";
    return `${a.family === "IPv6" ? `[${host}]` : host}:${a.port}`;
  }

  async #listen(): Promise<void> {
    const server = createServer((req, res) => {
      this.#onRequest(req, res).catch((e: unknown) => {
        // #onRequest answers every error it expects; this is the last line of defence.
        this.#log.error({ err: e }, "rpc request failed");
        if (!res.headersSent && !res.destroyed) {
          send(
            res,
            500,
            jsonError({ code: JsonRpcErrorCode.InternalError, message: "internal error" }),
          );
        } else {
          res.destroy();
        }
      });
    });
    server.headersTimeout = HEADERS_TIMEOUT_MS;
    server.requestTimeout = REQUEST_TIMEOUT_MS;
    server.on("connection", (socket: Socket) => {
      this.#onConnection(socket);
    });
    const wss = new WebSocketServer({ noServer: true, maxPayload: this.#maxBodyBytes });
    server.on("upgrade", (req, socket, head) => {
      this.#onUpgrade(wss, req, socket, head);
    });
    await new Promise<void>((resolve, reject) => {
      const onError = (e: Error) => {
        reject(
          new EnigmaError(
            ErrorCode.RpcTransport,
            `cannot listen on ${this.#host}:${this.#port}: ${e.message}`,
            { details: { host: this.#host, port: this.#port }, cause: e },
          ),
        );
      };
      server.once("error", onError);
      server.listen(this.#port, this.#host, () => {
        server.off("error", onError);
        resolve();
      });
    });
    server.on("error", (e) => {
      this.#log.error({ err: e }, "rpc server error");
    });
    this.#server = server;
    this.#wss = wss;
    this.#address = server.address() as AddressInfo;
    this.#log.info({ url: this.url }, "rpc server listening");
  }

  /** Counts a new connection under the caps, or answers 503 and closes it. */
  #onConnection(socket: Socket): void {
    const address = addressKey(socket.remoteAddress);
    if (this.#connections.admit(address) === false) {
      const cap = this.#connections.refusal(address);
      this.#refused("connections");
      this.#log.debug({ remote: address, cap }, "connection refused: at the cap");
      refuseSocket(
        socket,
        new EnigmaError(
          ErrorCode.ConnectionLimit,
          cap === "address"
            ? `too many connections from this address (limit ${this.#connections.maxPerAddress}): close some or retry later`
            : `the node holds its maximum of connections (${this.#connections.max}): retry later`,
          { details: { cap } },
        ),
      );
      return;
    }
    this.#gauges?.connections.inc({ kind: "all" });
    socket.once("close", () => {
      this.#connections.release(address);
      this.#gauges?.connections.dec({ kind: "all" });
    });
  }

  async #onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    req.on("error", () => undefined);
    res.on("error", () => undefined);
    const path = pathOf(req);
    const method = req.method ?? "";

    if (method === "OPTIONS") {
      preflight(req, res);
    } else if ((method === "GET" || method === "HEAD") && path === "/health") {
      send(res, 200, '{"ok":true}');
    } else if ((method === "GET" || method === "HEAD") && path === "/metrics") {
      await this.#serveMetrics(res);
    } else if (method !== "POST") {
      // The body of a PUT or the like is never read: close rather than drain it.
      send(res, 405, jsonError(invalidRequest(`${method} not allowed; POST JSON-RPC`)), {
        Allow: "POST, OPTIONS",
        Connection: "close",
      });
    } else if (!isJsonMediaType(req.headers["content-type"])) {
      this.#dispatcher.count("none", "unsupported_media_type");
      send(
        res,
        415,
        jsonError(invalidRequest("send the request with Content-Type: application/json")),
        { Connection: "close" },
      );
    } else {
      await this.#serveRpc(req, res);
    }
  }

  async #serveRpc(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const read = await readBoundedBody(req, this.#maxBodyBytes);
    if (read.kind === "aborted") return;
    if (read.kind === "too_large") {
      this.#dispatcher.count("none", "too_large");
      this.#log.debug({ limit: this.#maxBodyBytes, received: read.received }, "rpc body too large");
      const err = new EnigmaError(
        ErrorCode.MessageTooLarge,
        `request body larger than ${this.#maxBodyBytes} bytes`,
        { details: { maxBodyBytes: this.#maxBodyBytes } },
      );
      // The rest of the body is never read: answer, then close the connection.
      send(res, 413, jsonError(enigmaErrorObject(err)), { Connection: "close" });
      return;
    }
    const address = addressKey(req.socket.remoteAddress);
    const out = await this.#dispatcher.handle(read.body.toString("utf8"), this.#methods, (call) =>
      this.#limiter.run(address, call),
    );
    // JSON-RPC errors travel in a 200: enigma-js (axios) turns any other status into -32000.
    if (out === undefined) send(res, 204);
    else send(res, 200, out);
  }

  async #serveMetrics(res: ServerResponse): Promise<void> {
    if (!this.#metrics) {
      send(res, 404, jsonError(invalidRequest("metrics are not enabled")));
      return;
    }
    const text = await this.#metrics.text();
    send(res, 200, text, { "Content-Type": this.#metrics.contentType });
  }

  #onUpgrade(wss: WebSocketServer, req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on("error", () => undefined);
    if (pathOf(req) !== "/ws") {
      socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    const address = addressKey((req.socket as Socket | undefined)?.remoteAddress);
    if (this.#webSockets.admit(address) === false) {
      const cap = this.#webSockets.refusal(address);
      this.#refused("websockets");
      refuseSocket(
        socket,
        new EnigmaError(
          ErrorCode.ConnectionLimit,
          cap === "address"
            ? `too many WebSockets from this address (limit ${this.#webSockets.maxPerAddress})`
            : `the node holds its maximum of WebSockets (${this.#webSockets.max}): retry later`,
          { details: { cap } },
        ),
      );
      return;
    }
    let admitted = true;
    const release = () => {
      if (!admitted) return;
      admitted = false;
      this.#webSockets.release(address);
      this.#gauges?.connections.dec({ kind: "ws" });
    };
    this.#gauges?.connections.inc({ kind: "ws" });
    // A socket that closes during the handshake never becomes a WebSocket.
    socket.once("close", release);
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.once("close", release);
      this.#onSocket(ws, address);
    });
  }

  #onSocket(ws: WebSocket, remote: string): void {
    this.#log.debug({ remote }, "ws connected");
    const methods = this.#socketTable(ws);
    ws.on("error", (e) => {
      // Oversized or malformed frames: ws closes the socket itself (1009, 1002).
      this.#log.debug({ err: e, remote }, "ws error");
    });
    ws.on("close", () => {
      this.#subs.removeSocket(ws);
      this.#log.debug({ remote }, "ws closed");
    });
    // Messages being answered: past the cap the socket is not read (TCP pushes back on the
    // client) until answers go out; the few messages already read off the socket wait here.
    // Answers are sent under the buffered-bytes cap.
    let inFlight = 0;
    const waiting: string[] = [];
    const answer = (text: string) => {
      inFlight++;
      void this.#dispatcher
        .handle(text, methods, (call) => this.#limiter.run(remote, call))
        .then((out) => {
          if (out !== undefined) this.#wsSend(ws, out);
        })
        .finally(() => {
          inFlight--;
          const next = waiting.shift();
          if (next !== undefined) answer(next);
          else if (ws.isPaused && ws.readyState === WebSocket.OPEN) ws.resume();
        });
    };
    ws.on("message", (data: RawData) => {
      if (inFlight < this.#maxWsInFlight) {
        answer(rawText(data));
        return;
      }
      waiting.push(rawText(data));
      ws.pause();
    });
    ws.on("close", () => {
      waiting.length = 0;
    });
  }

  /** The RPC methods plus this socket's subscription methods. */
  #socketTable(ws: WebSocket): MethodTable {
    const subscribe: MethodEntry = {
      parse: (p) => parseParams("subscribeTaskStatus", subscribeParams, p),
      call: (p) =>
        Promise.resolve(this.#subs.add(ws, (p as z.output<typeof subscribeParams>).taskId)),
    };
    const unsubscribe: MethodEntry = {
      parse: (p) => parseParams("unsubscribe", unsubscribeParams, p),
      call: (p) =>
        Promise.resolve(
          this.#subs.remove(ws, (p as z.output<typeof unsubscribeParams>).subscription),
        ),
    };
    return (name) => {
      if (name === "subscribeTaskStatus") return subscribe;
      if (name === "unsubscribe") return unsubscribe;
      return this.#methods(name);
    };
  }
}

/** Method table of the Discovery methods, validating with the protocol's schemas. */
function handlerTable(
  handlers: RpcHandlers,
  extraMethods: Readonly<Record<string, MethodEntry>> = {},
): MethodTable {
  const missing = Object.keys(handlerNames).filter(
    (m) => typeof (handlers as Partial<Record<string, unknown>>)[m] !== "function",
  );
  if (missing.length > 0) {
    throw new EnigmaError(
      ErrorCode.InvalidArgument,
      `RPC handlers missing: ${missing.join(", ")}`,
      {
        details: { missing },
      },
    );
  }
  const entries = new Map<string, MethodEntry>();
  for (const name of Object.keys(handlerNames) as RpcMethod[]) {
    // The mapped type ties each handler to its own params; the table erases that, and
    // `parseRpcParams(name, ...)` is what makes the call safe.
    const fn = handlers[name] as (params: unknown) => Promise<unknown>;
    entries.set(name, {
      parse: (p) => parseRpcParams(name, p),
      call: (p) => fn.call(handlers, p),
    });
  }
  const extra = new Map(Object.entries(extraMethods).filter(([name]) => !isRpcMethod(name)));
  return (name) => (isRpcMethod(name) ? entries.get(name) : extra.get(name));
}

// Every method a handler set must cover; a `Record` so that adding one to the protocol fails
// to compile here until it is listed.
const handlerNames: Record<RpcMethod, true> = {
  getInfo: true,
  getWorkerEncryptionKey: true,
  deploySecretContract: true,
  sendTaskInput: true,
  getTaskStatus: true,
  getTaskResult: true,
};

/** Validates a WebSocket-only method's params, failing as `parseRpcParams` does. */
function parseParams<S extends z.ZodType>(method: string, schema: S, value: unknown): z.output<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issues = validationIssues(r.error);
  const first = issues[0];
  throw new EnigmaError(
    ErrorCode.InvalidRpcParams,
    `invalid params for ${method}: ${first ? `${first.path || "(root)"} ${first.message}` : "rejected"}`,
    { details: { method, issues } },
  );
}

function checkInt(name: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new EnigmaError(
      ErrorCode.InvalidArgument,
      `${name} must be an integer in [${min}, ${max}]`,
      {
        details: { [name]: value },
      },
    );
  }
  return value;
}

function pathOf(req: IncomingMessage): string {
  try {
    return new URL(req.url ?? "/", "http://localhost").pathname;
  } catch {
    return "";
  }
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString("utf8");
  return Buffer.from(data as ArrayBuffer).toString("utf8");
}

function isJsonMediaType(header: string | undefined): boolean {
  const type = header?.split(";")[0]?.trim().toLowerCase();
  return type !== undefined && JSON_MEDIA.test(type);
}

function invalidRequest(message: string): JsonRpcError {
  return { code: JsonRpcErrorCode.InvalidRequest, message };
}

function jsonError(error: JsonRpcError): string {
  return JSON.stringify(errorResponse(null, error));
}

const CORS = { "Access-Control-Allow-Origin": "*" };

function preflight(req: IncomingMessage, res: ServerResponse): void {
  const asked = req.headers["access-control-request-headers"];
  const allowHeaders =
    typeof asked === "string" && asked.length <= 512 && HEADER_LIST.test(asked)
      ? asked
      : "Content-Type";
  res.writeHead(204, {
    ...CORS,
    "Access-Control-Allow-Methods": "POST, GET, OPTIONS",
    "Access-Control-Allow-Headers": allowHeaders,
    "Access-Control-Max-Age": "86400",
    "Content-Length": "0",
  });
  res.end();
}

function send(
  res: ServerResponse,
  status: number,
  body?: string,
  headers: Record<string, string> = {},
): void {
  // A client that left, or a server stopping, leaves nobody to answer.
  if (res.destroyed || res.writableEnded) return;
  res.writeHead(status, {
    ...CORS,
    "X-Content-Type-Options": "nosniff",
    ...(body === undefined
      ? {}
      : {
          "Content-Type": "application/json; charset=utf-8",
          "Content-Length": String(Buffer.byteLength(body)),
        }),
    ...headers,
  });
  res.end(body);
}

interface RpcGauges {
  connections: Gauge<"kind">;
  callsInFlight: Gauge;
  refused: Counter<"reason">;
}

const gaugesOf = new WeakMap<NodeMetrics["registry"], RpcGauges>();

/** The endpoint's own metrics, in the node's registry (created once per registry). */
function rpcGauges(metrics: NodeMetrics): RpcGauges {
  const r = metrics.registry;
  let g = gaugesOf.get(r);
  if (g === undefined) {
    g = {
      connections: new Gauge({
        name: "enigma_rpc_connections",
        help: "Open JSON-RPC connections (kind: all, ws)",
        labelNames: ["kind"],
        registers: [r],
      }),
      callsInFlight: new Gauge({
        name: "enigma_rpc_calls_in_flight",
        help: "JSON-RPC method handlers running",
        registers: [r],
      }),
      refused: new Counter({
        name: "enigma_rpc_refused_total",
        help: "Connections refused or dropped by the endpoint's bounds",
        labelNames: ["reason"],
        registers: [r],
      }),
    };
    gaugesOf.set(r, g);
  }
  return g;
}

/** Answers a raw socket (before or instead of HTTP parsing) with 503 and the error, then closes. */
function refuseSocket(socket: Duplex, e: EnigmaError): void {
  const body = jsonError(enigmaErrorObject(e));
  socket.on("error", () => undefined);
  // Stop reading: the request (if any) is never parsed, so nothing else answers on it.
  socket.pause();
  socket.end(
    `HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\n` +
      `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    () => {
      socket.destroy();
    },
  );
}
