import { describe, expect, it } from "vitest";
import type { Hex } from "@enigma/protocol";
import type { RecordInfo } from "../context.js";
import { RecordBook } from "./record-book.js";

const id = (n: number): Hex => `0x${n.toString(16).padStart(64, "0")}`;
const record = (n: number): RecordInfo => ({
  taskId: id(n),
  inputsHash: id(2_000_000 + n),
  gasLimit: 1_000_000n,
  gasPx: 1n,
  sender: `0x${"ab".repeat(20)}`,
  blockNumber: n,
  logIndex: 0,
  seenAt: 0,
});

describe("RecordBook", () => {
  it("keeps pending records up to its bound and only the newest settled ones", () => {
    const book = new RecordBook(100, 10);
    for (let n = 1; n <= 50; n++) book.add(record(n));
    for (let n = 1; n <= 40; n++) book.settle(id(n));
    // 10 pending (41-50) and the 10 newest settled (31-40): a long run settles every task, and
    // the book stays at the bound of what it needs instead of growing to `max`.
    expect(book.size).toBe(20);
    expect(book.settledSize).toBe(10);
    expect(book.get(id(30))).toBeUndefined();
    expect(book.get(id(31))).toMatchObject({ pending: false });
    expect(book.get(id(41))).toMatchObject({ pending: true });
  });

  it("stays bounded over many tasks, pending or settled", () => {
    const book = new RecordBook(1_000, 100);
    for (let n = 1; n <= 20_000; n++) {
      book.add(record(n));
      // Settled a few tasks later, as receipts come.
      if (n > 5) book.settle(id(n - 5));
    }
    expect(book.size).toBe(105);
    expect(book.settledSize).toBe(100);
    // Without settlements, the oldest pending records go first.
    const full = new RecordBook(1_000, 100);
    for (let n = 1; n <= 5_000; n++) full.add(record(n));
    expect(full.size).toBe(1_000);
    expect(full.get(id(4_001))).toMatchObject({ pending: true });
  });

  it("counts a record read as settled among the settled ones", () => {
    const book = new RecordBook(100, 2);
    book.add(record(1), false, false);
    book.add(record(2), false, false);
    book.add(record(3), false, false);
    expect(book.size).toBe(2);
    expect(book.get(id(1))).toBeUndefined();
    expect(book.get(id(3))).toMatchObject({ pending: false, exact: false });
  });
});
