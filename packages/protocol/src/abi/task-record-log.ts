/**
 * The `TaskRecordCreated` log of the `Enigma` contract, read word by word. Every node reads one
 * per task, and every client reads its own task's to learn the task id the chain gave it:
 * ethers' `parseLog` hashed the signature of each event of the ABI until one matched, then ran
 * its generic decoder (~65 us a log for the node, more than half a millisecond of a client's
 * CPU per task under load). The event's six words are static and unindexed, so they are read
 * directly; a log of any other shape is not read here (the caller decides what it is).
 *
 * @example
 * const record = readTaskRecordLog(receipt.logs[0]);
 * if (record !== undefined && record.sender === myAddress) taskId = record.taskId;
 */
import { Interface } from "ethers";
import type { Hex } from "../hex.js";
import { ENIGMA_ABI } from "./contracts.js";

function topicOf(name: string): Hex {
  const event = new Interface(ENIGMA_ABI).getEvent(name);
  if (event === null) throw new Error(`ENIGMA_ABI has no event ${name}`);
  return event.topicHash.toLowerCase() as Hex;
}

/**
 * topic0 of `TaskRecordCreated(bytes32 taskId, bytes32 inputsHash, uint64 gasLimit,
 * uint64 gasPx, address sender, uint256 blockNumber)`, lower case.
 */
export const TASK_RECORD_CREATED_TOPIC: Hex = topicOf("TaskRecordCreated");

/** The fields of a `TaskRecordCreated` log; hex values are lower case. */
export interface TaskRecordLog {
  taskId: Hex;
  inputsHash: Hex;
  gasLimit: bigint;
  gasPx: bigint;
  /** The address that recorded the task. */
  sender: Hex;
}

const DATA = /^0x[0-9a-fA-F]{384}$/;
const ZERO_ADDRESS_PAD = /^0{24}$/;
const ZERO_UINT64_PAD = /^0{48}$/;

/**
 * The fields of `log` when it is a `TaskRecordCreated` log in the ABI's encoding (one topic,
 * six 32-byte words, each value within its type); undefined for any other log, including one
 * with that topic whose data is not exactly that encoding.
 */
export function readTaskRecordLog(log: {
  readonly topics: readonly string[];
  readonly data: string;
}): TaskRecordLog | undefined {
  if (log.topics.length !== 1 || log.topics[0]?.toLowerCase() !== TASK_RECORD_CREATED_TOPIC) {
    return undefined;
  }
  if (!DATA.test(log.data)) return undefined;
  const data = log.data.toLowerCase();
  const word = (i: number) => data.slice(2 + 64 * i, 66 + 64 * i);
  const gasLimit = word(2);
  const gasPx = word(3);
  const sender = word(4);
  if (!ZERO_UINT64_PAD.test(gasLimit.slice(0, 48)) || !ZERO_UINT64_PAD.test(gasPx.slice(0, 48))) {
    return undefined;
  }
  if (!ZERO_ADDRESS_PAD.test(sender.slice(0, 24))) return undefined;
  return {
    taskId: `0x${word(0)}`,
    inputsHash: `0x${word(1)}`,
    gasLimit: BigInt(`0x${gasLimit}`),
    gasPx: BigInt(`0x${gasPx}`),
    sender: `0x${sender.slice(24)}`,
  };
}
