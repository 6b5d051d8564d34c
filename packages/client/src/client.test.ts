import { ErrorCode } from "@enigma/protocol";
import { rejectedCode } from "@enigma/protocol/testing";
import { JsonRpcProvider, Wallet } from "ethers";
import { describe, expect, it } from "vitest";
import { EnigmaClient } from "./client.js";

const key = `0x${"11".repeat(32)}`;
// Never contacted: the constructor only validates and wires.
const provider = new JsonRpcProvider("http://127.0.0.1:1", 31337, { staticNetwork: true });
const base = {
  enigmaAddress: `0x${"22".repeat(20)}`,
  tokenAddress: `0x${"33".repeat(20)}`,
  nodeUrl: "http://127.0.0.1:3346",
};

describe("EnigmaClient configuration", () => {
  it("needs a trust root and a policy unless verification is explicitly off", async () => {
    const signer = new Wallet(key, provider);
    expect(
      await rejectedCode(Promise.resolve().then(() => new EnigmaClient({ ...base, signer }))),
    ).toBe(ErrorCode.InvalidConfig);
    expect(() => new EnigmaClient({ ...base, signer, verifyWorker: false })).not.toThrow();
  });

  it("validates the trust root and policy once, at construction", async () => {
    const signer = new Wallet(key, provider);
    const bad = () =>
      new EnigmaClient({
        ...base,
        signer,
        trustRoot: { modulus: "0x01", exponent: "0x010001" },
        attestationPolicy: {
          acceptedStatuses: ["OK"],
          allowDebug: false,
          mrenclaves: "any",
          mrsigners: "any",
          minIsvSvn: 0,
        },
      });
    expect(await rejectedCode(Promise.resolve().then(bad))).toBe(ErrorCode.InvalidTrustRoot);
  });

  it("refuses a signer without a provider and a node URL that is not http(s)", async () => {
    const detached = new Wallet(key);
    expect(
      await rejectedCode(
        Promise.resolve().then(
          () => new EnigmaClient({ ...base, signer: detached, verifyWorker: false }),
        ),
      ),
    ).toBe(ErrorCode.InvalidConfig);
    const signer = new Wallet(key, provider);
    expect(
      await rejectedCode(
        Promise.resolve().then(
          () => new EnigmaClient({ ...base, signer, verifyWorker: false, nodeUrl: "ws://x" }),
        ),
      ),
    ).toBe(ErrorCode.InvalidArgument);
  });
});

describe("EnigmaClient task options", () => {
  it("refuses a groupMember that is not a group index before any chain request", () => {
    const signer = new Wallet(key, provider);
    const client = new EnigmaClient({ ...base, signer, verifyWorker: false });
    const sc = `0x${"44".repeat(32)}`;
    for (const groupMember of [-1, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER + 1]) {
      let code: unknown;
      try {
        client.computeTask(sc, "f()", [], { gasLimit: 1n, groupMember });
      } catch (e) {
        code = (e as { code?: unknown }).code;
      }
      expect(code, `groupMember ${groupMember}`).toBe(ErrorCode.InvalidArgument);
    }
    client.close();
  });
});
