// A node under hostile input, in one process (a chain, a principal, one worker+gateway):
// several hundred malformed JSON-RPC requests per method, and invalid gossip (garbage, a
// forged signature, a result signed by a worker that was not selected, an input for no task).
// Every bad request gets a JSON-RPC error, never an internal one; nothing is stored; the node
// keeps serving and still runs a real task afterwards.
import {
  bytesToHex,
  generateKeyPair,
  publicKeyToAddress,
  receiptBatchDigest,
  signDigest,
  type Hex,
} from "@enigma/protocol";
import { compileSecretContract, exampleSourcePath } from "@enigma/secret-contract";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TOPICS, encodeMessage, receiptOf, type TaskResult } from "./messages.js";
import type { EnigmaNode } from "./node.js";
import { P2PNetwork } from "./p2p/network.js";
import {
  TestClient,
  gossipRejects,
  startTestNet,
  waitFor,
  type TestNet,
} from "./testnet.fixture.js";

let net: TestNet;
let worker: EnigmaNode;
let url: string;
let scAddr: Hex;
let client: TestClient;

beforeAll(async () => {
  const calculator = (await compileSecretContract(exampleSourcePath("calculator"))).wasm;
  net = await startTestNet({ workers: 1 });
  const w = net.workers[0];
  if (w === undefined) throw new Error("no worker");
  worker = w;
  url = w.endpoints().rpcUrl ?? "";
  client = new TestClient(net, 10, url);
  const d = await client.deploy(calculator, "construct()", []);
  expect((await client.result(d)).status).toBe("SUCCESS");
  scAddr = d.taskId;
}, 120_000);

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- undefined when beforeAll failed
  await net?.stop();
}, 60_000);

/** One raw JSON-RPC call: the HTTP status and the parsed body. */
async function call(method: string, params: unknown): Promise<{ http: number; body: unknown }> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 7, method, params }),
  });
  return { http: res.status, body: (await res.json()) as unknown };
}

async function metric(name: string): Promise<number> {
  const lines = (await worker.metrics.text()).split("\n").filter((l) => l.startsWith(name));
  return lines.reduce((sum, l) => sum + Number(l.split(" ").at(-1)), 0);
}

const hex = (bytes: number) =>
  fc.uint8Array({ minLength: bytes, maxLength: bytes }).map(bytesToHex);
/** Values of every JSON type, including long and almost-hex strings. */
const junk = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.string({ maxLength: 80 }),
  fc.string({ minLength: 3_000, maxLength: 6_000 }),
  hex(32).map((h) => h.slice(0, -1)),
  hex(20).map((h) => `${h}zz`),
  fc.integer(),
  fc.constant(null),
);

/**
 * Params for `method`: any JSON at all, random keys, or the method's own keys with some
 * values swapped for junk (a valid value kept elsewhere, so validation goes deep).
 */
function hostileParams(valid: Record<string, unknown>): fc.Arbitrary<unknown> {
  const keys = Object.keys(valid);
  const anyJson = [
    junk,
    fc.dictionary(fc.string({ maxLength: 12 }), junk, { maxKeys: 6 }),
    fc.array(junk, { maxLength: 4 }),
  ];
  if (keys.length === 0) return fc.oneof(...anyJson);
  const mutated = fc
    .tuple(
      fc.nat({ max: keys.length - 1 }),
      ...keys.map((k) => fc.oneof(fc.constant(valid[k]), junk)),
    )
    .map(([forced, ...vs]) =>
      // At least one key (`forced`) carries junk: a sample is never the valid template.
      Object.fromEntries(keys.map((k, i) => [k, i === forced ? JUNK_MARK : vs[i]])),
    )
    .chain((p) =>
      junk
        .filter((j) => j !== valid[keys.find((k) => p[k] === JUNK_MARK) ?? ""])
        .map((j) =>
          Object.fromEntries(Object.entries(p).map(([k, v]) => [k, v === JUNK_MARK ? j : v])),
        ),
    );
  return fc.oneof(...anyJson, mutated);
}

const JUNK_MARK = Symbol("junk");

