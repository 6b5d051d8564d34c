// A JSON-RPC proxy in front of a gateway, for tests that make a node answer otherwise than it
// would: each call goes to `intercept` first, which may answer it itself, hold it, or let it
// through (and then rewrite the upstream result). HTTP only: no WebSocket upgrade, so a client
// behind it falls back to polling over HTTP, through the proxy.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface RpcMessage {
  id: number;
  method: string;
}

/** What `intercept` does with a call: answer it here, or forward it (optionally rewritten). */
export type Interception =
  | { reply: { result: unknown } | { error: { code: number; message: string } } }
  | { forward: true; rewrite?: (result: unknown) => unknown };

export interface RpcProxy {
  url: string;
  close(): Promise<void>;
}

export async function rpcProxy(
  target: string,
  intercept: (msg: RpcMessage) => Interception | Promise<Interception>,
): Promise<RpcProxy> {
  const server: Server = createServer((req, res) => {
    if (req.method !== "POST") {
      res.statusCode = 404;
      res.end();
      return;
    }
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      void (async () => {
        const msg = JSON.parse(body) as RpcMessage;
        res.setHeader("content-type", "application/json");
        const what = await intercept(msg);
        if ("reply" in what) {
          res.end(JSON.stringify({ jsonrpc: "2.0", id: msg.id, ...what.reply }));
          return;
        }
        const upstream = await fetch(target, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body,
        });
        const reply = (await upstream.json()) as { result?: unknown };
        if (what.rewrite !== undefined && "result" in reply) {
          reply.result = what.rewrite(reply.result);
        }
        res.end(JSON.stringify(reply));
      })();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => {
          r();
        });
      }),
  };
}
