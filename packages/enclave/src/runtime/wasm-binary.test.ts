import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Reader, WasmFormatError, Writer } from "./wasm-binary.js";

describe("LEB128", () => {
  it("u32 round-trips", () => {
    fc.assert(
      fc.property(fc.nat({ max: 0xffffffff }), (v) => {
        expect(new Reader(new Writer().u32(v).finish()).u32()).toBe(v);
      }),
    );
  });

  it("rejects over-long and out-of-range u32", () => {
    expect(() => new Reader(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x00)).u32()).toThrow(
      WasmFormatError,
    );
    expect(() => new Reader(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x7f)).u32()).toThrow(
      WasmFormatError,
    );
  });

  it("s64 writes what a signed reader reads back", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (v) => {
        const bytes = new Writer().s64(v).finish();
        let result = 0n;
        let shift = 0n;
        let i = 0;
        for (;;) {
          const b = bytes[i++] ?? 0;
          result |= BigInt(b & 0x7f) << shift;
          shift += 7n;
          if ((b & 0x80) !== 0) continue;
          if ((b & 0x40) !== 0) result -= 1n << shift;
          break;
        }
        expect(result).toBe(v);
        expect(i).toBe(bytes.length);
      }),
    );
  });
});
