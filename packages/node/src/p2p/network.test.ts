import { EnigmaError, ErrorCode, isEnigmaError } from "@enigma/protocol";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { P2PNetwork, type GossipVerdict, type P2POptions } from "./network.js";

// Every node runs in this process on 127.0.0.1 with an ephemeral port. Tests await
// handlers and events through bounded waits; none sleeps for a fixed time (the two polls,
// for a peer score and for closed sockets, have no event to await and are bounded too).

const enc = new TextEncoder();
const dec = new TextDecoder();
const TOPIC = "enigma/test/1";
const WAIT_MS = 3_000;

const running: P2PNetwork[] = [];

async function startNode(options: P2POptions = {}): Promise<P2PNetwork> {
  const node = new P2PNetwork(options);
  running.push(node);
  await node.start();
  return node;
}

async function stopAll(): Promise<void> {
  await Promise.all(running.splice(0).map((n) => n.stop()));
}

function bootstrapFrom(...nodes: P2PNetwork[]): string[] {
  return nodes.map((n) => {
    const addr = n.multiaddrs[0];
    if (addr === undefined) throw new Error("node has no address");
    return addr;
  });
}

/** Resolves with `promise`, or fails the test after `ms` naming what it waited for. */
async function within<T>(promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
    }, ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The EnigmaError a promise rejects with (fails the test if it resolves or throws else). */
async function rejection(promise: Promise<unknown>): Promise<EnigmaError> {
  try {
    await promise;
  } catch (e) {
    if (isEnigmaError(e)) return e;
    throw e;
  }
  throw new Error("expected the promise to reject");
}

