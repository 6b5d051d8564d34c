/**
 * The worker-facing EIP-712 formats of the `Enigma` contract (contracts/Enigma.sol): the
 * receipt batch a worker's enclave signs, and the epoch parameters the principal signs.
 *
 * @example
 * const sig = await enclaveWallet.signTypedData(enigmaDomain(chainId, enigmaAddress), RECEIPT_BATCH_TYPES, { receipts });
 * await enigma.commitReceipts(receipts, sig);
 */
import { toBytes } from "../bytes.js";
import { concatBytes, keccak256 } from "../crypto.js";
import { EnigmaError, ErrorCode } from "../errors.js";
import { bytesToHex } from "../hex.js";

export const ENIGMA_EIP712_NAME = "Enigma";
export const ENIGMA_EIP712_VERSION = "1";

export function enigmaDomain(
  chainId: bigint | number,
  verifyingContract: string,
): { name: string; version: string; chainId: bigint; verifyingContract: string } {
  return {
    name: ENIGMA_EIP712_NAME,
    version: ENIGMA_EIP712_VERSION,
    chainId: BigInt(chainId),
    verifyingContract,
  };
}

/** Receipts one `commitReceipts` may carry (the contract's `MAX_RECEIPTS_PER_BATCH`). */
export const MAX_RECEIPTS_PER_BATCH = 256;

/**
 * One task result, as `commitReceipts` takes it (zero values mean "none"). The enclave fills in
 * `inputsHash` from the inputs it ran and `prevDeltaHash`/`deltaIndex` from the state it ran on;
 * the contract checks them against the task record and the contract's delta chain, so a host
 * can neither settle other inputs under a task id nor run a task on rolled-back state.
 */
export interface ChainReceipt {
  taskId: string;
  /** The secret contract; for a deployment, equal to `taskId`. */
  scAddr: string;
  /**
   * `inputsHash` (DESIGN.md section 5) of the encrypted function and arguments, the contract
   * address (a deployment: keccak256 of the pre-code) and the user key the enclave ran.
   */
  inputsHash: string;
  /** Hash of the state delta the task ran on (zero before delta 0: deployments). */
  prevDeltaHash: string;
  /** Number of deltas that state holds: the index of the delta the task writes (if any). */
  deltaIndex: number;
  /** Zero hash for no delta (required on failure). */
  stateDeltaHash: string;
  outputHash: string;
  gasUsed: bigint;
  success: boolean;
  /** Deployments only, else zero. */
  preCodeHash: string;
  /** Deployments only (non-zero on success), else zero. */
  codeHash: string;
  /** Optional Ethereum call: zero address for none. */
  ethAddress: string;
  ethCalldata: string;
}

export const RECEIPT_BATCH_TYPES = {
  ReceiptBatch: [{ name: "receipts", type: "Receipt[]" }],
  Receipt: [
    { name: "taskId", type: "bytes32" },
    { name: "scAddr", type: "bytes32" },
    { name: "inputsHash", type: "bytes32" },
    { name: "prevDeltaHash", type: "bytes32" },
    { name: "deltaIndex", type: "uint64" },
    { name: "stateDeltaHash", type: "bytes32" },
    { name: "outputHash", type: "bytes32" },
    { name: "gasUsed", type: "uint64" },
    { name: "success", type: "bool" },
    { name: "preCodeHash", type: "bytes32" },
    { name: "codeHash", type: "bytes32" },
    { name: "ethAddress", type: "address" },
    { name: "ethCalldata", type: "bytes" },
  ],
} as const;

/** What the principal signs for `setWorkersParams(blockNumber, seed, sig)`; nonce = epoch index. */
export const WORKERS_PARAMS_TYPES = {
  WorkersParams: [
    { name: "blockNumber", type: "uint256" },
    { name: "seed", type: "uint256" },
    { name: "nonce", type: "uint256" },
  ],
} as const;

// EIP-712 hashing of receipts, written out for the one fixed type: every node checks every
// gossiped result's signature over its receipt and every worker hashes each receipt twice, and
// ethers' generic `TypedDataEncoder` (type resolution and value coercion on every call) cost
// about 0.3 ms a receipt. `receipts.test.ts` checks these against ethers.
const utf8 = new TextEncoder();
const typeString = (name: string, fields: readonly { name: string; type: string }[]) =>
  `${name}(${fields.map((f) => `${f.type} ${f.name}`).join(",")})`;
