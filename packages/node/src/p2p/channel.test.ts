import { EnigmaError, ErrorCode } from "@enigma/protocol";
import { rejectedCode } from "@enigma/protocol/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHANNEL_MAX_IN_FLIGHT } from "./channel.js";
import { P2PNetwork } from "./network.js";

// Requests of the `channelProtocols` share one long-lived stream per peer (`channel.ts`); they
// must behave exactly as requests on streams of their own do (network.test.ts), failures
// included, and survive the peer going away and coming back.

const ECHO = "/test/channel-echo/1";
const SMALL = "/test/channel-small/1";
const REFUSE = "/test/channel-refuse/1";
const SLOW = "/test/channel-slow/1";
const UNSERVED = "/test/channel-unserved/1";
const GATE = "/test/channel-gate/1";
const CHANNELLED = [ECHO, SMALL, REFUSE, SLOW, UNSERVED, GATE];
/** Handled by the server, but not among its channel protocols (as `/enigma/deltas/1`). */
const UNLISTED = "/test/channel-unlisted/1";
const SEED = new Uint8Array(32).fill(7);

describe("request channels", () => {
  let server: P2PNetwork;
  let client: P2PNetwork;
  let port = 0;
  const released: (() => void)[] = [];
  let served = 0;
  const gate: { running: number; most: number; open: () => void; opened: Promise<void> } = {
    running: 0,
    most: 0,
    open: () => undefined,
    opened: Promise.resolve(),
  };

  async function startServer(): Promise<P2PNetwork> {
    const s = new P2PNetwork({ port, privateKeySeed: SEED, channelProtocols: CHANNELLED });
    await s.handle(UNLISTED, (request) => Promise.resolve(request));
    await s.handle(ECHO, (request, from) => {
      served++;
      return Promise.resolve({ request, from });
    });
    await s.handle(SMALL, (request) => Promise.resolve(request), { maxRequestBytes: 1024 });
    await s.handle(REFUSE, () => {
      throw new EnigmaError(ErrorCode.WorkerNotSelected, "not selected for task 0x01", {
        details: { taskId: "0x01" },
      });
    });
    await s.handle(
      SLOW,
      () =>
        new Promise((resolve) => {
          released.push(() => {
            resolve("late");
          });
        }),
    );
    await s.handle(GATE, async (request) => {
      gate.running++;
      gate.most = Math.max(gate.most, gate.running);
      await gate.opened;
      gate.running--;
      return request;
    });
    await s.start();
    port = Number(/\/tcp\/(\d+)\//.exec(s.multiaddrs[0] ?? "")?.[1]);
    return s;
  }

  beforeAll(async () => {
    server = await startServer();
    client = new P2PNetwork({
      bootstrap: [server.multiaddrs[0] ?? ""],
      channelProtocols: [...CHANNELLED, UNLISTED],
    });
    await client.start();
  });

  afterAll(async () => {
    for (const release of released.splice(0)) release();
    await Promise.all([client.stop(), server.stop()]);
  });

  it("answers 300 concurrent requests, each with its own result, over one stream", async () => {
    const answers = await Promise.all(
      Array.from({ length: 300 }, (_, i) => client.request(server.peerId, ECHO, { i })),
    );
    expect(answers).toEqual(
      Array.from({ length: 300 }, (_, i) => ({ request: { i }, from: client.peerId })),
    );
    expect(await client.channelPeers()).toEqual([server.peerId]);
  });

  it("carries a handler's error with its code, and refuses what a stream would refuse", async () => {
    await expect(client.request(server.peerId, REFUSE, {})).rejects.toMatchObject({
      code: ErrorCode.WorkerNotSelected,
      message: "not selected for task 0x01",
      details: { taskId: "0x01", protocol: REFUSE },
    });
    expect(await rejectedCode(client.request(server.peerId, UNSERVED, {}))).toBe(
      ErrorCode.PeerRequestFailed,
    );
    // A protocol the server serves on streams only is refused over a channel: a channel must
    // not lift that protocol's per-stream bounds.
    expect(await rejectedCode(client.request(server.peerId, UNLISTED, {}))).toBe(
      ErrorCode.PeerRequestFailed,
    );
    // Over the protocol's maxRequestBytes (1 KiB), under the channel's 64 KiB.
    expect(await rejectedCode(client.request(server.peerId, SMALL, "y".repeat(5000)))).toBe(
      ErrorCode.MessageTooLarge,
    );
    expect(
      await rejectedCode(
        client.request(server.peerId, ECHO, "z".repeat(5000), { maxResponseBytes: 1000 }),
      ),
    ).toBe(ErrorCode.MessageTooLarge);
    // The channel outlives its requests' failures.
    expect(await client.request(server.peerId, ECHO, 1)).toEqual({
      request: 1,
      from: client.peerId,
    });
  });

  it("sends a body over 64 KiB on a stream of its own", async () => {
    const body = "b".repeat(200 * 1024);
    expect(await client.request(server.peerId, ECHO, body)).toEqual({
      request: body,
      from: client.peerId,
    });
  });

  it("times out one request with PeerTimeout while the others go on", async () => {
    const slow = client.request(server.peerId, SLOW, {}, { timeoutMs: 200 });
    const fast = client.request(server.peerId, ECHO, "fast");
    expect(await fast).toEqual({ request: "fast", from: client.peerId });
    expect(await rejectedCode(slow)).toBe(ErrorCode.PeerTimeout);
    // Its late answer is dropped; the channel still works.
    for (const release of released.splice(0)) release();
    expect(await client.request(server.peerId, ECHO, "after")).toEqual({
      request: "after",
      from: client.peerId,
    });
  });

  it(`serves at most ${CHANNEL_MAX_IN_FLIGHT} requests of one channel at once, and the rest after`, async () => {
    gate.opened = new Promise<void>((resolve) => (gate.open = resolve));
    const all = Promise.all(
      Array.from({ length: 300 }, (_, i) => client.request(server.peerId, GATE, i)),
    );
    const deadline = Date.now() + 5_000;
    while (gate.running < CHANNEL_MAX_IN_FLIGHT && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(gate.running).toBe(CHANNEL_MAX_IN_FLIGHT);
    gate.open();
    expect(await all).toEqual(Array.from({ length: 300 }, (_, i) => i));
    expect(gate.most).toBe(CHANNEL_MAX_IN_FLIGHT);
  });

  it("fails pending requests at once when the peer goes away, and reopens when it is back", async () => {
    const pending = client.request(server.peerId, SLOW, {}, { timeoutMs: 30_000 });
    // The request is on its way before the server stops.
    while (released.length === 0) await new Promise((r) => setTimeout(r, 5));
    const stopped = Date.now();
    const failed = rejectedCode(pending);
    await server.stop();
    expect([ErrorCode.PeerRequestFailed, ErrorCode.PeerUnreachable]).toContain(await failed);
    expect(Date.now() - stopped).toBeLessThan(5_000);
    released.splice(0);
    expect(await rejectedCode(client.request(server.peerId, ECHO, 1))).toBe(
      ErrorCode.PeerUnreachable,
    );
    // The same peer id and port, started again: the next request opens a new channel.
    server = await startServer();
    const before = served;
    expect(await client.request(server.peerId, ECHO, "back")).toEqual({
      request: "back",
      from: client.peerId,
    });
    expect(served).toBe(before + 1);
    expect(await client.channelPeers()).toEqual([server.peerId]);
  });
});
