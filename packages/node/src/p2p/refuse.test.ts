// The partition hook (`refusePeers`, a devnet test fault) and announce addresses.
import { afterEach, describe, expect, it } from "vitest";
import { P2PNetwork } from "./network.js";

const nets: P2PNetwork[] = [];
afterEach(async () => {
  for (const n of nets.splice(0)) await n.stop();
});

async function started(o: ConstructorParameters<typeof P2PNetwork>[0] = {}): Promise<P2PNetwork> {
  const n = new P2PNetwork(o);
  nets.push(n);
  await n.start();
  return n;
}

async function until(probe: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 10_000;
  while (!probe()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("refusePeers", () => {
  it("closes connections to refused peers, refuses them both ways, and heals", async () => {
    const a = await started();
    const b = await started();
    await a.dial(b.multiaddrs[0] ?? "");
    await until(() => a.peers().includes(b.peerId) && b.peers().includes(a.peerId), "a connection");

    await a.refusePeers([b.peerId]);
    expect(a.refusedPeers).toEqual([b.peerId]);
    await until(() => !a.peers().includes(b.peerId), "the connection to close");
    // Neither side gets through: a's dial is refused, b's inbound connection is refused.
    await expect(a.dial(b.multiaddrs[0] ?? "")).rejects.toThrow();
    await b.dial(a.multiaddrs[0] ?? "").catch(() => undefined);
    await new Promise((r) => setTimeout(r, 200));
    expect(a.peers()).not.toContain(b.peerId);

    await a.refusePeers([]);
    await a.dial(b.multiaddrs[0] ?? "");
    expect(a.peers()).toContain(b.peerId);
  });
});

describe("announce", () => {
  it("tells peers the announced addresses instead of the listen address", async () => {
    const n = await started({ host: "127.0.0.1", port: 0 });
    const port = /\/tcp\/(\d+)/.exec(n.multiaddrs[0] ?? "")?.[1] ?? "0";
    await n.stop();
    const announced = await started({
      host: "0.0.0.0",
      port: Number(port),
      announce: [`/ip4/127.0.0.1/tcp/${port}`],
    });
    expect(announced.multiaddrs).toEqual([`/ip4/127.0.0.1/tcp/${port}/p2p/${announced.peerId}`]);
    const other = await started();
    expect(await other.dial(announced.multiaddrs[0] ?? "")).toBe(announced.peerId);
  });

  it("refuses an announce address that is not a multiaddr", () => {
    expect(() => new P2PNetwork({ announce: ["worker-1:4001"] })).toThrow(/announce\[0\]/);
  });
});
