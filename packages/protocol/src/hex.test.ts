import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { ErrorCode, isEnigmaError } from "./errors.js";
import { bytesToHex, hexToBytes } from "./hex.js";

describe("hex", () => {
  it("round-trips any bytes, with or without 0x and in either case", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const hex = bytesToHex(bytes);
        expect(hex).toBe(`0x${Buffer.from(bytes).toString("hex")}`);
        expect(hexToBytes(hex)).toEqual(bytes);
        expect(hexToBytes(hex.slice(2).toUpperCase())).toEqual(bytes);
      }),
      { seed: 7 },
    );
  });

  it("refuses odd length and non-hex characters, naming the value", () => {
    for (const bad of ["0x1", "abc", "0xzz", "0x0g", "xx00", "0x 0", "0xé0", "0X00"]) {
      let err: unknown;
      try {
        hexToBytes(bad, "taskId");
      } catch (e) {
        err = e;
      }
      expect(isEnigmaError(err, ErrorCode.InvalidArgument), bad).toBe(true);
      expect((err as Error).message).toMatch(/^taskId must be/);
    }
    expect(hexToBytes("0x")).toEqual(new Uint8Array());
    expect(hexToBytes("")).toEqual(new Uint8Array());
  });
});
