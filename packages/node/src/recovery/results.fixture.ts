// Test fixture: a task result shaped as a worker's (every field plausible; the signature is
// never checked by the structures that hold, order and hand over results).
import { bytesToHex, hexToBytes, keccak256, type Hex } from "@enigma/protocol";
import type { TaskResult } from "../messages.js";

/** A successful result of `contract` writing delta `index` with `data` (its hash is real). */
export function resultLike(taskId: Hex, contract: Hex, index: number, data: Hex): TaskResult {
  return {
    taskId,
    contractAddress: contract,
    workerAddress: `0x${"ab".repeat(20)}`,
    inputsHash: `0x${"12".repeat(32)}`,
    prevDeltaHash: `0x${"34".repeat(32)}`,
    deltaIndex: index,
    success: true,
    output: "0x01",
    delta: { index, hash: bytesToHex(keccak256(hexToBytes(data))), data },
    gasUsed: "10",
    ethCall: null,
    preCodeHash: null,
    codeHash: null,
    error: null,
    signature: `0x${"11".repeat(65)}`,
  };
}
