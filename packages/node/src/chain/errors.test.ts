import { ENIGMA_ABI, ErrorCode } from "@enigma/protocol";
import { Interface } from "ethers";
import { describe, expect, it } from "vitest";
import { decodeRevert, toChainError } from "./errors.js";

const ENIGMA = new Interface(ENIGMA_ABI);

describe("decodeRevert", () => {
  it("reads Discovery's wrong-epoch reason string as WrongEpoch (catalog 211), and custom errors by name", () => {
    const data = ENIGMA.encodeErrorResult("Error", ["Wrong epoch for this task"]);
    expect(decodeRevert(data)).toEqual({
      name: "WrongEpoch",
      args: { arg0: "Wrong epoch for this task" },
    });
    const e = toChainError(Object.assign(new Error("reverted"), { data }), {
      operation: "createTaskRecord",
      endpoint: "http://127.0.0.1:8545",
    });
    expect(e.code).toBe(ErrorCode.WrongEpoch);
    const base = ENIGMA.encodeErrorResult("DeltaBaseMismatch", [
      `0x${"11".repeat(32)}`,
      2n,
      `0x${"22".repeat(32)}`,
    ]);
    expect(decodeRevert(base)?.name).toBe("DeltaBaseMismatch");
    expect(decodeRevert(ENIGMA.encodeErrorResult("Error", ["another reason"]))).toBeUndefined();
  });
});
