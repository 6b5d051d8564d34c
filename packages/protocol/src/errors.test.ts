import { describe, expect, it } from "vitest";
import { EnigmaError, ErrorCode, errorName, isEnigmaError } from "./errors.js";

describe("error catalog", () => {
  it("has unique, stable codes", () => {
    const codes = Object.values(ErrorCode);
    expect(new Set(codes).size).toBe(codes.length);
    expect(ErrorCode.InvalidArgument).toBe(100);
  });

  it("carries code, details and cause, and serialises for RPC", () => {
    const cause = new Error("low level");
    const e = new EnigmaError(ErrorCode.InvalidConfig, "epochBlocks must be >= 2", {
      details: { path: "epochBlocks" },
      cause,
    });
    expect(e.cause).toBe(cause);
    expect(e.name).toBe("EnigmaError(InvalidConfig)");
    expect(JSON.parse(JSON.stringify(e))).toEqual({
      code: 101,
      name: "InvalidConfig",
      message: "epochBlocks must be >= 2",
      details: { path: "epochBlocks" },
    });
  });

  it("is recognised by the guard across copies, not by shape alone", () => {
    const e = new EnigmaError(ErrorCode.RpcError, "x");
    expect(isEnigmaError(e)).toBe(true);
    expect(isEnigmaError(e, ErrorCode.RpcError)).toBe(true);
    expect(isEnigmaError(e, ErrorCode.ChainError)).toBe(false);
    // A look-alike from another copy of the module carries the registered brand symbol.
    const foreign = { code: 400, [Symbol.for("enigma.error")]: true };
    expect(isEnigmaError(foreign, ErrorCode.RpcError)).toBe(true);
    expect(isEnigmaError({ code: 400, message: "x" })).toBe(false);
    expect(isEnigmaError(null)).toBe(false);
  });

  it("refuses to name an unknown code", () => {
    expect(errorName(100)).toBe("InvalidArgument");
    expect(() => errorName(999 as ErrorCode)).toThrow(RangeError);
  });
});