describe("a node under hostile input", () => {
  it("answers several hundred malformed requests per method with JSON-RPC errors, stores nothing, and keeps serving", async () => {
    const signer = (worker.signer ?? "").slice(2);
    const user = bytesToHex(generateKeyPair().publicKey).slice(2);
    const unknownTask = "ab".repeat(32);
    const valid: Record<string, Record<string, unknown>> = {
      getWorkerEncryptionKey: { workerAddress: signer, userPubKey: user },
      deploySecretContract: {
        workerAddress: signer,
        preCode: "H4sIAAAAAAAAA2NgYGBgBGIOBgYGAA==",
        encryptedArgs: "00",
        encryptedFn: "00",
        userDHKey: user,
        contractAddress: unknownTask,
      },
      sendTaskInput: {
        taskId: unknownTask,
        workerAddress: signer,
        encryptedFn: "00",
        encryptedArgs: "00",
        userDHKey: user,
        contractAddress: scAddr.slice(2),
      },
      getTaskStatus: { taskId: unknownTask, workerAddress: signer, withResult: true },
      getTaskResult: { taskId: unknownTask },
      getInfo: {},
    };
    const receivedBefore = await metric("enigma_tasks_received_total");
    let answered = 0;
    for (const [method, template] of Object.entries(valid)) {
      const samples = fc.sample(hostileParams(template), { numRuns: 300, seed: 24 });
      // Eight at a time: a burst, not a queue.
      for (let i = 0; i < samples.length; i += 8) {
        const replies = await Promise.all(samples.slice(i, i + 8).map((p) => call(method, p)));
        for (const [k, r] of replies.entries()) {
          const what = `${method}(${JSON.stringify(samples[i + k]).slice(0, 200)})`;
          expect(r.http, what).toBeLessThan(500);
          const body = r.body as { result?: unknown; error?: { code: unknown } };
          if (body.error !== undefined) {
            expect(typeof body.error.code, what).toBe("number");
            expect(body.error.code, what).not.toBe(-32603); // never an internal error
          } else {
            // Junk that happens to be valid (an empty getInfo, an unknown task's status).
            expect(body.result, what).toBeDefined();
          }
          answered += 1;
        }
      }
    }
    expect(answered).toBe(6 * 300);
    // Nothing was taken as a task input.
    expect(await metric("enigma_tasks_received_total")).toBe(receivedBefore);
    // Still serving: a real task runs and decrypts.
    const t = await client.compute(scAddr, "add(uint256,uint256)", [2n, 40n]);
    expect((await client.result(t)).status).toBe("SUCCESS");
  }, 120_000);

  it("rejects invalid gossip: garbage, a forged signature, a result signed by a worker not selected, an input for no task", async () => {
    const intruder = new P2PNetwork({});
    await intruder.start();
    const rejects = () => metric(`enigma_gossip_messages_total`);
    try {
      await intruder.dial(worker.endpoints().multiaddrs[0] ?? "");
      const t = await client.compute(scAddr, "add(uint256,uint256)", [1n, 2n]);
      expect((await client.result(t)).status).toBe("SUCCESS");
      const base: TaskResult = {
        taskId: t.taskId,
        contractAddress: scAddr,
        workerAddress: t.worker,
        inputsHash: `0x${"33".repeat(32)}`,
        prevDeltaHash: `0x${"00".repeat(32)}`,
        deltaIndex: 0,
        success: true,
        output: "0x00",
        delta: null,
        gasUsed: "1",
        ethCall: null,
        preCodeHash: null,
        codeHash: null,
        error: null,
        signature: `0x${"11".repeat(64)}1b`,
      } as unknown as TaskResult;
      // A well-formed result, validly signed, by a key that is not the selected worker's.
      const stranger = generateKeyPair();
      const strangerAddress = publicKeyToAddress(stranger.publicKey);
      const strangers = {
        ...base,
        // A task that is on chain (a result for a task with no record is ignored, not judged).
        workerAddress: strangerAddress,
      };
      const digest = receiptBatchDigest(net.chain.chainId, net.enigmaAddress, [
        receiptOf(strangers),
      ]);
      const signed = {
        ...strangers,
        signature: bytesToHex(signDigest(stranger.privateKey, digest)),
      };
      const messages: [string, string, Uint8Array][] = [
        ["garbage", TOPICS.results, new Uint8Array([0xde, 0xad, 0xbe, 0xef])],
        ["not a result", TOPICS.results, encodeMessage({ hello: "world" })],
        [
          "forged signature",
          TOPICS.results,
          encodeMessage({ ...base, taskId: `0x${"76".repeat(32)}` }),
        ],
        ["wrong signer", TOPICS.results, encodeMessage(signed)],
        ["garbage input", TOPICS.tasks, new Uint8Array([1, 2, 3])],
      ];
      for (const [what, topic, data] of messages) {
        const before = await gossipRejects(worker, topic);
        await intruder.publish(topic, data, { minPeers: 1, timeoutMs: 5_000 });
        await waitFor(
          async () => ((await gossipRejects(worker, topic)) > before ? true : undefined),
          `the ${what} message to be rejected`,
        );
      }
      expect(await rejects()).toBeGreaterThan(0);
      // Nothing of it was stored: the forged task is unknown here, and the real task keeps its
      // worker's result.
      expect(
        (await call("getTaskResult", { taskId: `0x${"76".repeat(32)}`.slice(2) })).body,
      ).toMatchObject({ result: { result: null } });
      const kept = (await call("getTaskStatus", {
        taskId: t.taskId.slice(2),
        workerAddress: t.worker.slice(2),
      })) as { body: { result: { result: { status: string } } } };
      expect(kept.body.result.result.status).toBe("SUCCESS");
      expect((await client.result(t)).status).toBe("SUCCESS");
    } finally {
      await intruder.stop();
    }
  }, 60_000);
});
