import { createPublicKey, sign, verify } from "node:crypto";
import { ErrorCode, isEnigmaError } from "@enigma/protocol";
import { describe, expect, it } from "vitest";
import { accountKey, baseSeed, nodeSeed, startChain } from "./chain.js";
import { peerIdOfSeed } from "./peer-id.js";
import { seededRsaPem } from "./service-key.js";

describe("seed derivation", () => {
  it("takes a 32-byte hex seed as is and hashes any other text", () => {
    const hex = `0x${"42".repeat(32)}` as const;
    expect(baseSeed(hex)).toEqual(new Uint8Array(32).fill(0x42));
    expect(baseSeed("demo")).toEqual(baseSeed("demo"));
    expect(baseSeed("demo")).not.toEqual(baseSeed("demo2"));
  });

  it("derives node seeds as the node fixture does, and distinct account keys", () => {
    const base = new Uint8Array(32).fill(0x42);
    expect(nodeSeed(base, 0)).toBe(`0x${"42".repeat(32)}`);
    expect(nodeSeed(base, 3)).toBe(`0x${"42".repeat(31)}45`);
    const keys = new Set(
      ["custodian", "user"].flatMap((p) => [0, 1, 2].map((i) => accountKey(base, p, i))),
    );
    expect(keys.size).toBe(6);
    expect(accountKey(base, "user", 1)).toBe(accountKey(new Uint8Array(base), "user", 1));
  });
});

describe("the attestation service key", () => {
  it("is the same RSA-2048 key for the same seed and another for another seed", () => {
    const a = seededRsaPem(baseSeed("demo"));
    expect(seededRsaPem(baseSeed("demo"))).toBe(a);
    expect(seededRsaPem(baseSeed("demo2"))).not.toBe(a);
    const pub = createPublicKey(a);
    expect(pub.asymmetricKeyDetails).toMatchObject({ modulusLength: 2048, publicExponent: 65537n });
    const msg = Buffer.from("report");
    expect(verify("sha256", msg, pub, sign("sha256", msg, a))).toBe(true);
  });
});

describe("startChain options", () => {
  it("refuses bad options before it starts anything, naming the field", async () => {
    const path = async (p: Promise<unknown>) => {
      try {
        await p;
      } catch (e) {
        if (isEnigmaError(e, ErrorCode.InvalidConfig)) return String(e.details["path"]);
        throw e;
      }
      throw new Error("expected InvalidConfig");
    };
    expect(await path(startChain({ dir: "/nonexistent", port: -1 }))).toBe("port");
    expect(await path(startChain({ dir: "/nonexistent", publicUrl: "chain:8545" }))).toBe(
      "publicUrl",
    );
    expect(await path(startChain({ dir: "/nonexistent", workers: 0 }))).toBe("workers");
  });
});

describe("peerIdOfSeed", () => {
  it("gives the peer id @enigma/node derives from a node seed", () => {
    // Computed once with @libp2p/crypto's generateKeyPairFromSeed, as the node does.
    expect(peerIdOfSeed(`0x${"42".repeat(32)}`)).toBe(
      "12D3KooWSfr9WzaTYguLDyncSFDXk8bezKgwfK5GxNXDYCaTYSxy",
    );
  });
});
