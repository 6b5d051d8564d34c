// `InputRedelivery.fetchInput` between real libp2p nodes: a node that needs one input outside
// admission (a deployment's pre-code, whose code it lacks) asks its peers, skips what its check
// refuses (a peer's forged copy) and takes the first it accepts.
import { bytesToHex, generateKeyPair, type Hex } from "@enigma/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TaskInput } from "../messages.js";
import { silentLogger } from "../observability.js";
import { P2PNetwork } from "../p2p/network.js";
import { InputRedelivery } from "./redelivery.js";

const ID: Hex = `0x${"ab".repeat(32)}`;
const input = (preCode: string): TaskInput => ({
  taskId: ID,
  contractAddress: ID,
  workerAddress: `0x${"11".repeat(20)}`,
  encryptedFn: "0x01",
  encryptedArgs: "0x02",
  userDHKey: bytesToHex(generateKeyPair().publicKey),
  preCode,
});
const GENUINE = input("Z2VudWluZQ==");
const FORGED = input("Zm9yZ2Vk");

/** A node that serves `held` (its store's inputs) and asks nothing itself. */
function server(p2p: P2PNetwork, held: TaskInput[]): InputRedelivery {
  return new InputRedelivery({
    p2p,
    store: {
      getMessage: (_kind: string, taskId: string) =>
        Promise.resolve(held.find((i) => i.taskId === taskId.toLowerCase())),
      getTask: () => Promise.resolve(undefined),
    },
    chain: {} as never,
    deliver: () => Promise.reject(new Error("not used")),
    hear: () => undefined,
    log: silentLogger(),
  });
}

const nets: P2PNetwork[] = [];
let asker: InputRedelivery;

beforeAll(async () => {
  const [honest, forger, empty, me] = [0, 1, 2, 3].map(() => new P2PNetwork());
  if (honest === undefined || forger === undefined || empty === undefined || me === undefined)
    throw new Error("no networks");
  nets.push(honest, forger, empty, me);
  await server(honest, [GENUINE]).serve();
  await server(forger, [FORGED]).serve();
  await server(empty, []).serve();
  for (const n of nets) await n.start();
  for (const n of [honest, forger, empty]) await me.dial(n.multiaddrs[0] ?? "");
  asker = server(me, []);
});

afterAll(async () => {
  for (const n of nets) await n.stop();
});

describe("InputRedelivery.fetchInput", () => {
  it("skips copies its check refuses and takes the first one it accepts", async () => {
    const seen: string[] = [];
    const ok = await asker.fetchInput(ID, (i) => {
      seen.push(i.preCode ?? "");
      return Promise.resolve(i.preCode === GENUINE.preCode);
    });
    expect(ok).toBe(true);
    expect(seen).toContain(GENUINE.preCode);
    // Asked no further once taken; the forged copy was offered at most once.
    expect(seen.filter((p) => p === FORGED.preCode).length).toBeLessThanOrEqual(1);
    expect(seen.at(-1)).toBe(GENUINE.preCode);
  });

  it("answers false when no peer has a copy it accepts", async () => {
    expect(await asker.fetchInput(ID, () => Promise.resolve(false))).toBe(false);
    const other: Hex = `0x${"cd".repeat(32)}`;
    let called = false;
    const ok = await asker.fetchInput(other, () => {
      called = true;
      return Promise.resolve(true);
    });
    expect([ok, called]).toEqual([false, false]);
  });
});
