import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ErrorCode } from "@enigma/protocol";
import { thrownCode } from "@enigma/protocol/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ReceiptLog } from "./receipt-log.js";
import { Sealer } from "./sealing.js";

let dir: string;
let n = 0;
const sealer = new Sealer(new Uint8Array(32).fill(1));
const hash = (i: number) => new Uint8Array(32).fill(i);
const file = () => join(dir, `receipts-${++n}.sealed`);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "receipt-log-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("ReceiptLog", () => {
  it("remembers hashes across reopen, drops a torn last record, keeps the newest past its bound", () => {
    const f = file();
    const log = ReceiptLog.open(f, sealer, 8);
    for (let i = 1; i <= 5; i++) log.add(hash(i));
    appendFileSync(f, Uint8Array.of(0, 0, 0, 99, 1, 2)); // a crash while appending
    const again = ReceiptLog.open(f, sealer, 8);
    expect([1, 2, 3, 4, 5].every((i) => again.has(hash(i)))).toBe(true);
    expect(again.has(hash(6))).toBe(false);
    for (let i = 6; i <= 20; i++) again.add(hash(i));
    const last = ReceiptLog.open(f, sealer, 8);
    expect(last.has(hash(20))).toBe(true);
    expect(last.has(hash(1))).toBe(false);
    expect(last.size).toBeLessThanOrEqual(10);
  });

  it("refuses a log sealed on another platform or altered", () => {
    const f = file();
    ReceiptLog.open(f, sealer).add(hash(1));
    expect(thrownCode(() => ReceiptLog.open(f, new Sealer(new Uint8Array(32).fill(2))))).toBe(
      ErrorCode.SealedDataRejected,
    );
    const bytes = readFileSync(f);
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 1;
    writeFileSync(f, bytes);
    expect(thrownCode(() => ReceiptLog.open(f, sealer))).toBe(ErrorCode.SealedDataRejected);
  });
});
