import { randomBytes } from "node:crypto";
import { keccak256 as ethersKeccak, solidityPackedKeccak256 } from "ethers";
import { describe, expect, it } from "vitest";
import { deploymentInputsHash, inputsHash } from "./inputs.js";
import { bytesToHex } from "./hex.js";

// Independent implementation: abi.encodePacked(uint64 len, bytes item, ...) through ethers.
function reference(items: Uint8Array[]): string {
  return solidityPackedKeccak256(
    items.flatMap(() => ["uint64", "bytes"]),
    items.flatMap((b) => [b.length, b]),
  );
}

describe("inputsHash", () => {
  it("is keccak256 of u64be(len) || bytes for the four items, as ethers computes it", () => {
    for (const lens of [
      [0, 0, 32, 64],
      [48, 93, 32, 64],
      [1, 1000, 32, 64],
    ]) {
      const items = lens.map((n) => new Uint8Array(randomBytes(n)));
      const [fn, args, addr, pub] = items as [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
      expect(inputsHash(fn, args, addr, pub)).toBe(reference(items));
      // Hex with and without 0x, as Discovery's client sends it, gives the same hash.
      expect(
        inputsHash(
          bytesToHex(fn),
          bytesToHex(args).slice(2),
          bytesToHex(addr),
          bytesToHex(pub).slice(2),
        ),
      ).toBe(reference(items));
    }
  });

  it("known answer: a fixed vector", () => {
    const fn = Uint8Array.of(1, 2, 3);
    const args = new Uint8Array(0);
    const addr = new Uint8Array(32).fill(0xab);
    const pub = new Uint8Array(64).fill(0x01);
    const preimage =
      "0x0000000000000003010203" +
      "0000000000000000" +
      "0000000000000020" +
      "ab".repeat(32) +
      "0000000000000040" +
      "01".repeat(64);
    expect(inputsHash(fn, args, addr, pub)).toBe(ethersKeccak(preimage));
  });

  it("known answer from enigma-js 0.3.0 (utils.hash)", () => {
    expect(inputsHash("0102", "", "ab".repeat(32), "01".repeat(64))).toBe(
      "0x4d5bc0afe22e728dd708949e875deeea7e66f065f62f674fe2a795f24325d918",
    );
  });

  it("for a deployment, uses keccak256(preCode) as the third item", () => {
    const preCode = new Uint8Array(randomBytes(500));
    const fn = new Uint8Array(randomBytes(40));
    const args = new Uint8Array(randomBytes(80));
    const pub = new Uint8Array(randomBytes(64));
    const codeHash = ethersKeccak(preCode);
    expect(deploymentInputsHash(fn, args, preCode, pub)).toBe(inputsHash(fn, args, codeHash, pub));
    expect(deploymentInputsHash(fn, args, preCode, pub)).toBe(
      reference([fn, args, new Uint8Array(Buffer.from(codeHash.slice(2), "hex")), pub]),
    );
  });

  it("rejects malformed hex", () => {
    expect(() => inputsHash("0xzz", "", "", "")).toThrow(/encryptedFn/);
  });
});
