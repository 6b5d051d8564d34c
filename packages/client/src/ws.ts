import { EnigmaError, ErrorCode, isEnigmaError, type Hex } from "@enigma/protocol";
import { replyResult } from "./rpc.js";

/**
 * The part of the WHATWG `WebSocket` the client uses: the global one of browsers and of
 * Node >= 22 (no `ws` package in the SDK, so that it bundles for browsers unchanged).
 */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: "open" | "close" | "error", listener: () => void): void;
  addEventListener(type: "message", listener: (ev: { data: unknown }) => void): void;
}

/** Opens a WebSocket to `url` (injectable for tests and runtimes without a global one). */
export type WebSocketFactory = (url: string) => WebSocketLike;

/** A node's `taskStatus` notification (`RpcServer.notifyTaskStatus`). */
export interface TaskStatusNotification {
  taskId: Hex;
  status: string;
  /** The encrypted output, when the node sends it along (saves a `getTaskStatus`). */
  output?: string;
}

/** What a subscriber hears: statuses, and the loss of the socket (then it polls). */
export interface TaskStatusListener {
  onStatus(n: TaskStatusNotification): void;
  onLost(): void;
}

export interface NodeSocketOptions {
  /** Default: `new globalThis.WebSocket(url)`; none: the client polls over HTTP. */
  webSocket?: WebSocketFactory;
  /** Per-request timeout in milliseconds (default 30 s). */
  timeoutMs?: number;
  /**
   * After a failed connection, HTTP and polling are used for this long (default 5 s), doubling
   * with each failure in a row up to 60 s.
   */
  retryAfterMs?: number;
  /** A connection not open after this long has failed (default 2 s). */
  connectTimeoutMs?: number;
}

const OPEN = 1;
const METHOD_NOT_FOUND = -32601;

interface Pending {
  method: string;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** The WebSocket URL of a node's HTTP JSON-RPC URL: same host and port, path `/ws`. */
export function nodeWsUrl(httpUrl: string): string {
  const u = new URL(httpUrl);
  u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
  u.pathname = "/ws";
  u.search = "";
  u.hash = "";
  return u.toString();
}

function defaultFactory(): WebSocketFactory | undefined {
  const WS = (globalThis as { WebSocket?: new (url: string) => WebSocketLike }).WebSocket;
  return WS === undefined ? undefined : (url) => new WS(url);
}

/**
 * JSON-RPC over a node's WebSocket (`/ws`): the Discovery methods plus `subscribeTaskStatus`,
 * whose `taskStatus` notifications tell the client a result is there without polling. One
 * socket per client, opened on first use. When no socket can be had (no WebSocket in the
 * runtime, a node without `/ws`, a refused connection) `open()` says so and the client uses
 * HTTP and polling; a lost socket tells every subscriber (`onLost`) so that it polls, and the
 * next call after `retryAfterMs` tries again.
 */
export class NodeSocket {
  readonly url: string;
  readonly #factory: WebSocketFactory | undefined;
  readonly #timeoutMs: number;
  readonly #retryAfterMs: number;
  readonly #connectTimeoutMs: number;
  #failures = 0;
  #ws: WebSocketLike | undefined;
  #opening: Promise<WebSocketLike | undefined> | undefined;
  #downUntil = 0;
  #noPush = false;
  #closed = false;
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();
  // By task id (lower-case 0x hex), not subscription id: a notification may come before the
  // subscription's own reply.
  readonly #listeners = new Map<string, Set<TaskStatusListener>>();

  constructor(url: string, options: NodeSocketOptions = {}) {
    this.url = url;
    this.#factory = options.webSocket ?? defaultFactory();
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#retryAfterMs = options.retryAfterMs ?? 5_000;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 2_000;
  }

  #backOff(): void {
    this.#downUntil = Date.now() + Math.min(60_000, this.#retryAfterMs * 2 ** this.#failures);
    this.#failures = Math.min(this.#failures + 1, 16);
  }

  /** Whether a socket is open now (calls then go over it). */
  get connected(): boolean {
    return this.#ws !== undefined && this.#ws.readyState === OPEN;
  }

  /** Whether task-status pushes may be had (false once the node refused a subscription). */
  get pushes(): boolean {
    return !this.#noPush && this.#factory !== undefined && !this.#closed;
  }

