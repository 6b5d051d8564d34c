// The results held while their delta waits for the one before it: taken in index order, one
// per index, bounded in entries and bytes.
import { bytesToHex, keccak256, type Hex } from "@enigma/protocol";
import { describe, expect, it } from "vitest";
import type { TaskResult } from "../messages.js";
import { AheadResults } from "./ahead-results.js";
import { resultLike } from "./results.fixture.js";

const C: Hex = `0x${"cc".repeat(32)}`;
const D: Hex = `0x${"dd".repeat(32)}`;

function result(contract: Hex, index: number, dataBytes = 4, tag = 0): TaskResult {
  const data: Hex = `0x${(index + tag * 1000).toString(16).padStart(dataBytes * 2, "0")}`;
  const taskId = bytesToHex(keccak256(new TextEncoder().encode(`${contract}:${index}:${tag}`)));
  return resultLike(taskId, contract, index, data);
}

describe("AheadResults", () => {
  it("gives back the result at the next index of its own contract, once", () => {
    const ahead = new AheadResults();
    const r3 = result(C, 3);
    ahead.hold(r3);
    ahead.hold(result(D, 3));
    expect(ahead.take(C, 2)).toBeUndefined();
    expect(ahead.take(C, 3)).toBe(r3);
    expect(ahead.take(C, 3)).toBeUndefined();
    expect(ahead.size).toBe(1);
  });

  it("keeps the first result held at an index (a second one there is a fork)", () => {
    const ahead = new AheadResults();
    const first = result(C, 5, 4, 1);
    ahead.hold(first);
    ahead.hold(result(C, 5, 4, 2));
    expect(ahead.take(C, 5)).toBe(first);
  });

  it("drops the entry an index below the one taken (filled by another path)", () => {
    const ahead = new AheadResults();
    ahead.hold(result(C, 4));
    ahead.hold(result(C, 6));
    expect(ahead.take(C, 5)).toBeUndefined(); // 4 was filled by a peer's answer meanwhile
    expect(ahead.size).toBe(1);
    expect(ahead.take(C, 6)?.delta?.index).toBe(6);
  });

  it("holds no result without a delta", () => {
    const ahead = new AheadResults();
    ahead.hold({ ...result(C, 1), delta: null });
    expect(ahead.size).toBe(0);
  });

  it("drops the oldest past its bounds in entries and in delta bytes", () => {
    const few = new AheadResults({ maxResults: 2 });
    for (const i of [1, 2, 3]) few.hold(result(C, i));
    expect(few.size).toBe(2);
    expect(few.take(C, 1)).toBeUndefined();
    expect(few.take(C, 3)?.delta?.index).toBe(3);

    // Two 1 KiB deltas fit in 5,000 hex characters, a third does not.
    const small = new AheadResults({ maxHexChars: 5_000 });
    for (const i of [1, 2, 3]) small.hold(result(D, i, 1024));
    expect(small.size).toBe(2);
    expect(small.take(D, 1)).toBeUndefined();
    expect(small.take(D, 2)?.delta?.index).toBe(2);
  });
});