const RECEIPT_TYPE = typeString("Receipt", RECEIPT_BATCH_TYPES.Receipt);
const RECEIPT_TYPEHASH = keccak256(utf8.encode(RECEIPT_TYPE));
const BATCH_TYPEHASH = keccak256(
  utf8.encode(typeString("ReceiptBatch", RECEIPT_BATCH_TYPES.ReceiptBatch) + RECEIPT_TYPE),
);
const DOMAIN_TYPEHASH = keccak256(
  utf8.encode("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
);
const UINT64_END = 1n << 64n;

function word(value: bigint): Uint8Array {
  const out = new Uint8Array(32);
  let v = value;
  for (let i = 31; i >= 0 && v > 0n; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

function uint64Word(value: unknown, field: string): Uint8Array {
  const ok =
    (typeof value === "bigint" && value >= 0n && value < UINT64_END) ||
    (typeof value === "number" && Number.isSafeInteger(value) && value >= 0);
  if (!ok) {
    throw new EnigmaError(ErrorCode.InvalidArgument, `receipt ${field} must be a uint64`, {
      details: { field, value: String(value) },
    });
  }
  return word(BigInt(value));
}

function addressWord(value: string, field: string): Uint8Array {
  const out = new Uint8Array(32);
  out.set(toBytes(value, field, 20), 12);
  return out;
}

/** EIP-712 `hashStruct("Receipt", receipt)`: what the enclave remembers a receipt by. */
export function receiptHash(r: ChainReceipt): Uint8Array {
  if (typeof r.success !== "boolean") {
    throw new EnigmaError(ErrorCode.InvalidArgument, "receipt success must be a boolean");
  }
  return keccak256(
    concatBytes(
      RECEIPT_TYPEHASH,
      toBytes(r.taskId, "taskId", 32),
      toBytes(r.scAddr, "scAddr", 32),
      toBytes(r.inputsHash, "inputsHash", 32),
      toBytes(r.prevDeltaHash, "prevDeltaHash", 32),
      uint64Word(r.deltaIndex, "deltaIndex"),
      toBytes(r.stateDeltaHash, "stateDeltaHash", 32),
      toBytes(r.outputHash, "outputHash", 32),
      uint64Word(r.gasUsed, "gasUsed"),
      word(r.success ? 1n : 0n),
      toBytes(r.preCodeHash, "preCodeHash", 32),
      toBytes(r.codeHash, "codeHash", 32),
      addressWord(r.ethAddress, "ethAddress"),
      keccak256(toBytes(r.ethCalldata, "ethCalldata")),
    ),
  );
}

const domainSeparators = new Map<string, Uint8Array>();

/** The EIP-712 domain separator of `enigmaDomain(chainId, enigmaAddress)` (cached). */
export function enigmaDomainSeparator(chainId: bigint | number, enigmaAddress: string): Uint8Array {
  const address = toBytes(enigmaAddress, "enigmaAddress", 20);
  const id = BigInt(chainId);
  if (id < 0n) {
    throw new EnigmaError(ErrorCode.InvalidArgument, "chainId must be non-negative", {
      details: { chainId: String(chainId) },
    });
  }
  const key = `${id}:${bytesToHex(address)}`;
  let separator = domainSeparators.get(key);
  if (separator === undefined) {
    separator = keccak256(
      concatBytes(
        DOMAIN_TYPEHASH,
        keccak256(utf8.encode(ENIGMA_EIP712_NAME)),
        keccak256(utf8.encode(ENIGMA_EIP712_VERSION)),
        word(id),
        new Uint8Array(12),
        address,
      ),
    );
    if (domainSeparators.size >= 64) domainSeparators.clear();
    domainSeparators.set(key, separator);
  }
  return separator;
}

/**
 * The EIP-712 digest of a receipt batch: what the enclave signs and `commitReceipts` recovers
 * the signer from. Throws `InvalidArgument` on a malformed receipt.
 */
export function receiptBatchDigest(
  chainId: bigint | number,
  enigmaAddress: string,
  receipts: readonly ChainReceipt[],
): Uint8Array {
  return receiptBatchDigestOf(chainId, enigmaAddress, receipts.map(receiptHash));
}

/** `receiptBatchDigest` from the receipts' `receiptHash`es (for a caller that has them). */
export function receiptBatchDigestOf(
  chainId: bigint | number,
  enigmaAddress: string,
  receiptHashes: readonly Uint8Array[],
): Uint8Array {
  const batch = keccak256(concatBytes(BATCH_TYPEHASH, keccak256(concatBytes(...receiptHashes))));
  return keccak256(
    concatBytes(Uint8Array.of(0x19, 0x01), enigmaDomainSeparator(chainId, enigmaAddress), batch),
  );
}
