/**
 * The worker-facing EIP-712 formats of the `Enigma` contract (contracts/Enigma.sol): the
 * receipt batch a worker's enclave signs, and the epoch parameters the principal signs.
 *
 * @example
 * const sig = await enclaveWallet.signTypedData(enigmaDomain(chainId, enigmaAddress), RECEIPT_BATCH_TYPES, { receipts });
 * await enigma.commitReceipts(receipts, sig);
 */
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
