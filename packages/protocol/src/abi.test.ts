import { AbiCoder, getBytes } from "ethers";
import { describe, expect, it } from "vitest";
import {
  decodeArgs,
  decodeValues,
  encodeArgs,
  encodeValues,
  parseFunctionSignature,
} from "./abi.js";
import { ErrorCode, isEnigmaError } from "./errors.js";
import { bytesToHex } from "./hex.js";
import { thrownCode } from "./testing.js";

describe("function signatures", () => {
  it("parses and canonicalises", () => {
    expect(parseFunctionSignature("add(uint256,uint256)")).toEqual({
      name: "add",
      types: ["uint256", "uint256"],
      signature: "add(uint256,uint256)",
    });
    expect(parseFunctionSignature(" add_millionaire( bytes32 , uint ) ").signature).toBe(
      "add_millionaire(bytes32,uint256)",
    );
    expect(parseFunctionSignature("compute_richest()").types).toEqual([]);
    expect(parseFunctionSignature("f((address,uint8)[2],string)").types).toEqual([
      "(address,uint8)[2]",
      "string",
    ]);
  });

  it("refuses what is not a signature, with a typed error", () => {
    for (const bad of [
      "",
      "add",
      "add(",
      "add(uint257)",
      "add(foo)",
      "1add(uint256)",
      "add(uint256",
    ]) {
      expect(
        thrownCode(() => parseFunctionSignature(bad)),
        bad,
      ).toBe(ErrorCode.InvalidFunctionSignature);
    }
  });
});

describe("ABI encode/decode", () => {
  const coder = AbiCoder.defaultAbiCoder();

  it("encodes like ethers' AbiCoder (Discovery's args: no selector)", () => {
    const enc = encodeArgs("add(uint256,uint256)", [24, 67n]);
    expect(bytesToHex(enc)).toBe(coder.encode(["uint256", "uint256"], [24, 67]));
    const b32 = "0x" + "11".repeat(32);
    const enc2 = encodeArgs("add_millionaire(bytes32,uint256)", [b32, "1000000"]);
    expect(enc2).toEqual(getBytes(coder.encode(["bytes32", "uint256"], [b32, 1000000n])));
  });

  it("round-trips outputs, with plain arrays and bigints", () => {
    const types = ["uint256", "address", "bytes", "string", "bool", "uint8[]", "(uint64,bytes32)"];
    const values = [
      5n,
      "0x627306090abaB3A6e1400e9345bC60c78a8BEf57",
      "0x0102",
      "héllo",
      true,
      [1n, 2n],
      [7n, "0x" + "ab".repeat(32)],
    ];
    const data = encodeValues(types, values);
    expect(decodeValues(types, data)).toEqual(values);
    expect(decodeArgs("f(uint256,bool)", encodeArgs("f(uint256,bool)", [1, false]))).toEqual([
      1n,
      false,
    ]);
  });

  it("names the argument that does not fit, and refuses bad data", () => {
    const e = (() => {
      try {
        encodeArgs("add(uint256,uint8)", [1, 300]);
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(isEnigmaError(e, ErrorCode.AbiEncodingFailed)).toBe(true);
    expect(isEnigmaError(e) && e.details.index).toBe(1);
    expect(thrownCode(() => encodeArgs("add(uint256,uint256)", [1]))).toBe(
      ErrorCode.AbiEncodingFailed,
    );
    expect(thrownCode(() => encodeArgs("add(uint256)", [-1]))).toBe(ErrorCode.AbiEncodingFailed);
    expect(thrownCode(() => encodeArgs("f(address)", ["0x1234"]))).toBe(
      ErrorCode.AbiEncodingFailed,
    );
    expect(thrownCode(() => encodeValues(["uint256"], [[1n, 2n]]))).toBe(
      ErrorCode.AbiEncodingFailed,
    );
    expect(thrownCode(() => decodeValues(["uint256", "uint256"], new Uint8Array(32)))).toBe(
      ErrorCode.AbiDecodingFailed,
    );
    expect(thrownCode(() => decodeValues(["uint999"], new Uint8Array(32)))).toBe(
      ErrorCode.InvalidFunctionSignature,
    );
  });
});
