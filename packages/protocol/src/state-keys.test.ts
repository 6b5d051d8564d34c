import { keccak256 as ethersKeccak, solidityPacked } from "ethers";
import { describe, expect, it } from "vitest";
import { bytesToHex } from "./hex.js";
import { generateKeyPair } from "./keys.js";
import {
  stateKeyRequestDigest,
  stateKeyRequestSchema,
  stateKeyResponseDigest,
  stateKeyResponseSchema,
} from "./state-keys.js";

const kx = generateKeyPair().publicKey;
const a = "0x" + "aa".repeat(32);
const b = "0x" + "bb".repeat(32);

describe("state-key messages", () => {
  it("request digest: framed tag, key and addresses (checked with ethers)", () => {
    const expected = ethersKeccak(
      solidityPacked(
        ["uint64", "string", "uint64", "bytes", "uint64", "bytes32", "uint64", "bytes32"],
        [24, "Enigma State Key Request", 64, kx, 32, a, 32, b],
      ),
    );
    expect(bytesToHex(stateKeyRequestDigest(kx, [a, b]))).toBe(expected);
    expect(stateKeyRequestDigest(kx, [b, a])).not.toEqual(stateKeyRequestDigest(kx, [a, b]));
  });

  it("response digest covers recipient, principal key and each (address, encrypted key)", () => {
    const base = {
      recipient: "0x" + "11".repeat(20),
      principalKeyExchangePublicKey: bytesToHex(kx),
      keys: [{ contractAddress: a, encryptedKey: "0x" + "cc".repeat(60) }],
    } as const;
    const d = stateKeyResponseDigest(base);
    expect(stateKeyResponseDigest({ ...base, recipient: "0x" + "12".repeat(20) })).not.toEqual(d);
    expect(
      stateKeyResponseDigest({
        ...base,
        keys: [{ contractAddress: b, encryptedKey: "0x" + "cc".repeat(60) }],
      }),
    ).not.toEqual(d);
  });

  it("schemas accept well-formed messages and refuse bad ones", () => {
    const req = {
      attestation: { report: "{}", signature: "0x00" },
      keyExchangePublicKey: bytesToHex(kx).slice(2),
      contractAddresses: [a],
      signature: "0x" + "00".repeat(65),
    };
    expect(stateKeyRequestSchema.safeParse(req).success).toBe(true);
    expect(stateKeyRequestSchema.safeParse({ ...req, contractAddresses: [] }).success).toBe(false);
    expect(
      stateKeyRequestSchema.safeParse({ ...req, keyExchangePublicKey: "00".repeat(64) }).success,
    ).toBe(false);
    const res = {
      principal: "0x" + "11".repeat(20),
      principalKeyExchangePublicKey: bytesToHex(kx),
      recipient: "0x" + "22".repeat(20),
      keys: [{ contractAddress: a, encryptedKey: "0x" + "cc".repeat(60) }],
      signature: "0x" + "00".repeat(65),
    };
    expect(stateKeyResponseSchema.safeParse(res).success).toBe(true);
    expect(
      stateKeyResponseSchema.safeParse({
        ...res,
        keys: [{ contractAddress: a, encryptedKey: "0x00" }],
      }).success,
    ).toBe(false);
  });
});
