// DeltaSync's catch-up with fakes of the chain, the store and the peers: a catch-up that no
// peer can serve is tried again by itself (a node that follows committed deltas by sync alone,
// the principal, must not stay behind until the contract's next commit), and a catch-up asked
// for while one runs is followed by one more.
import { bytesToHex, keccak256, type Hex } from "@enigma/protocol";
import { describe, expect, it } from "vitest";
import type { NodeContext } from "./context.js";
import { NodeMetrics, createLogger } from "./observability.js";
import { DeltaSync } from "./sync.js";

const C: Hex = `0x${"cc".repeat(32)}`;
const CODE = new TextEncoder().encode("code");
const delta = (i: number) => new TextEncoder().encode(`delta ${i}`);
const hashOf = (b: Uint8Array) => bytesToHex(keccak256(b));

/** A chain with `committed()` deltas of C, a store, and peers that serve while `serving()`. */
function setup(committed: () => number, serving: () => boolean) {
  const stored: { index: number; hash: Uint8Array; data: Uint8Array }[] = [];
  let code: Uint8Array | undefined;
  let requests = 0;
  const ctx = {
    chain: {
      getSecretContract: () => Promise.resolve({ codeHash: hashOf(CODE), deltaCount: committed() }),
      getStateDeltaHashes: (_c: string, from: number, to: number) =>
        Promise.resolve(Array.from({ length: to - from }, (_, k) => hashOf(delta(from + k)))),
    },
    store: {
      getCode: () => Promise.resolve(code === undefined ? undefined : { code }),
      putCode: (_c: string, c: Uint8Array) => {
        code = c;
        return Promise.resolve();
      },
      deltaCount: () => Promise.resolve(stored.length),
      getDeltas: (_c: string, from: number, to: number) => Promise.resolve(stored.slice(from, to)),
      putDeltas: (_c: string, ds: typeof stored) => {
        for (const d of ds) if (d.index === stored.length) stored.push(d);
        return Promise.resolve(ds.length);
      },
    },
    p2p: {
      peers: () => (serving() ? ["peer"] : []),
      handle: () => Promise.resolve(),
      request: (
        _peer: string,
        _p: string,
        req: { from: number; to: number; withCode: boolean },
      ) => {
        requests++;
        const deltas = [];
        for (let i = req.from; i < Math.min(req.to, committed()); i++) {
          deltas.push({ index: i, hash: hashOf(delta(i)), data: bytesToHex(delta(i)) });
        }
        return Promise.resolve({ code: req.withCode ? bytesToHex(CODE) : null, deltas });
      },
    },
    metrics: new NodeMetrics(),
    log: createLogger({ level: "silent", name: "sync-test" }),
  } as unknown as NodeContext;
  return { sync: new DeltaSync(ctx), stored, requests: () => requests };
}

async function until(probe: () => boolean, what: string, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!probe()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("DeltaSync.catchUp", () => {
  it("tries again by itself after a catch-up no peer could serve", async () => {
    let up = false;
    const t = setup(
      () => 3,
      () => up,
    );
    try {
      await expect(t.sync.catchUp(C)).rejects.toThrow(/could not fetch/);
      expect(t.stored).toHaveLength(0);
      up = true; // a peer is back: the retry (1 s later) catches up without being asked
      await until(() => t.stored.length === 3, "the retry to catch up");
      expect(t.stored.map((d) => d.index)).toEqual([0, 1, 2]);
    } finally {
      t.sync.stopRetries();
    }
  });

  it("runs once more when asked while a catch-up runs (the chain may have committed more)", async () => {
    let onChain = 2;
    const t = setup(
      () => onChain,
      () => true,
    );
    try {
      const first = t.sync.catchUp(C);
      onChain = 4; // committed while the first run was reading
      const second = t.sync.catchUp(C);
      await Promise.all([first, second]);
      expect(t.stored).toHaveLength(4);
    } finally {
      t.sync.stopRetries();
    }
  });
});
