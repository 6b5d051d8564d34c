// New block heads pushed by the Ethereum node (`eth_subscribe("newHeads")` over WebSocket), so
// that the watcher asks for a block's logs when the block is announced instead of up to a poll
// interval later. Polling stays the fallback: an endpoint without WebSocket (or a dropped
// socket) only means the watcher finds blocks by polling, as it always did.
import type { Logger } from "pino";

/** A subscription to new heads; `close()` ends it for good (no reconnect). */
export interface HeadSubscription {
  /** Whether heads are being pushed now. */
  readonly live: boolean;
  close(): void;
}

export interface HeadOptions {
  /** The endpoint's WebSocket URL (`ws://` or `wss://`). */
  url: string;
  /** Called with each announced block number (not necessarily consecutive). */
  onHead: (blockNumber: number) => void;
  /** First reconnect delay; doubles up to `maxRetryMs`. Default 1,000 ms. */
  retryMs?: number;
  /** Longest reconnect delay. Default 30,000 ms. */
  maxRetryMs?: number;
  /** Gives up connecting after this long without an answer. Default 5,000 ms. */
  connectTimeoutMs?: number;
  log?: Pick<Logger, "debug">;
}

/** A JSON-RPC WebSocket URL from an HTTP one on the same host, port and path. */
export function webSocketUrlOf(rpcUrl: string): string {
  const u = new URL(rpcUrl);
  u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
  return u.toString();
}

/**
 * Subscribes to new heads and keeps the subscription: a socket that fails or closes is opened
 * again after a backoff (1 s doubling to 30 s), so an endpoint that serves no WebSocket costs
 * one refused upgrade now and then.
 *
 * @example
 * const heads = subscribeHeads({ url: "ws://127.0.0.1:8545", onHead: (n) => wake(n) });
 * heads.close();
 */
export function subscribeHeads(o: HeadOptions): HeadSubscription {
  const retryMs = o.retryMs ?? 1_000;
  const maxRetryMs = o.maxRetryMs ?? 30_000;
  const connectTimeoutMs = o.connectTimeoutMs ?? 5_000;
  let socket: WebSocket | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let live = false;
  let delay = retryMs;

  const retry = () => {
    live = false;
    socket = undefined;
    if (closed) return;
    timer = setTimeout(connect, delay);
    timer.unref();
    delay = Math.min(maxRetryMs, delay * 2);
  };

  function connect(): void {
    timer = undefined;
    if (closed) return;
    let ws: WebSocket;
    try {
      ws = new WebSocket(o.url);
    } catch (e) {
      o.log?.debug({ url: o.url, err: String(e) }, "chain head subscription not possible");
      retry();
      return;
    }
    socket = ws;
    let subscription: string | undefined;
    const giveUp = setTimeout(() => {
      ws.close();
    }, connectTimeoutMs);
    giveUp.unref();
    ws.addEventListener("open", () => {
      ws.send(
        JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_subscribe", params: ["newHeads"] }),
      );
    });
    ws.addEventListener("message", (event: MessageEvent) => {
      let m: {
        id?: unknown;
        result?: unknown;
        error?: unknown;
        method?: unknown;
        params?: { subscription?: unknown; result?: { number?: unknown } };
      };
      try {
        m = JSON.parse(String(event.data)) as typeof m;
      } catch {
        return;
      }
      if (m.id === 1) {
        clearTimeout(giveUp);
        if (typeof m.result !== "string") {
          // An endpoint without subscriptions: polling it is.
          o.log?.debug({ url: o.url, error: m.error }, "chain head subscription refused");
          ws.close();
          return;
        }
        subscription = m.result;
        live = true;
        delay = retryMs;
        return;
      }
      if (m.method !== "eth_subscription" || m.params?.subscription !== subscription) return;
      const n = m.params?.result?.number;
      if (typeof n === "string" && /^0x[0-9a-fA-F]{1,15}$/.test(n))
        o.onHead(Number.parseInt(n, 16));
    });
    ws.addEventListener("error", () => {
      // A "close" event follows: it schedules the reconnect.
    });
    ws.addEventListener("close", () => {
      clearTimeout(giveUp);
      if (socket === ws) retry();
    });
  }

  connect();
  return {
    get live() {
      return live;
    },
    close() {
      closed = true;
      live = false;
      clearTimeout(timer);
      socket?.close();
      socket = undefined;
    },
  };
}
