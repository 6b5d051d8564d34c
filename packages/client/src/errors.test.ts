import { ENIGMA_ABI, EnigmaError, ErrorCode, isEnigmaError } from "@enigma/protocol";
import { Interface } from "ethers";
import { describe, expect, it } from "vitest";
import { fromChainError, fromRpcError } from "./errors.js";

const ENIGMA = new Interface(ENIGMA_ABI);

// What ethers v6 throws for a reverted call: a CALL_EXCEPTION carrying the revert data,
// sometimes nested under `error`/`info` by the provider.
function callException(data: string, nested = false): Error {
  const e = new Error("execution reverted (unknown custom error)") as Error & {
    code: string;
    data?: string;
    info?: unknown;
  };
  e.code = "CALL_EXCEPTION";
  if (nested) e.info = { error: { data } };
  else e.data = data;
  return e;
}

describe("fromChainError", () => {
  it("maps the Enigma contract's custom errors to catalog codes with their arguments", () => {
    const data = ENIGMA.encodeErrorResult("GasPriceTooLow", [0n, 1n]);
    const e = fromChainError(callException(data), "createTaskRecord");
    expect(e.code).toBe(ErrorCode.GasPriceTooLow);
    expect(e.message).toBe("createTaskRecord reverted: GasPriceTooLow");
    expect(e.details).toMatchObject({ error: "GasPriceTooLow", args: { gasPx: "0", min: "1" } });
  });

  it("reads Discovery's wrong-epoch reason string as the typed WrongEpoch; other reasons stay ChainError", () => {
    const data = ENIGMA.encodeErrorResult("Error", ["Wrong epoch for this task"]);
    const e = fromChainError(callException(data), "createTaskRecord");
    expect(e.code).toBe(ErrorCode.WrongEpoch);
    expect(e.message).toBe("createTaskRecord reverted: WrongEpoch");
    expect(fromChainError(callException(data, true), "x").code).toBe(ErrorCode.WrongEpoch);
    const other = ENIGMA.encodeErrorResult("Error", ["something else"]);
    expect(fromChainError(callException(other), "x").code).toBe(ErrorCode.ChainError);
  });

  it("finds revert data nested in the provider's error", () => {
    const data = ENIGMA.encodeErrorResult("NonceMismatch", [3n, 2n]);
    expect(fromChainError(callException(data, true), "x").code).toBe(ErrorCode.TaskNonceMismatch);
    const notDeployed = ENIGMA.encodeErrorResult("SecretContractNotDeployed", [
      `0x${"11".repeat(32)}`,
    ]);
    expect(fromChainError(callException(notDeployed), "x").code).toBe(
      ErrorCode.SecretContractNotDeployed,
    );
  });

  it("reports unknown reverts and transport failures as ChainError, and passes EnigmaErrors", () => {
    expect(fromChainError(callException("0xdeadbeef"), "x").code).toBe(ErrorCode.ChainError);
    expect(fromChainError(new Error("socket hang up"), "approve").message).toBe(
      "approve failed: socket hang up",
    );
    const own = new EnigmaError(ErrorCode.NoEpoch, "no epoch");
    expect(fromChainError(own, "x")).toBe(own);
  });
});

describe("fromRpcError", () => {
  const rpcError = (rpcCode: number) =>
    new EnigmaError(ErrorCode.RpcError, "sendTaskInput failed: nope", {
      details: { method: "sendTaskInput", rpcCode },
    });

  it("re-raises a node's catalog code as that error", () => {
    for (const code of [
      ErrorCode.WorkerNotSelected,
      ErrorCode.InputsHashMismatch,
      ErrorCode.SecretContractNotDeployed,
    ]) {
      const e = fromRpcError(rpcError(code));
      expect(isEnigmaError(e, code)).toBe(true);
    }
  });

  it("keeps JSON-RPC's own codes as RpcError and leaves other errors alone", () => {
    expect(isEnigmaError(fromRpcError(rpcError(-32602)), ErrorCode.RpcError)).toBe(true);
    expect(isEnigmaError(fromRpcError(rpcError(99_999)), ErrorCode.RpcError)).toBe(true);
    const plain = new Error("x");
    expect(fromRpcError(plain)).toBe(plain);
  });
});
