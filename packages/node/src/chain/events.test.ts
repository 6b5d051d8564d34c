import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ENIGMA_INTERFACE, decodeEvent, decodeEventGeneric, type RawLog } from "./events.js";

const fragment = ENIGMA_INTERFACE.getEvent("TaskRecordCreated");
if (fragment === null) throw new Error("no TaskRecordCreated in the ABI");
const hex = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const toHex = (b: Uint8Array) => `0x${Buffer.from(b).toString("hex")}`;
const logOf = (values: unknown[], upper = false): RawLog => {
  const { data, topics } = ENIGMA_INTERFACE.encodeEventLog(fragment, values);
  return {
    topics,
    data: upper ? `0x${data.slice(2).toUpperCase()}` : data,
    blockNumber: 7,
    index: 3,
    transactionHash: `0x${"AB".repeat(32)}`,
  };
};
const code = (f: () => unknown) => {
  try {
    return { value: f() };
  } catch (e) {
    return { code: (e as { code?: unknown }).code };
  }
};

describe("TaskRecordCreated decoding", () => {
  it("reads the words directly, exactly as the ABI decoder does", () => {
    fc.assert(
      fc.property(
        hex(32),
        hex(32),
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        hex(20),
        fc.bigInt({ min: 0n, max: (1n << 256n) - 1n }),
        fc.boolean(),
        (taskId, inputsHash, gasLimit, gasPx, sender, block, upper) => {
          const log = logOf(
            [toHex(taskId), toHex(inputsHash), gasLimit, gasPx, toHex(sender), block],
            upper,
          );
          const fast = decodeEvent(log);
          expect(fast).toEqual(decodeEventGeneric(log));
          expect(fast).toMatchObject({ type: "TaskRecordCreated", gasLimit, gasPx });
        },
      ),
      { numRuns: 100 },
    );
  });

  it("leaves any other shape to the ABI decoder and its checks", () => {
    const good = logOf([
      `0x${"11".repeat(32)}`,
      `0x${"22".repeat(32)}`,
      5n,
      6n,
      `0x${"33".repeat(20)}`,
      9n,
    ]);
    const word = (i: number, w: string) => ({
      ...good,
      data: `0x${good.data.slice(2, 2 + 64 * i)}${w}${good.data.slice(66 + 64 * i)}`,
    });
    const cases: RawLog[] = [
      word(2, "f".repeat(64)), // gasLimit past uint64
      word(4, "f".repeat(64)), // sender with high bytes
      { ...good, data: good.data.slice(0, -64) }, // a word short
      { ...good, data: `${good.data}${"00".repeat(32)}` }, // a word long
      { ...good, data: `${good.data.slice(0, -2)}zz` }, // not hex
      { ...good, topics: [...good.topics, `0x${"00".repeat(32)}`] }, // an extra topic
    ];
    for (const log of cases)
      expect(code(() => decodeEvent(log))).toEqual(code(() => decodeEventGeneric(log)));
  });
});
