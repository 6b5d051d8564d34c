import { describe, expect, it } from "vitest";
import { ErrorCode, isEnigmaError } from "./errors.js";
import { generateKeyPair, publicKeyToAddress } from "./keys.js";
import {
  RPC_METHODS,
  parseMessage,
  parseRpcParams,
  parseRpcResult,
  rpcRequestSchema,
  taskResultSchema,
  toRpcHex,
  type RpcMethod,
} from "./schemas.js";

const pub = toRpcHex(generateKeyPair().publicKey);
// enigma-js 0.3.0 sends the worker address lower-case without 0x.
const worker = publicKeyToAddress(generateKeyPair().publicKey).toLowerCase().slice(2);
const id32 = "ab".repeat(32);

function rejects(fn: () => unknown, code: number): string[] {
  try {
    fn();
  } catch (e) {
    if (!isEnigmaError(e) || e.code !== code) throw e;
    return (e.details.issues as { path: string }[]).map((i) => i.path);
  }
  throw new Error("accepted");
}

// Valid params exactly as enigma-js 0.3.0 sends them, and invalid variants with the path
// that must be reported.
const cases: Record<RpcMethod, { valid: unknown; invalid: [unknown, string][] }> = {
  getInfo: { valid: {}, invalid: [["x", ""]] },
  getWorkerEncryptionKey: {
    valid: { workerAddress: worker, userPubKey: pub },
    invalid: [
      [{ workerAddress: worker.slice(2), userPubKey: pub }, "workerAddress"],
      [{ workerAddress: worker, userPubKey: "00".repeat(64) }, "userPubKey"],
      [{ workerAddress: worker }, "userPubKey"],
    ],
  },
  deploySecretContract: {
    valid: {
      workerAddress: worker,
      preCode: "H4sIAAAAAAAAA2NgYGQAAAZ3AQQFAAAA",
      encryptedArgs: "0a0b",
      encryptedFn: "0x0c0d",
      userDHKey: pub,
      contractAddress: id32,
    },
    invalid: [
      [
        {
          workerAddress: worker,
          preCode: "not base64!",
          encryptedArgs: "",
          encryptedFn: "",
          userDHKey: pub,
          contractAddress: id32,
        },
        "preCode",
      ],
      [
        {
          workerAddress: worker,
          preCode: "AAAA",
          encryptedArgs: "abc",
          encryptedFn: "",
          userDHKey: pub,
          contractAddress: id32,
        },
        "encryptedArgs",
      ],
      [
        {
          workerAddress: worker,
          preCode: "AAAA",
          encryptedArgs: "",
          encryptedFn: "",
          userDHKey: pub,
          contractAddress: "ab",
        },
        "contractAddress",
      ],
    ],
  },
  sendTaskInput: {
    valid: {
      taskId: id32,
      workerAddress: worker,
      encryptedFn: "aa",
      encryptedArgs: "bb",
      userDHKey: pub,
      contractAddress: "0x" + id32,
    },
    invalid: [
      [
        {
          taskId: 5,
          workerAddress: worker,
          encryptedFn: "aa",
          encryptedArgs: "bb",
          userDHKey: pub,
          contractAddress: id32,
        },
        "taskId",
      ],
      [
        {
          taskId: id32,
          workerAddress: worker,
          encryptedFn: "aa",
          encryptedArgs: "bb".repeat(1024 * 1024 + 1),
          userDHKey: pub,
          contractAddress: id32,
        },
        "encryptedArgs",
      ],
    ],
  },
  getTaskStatus: {
    valid: { taskId: id32, workerAddress: worker, withResult: true },
    invalid: [[{ taskId: id32, workerAddress: worker, withResult: "yes" }, "withResult"]],
  },
  getTaskResult: { valid: { taskId: id32 }, invalid: [[{}, "taskId"]] },
};

