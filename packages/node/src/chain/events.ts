// Decodes the Enigma events the node acts on from raw logs. Logs are chain data, i.e. input
// from outside: every field is checked for its type and shape before it is handed on.
import { ENIGMA_ABI, EnigmaError, ErrorCode, readTaskRecordLog } from "@enigma/protocol";
import { Interface, type EventFragment, type Result } from "ethers";
import type { ChainEvent, ChainEventType } from "./types.js";
import { ChainFields } from "./values.js";

export const ENIGMA_INTERFACE = new Interface(ENIGMA_ABI);

export const CHAIN_EVENT_TYPES: readonly ChainEventType[] = [
  "TaskRecordCreated",
  "WorkersParameterized",
  "ReceiptVerified",
  "ReceiptFailed",
  "ReceiptFailedETH",
  "TaskFeeReturned",
  "SecretContractDeployed",
  "ReceiptsCommitted",
];

function topicOf(name: ChainEventType): string {
  const event = ENIGMA_INTERFACE.getEvent(name);
  if (event === null) throw new Error(`ENIGMA_ABI has no event ${name}`);
  return event.topicHash;
}

/** topic0 of each event type, for `eth_getLogs` filters. */
export const EVENT_TOPICS: Readonly<Record<ChainEventType, string>> = Object.freeze(
  Object.fromEntries(CHAIN_EVENT_TYPES.map((n) => [n, topicOf(n)])) as Record<
    ChainEventType,
    string
  >,
);

// The node's events by topic0, found once: ethers' `parseLog` hashes the signature of every
// event of the ABI until one matches, for every log.
const FRAGMENTS: ReadonlyMap<string, EventFragment> = new Map(
  CHAIN_EVENT_TYPES.map((n) => {
    const fragment = ENIGMA_INTERFACE.getEvent(n);
    if (fragment === null) throw new Error(`ENIGMA_ABI has no event ${n}`);
    return [EVENT_TOPICS[n], fragment];
  }),
);

/** What decoding needs from a log (ethers' `Log` has it; `index` is the log index). */
export interface RawLog {
  topics: readonly string[];
  data: string;
  blockNumber: number;
  index: number;
  transactionHash: string;
  removed?: boolean;
}

/**
 * The typed event of a log, or undefined for a log of an event the node does not act on
 * (`DepositSuccessful`, `LoggedIn`...) or of another contract's ABI.
 */
export function decodeEvent(log: RawLog): ChainEvent | undefined {
  return decodeTaskRecord(log) ?? decodeEventGeneric(log);
}

/** `decodeEvent` through ethers' ABI decoder for every event (exported for tests). */
export function decodeEventGeneric(log: RawLog): ChainEvent | undefined {
  const fragment = FRAGMENTS.get(log.topics[0]?.toLowerCase() ?? "");
  if (fragment === undefined) return undefined;
  let args: Result;
  try {
    args = ENIGMA_INTERFACE.decodeEventLog(fragment, log.data, log.topics);
  } catch (cause) {
    // A known topic with undecodable data is a malformed log, not an unknown one.
    throw new EnigmaError(ErrorCode.ChainError, "undecodable Enigma event log", {
      details: { topic: log.topics[0], blockNumber: log.blockNumber },
      cause,
    });
  }
  const d = { name: fragment.name, args };
  const f = new ChainFields(`${d.name} event`, (name) => d.args.getValue(name) as unknown);
  const at = {
    blockNumber: log.blockNumber,
    logIndex: log.index,
    transactionHash: log.transactionHash.toLowerCase(),
  };
  switch (d.name as ChainEventType) {
    case "TaskRecordCreated":
      return {
        type: "TaskRecordCreated",
        taskId: f.bytes32("taskId"),
        inputsHash: f.bytes32("inputsHash"),
        gasLimit: f.bigint("gasLimit"),
        gasPx: f.bigint("gasPx"),
        sender: f.address("sender"),
        ...at,
      };
    case "WorkersParameterized":
      return {
        type: "WorkersParameterized",
        seed: f.bigint("seed"),
        firstBlockNumber: f.number("firstBlockNumber"),
        inclusionBlockNumber: f.number("inclusionBlockNumber"),
        workers: f.addresses("workers"),
        stakes: f.bigints("stakes"),
        nonce: f.number("nonce"),
        ...at,
      };
    case "ReceiptVerified":
      return {
        type: "ReceiptVerified",
        taskId: f.bytes32("taskId"),
        stateDeltaHash: f.bytes32("stateDeltaHash"),
        outputHash: f.bytes32("outputHash"),
        scAddr: f.bytes32("scAddr"),
        gasUsed: f.bigint("gasUsed"),
        deltaHashIndex: f.number("deltaHashIndex"),
        workerAddress: f.address("workerAddress"),
        ethAddress: f.address("optionalEthereumContractAddress"),
        ethCalldata: f.hex("optionalEthereumData"),
        ...at,
      };
    case "ReceiptFailed":
    case "ReceiptFailedETH":
    case "TaskFeeReturned":
      return { type: d.name as "ReceiptFailed", taskId: f.bytes32("taskId"), ...at };
    case "SecretContractDeployed":
      return {
        type: "SecretContractDeployed",
        scAddr: f.bytes32("scAddr"),
        codeHash: f.bytes32("codeHash"),
        initStateDeltaHash: f.bytes32("initStateDeltaHash"),
        ...at,
      };
    case "ReceiptsCommitted":
      return {
        type: "ReceiptsCommitted",
        workerSigner: f.address("workerSigner"),
        count: f.number("count"),
        fees: f.bigint("fees"),
        ...at,
      };
    default:
      return undefined;
  }
}

// TaskRecordCreated: one per task, heard by every node. Its canonical encoding is read word by
// word (`readTaskRecordLog`); a log of another shape takes the generic path and its checks.
function decodeTaskRecord(log: RawLog): ChainEvent | undefined {
  const record = readTaskRecordLog(log);
  if (record === undefined) return undefined;
  return {
    type: "TaskRecordCreated",
    ...record,
    blockNumber: log.blockNumber,
    logIndex: log.index,
    transactionHash: log.transactionHash.toLowerCase(),
  };
}

/** Decodes the node's events out of `logs` and orders them by (block, log index). */
export function decodeEvents(logs: readonly RawLog[]): ChainEvent[] {
  const out: ChainEvent[] = [];
  for (const log of logs) {
    if (log.removed === true) continue;
    const e = decodeEvent(log);
    if (e !== undefined) out.push(e);
  }
  return out.sort((a, b) => a.blockNumber - b.blockNumber || a.logIndex - b.logIndex);
}
