// State values are canonicalised as serde_json 1.0.39 (Discovery's enclave) parsed and wrote them.
import { describe, expect, it } from "vitest";
import { JsonValueError, canonicalJson, formatF64 } from "./json-value.js";

const canon = (s: string) => canonicalJson(new TextEncoder().encode(s));

describe("canonicalJson (serde_json's Value round trip)", () => {
  it("sorts object keys by code point, drops whitespace, keeps the last of a repeated key", () => {
    expect(canon(' { "z" : 1 , "a" : [ true , false , null ] , "é" : {} , "a" : "x" } ')).toBe(
      '{"a":"x","z":1,"é":{}}',
    );
  });

  it("keeps u64 and i64 integers exact and prints other numbers as ryu does", () => {
    const cases: [string, string][] = [
      ["0", "0"],
      ["-0", "0"],
      ["-0.0", "-0.0"],
      ["2.0", "2.0"],
      ["2.50", "2.5"],
      ["1e2", "100.0"],
      ["1E-7", "1e-7"],
      ["0.1", "0.1"],
      ["0.001234", "0.001234"],
      ["123456.789", "123456.789"],
      ["1e16", "1e16"],
      ["1e15", "1000000000000000.0"],
      ["18446744073709551615", "18446744073709551615"],
      ["18446744073709551616", "1.8446744073709552e19"],
      ["-9223372036854775808", "-9223372036854775808"],
      ["-9223372036854775809", "-9.223372036854776e18"],
      ["123456789012345678901234567890", "1.2345678901234568e29"],
      ["1e-400", "0.0"],
      ["-1e-400", "-0.0"],
    ];
    for (const [input, out] of cases) expect(canon(input), input).toBe(out);
  });

  it("escapes strings as serde_json does and decodes escapes and surrogate pairs", () => {
    expect(canon('"a\\/b\\u00e9\\ud83d\\ude00\\n\\u001f\\"\\\\"')).toBe(
      '"a/bé😀\\n\\u001f\\"\\\\"',
    );
    expect(canon('"\\b\\f\\r\\t\\u0001"')).toBe('"\\b\\f\\r\\t\\u0001"');
  });

  it("refuses what serde_json refuses", () => {
    const bad = [
      "",
      "{",
      "nul",
      "[1,]",
      "01",
      "1.",
      "-",
      "1e",
      '"\\ud800"',
      '"\\udc00"',
      '"\\x"',
      '"a\u0001"',
      "1e400",
      "NaN",
      "1 2",
      "{1:2}",
      "[".repeat(129) + "]".repeat(129),
    ];
    for (const s of bad) expect(() => canon(s), s).toThrow(JsonValueError);
    expect(canon("[".repeat(128) + "]".repeat(128))).toBe("[".repeat(128) + "]".repeat(128));
    expect(() => canonicalJson(Uint8Array.of(0x22, 0xff, 0x22))).toThrow(JsonValueError);
  });

  it("formatF64 follows ryu's layout", () => {
    expect(formatF64(1234e7)).toBe("12340000000.0");
    expect(formatF64(12.34)).toBe("12.34");
    expect(formatF64(1e30)).toBe("1e30");
    expect(formatF64(1.234e33)).toBe("1.234e33");
    expect(formatF64(-1.5e-7)).toBe("-1.5e-7");
  });
});
