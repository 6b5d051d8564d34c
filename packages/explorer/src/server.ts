// The explorer's HTTP server: the built page (dist/web: index.html, app.js, app.css), the
// network's state as JSON (`/api/state`) and pushed on every change (`/api/stream`, server-sent
// events: the page never reloads), and god mode (`/api/god/...`, answered by a worker's enclave
// debug interface when the devnet turned it on).
import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { EnigmaError, ErrorCode } from "@enigma/protocol";
import { Collector, type CollectorOptions } from "./collector.js";
import type { ExplorerState } from "./model.js";

export interface ExplorerOptions extends CollectorOptions {
  /** Interface to listen on; 127.0.0.1 by default (god mode must not leave the machine). */
  host?: string;
  /** 0 (the default) picks a free port; read it from `url`. */
  port?: number;
}

export interface Explorer {
  /** `http://host:port/` of the page. */
  readonly url: string;
  /** The current state (what the page shows). */
  state(): ExplorerState;
  /** Polls now (tests use it to see a change without waiting for the next tick). */
  refresh(): Promise<void>;
  stop(): Promise<void>;
}

// Same depth from src/ and dist/: packages/explorer/<src|dist>/ -> packages/explorer/dist/web/.
const WEB = fileURLToPath(new URL("../dist/web/", import.meta.url));
const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json",
};
const BYTES32 = /^0x[0-9a-fA-F]{64}$/;

/**
 * Starts the explorer for a running network: collects its state and serves the page.
 *
 * @example
 * const explorer = await startExplorer({ chain, nodes, trustRoot, attestationPolicy, godMode: true });
 * console.log(explorer.url); // http://127.0.0.1:38121/
 * await explorer.stop();
 */
export async function startExplorer(o: ExplorerOptions): Promise<Explorer> {
  try {
    await readFile(join(WEB, "index.html"));
  } catch (cause) {
    throw new EnigmaError(
      ErrorCode.InvalidConfig,
      `the explorer's page is not built (${WEB}): run \`pnpm run build\``,
      { cause },
    );
  }
  const collector = new Collector(o);
  const streams = new Set<ServerResponse>();
  let latest = "";
  collector.onChange = (state) => {
    const { updatedAt: _t, ...rest } = state;
    const text = JSON.stringify(rest);
    if (text === latest) return;
    latest = text;
    const frame = `data: ${JSON.stringify(state)}\n\n`;
    for (const res of streams) res.write(frame);
  };
  await collector.start();

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) json(res, 500, { error: { message: String(e) } });
      else res.destroy();
    });
  });
  const heartbeat = setInterval(() => {
    for (const res of streams) res.write(": keep-alive\n\n");
  }, 15_000);
  heartbeat.unref();

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    if (req.method !== "GET" && req.method !== "HEAD") {
      json(res, 405, { error: { message: "GET only" } });
      return;
    }
    if (path === "/health") {
      json(res, 200, { ok: true });
      return;
    }
    if (path === "/api/state") {
      json(res, 200, collector.state());
      return;
    }
    if (path === "/api/stream") {
      res.writeHead(200, {
        "Content-Type": "text/event-stream",
        "Cache-Control": "no-store",
        Connection: "keep-alive",
      });
      res.write(`data: ${JSON.stringify(collector.state())}\n\n`);
      streams.add(res);
      req.on("close", () => streams.delete(res));
      return;
    }
    const god = /^\/api\/god\/(task|contract)\/([^/]+)$/.exec(path);
    if (god !== null) {
      const id = god[2] ?? "";
      if (!BYTES32.test(id)) {
        json(res, 400, { error: { message: "expected 0x + 64 hex digits" } });
        return;
      }
      try {
        const answer =
          god[1] === "task"
            ? await collector.godTask(id.toLowerCase())
            : await collector.godContract(id.toLowerCase());
        json(res, 200, answer);
        return;
      } catch (e) {
        const code = (e as { code?: number }).code;
        json(res, code === ErrorCode.EnclaveDebugDisabled ? 403 : 404, {
          error: { code, message: e instanceof Error ? e.message : String(e) },
        });
        return;
      }
    }
    const file = path === "/" ? "index.html" : normalize(path.slice(1));
    if (file.startsWith("..") || file.includes("\0")) {
      json(res, 404, { error: {} });
      return;
    }
    try {
      const body = await readFile(join(WEB, file));
      res.writeHead(200, {
        "Content-Type": TYPES[extname(file)] ?? "application/octet-stream",
        "Content-Length": String(body.length),
        "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff",
      });
      res.end(req.method === "HEAD" ? undefined : body);
    } catch {
      json(res, 404, { error: { message: `no ${path}` } });
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port ?? 0, o.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const a = server.address() as AddressInfo;
  const host = a.address === "0.0.0.0" ? "127.0.0.1" : a.address;
  let stopped: Promise<void> | undefined;
  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${a.port}/`,
    state: () => collector.state(),
    refresh: () => collector.poll(),
    stop: () =>
      (stopped ??= (async () => {
        clearInterval(heartbeat);
        for (const res of streams) res.end();
        streams.clear();
        await new Promise<void>((r) => {
          server.close(() => {
            r();
          });
          server.closeAllConnections();
        });
        await collector.stop();
      })()),
  };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": String(Buffer.byteLength(text)),
    "Cache-Control": "no-store",
  });
  res.end(text);
}