describe("RPC params schemas", () => {
  for (const [method, c] of Object.entries(cases) as [RpcMethod, (typeof cases)[RpcMethod]][]) {
    it(`${method}: accepts enigma-js' form and rejects bad params with their path`, () => {
      expect(() => parseRpcParams(method, c.valid)).not.toThrow();
      for (const [bad, path] of c.invalid) {
        expect(rejects(() => parseRpcParams(method, bad), ErrorCode.InvalidRpcParams)).toContain(
          path,
        );
      }
    });
  }

  it("normalises hex to lower-case 0x and defaults withResult", () => {
    const p = parseRpcParams("getTaskStatus", {
      taskId: id32.toUpperCase(),
      workerAddress: worker,
    });
    expect(p).toEqual({ taskId: "0x" + id32, workerAddress: "0x" + worker, withResult: false });
    const q = parseRpcParams("getWorkerEncryptionKey", {
      workerAddress: "0x" + worker,
      userPubKey: "0x" + pub,
    });
    expect(q.userPubKey).toBe("0x" + pub);
  });

  it("refuses unknown methods", () => {
    expect(() => parseRpcParams("nope" as RpcMethod, {})).toThrow(/unknown RPC method/);
    expect(Object.keys(RPC_METHODS).sort()).toEqual(Object.keys(cases).sort());
  });
});

describe("RPC result schemas (Discovery's shapes, as enigma-js reads them)", () => {
  it("getWorkerEncryptionKey: the key and signature inside `result`", () => {
    const r = parseRpcResult("getWorkerEncryptionKey", {
      result: { workerEncryptionKey: pub, workerSig: "11".repeat(65) },
    });
    expect(r.result.workerSig).toBe("0x" + "11".repeat(65));
    expect(
      rejects(
        () =>
          parseRpcResult("getWorkerEncryptionKey", {
            result: { workerEncryptionKey: pub, workerSig: "11" },
          }),
        ErrorCode.InvalidRpcResult,
      ),
    ).toEqual(["result.workerSig"]);
    // The bare object (not Discovery's shape) is refused.
    rejects(
      () =>
        parseRpcResult("getWorkerEncryptionKey", {
          workerEncryptionKey: pub,
          workerSig: "11".repeat(65),
        }),
      ErrorCode.InvalidRpcResult,
    );
  });

  it("deploySecretContract and sendTaskInput answer { sendTaskResult }", () => {
    expect(parseRpcResult("sendTaskInput", { sendTaskResult: true }).sendTaskResult).toBe(true);
    expect(parseRpcResult("deploySecretContract", { sendTaskResult: true }).sendTaskResult).toBe(
      true,
    );
    rejects(() => parseRpcResult("sendTaskInput", true), ErrorCode.InvalidRpcResult);
  });

  it("getTaskStatus and getTaskResult results, with the five status strings", () => {
    for (const status of ["UNVERIFIED", "INPROGRESS", "SUCCESS", "FAILED", "ETHEREUMFAILURE"]) {
      expect(parseRpcResult("getTaskStatus", { result: { status } }).result.status).toBe(status);
    }
    expect(
      rejects(
        () => parseRpcResult("getTaskStatus", { result: { status: "DONE" } }),
        ErrorCode.InvalidRpcResult,
      ),
    ).toEqual(["result.status"]);
    const full = {
      taskId: id32,
      status: "SUCCESS",
      output: "abcd",
      delta: { key: 0, data: "0102" },
      usedGas: 12345,
      ethereumPayload: "",
      ethereumAddress: "00".repeat(20),
      signature: "22".repeat(65),
      preCodeHash: id32,
    };
    expect(parseRpcResult("getTaskResult", { result: full }).result?.delta).toEqual({
      key: 0,
      data: "0x0102",
    });
    expect(parseRpcResult("getTaskResult", { result: null }).result).toBeNull();
    const compute = parseRpcResult("getTaskResult", {
      result: { ...full, ethereumAddress: "", preCodeHash: "" },
    }).result;
    expect(compute?.ethereumAddress).toBeUndefined();
    expect(compute?.preCodeHash).toBeUndefined();
    expect(
      rejects(
        () => parseRpcResult("getTaskResult", { result: { ...full, usedGas: -1 } }),
        ErrorCode.InvalidRpcResult,
      ),
    ).toEqual(["result.usedGas"]);
    expect(
      rejects(
        () => parseMessage(taskResultSchema, { ...full, delta: { key: "a", data: "" } }, "result"),
        ErrorCode.InvalidMessage,
      ),
    ).toEqual(["delta.key"]);
  });

  it("JSON-RPC envelope", () => {
    expect(
      rpcRequestSchema.safeParse({ jsonrpc: "2.0", id: 1, method: "getInfo", params: {} }).success,
    ).toBe(true);
    expect(rpcRequestSchema.safeParse({ jsonrpc: "1.0", id: 1, method: "getInfo" }).success).toBe(
      false,
    );
    expect(rpcRequestSchema.safeParse({ jsonrpc: "2.0", id: 1, method: "" }).success).toBe(false);
  });
});
