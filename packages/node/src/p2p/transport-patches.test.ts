import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { P2PNetwork } from "./network.js";

// Two transport packages are patched (pnpm-workspace.yaml `patchedDependencies`), for the CPU
// a gossiping node spends per message:
// - @libp2p/tcp corks a connection's socket until the next tick, so that a tick's chunks leave
//   in one write syscall: a noise frame alone is two chunks (its length, its ciphertext).
// - @libp2p/utils' length-prefixed decoder stops at an empty buffer instead of asking noise's
//   length decoder, which threw a RangeError (a stack trace captured) after nearly every chunk.
// Both tests fail on the unpatched packages: every chunk was its own syscall, and the
// RangeErrors were about one per message received.

const topic = "enigma/test/transport/1";
const MESSAGES = 40;

type Method = (this: unknown, ...args: unknown[]) => unknown;

/** Counts calls of `proto[name]` while `work` runs, then restores it. */
async function counting(
  proto: object,
  names: readonly string[],
  work: () => Promise<void>,
): Promise<Record<string, number>> {
  const target = proto as Record<string, Method>;
  const counts: Record<string, number> = {};
  const originals = names.map((name) => {
    const original = target[name];
    if (typeof original !== "function") throw new Error(`${name} is not a method to count`);
    counts[name] = 0;
    target[name] = function (this: unknown, ...args: unknown[]) {
      counts[name] = (counts[name] ?? 0) + 1;
      return original.apply(this, args);
    };
    return original;
  });
  try {
    await work();
  } finally {
    names.forEach((name, i) => {
      target[name] = originals[i] as Method;
    });
  }
  return counts;
}

describe("transport patches (gossip between two nodes)", () => {
  let a: P2PNetwork;
  let b: P2PNetwork;
  let received = 0;
  let onReceived: (() => void) | undefined;

  beforeAll(async () => {
    a = new P2PNetwork();
    await a.start();
    b = new P2PNetwork({ bootstrap: a.multiaddrs.slice(0, 1) });
    await b.start();
    for (const n of [a, b]) {
      n.subscribe(
        topic,
        () => "accept",
        () => {
          received++;
          onReceived?.();
        },
      );
    }
    await a.waitForTopicPeers(topic, 1, 10_000);
    await b.waitForTopicPeers(topic, 1, 10_000);
  });

  afterAll(async () => {
    await b.stop();
    await a.stop();
  });

  /** Publishes MESSAGES messages, from both nodes in turn, and waits until each is delivered. */
  async function exchange(): Promise<void> {
    const target = received + MESSAGES;
    const delivered = new Promise<void>((resolve) => {
      onReceived = () => {
        if (received >= target) resolve();
      };
    });
    for (let i = 0; i < MESSAGES; i++) {
      const data = new Uint8Array(512);
      crypto.getRandomValues(data);
      await (i % 2 === 0 ? a : b).publish(topic, data);
    }
    await delivered;
    onReceived = undefined;
  }

  it("sends a tick's chunks in one write syscall", async () => {
    const counts = await counting(net.Socket.prototype, ["write", "_writeGeneric"], exchange);
    // Each message: a noise frame of two chunks at least; _writeGeneric is one syscall (a
    // write or a writev).
    expect(counts["write"]).toBeGreaterThanOrEqual(2 * MESSAGES);
    expect(counts["_writeGeneric"]).toBeLessThanOrEqual((counts["write"] ?? 0) / 2);
  });

  it("reads noise frames without throwing a RangeError per chunk", async () => {
    const Original = globalThis.RangeError;
    const before = received;
    let thrown = 0;
    globalThis.RangeError = new Proxy(Original, {
      apply(target, self, args: unknown[]) {
        if (String(args[0]).includes("int16BE")) thrown++;
        return Reflect.apply(target, self, args) as RangeError;
      },
      construct(target, args: unknown[], newTarget) {
        if (String(args[0]).includes("int16BE")) thrown++;
        return Reflect.construct(target, args, newTarget) as RangeError;
      },
    });
    try {
      await exchange();
    } finally {
      globalThis.RangeError = Original;
    }
    expect(received - before).toBe(MESSAGES);
    expect(thrown).toBe(0);
  });
});
