import { describe, expect, it } from "vitest";
import { BlockPacer, type PacedChain } from "./pacer.js";

/** A chain whose head moves when it mines or when a "transaction" lands. */
function fakeChain(): PacedChain & { head: number; mines: number[] } {
  const c = {
    head: 0,
    mines: [] as number[],
    blockNumber: () => Promise.resolve(c.head),
    mine: (n: number) => {
      c.mines.push(n);
      c.head += n;
      return Promise.resolve();
    },
  };
  return c;
}

describe("BlockPacer", () => {
  it("mines an empty block only when the chain was idle for the pace", async () => {
    let now = 0;
    const chain = fakeChain();
    const pacer = new BlockPacer({ chain, paceMs: 400, now: () => now }); // tick 100 ms
    await pacer.tick(); // sees block 0
    now = 250;
    await pacer.tick();
    expect(chain.mines).toEqual([]);
    // Idle 300 ms: the next look (at 400) would be too late, so it mines now.
    now = 300;
    await pacer.tick();
    expect(chain.mines).toEqual([1]);
    // A busy chain gets nothing: a transaction's block every 200 ms.
    for (let i = 0; i < 10; i++) {
      now += 200;
      chain.head++;
      await pacer.tick();
    }
    expect(chain.mines).toEqual([1]);
    expect(pacer.mined).toBe(1);
  });

  it("keeps any pace: faster than its tick, it mines what is owed at once", async () => {
    let now = 0;
    const chain = fakeChain();
    // 1,000-block epochs in 5 s: a block every 5 ms, looked at every 25 ms.
    const pacer = new BlockPacer({ chain, paceMs: 5, now: () => now });
    await pacer.tick();
    for (let t = 25; t <= 1000; t += 25) {
      now = t;
      await pacer.tick();
    }
    // 200 blocks a second (give or take the first tick's head start).
    expect(chain.head).toBeGreaterThanOrEqual(200);
    expect(chain.head).toBeLessThanOrEqual(215);
  });

  it("runs on a timer until stopped, and refuses a pace that is not positive", async () => {
    const chain = fakeChain();
    const pacer = new BlockPacer({ chain, paceMs: 40 });
    pacer.start();
    await new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (chain.head >= 3) {
          clearInterval(check);
          resolve();
        }
      }, 10);
    });
    await pacer.stop();
    const head = chain.head;
    await new Promise((r) => setTimeout(r, 120));
    expect(chain.head).toBe(head);
    expect(() => new BlockPacer({ chain, paceMs: 0 })).toThrow(RangeError);
  });
});
