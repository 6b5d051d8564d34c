// A node's way to the chain when the devnet injects faults: each node's `ethereum.rpcUrl` is a
// small TCP proxy in front of the chain's JSON-RPC, owned by the devnet, so that one node can
// lose the chain while the others keep it (issue 16):
//   pass     bytes flow both ways;
//   refuse   every connection is reset, new ones at once (the node sees ECONNRESET: refused);
//   hang     connections are accepted and nothing is answered (the node's requests time out);
//   slow     every chunk is delayed by `latencyMs` in each direction (order kept).
// It can also watch what a node sends (`watchTransactions`): the devnet's nemesis uses it to
// kill a worker while its receipt batch is in flight, after the transaction reached the chain
// and before the node read the answer.
import { createServer, connect, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { Transaction } from "ethers";

export type ChainMode =
  { kind: "pass" } | { kind: "refuse" } | { kind: "hang" } | { kind: "slow"; latencyMs: number };

export interface ChainProxyOptions {
  /** The chain's JSON-RPC URL (http://host:port). */
  upstream: string;
  /** Where the proxy listens. Default 127.0.0.1, any free port. */
  host?: string;
  port?: number;
}

/**
 * What a watcher says about a transaction a node sent: `swallow` forwards it to the chain and
 * drops the chain's answers on that connection (the watcher then acts, e.g. kills the node).
 */
export type TransactionVerdict = "pass" | "swallow";
export type TransactionWatcher = (tx: Transaction) => TransactionVerdict;

interface Link {
  client: Socket;
  upstream: Socket;
  /** Chain answers are dropped (after a swallowed transaction). */
  swallow: boolean;
  /** Nothing is forwarded (hang mode). */
  hung: boolean;
  /** Request text not yet scanned for transactions. */
  scan: string;
  queues: { up: Delayed[]; down: Delayed[] };
  timers: { up?: NodeJS.Timeout; down?: NodeJS.Timeout };
}

interface Delayed {
  at: number;
  chunk: Buffer;
}

/** Most request text kept per connection while looking for a raw transaction. */
const MAX_SCAN_CHARS = 512 * 1024;
const RAW_TX = /eth_sendRawTransaction[\s\S]*?"(0x[0-9a-fA-F]+)"/g;

export class ChainProxy {
  readonly #upstream: { host: string; port: number };
  readonly #host: string;
  readonly #port: number;
  readonly #links = new Set<Link>();
  #server: Server | undefined;
  #url: string | undefined;
  #mode: ChainMode = { kind: "pass" };
  #watcher: TransactionWatcher | undefined;

  constructor(o: ChainProxyOptions) {
    const u = new URL(o.upstream);
    this.#upstream = { host: u.hostname, port: Number(u.port || 80) };
    this.#host = o.host ?? "127.0.0.1";
    this.#port = o.port ?? 0;
  }

  /** `http://host:port` once started: the URL the node is given. */
  get url(): string {
    if (this.#url === undefined) throw new Error("the chain proxy is not started");
    return this.#url;
  }

  get mode(): ChainMode {
    return this.#mode;
  }

  async start(): Promise<void> {
    const server = createServer((client) => {
      this.#accept(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.#port, this.#host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    const a = server.address() as AddressInfo;
    this.#url = `http://${a.address}:${a.port}`;
    this.#server = server;
  }

  async stop(): Promise<void> {
    for (const l of this.#links) this.#drop(l, false);
    const server = this.#server;
    this.#server = undefined;
    if (server !== undefined)
      await new Promise<void>((r) =>
        server.close(() => {
          r();
        }),
      );
  }

  /** Switches mode; connections that cannot carry on in the new mode are reset. */
  setMode(mode: ChainMode): void {
    const before = this.#mode;
    this.#mode = mode;
    for (const l of [...this.#links]) {
      // Leaving slow mode: what is queued goes out now, before anything sent later.
      if (before.kind === "slow" && mode.kind !== "slow") this.#flush(l);
      // A hung or refused connection holds requests nobody will answer: reset it, the node
      // retries on a fresh one.
      if (mode.kind === "refuse" || before.kind === "hang") this.#drop(l, true);
      else if (mode.kind === "hang") l.hung = true;
    }
  }

  /** Watches the raw transactions nodes send through this proxy (undefined: stop watching). */
  watchTransactions(watcher: TransactionWatcher | undefined): void {
    this.#watcher = watcher;
  }

  #accept(client: Socket): void {
    if (this.#mode.kind === "refuse") {
      client.resetAndDestroy();
      return;
    }
    client.setNoDelay(true);
    const upstream = connect(this.#upstream.port, this.#upstream.host);
    upstream.setNoDelay(true);
    const link: Link = {
      client,
      upstream,
      swallow: false,
      hung: this.#mode.kind === "hang",
      scan: "",
      queues: { up: [], down: [] },
      timers: {},
    };
    this.#links.add(link);
    client.on("data", (chunk: Buffer) => {
      this.#carry(link, "up", chunk);
    });
    upstream.on("data", (chunk: Buffer) => {
      this.#carry(link, "down", chunk);
    });
    const close = () => {
      this.#drop(link, false);
    };
    client.on("error", close);
    upstream.on("error", close);
    client.on("close", close);
    upstream.on("close", close);
  }

  #carry(l: Link, dir: "up" | "down", chunk: Buffer): void {
    if (l.hung) return;
    if (dir === "down" && l.swallow) return;
    let act: (() => void) | undefined;
    if (dir === "up" && this.#watcher !== undefined) act = this.#sniff(l, chunk);
    const mode = this.#mode;
    if (mode.kind === "slow" && mode.latencyMs > 0) {
      l.queues[dir].push({ at: Date.now() + mode.latencyMs, chunk });
      this.#drain(l, dir);
    } else {
      (dir === "up" ? l.upstream : l.client).write(chunk);
    }
    act?.();
  }

  /** Looks for raw transactions in the request text; returns what the watcher asks for. */
  #sniff(l: Link, chunk: Buffer): (() => void) | undefined {
    const watcher = this.#watcher;
    if (watcher === undefined) return undefined;
    l.scan = (l.scan + chunk.toString("latin1")).slice(-MAX_SCAN_CHARS);
    let swallow = false;
    let consumed = 0;
    for (const m of l.scan.matchAll(RAW_TX)) {
      consumed = m.index + m[0].length;
      let tx: Transaction;
      try {
        tx = Transaction.from(m[1] ?? "");
      } catch {
        continue;
      }
      if (watcher(tx) === "swallow") swallow = true;
    }
    if (consumed > 0) l.scan = l.scan.slice(consumed);
    if (!swallow) return undefined;
    // The request goes on to the chain (forwarded by the caller first); its answer does not.
    return () => {
      l.swallow = true;
    };
  }

  #drain(l: Link, dir: "up" | "down"): void {
    if (l.timers[dir] !== undefined) return;
    const next = () => {
      l.timers[dir] = undefined;
      const q = l.queues[dir];
      const now = Date.now();
      while (q.length > 0 && (q[0]?.at ?? Infinity) <= now) {
        const d = q.shift();
        if (d !== undefined && !l.hung && !(dir === "down" && l.swallow)) {
          (dir === "up" ? l.upstream : l.client).write(d.chunk);
        }
      }
      const head = q[0];
      if (head !== undefined) l.timers[dir] = setTimeout(next, Math.max(0, head.at - now));
    };
    const head = l.queues[dir][0];
    if (head !== undefined) l.timers[dir] = setTimeout(next, Math.max(0, head.at - Date.now()));
  }

  #flush(l: Link): void {
    for (const dir of ["up", "down"] as const) {
      clearTimeout(l.timers[dir]);
      l.timers[dir] = undefined;
      for (const d of l.queues[dir].splice(0)) {
        if (!l.hung && !(dir === "down" && l.swallow)) {
          (dir === "up" ? l.upstream : l.client).write(d.chunk);
        }
      }
    }
  }

  #drop(l: Link, reset: boolean): void {
    if (!this.#links.delete(l)) return;
    clearTimeout(l.timers.up);
    clearTimeout(l.timers.down);
    if (reset) {
      l.client.resetAndDestroy();
      l.upstream.destroy();
    } else {
      l.client.destroy();
      l.upstream.destroy();
    }
  }
}
