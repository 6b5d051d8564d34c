// The admin endpoint: JSON-RPC over HTTP on its own host and port, apart from the public
// gateway (Discovery's six methods) so that nothing here is reachable where clients are. It
// answers what an operator or the invariant checker asks a node (what it stores, what it has
// not committed yet, whether it can rebuild a contract), and, only when the config turns test
// faults on, the nemesis's hooks. Off unless the config has an `admin` section.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { JsonRpcDispatcher, type MethodTable } from "../rpc/jsonrpc.js";
import { readBoundedBody } from "../rpc/body.js";
import type { Logger } from "../observability.js";

/** Admin requests are small (a few ids at most). */
const MAX_BODY_BYTES = 256 * 1024;

export interface AdminServerOptions {
  host: string;
  port: number;
  methods: MethodTable;
  logger: Logger;
}

export class AdminServer {
  readonly #o: AdminServerOptions;
  readonly #dispatcher: JsonRpcDispatcher;
  #server: Server | undefined;
  #url: string | undefined;

  constructor(o: AdminServerOptions) {
    this.#o = o;
    this.#dispatcher = new JsonRpcDispatcher({ maxBatchSize: 16, logger: o.logger });
  }

  /** `http://host:port` once started. */
  get url(): string | undefined {
    return this.#url;
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      void this.#serve(req, res);
    });
    // Admin calls are short; a client that holds a socket open gets it closed.
    server.requestTimeout = 30_000;
    server.headersTimeout = 10_000;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.#o.port, this.#o.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    const a = server.address() as AddressInfo;
    const host = a.family === "IPv6" ? `[${a.address}]` : a.address;
    this.#url = `http://${host}:${a.port}`;
    this.#server = server;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    if (server === undefined) return;
    this.#server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) =>
      server.close(() => {
        resolve();
      }),
    );
  }

  async #serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== "POST") {
      res.writeHead(405, { allow: "POST", "content-type": "text/plain" }).end("POST JSON-RPC\n");
      return;
    }
    const body = await readBoundedBody(req, MAX_BODY_BYTES);
    if (body.kind === "aborted") return;
    if (body.kind === "too_large") {
      res.writeHead(413, { connection: "close" }).end();
      return;
    }
    const text = await this.#dispatcher.handle(body.body.toString("utf8"), this.#o.methods);
    res.writeHead(200, { "content-type": "application/json" }).end(text ?? "");
  }
}
