import { TypedDataEncoder, Wallet } from "ethers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ErrorCode } from "../errors.js";
import { bytesToHex, hexToBytes } from "../hex.js";
import {
  RECEIPT_BATCH_TYPES,
  enigmaDomain,
  enigmaDomainSeparator,
  receiptBatchDigest,
  receiptHash,
  type ChainReceipt,
} from "./receipts.js";

// The written-out receipt hashing must be exactly EIP-712 as ethers (and the contract's
// `_hashTypedDataV4`) computes it.
const types = Object.fromEntries(Object.entries(RECEIPT_BATCH_TYPES).map(([k, v]) => [k, [...v]]));
const encoder = TypedDataEncoder.from(types);
const hex32 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map(bytesToHex);
const receipt: fc.Arbitrary<ChainReceipt> = fc.record({
  taskId: hex32,
  scAddr: hex32,
  inputsHash: hex32,
  prevDeltaHash: hex32,
  deltaIndex: fc.nat(),
  stateDeltaHash: hex32,
  outputHash: hex32,
  gasUsed: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  success: fc.boolean(),
  preCodeHash: hex32,
  codeHash: hex32,
  ethAddress: fc.uint8Array({ minLength: 20, maxLength: 20 }).map(bytesToHex),
  ethCalldata: fc.uint8Array({ maxLength: 300 }).map(bytesToHex),
});
const code = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return (e as { code?: unknown }).code ?? "threw";
  }
  return undefined;
};

describe("receipt hashing (EIP-712, written out)", () => {
  it("equals ethers' hashStruct and typed-data digest, for batches of 0 to 5 receipts", () => {
    fc.assert(
      fc.property(
        fc.array(receipt, { maxLength: 5 }),
        fc.bigInt({ min: 1n, max: (1n << 64n) - 1n }),
        fc.uint8Array({ minLength: 20, maxLength: 20 }),
        (receipts, chainId, address) => {
          const enigma = bytesToHex(address);
          for (const r of receipts) {
            expect(bytesToHex(receiptHash(r))).toBe(encoder.hashStruct("Receipt", r));
          }
          expect(bytesToHex(receiptBatchDigest(chainId, enigma, receipts))).toBe(
            TypedDataEncoder.hash(enigmaDomain(chainId, enigma.toLowerCase()), types, {
              receipts,
            }),
          );
        },
      ),
      { numRuns: 60 },
    );
  });

  it("gives the digest a wallet's signTypedData signs", async () => {
    const wallet = new Wallet(`0x${"11".repeat(32)}`);
    const enigma = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
    const r = fc.sample(receipt, { numRuns: 1, seed: 7 })[0] as ChainReceipt;
    const sig = await wallet.signTypedData(enigmaDomain(31337n, enigma), types, { receipts: [r] });
    const digest = receiptBatchDigest(31337n, enigma, [r]);
    expect(wallet.signingKey.sign(digest).serialized).toBe(sig);
    expect(enigmaDomainSeparator(31337n, enigma)).toEqual(
      hexToBytes(TypedDataEncoder.hashDomain(enigmaDomain(31337n, enigma))),
    );
  });

  it("refuses malformed receipts with InvalidArgument, as ethers refuses them", () => {
    const good = fc.sample(receipt, { numRuns: 1, seed: 3 })[0] as ChainReceipt;
    const bad: [string, ChainReceipt][] = [
      ["short taskId", { ...good, taskId: "0x1234" }],
      ["long outputHash", { ...good, outputHash: `${good.outputHash}00` }],
      ["not hex", { ...good, scAddr: "0xzz" }],
      ["negative gasUsed", { ...good, gasUsed: -1n }],
      ["gasUsed past uint64", { ...good, gasUsed: 1n << 64n }],
      ["fractional deltaIndex", { ...good, deltaIndex: 1.5 }],
      ["short address", { ...good, ethAddress: "0x1234" }],
    ];
    for (const [what, r] of bad) {
      expect(
        code(() => receiptHash(r)),
        what,
      ).toBe(ErrorCode.InvalidArgument);
      expect(
        code(() => encoder.hashStruct("Receipt", r)),
        what,
      ).toBeDefined();
    }
    expect(code(() => receiptHash({ ...good, success: 1 as unknown as boolean }))).toBe(
      ErrorCode.InvalidArgument,
    );
  });
});