  /** An open socket, or undefined when none can be had now (use HTTP and polling). */
  open(): Promise<WebSocketLike | undefined> {
    if (this.connected) return Promise.resolve(this.#ws);
    if (this.#closed || this.#factory === undefined || Date.now() < this.#downUntil) {
      return Promise.resolve(undefined);
    }
    this.#opening ??= this.#connect(this.#factory).finally(() => {
      this.#opening = undefined;
    });
    return this.#opening;
  }

  #connect(factory: WebSocketFactory): Promise<WebSocketLike | undefined> {
    return new Promise((resolve) => {
      let ws: WebSocketLike;
      try {
        ws = factory(this.url);
      } catch {
        this.#backOff();
        resolve(undefined);
        return;
      }
      let opened = false;
      let failed = false;
      const fail = () => {
        if (opened || failed) return;
        failed = true;
        clearTimeout(timer);
        this.#backOff();
        resolve(undefined);
      };
      // A server that never answers the upgrade (a plain HTTP proxy) must not hold a task.
      const timer = setTimeout(() => {
        fail();
        try {
          ws.close();
        } catch {
          // closing a socket that never opened: nothing to undo
        }
      }, this.#connectTimeoutMs);
      ws.addEventListener("open", () => {
        if (failed) {
          ws.close();
          return;
        }
        opened = true;
        clearTimeout(timer);
        if (this.#closed) {
          ws.close();
          resolve(undefined);
          return;
        }
        this.#failures = 0;
        this.#ws = ws;
        resolve(ws);
      });
      ws.addEventListener("message", (ev) => {
        this.#onMessage(ev.data);
      });
      const down = () => {
        if (!opened) {
          fail();
          return;
        }
        if (this.#ws === ws) this.#lost();
      };
      ws.addEventListener("error", down);
      ws.addEventListener("close", down);
    });
  }

  /** Every pending call fails, every subscriber polls; the next `open()` waits a while. */
  #lost(): void {
    this.#ws = undefined;
    this.#backOff();
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) {
      clearTimeout(p.timer);
      p.reject(
        new EnigmaError(ErrorCode.RpcTransport, `the node's WebSocket closed during ${p.method}`, {
          details: { method: p.method, url: this.url },
        }),
      );
    }
    const listeners = [...this.#listeners.values()].flatMap((s) => [...s]);
    this.#listeners.clear();
    for (const l of listeners) l.onLost();
  }

  #onMessage(data: unknown): void {
    if (typeof data !== "string") return;
    let msg: unknown;
    try {
      msg = JSON.parse(data);
    } catch {
      return; // not ours to answer: a node never sends this
    }
    for (const m of Array.isArray(msg) ? (msg as unknown[]) : [msg]) {
      if (typeof m !== "object" || m === null) continue;
      const o = m as { id?: unknown; method?: unknown; params?: unknown };
      if (o.method === "taskStatus") {
        this.#onStatus(o.params);
      } else if (typeof o.id === "number") {
        const p = this.#pending.get(o.id);
        if (p === undefined) continue;
        this.#pending.delete(o.id);
        clearTimeout(p.timer);
        try {
          p.resolve(replyResult(p.method, o.id, m, data));
        } catch (e) {
          p.reject(e);
        }
      }
    }
  }

  #onStatus(params: unknown): void {
    if (typeof params !== "object" || params === null) return;
    const p = params as { taskId?: unknown; status?: unknown; output?: unknown };
    if (typeof p.taskId !== "string" || typeof p.status !== "string") return;
    const id = p.taskId.toLowerCase().replace(/^(0x)?/, "0x");
    const n: TaskStatusNotification = {
      taskId: id as Hex,
      status: p.status,
      ...(typeof p.output === "string" ? { output: p.output } : {}),
    };
    for (const l of [...(this.#listeners.get(id) ?? [])]) l.onStatus(n);
  }

  /** A JSON-RPC call over the socket; `RpcTransport` when none is open. */
  async call<T = unknown>(method: string, params: unknown): Promise<T> {
    const ws = await this.open();
    if (ws === undefined) {
      throw new EnigmaError(ErrorCode.RpcTransport, `no WebSocket to the node at ${this.url}`, {
        details: { method },
      });
    }
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(
          new EnigmaError(ErrorCode.RpcTransport, `the node did not answer ${method} in time`, {
            details: { method, timeoutMs: this.#timeoutMs },
          }),
        );
      }, this.#timeoutMs);
      this.#pending.set(id, { method, resolve: resolve as (v: unknown) => void, reject, timer });
      try {
        ws.send(JSON.stringify({ jsonrpc: "2.0", id, method, params }));
      } catch (cause) {
        this.#pending.delete(id);
        clearTimeout(timer);
        reject(
          new EnigmaError(ErrorCode.RpcTransport, `cannot send ${method} to the node`, {
            details: { method },
            cause,
          }),
        );
      }
    });
  }

  /**
   * Subscribes `listener` to `taskId`'s status; resolves with an unsubscribe function once the
   * node confirmed, or undefined when pushes cannot be had (then the caller polls).
   */
  async subscribe(taskId: Hex, listener: TaskStatusListener): Promise<(() => void) | undefined> {
    if (!this.pushes) return undefined;
    const ws = await this.open();
    if (ws === undefined) return undefined;
    const id = taskId.toLowerCase();
    let set = this.#listeners.get(id);
    if (set === undefined) {
      set = new Set();
      this.#listeners.set(id, set);
    }
    set.add(listener);
    const drop = () => {
      const s = this.#listeners.get(id);
      s?.delete(listener);
      if (s?.size === 0) this.#listeners.delete(id);
    };
    let subscription: string;
    try {
      subscription = await this.call<string>("subscribeTaskStatus", { taskId: id });
    } catch (e) {
      drop();
      // A node without subscriptions: poll from now on. Anything else: poll this task.
      if (isEnigmaError(e) && e.details["rpcCode"] === METHOD_NOT_FOUND) this.#noPush = true;
      return undefined;
    }
    let done = false;
    return () => {
      if (done) return;
      done = true;
      drop();
      // The node holds a bounded number of subscriptions per socket: give this one back.
      if (this.connected) this.call("unsubscribe", { subscription }).catch(() => undefined);
    };
  }

  /** Closes the socket; later calls use HTTP and polling. */
  close(): void {
    this.#closed = true;
    const ws = this.#ws;
    if (ws !== undefined) {
      this.#lost();
      ws.close();
    }
  }
}
