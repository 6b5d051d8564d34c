// A gate between one node and the chain, for fault tests in one process: it forwards JSON-RPC
// requests while open and drops the connection of every request while closed (the node sees
// the chain refuse, as during an outage), so one node can lose the chain while the others and
// the test keep it.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface ChainGate {
  readonly url: string;
  open: boolean;
  close(): Promise<void>;
}

export async function chainGate(upstream: string): Promise<ChainGate> {
  const gate = { open: true };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (!gate.open) {
        req.socket.destroy();
        return;
      }
      void fetch(upstream, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: Buffer.concat(chunks),
      })
        .then(async (r) => {
          res.writeHead(r.status, { "content-type": "application/json" });
          res.end(Buffer.from(await r.arrayBuffer()));
        })
        .catch(() => req.socket.destroy());
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get open() {
      return gate.open;
    },
    set open(v: boolean) {
      gate.open = v;
      if (!v) server.closeAllConnections();
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) =>
        server.close(() => {
          r();
        }),
      );
    },
  };
}
