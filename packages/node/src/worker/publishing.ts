// The publishing stage, and the hand-off of receipts: a task's outcome is written in one
// LevelDB batch (status, result, delta, queued receipt, the result message and the contract's
// last-run order), then the result goes out on gossip and to RPC subscribers, and a task that
// calls Ethereum asks for its receipt to be committed at once.
import {
  ErrorCode,
  TaskResultStatus,
  bytesToHex,
  hexToBytes,
  type EnigmaError,
  type Hex,
} from "@enigma/protocol";
import type { EnclaveTaskResult } from "@enigma/enclave";
import type { Logger, NodeMetrics } from "../observability.js";
import { TOPICS, encodeMessage, type TaskResult } from "../messages.js";
import type { NodeStore } from "../store/store.js";

export interface PublishingPorts {
  store: Pick<NodeStore, "updateTask">;
  /** Gossip (the results topic). */
  publish(topic: string, data: Uint8Array): Promise<void>;
  /**
   * RPC subscribers (`taskStatus`); with the encrypted output of a result, so that a client
   * needs no `getTaskStatus` round trip for it.
   */
  notify(taskId: string, status: "SUCCESS" | "FAILED", output?: Uint8Array): void;
  /** The receipt batcher: a task with an Ethereum call is committed at once. */
  commitNow(): Promise<void>;
  signer: Hex;
  metrics: NodeMetrics;
  log: Logger;
}

/** Metadata written with the outcome (the contract's last run order). */
export type OutcomeMeta = Readonly<Record<string, number>>;

export class Publisher {
  readonly #p: PublishingPorts;

  constructor(ports: PublishingPorts) {
    this.#p = ports;
  }

  /** A result the enclave signed: stored with its receipt, then published. */
  async result(result: EnclaveTaskResult, meta: OutcomeMeta, started?: number): Promise<void> {
    const { store, metrics, log } = this.#p;
    const message = resultMessage(result, this.#p.signer);
    await store.updateTask(result.taskId, {
      status: result.success ? TaskResultStatus.Success : TaskResultStatus.Failed,
      result: resultData(message),
      ...(result.delta === null
        ? {}
        : {
            delta: {
              index: result.delta.index,
              hash: hexToBytes(result.delta.hash),
              data: result.delta.data,
            },
          }),
      receipt: result.receipt,
      messages: { result: message },
      meta,
    });
    metrics.tasksExecuted.inc({ status: result.success ? "success" : "failed" });
    if (result.error !== undefined) metrics.tasksFailed.inc({ reason: String(result.error.code) });
    metrics.gasUsed.inc(Number(result.gasUsed));
    metrics.pendingReceipts.inc();
    if (started !== undefined) metrics.taskLatency.observe((performance.now() - started) / 1000);
    const tlog = log.child({ taskId: result.taskId, contract: result.contractAddress });
    tlog.info(
      {
        success: result.success,
        gasUsed: message.gasUsed,
        delta: message.delta?.index,
        code: result.error?.code,
      },
      "task executed",
    );
    this.#p.notify(result.taskId, result.success ? "SUCCESS" : "FAILED", result.output);
    try {
      await this.#p.publish(TOPICS.results, encodeMessage(message));
    } catch (e) {
      // Peers that miss it ask for it (task-result protocol); the receipt is queued anyway.
      tlog.warn({ err: String(e) }, "result not gossiped");
    }
    if (result.ethCall !== null) await this.#p.commitNow();
  }

  /**
   * A task that did not run and has nothing the chain can settle (its turn passed, no state
   * key...): FAILED here, no receipt, so its fee comes back through `returnFeesForTask`.
   */
  async notRun(taskId: Hex, failure: EnigmaError, meta: OutcomeMeta = {}): Promise<void> {
    const { store, metrics, log } = this.#p;
    await store.updateTask(taskId, {
      status: TaskResultStatus.Failed,
      messages: { outcome: { code: failure.code, message: failure.message } },
      meta,
    });
    metrics.tasksFailed.inc({ reason: String(failure.code) });
    log.warn(
      { taskId, code: failure.code, err: failure.message },
      failure.code === ErrorCode.TaskSkipped ? "task skipped" : "task not executed",
    );
    this.#p.notify(taskId, "FAILED");
  }
}

function isZero(h: string): boolean {
  return /^0x0*$/.test(h);
}

/** The gossip message of a result this worker's enclave produced. */
export function resultMessage(result: EnclaveTaskResult, signer: Hex): TaskResult {
  return {
    taskId: result.taskId,
    contractAddress: result.contractAddress,
    workerAddress: signer,
    // Signed with the receipt: the inputs the enclave ran and the delta it ran on.
    inputsHash: result.receipt.inputsHash as Hex,
    prevDeltaHash: result.receipt.prevDeltaHash as Hex,
    deltaIndex: result.receipt.deltaIndex,
    success: result.success,
    output: bytesToHex(result.output),
    delta:
      result.delta === null
        ? null
        : {
            index: result.delta.index,
            hash: result.delta.hash,
            data: bytesToHex(result.delta.data),
          },
    gasUsed: result.gasUsed.toString(),
    ethCall:
      result.ethCall === null
        ? null
        : { address: result.ethCall.address, payload: bytesToHex(result.ethCall.payload) },
    preCodeHash: isZero(result.receipt.preCodeHash) ? null : (result.receipt.preCodeHash as Hex),
    codeHash: isZero(result.receipt.codeHash) ? null : (result.receipt.codeHash as Hex),
    error:
      result.error === undefined
        ? null
        : { code: result.error.code, message: result.error.message },
    signature: result.signature,
  };
}

/** The stored task result (what getTaskResult serves) of a result message. */
export function resultData(m: TaskResult) {
  return {
    output: hexToBytes(m.output),
    ...(m.delta === null
      ? {}
      : { delta: { index: m.delta.index, hash: hexToBytes(m.delta.hash) } }),
    usedGas: Number(m.gasUsed),
    ...(m.ethCall === null
      ? {}
      : {
          ethereumPayload: hexToBytes(m.ethCall.payload),
          ethereumAddress: hexToBytes(m.ethCall.address),
        }),
    signature: hexToBytes(m.signature),
    ...(m.preCodeHash === null ? {} : { preCodeHash: hexToBytes(m.preCodeHash) }),
  };
}
