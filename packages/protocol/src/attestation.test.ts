import { describe, expect, it } from "vitest";
import { decodeQuote, encodeQuote, QUOTE_BYTES, type QuoteFields } from "./attestation.js";

const fields: QuoteFields = {
  version: 2,
  signType: 1,
  debug: true,
  mrenclave: new Uint8Array(32).fill(0xaa),
  mrsigner: new Uint8Array(32).fill(0xbb),
  isvProdId: 7,
  isvSvn: 0x0102,
  reportData: new Uint8Array(64).fill(0xcc),
};

describe("quote layout", () => {
  it("puts each field at SGX's offset, little-endian", () => {
    const q = encodeQuote(fields);
    expect(q.length).toBe(QUOTE_BYTES);
    expect(q[96]).toBe(0x02); // attributes.flags DEBUG
    expect(q.slice(112, 144).every((b) => b === 0xaa)).toBe(true);
    expect(q.slice(176, 208).every((b) => b === 0xbb)).toBe(true);
    expect([q[304], q[305]]).toEqual([7, 0]);
    expect([q[306], q[307]]).toEqual([0x02, 0x01]);
    expect(q.slice(368, 432).every((b) => b === 0xcc)).toBe(true);
  });

  it("round-trips, and zero-pads short report data", () => {
    expect(decodeQuote(encodeQuote(fields))).toEqual(fields);
    const short = decodeQuote(
      encodeQuote({ ...fields, debug: false, reportData: Uint8Array.of(1, 2, 3) }),
    );
    expect(short.debug).toBe(false);
    expect(short.reportData.slice(0, 4)).toEqual(Uint8Array.of(1, 2, 3, 0));
  });

  it("rejects wrong sizes and out-of-range integers", () => {
    expect(() => decodeQuote(new Uint8Array(431))).toThrow(/432 bytes/);
    expect(() => encodeQuote({ ...fields, mrenclave: new Uint8Array(31) })).toThrow(
      /mrenclave must be 32 bytes/,
    );
    expect(() => encodeQuote({ ...fields, isvSvn: 70_000 })).toThrow(/uint16/);
    expect(() => encodeQuote({ ...fields, reportData: new Uint8Array(65) })).toThrow(/at most 64/);
  });
});
