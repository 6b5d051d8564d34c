import { describe, expect, it } from "vitest";
import { parseReturns, taskOptionsFromFlags } from "./task.js";

describe("task flags", () => {
  it("resolve gas, gas price and timeout", () => {
    expect(taskOptionsFromFlags({ gasLimit: "5000000", gasPx: "2", timeout: "30" })).toEqual({
      gasLimit: 5_000_000n,
      gasPx: 2n,
      timeoutMs: 30_000,
    });
    expect(() => taskOptionsFromFlags({ gasLimit: "0", gasPx: "1", timeout: "1" })).toThrow(
      /--gas-limit must be from 1/,
    );
    expect(() => taskOptionsFromFlags({ gasLimit: "1e6", gasPx: "1", timeout: "1" })).toThrow(
      /--gas-limit must be a whole number, got "1e6"/,
    );
    expect(() => taskOptionsFromFlags({ gasLimit: "1", gasPx: "1", timeout: "0" })).toThrow(
      /--timeout must be from 1 to 86400/,
    );
  });

  it("--returns: ABI types, canonicalised", () => {
    expect(parseReturns(undefined)).toBeUndefined();
    expect(parseReturns("uint")).toEqual(["uint256"]);
    expect(parseReturns("bool, address,bytes32")).toEqual(["bool", "address", "bytes32"]);
    expect(() => parseReturns("uint7")).toThrow(/--returns must be ABI types/);
  });
});