/** A gossip handler that records messages and lets a test await one by its text. */
function inbox() {
  const got: { text: string; from: string }[] = [];
  const waiters: { text: string; resolve: () => void }[] = [];
  return {
    got,
    texts: () => got.map((m) => m.text),
    count: (text: string) => got.filter((m) => m.text === text).length,
    handler: (data: Uint8Array, from: string): void => {
      const text = dec.decode(data);
      got.push({ text, from });
      for (const w of waiters.filter((w) => w.text === text)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    },
    waitFor: (text: string, ms = WAIT_MS): Promise<void> =>
      within(
        new Promise<void>((resolve) => {
          if (got.some((m) => m.text === text)) resolve();
          else waiters.push({ text, resolve });
        }),
        `gossip "${text}"`,
        ms,
      ),
  };
}

const acceptAll = (): GossipVerdict => "accept";

afterEach(stopAll);

describe("gossip", () => {
  it("delivers a message once to every other node, and never its duplicates", async () => {
    const b = await startNode();
    const c = await startNode();
    const connected: string[] = [];
    const a = new P2PNetwork({ bootstrap: bootstrapFrom(b, c) });
    running.push(a);
    a.onPeerConnected((p) => connected.push(p));
    await a.start(); // resolves once b and c are dialled
    expect(new Set(connected)).toEqual(new Set([b.peerId, c.peerId]));
    expect(new Set(a.peers())).toEqual(new Set([b.peerId, c.peerId]));
    expect(a.multiaddrs[0]).toMatch(new RegExp(`^/ip4/127\\.0\\.0\\.1/tcp/\\d+/p2p/${a.peerId}$`));

    const inboxes = { a: inbox(), b: inbox(), c: inbox() };
    a.subscribe(TOPIC, acceptAll, inboxes.a.handler);
    b.subscribe(TOPIC, acceptAll, inboxes.b.handler);
    c.subscribe(TOPIC, acceptAll, inboxes.c.handler);
    await a.waitForTopicPeers(TOPIC, 2); // a relays between b and c
    expect(new Set(a.topicPeers(TOPIC))).toEqual(new Set([b.peerId, c.peerId]));

    // b is connected to a only: c gets the message through a.
    expect(await b.publish(TOPIC, enc.encode("m1"))).toBe(1);
    await Promise.all([inboxes.a.waitFor("m1"), inboxes.c.waitFor("m1")]);
    expect(inboxes.a.got).toEqual([{ text: "m1", from: b.peerId }]);
    // Messages carry no author (StrictNoSign): c is told the peer that relayed it.
    expect(inboxes.c.got).toEqual([{ text: "m1", from: a.peerId }]);

    // The same bytes again, from nodes that have seen them: not sent at all.
    expect(await b.publish(TOPIC, enc.encode("m1"))).toBe(0);
    expect(await a.publish(TOPIC, enc.encode("m1"))).toBe(0);

    // From a node that has not seen them (another author, another seqno): the message id is
    // sha256(data), so c drops it as a duplicate.
    const d = await startNode({ bootstrap: bootstrapFrom(c) });
    const dInbox = inbox();
    d.subscribe(TOPIC, acceptAll, dInbox.handler);
    expect(await d.publish(TOPIC, enc.encode("m1"))).toBe(1);
    // A marker published after it on the same path arrives after it would have.
    expect(await d.publish(TOPIC, enc.encode("m2"))).toBe(1);
    await Promise.all([inboxes.a.waitFor("m2"), inboxes.b.waitFor("m2"), inboxes.c.waitFor("m2")]);
    expect(inboxes.a.count("m1")).toBe(1);
    expect(inboxes.c.count("m1")).toBe(1);
    expect(inboxes.b.texts()).toEqual(["m2"]); // never its own m1
    expect(dInbox.texts()).toEqual([]); // never its own publishes
  });

  it("does not deliver or forward rejected messages, and penalises their sender", async () => {
    // x - y - z in a line: whatever z gets, y forwarded.
    const y = await startNode();
    const x = await startNode({ bootstrap: bootstrapFrom(y) });
    const z = await startNode({ bootstrap: bootstrapFrom(y) });
    const yInbox = inbox();
    const zInbox = inbox();
    const zValidated: string[] = [];
    y.subscribe(
      TOPIC,
      (data) => {
        const text = dec.decode(data);
        if (text.startsWith("bad")) return "reject";
        if (text.startsWith("meh")) return "ignore";
        if (text.startsWith("boom")) throw new Error("validator crashed");
        return "accept";
      },
      yInbox.handler,
    );
    z.subscribe(
      TOPIC,
      (data) => {
        zValidated.push(dec.decode(data));
        return "accept";
      },
      zInbox.handler,
    );
    await y.waitForTopicPeers(TOPIC, 1); // z, so y forwards what it accepts

    for (const text of ["bad-1", "meh-1", "boom-1", "good-1"]) {
      expect(await x.publish(TOPIC, enc.encode(text))).toBe(1);
    }
    await zInbox.waitFor("good-1");
    expect(yInbox.texts()).toEqual(["good-1"]);
    expect(zValidated).toEqual(["good-1"]);
    expect(zInbox.texts()).toEqual(["good-1"]);

    // Two rejections (the explicit one and the throw); "ignore" costs nothing.
    await eventually(() => y.peerScore(x.peerId) < 0, "x's score to drop");
    expect(y.peerScore(x.peerId)).toBeCloseTo(-40, 0); // -10 * (2 invalid messages)^2, decaying
    expect(y.peerScore(z.peerId)).toBe(0);
  });

  it("publish waits for subscribers that are still joining", async () => {
    const a = await startNode();
    const b = await startNode({ bootstrap: bootstrapFrom(a) });
    const bInbox = inbox();
    const started = performance.now();
    const sent = a.publish(TOPIC, enc.encode("early"), { timeoutMs: WAIT_MS });
    b.subscribe(TOPIC, acceptAll, bInbox.handler); // after the publish call
    expect(await sent).toBe(1);
    await bInbox.waitFor("early");
    expect(performance.now() - started).toBeLessThan(WAIT_MS);
  });

  it("publish with no subscribed peer rejects PeerUnreachable at its timeout", async () => {
    const lonely = await startNode();
    const started = performance.now();
    const e = await rejection(lonely.publish(TOPIC, enc.encode("void"), { timeoutMs: 300 }));
    const elapsed = performance.now() - started;
    expect(e.code).toBe(ErrorCode.PeerUnreachable);
    expect(e.details).toMatchObject({ topic: TOPIC, peers: 0, minPeers: 1, timeoutMs: 300 });
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(1_000);
    expect((await rejection(lonely.waitForTopicPeers(TOPIC, 1, 100))).code).toBe(
      ErrorCode.PeerUnreachable,
    );
  });

  it("enforces maxMessageBytes on publish (nothing sent) and on receipt (rejected)", async () => {
    const small = await startNode({ maxMessageBytes: 1024 });
    const big = await startNode({ maxMessageBytes: 8192, bootstrap: bootstrapFrom(small) });
    const smallInbox = inbox();
    const bigInbox = inbox();
    const smallValidated: number[] = [];
    small.subscribe(
      TOPIC,
      (data) => {
        smallValidated.push(data.byteLength);
        return "accept";
      },
      smallInbox.handler,
    );
    big.subscribe(TOPIC, acceptAll, bigInbox.handler);
    await small.waitForTopicPeers(TOPIC, 1);
    await big.waitForTopicPeers(TOPIC, 1);

    const e = await rejection(small.publish(TOPIC, new Uint8Array(1025).fill(120)));
    expect(e.code).toBe(ErrorCode.MessageTooLarge);
    expect(e.details).toMatchObject({ bytes: 1025, maxBytes: 1024 });
    expect(await small.publish(TOPIC, enc.encode("after-oversize"))).toBe(1);
    await bigInbox.waitFor("after-oversize");
    expect(bigInbox.texts()).toEqual(["after-oversize"]); // the 1025 bytes never left

    expect(await big.publish(TOPIC, new Uint8Array(2000).fill(121))).toBe(1); // sent...
    expect(await big.publish(TOPIC, enc.encode("marker"))).toBe(1);
    await smallInbox.waitFor("marker");
    expect(smallInbox.texts()).toEqual(["marker"]); // ...and rejected before validation
    expect(smallValidated).toEqual([6]);
  });
});

describe("request-response", () => {
  let server: P2PNetwork;
  let client: P2PNetwork;
  let releaseSlow: () => void = () => undefined;
  const slowReleased = new Promise<void>((resolve) => {
    releaseSlow = resolve;
  });

  beforeAll(async () => {
    server = new P2PNetwork({});
    // Handlers registered before start() are served from the first connection on.
    await server.handle("/test/echo/1", (request, from) => Promise.resolve({ request, from }));
    await server.handle("/test/refuse/1", () => {
      throw new EnigmaError(ErrorCode.WorkerNotSelected, "worker is not selected for task 0x01", {
        details: { taskId: "0x01" },
      });
    });
    await server.handle("/test/crash/1", () => Promise.reject(new TypeError("kaboom")));
    await server.handle("/test/slow/1", async () => {
      await slowReleased;
      return "late";
    });
    await server.handle("/test/small/1", (request) => Promise.resolve(request), {
      maxRequestBytes: 1024,
    });
    await server.start();
    client = new P2PNetwork({ bootstrap: bootstrapFrom(server) });
    await client.start();
  });

  afterAll(async () => {
    releaseSlow();
    await Promise.all([client.stop(), server.stop()]);
  });

  it("returns the handler's result", async () => {
    const body = { n: 1, list: ["a", null], nested: { ok: true } };
    expect(await client.request(server.peerId, "/test/echo/1", body)).toEqual({
      request: body,
      from: client.peerId,
    });
    // A full multiaddr works as well as a known peer id.
    expect(await client.request(bootstrapFrom(server)[0] ?? "", "/test/echo/1", 7)).toEqual({
      request: 7,
      from: client.peerId,
    });
  });

  it("carries the handler's EnigmaError across with the same code and message", async () => {
    const e = await rejection(client.request(server.peerId, "/test/refuse/1", {}));
    expect(e.code).toBe(ErrorCode.WorkerNotSelected);
    expect(e.message).toBe("worker is not selected for task 0x01");
    expect(e.details).toMatchObject({ taskId: "0x01", peer: server.peerId });

    const crash = await rejection(client.request(server.peerId, "/test/crash/1", {}));
    expect(crash.code).toBe(ErrorCode.PeerRequestFailed);
    expect(crash.message).toContain("kaboom");
  });

  it("times out with PeerTimeout", async () => {
    const started = performance.now();
    const e = await rejection(
      client.request(server.peerId, "/test/slow/1", {}, { timeoutMs: 200 }),
    );
    expect(e.code).toBe(ErrorCode.PeerTimeout);
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it("caps requests and responses with MessageTooLarge", async () => {
    const e = await rejection(client.request(server.peerId, "/test/small/1", "x".repeat(2000)));
    expect(e.code).toBe(ErrorCode.MessageTooLarge);
    expect(await client.request(server.peerId, "/test/small/1", "x".repeat(100))).toBe(
      "x".repeat(100),
    );

    const big = await rejection(
      client.request(server.peerId, "/test/echo/1", "y".repeat(5000), { maxResponseBytes: 1000 }),
    );
    expect(big.code).toBe(ErrorCode.MessageTooLarge);
  });

  it("reports an unserved protocol and bad arguments clearly", async () => {
    const e = await rejection(client.request(server.peerId, "/test/nope/1", {}));
    expect(e.code).toBe(ErrorCode.PeerRequestFailed);
    expect((await rejection(client.request("not-a-peer", "/test/echo/1", {}))).code).toBe(
      ErrorCode.InvalidArgument,
    );
    expect((await rejection(client.request(server.peerId, "/test/echo/1", 1n))).code).toBe(
      ErrorCode.InvalidArgument,
    );
  });

  it("fails with PeerUnreachable when the peer has stopped", async () => {
    const gone = await startNode();
    await gone.handle("/test/echo/1", (r) => Promise.resolve(r));
    expect(await client.dial(bootstrapFrom(gone)[0] ?? "")).toBe(gone.peerId);
    expect(await client.request(gone.peerId, "/test/echo/1", 1)).toBe(1);
    await gone.stop();
    const e = await rejection(client.request(gone.peerId, "/test/echo/1", 2, { timeoutMs: 2_000 }));
    expect([ErrorCode.PeerUnreachable, ErrorCode.PeerTimeout]).toContain(e.code);
    expect(e.details).toMatchObject({ peer: gone.peerId, protocol: "/test/echo/1" });
  });
});

describe("bootstrap", () => {
  it("redials a bootstrap peer that was down at start or restarts later", async () => {
    const seed = new Uint8Array(32).fill(9);
    const first = await startNode({ privateKeySeed: seed });
    const [address] = bootstrapFrom(first);
    const port = Number(/\/tcp\/(\d+)\//.exec(address ?? "")?.[1]);
    await first.stop();

    const a = await startNode({ bootstrap: [address ?? ""] }); // unreachable: start goes on
    expect(a.peers()).toEqual([]);
    const reconnected = new Promise<string>((resolve) => a.onPeerConnected(resolve));
    const again = new P2PNetwork({ privateKeySeed: seed, port }); // same address as before
    running.push(again);
    const accepted = new Promise<string>((resolve) => again.onPeerConnected(resolve));
    await again.start();
    expect(await within(reconnected, "the redial", 2_000)).toBe(again.peerId);
    // Both ends up before stopping: libp2p takes ~0.5 s to stop mid-handshake.
    expect(await within(accepted, "the inbound side")).toBe(a.peerId);
  });
});

describe("identity and lifecycle", () => {
  it("derives the peer id from privateKeySeed", async () => {
    const seed = new Uint8Array(32).fill(7);
    const first = await startNode({ privateKeySeed: seed });
    const id = first.peerId;
    await first.stop();
    const again = await startNode({ privateKeySeed: seed.slice() });
    const other = await startNode({ privateKeySeed: new Uint8Array(32).fill(8) });
    expect(again.peerId).toBe(id);
    expect(other.peerId).not.toBe(id);
    expect(() => new P2PNetwork({ privateKeySeed: new Uint8Array(31) })).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidArgument }) as Error,
    );
  });

  it("starts once, stops twice safely, and refuses work when stopped", async () => {
    const idle = new P2PNetwork({});
    await idle.stop(); // before start: nothing to do
    expect(idle.multiaddrs).toEqual([]);
    expect(() => idle.peerId).toThrow(
      expect.objectContaining({ code: ErrorCode.NodeNotReady }) as Error,
    );

    const sockets = (): number =>
      process.getActiveResourcesInfo().filter((r) => r.startsWith("TCP")).length;
    await eventually(() => sockets() === 0, "earlier tests' sockets to close");
    const node = await startNode();
    const addrs = node.multiaddrs;
    await node.start(); // no-op
    expect(node.multiaddrs).toEqual(addrs);

    // A publish still waiting for peers ends when the node stops, not at its timeout.
    const waiting = node.publish(TOPIC, enc.encode("x"), { timeoutMs: 10_000 });
    await Promise.all([node.stop(), node.stop()]);
    await node.stop();
    expect((await within(rejection(waiting), "pending publish")).code).toBe(ErrorCode.NodeNotReady);
    expect(node.peers()).toEqual([]);
    expect(node.multiaddrs).toEqual([]);
    // The listener is closed (libp2p releases the handle on the next turn of the loop).
    await eventually(() => sockets() === 0, "the TCP listener to close");

    const notStarted = [
      node.publish(TOPIC, enc.encode("x")),
      node.request(node.peerId, "/test/echo/1", {}),
      node.dial(addrs[0] ?? ""),
      node.waitForTopicPeers(TOPIC, 1),
    ];
    for (const attempt of notStarted) {
      const e = await rejection(attempt);
      expect(e.code).toBe(ErrorCode.NodeNotReady);
      expect(e.message).toContain("start()");
    }
  });
});

/**
 * Polls a condition that has no event to await (gossipsub caches peer scores for one
 * heartbeat), failing the test after `ms`.
 */
async function eventually(condition: () => boolean, what: string, ms = WAIT_MS): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
