// The admission stage: every task input enters here, from a client (the gateway), from a
// gateway handing it straight to its worker, or from gossip. The validator says what the input
// is; this stage says what each path does with it:
//
// | verdict       | client (gateway)                 | hand-over (worker)     | gossip            |
// |---------------|----------------------------------|------------------------|-------------------|
// | malformed     | its error                        | its error              | reject            |
// | unrecorded    | held; handed to the worker; true | held                   | reject if the chain has no record, else ignore |
// | mismatch      | InputsHashMismatch               | InputsHashMismatch     | reject            |
// | settled       | TaskSkipped / TaskNotPending     | same                   | ignore            |
// | wrong-worker  | accepted, not executed; true     | accepted, not executed | accept            |
// | runnable      | stored, handed over, gossiped    | stored, to the pipeline| accept            |
//
// A held input is admitted when the chain watcher delivers its record (the one that matches
// is used; the others are dropped). Nothing is stored before an input matches its record, so
// a task id cannot be taken over by another input.
import {
  EnigmaError,
  ErrorCode,
  TaskResultStatus,
  isEnigmaError,
  type Hex,
} from "@enigma/protocol";
import type { RecordInfo } from "../context.js";
import type { TaskInput } from "../messages.js";
import type { Logger, NodeMetrics } from "../observability.js";
import type { GossipVerdict } from "../p2p/network.js";
import type { NodeStore } from "../store/store.js";
import type { HeldInputs } from "./held-inputs.js";
import type { InputVerdict, ReadBudget, TaskValidator } from "./validator.js";

/** What admission needs of the worker's pipeline (absent on a node that is no worker). */
export interface PipelinePort {
  onInput(input: TaskInput, verdict: InputVerdict): void;
  /** Whether the task's turn passed (a later task of its contract ran). */
  skipped(taskId: string, contract?: string): Promise<boolean>;
}

export interface AdmissionPorts {
  validator: Pick<TaskValidator, "check" | "knows">;
  held: HeldInputs;
  store: Pick<NodeStore, "addTask" | "updateTask" | "getTask" | "getMessage">;
  pipeline?: PipelinePort;
  /** This node's worker signer (lower-case), when it is a worker. */
  self?: Hex;
  /** Publishes an admitted input on gossip (for every node). */
  publish(input: TaskInput): void;
  /** Hands an input straight to the worker it names; rejects with that worker's error. */
  handOver(input: TaskInput): Promise<void>;
  /**
   * A deployment's input was stored: its code can be stored now if its result came first
   * (gossip does not keep their order).
   */
  keptDeployment?(input: TaskInput): Promise<void>;
  /** RPC subscribers (`taskStatus`). */
  notify(taskId: string, status: "FAILED"): void;
  /** Chain reads for ids not heard from the watcher: per path. */
  reads: { client: ReadBudget; handOver: ReadBudget; gossip: ReadBudget };
  /** The ordering deadline (ms): an input later than half of it is handed over and awaited. */
  deadlineMs: number;
  metrics: NodeMetrics;
  log: Logger;
}

type Via = "client" | "hand-over" | "gossip" | "held";

export class Admission {
  readonly #p: AdmissionPorts;

  constructor(ports: AdmissionPorts) {
    this.#p = ports;
  }

  /** A client's input (`sendTaskInput`, `deploySecretContract`): resolves once accepted. */
  async submit(input: TaskInput): Promise<void> {
    // A record this node has not heard yet (the client sends its input with the record's
    // transaction): the worker the input names gets it at once and holds it, so that it has
    // the input as soon as its own watcher delivers the record, rather than when this
    // gateway's does (a poll interval or more later).
    let early: Promise<void> | undefined;
    if (!this.#p.validator.knows(input.taskId) && !this.#isSelf(input.workerAddress)) {
      early = this.#p.handOver(input);
      early.catch((e: unknown) => {
        this.#p.log.debug({ taskId: input.taskId, err: String(e) }, "early hand-over failed");
      });
    }
    const v = await this.#p.validator.check(input, this.#p.reads.client);
    this.#p.metrics.tasksReceived.inc({ kind: input.preCode === undefined ? "compute" : "deploy" });
    if (v.kind === "unrecorded") {
      this.#hold(input);
      return;
    }
    await this.#admit(input, v, "client", early);
  }

  /** An input a gateway handed to this worker directly. */
  async handedOver(input: TaskInput): Promise<void> {
    const v = await this.#p.validator.check(input, this.#p.reads.handOver);
    if (v.kind === "unrecorded") {
      this.#hold(input);
      return;
    }
    await this.#admit(input, v, "hand-over");
  }

  /** The gossip validator of the tasks topic. */
  async gossipVerdict(input: TaskInput): Promise<GossipVerdict> {
    const v = await this.#p.validator.check(input, this.#p.reads.gossip);
    switch (v.kind) {
      case "malformed":
      case "mismatch":
        return "reject";
      case "unrecorded":
        // A gateway gossips an input only once its record is mined: an id the chain does not
        // know is made up, and costs its sender score. Unchecked (the read budget is spent):
        // dropped without a verdict on the sender.
        if (v.confirmed) return "reject";
        this.#p.metrics.admission.inc({ outcome: "read-budget" });
        return "ignore";
      case "settled":
        return "ignore";
      case "wrong-worker":
      case "runnable":
        return "accept";
    }
  }

  /** A gossiped input the validator accepted. */
  async heard(input: TaskInput): Promise<void> {
    const v = await this.#p.validator.check(input);
    if (v.kind === "runnable" || v.kind === "wrong-worker") await this.#admit(input, v, "gossip");
  }

  /** The watcher delivered a record: the held input that matches it is admitted. */
  onRecord(record: RecordInfo): void {
    const inputs = this.#p.held.take(record.taskId);
    if (inputs.length === 0) return;
    void this.#admitHeld(inputs).catch((e: unknown) => {
      this.#p.log.warn({ taskId: record.taskId, err: String(e) }, "held input not admitted");
    });
  }

  /** Drops held inputs past their TTL (called periodically). */
  sweep(): void {
    const dropped = this.#p.held.expire();
    if (dropped > 0) {
      this.#p.log.info({ dropped }, "held task inputs expired: their records were never mined");
    }
  }

  async #admitHeld(inputs: TaskInput[]): Promise<void> {
    const verdicts = await Promise.all(inputs.map((i) => this.#p.validator.check(i)));
    // The input that names the selected worker wins over one that names another worker.
    let chosen = verdicts.findIndex((v) => v.kind === "runnable");
    if (chosen === -1) chosen = verdicts.findIndex((v) => v.kind === "wrong-worker");
    for (const [i, v] of verdicts.entries()) {
      if (i === chosen) continue;
      const input = inputs[i];
      this.#p.log.info(
        { taskId: input?.taskId, verdict: v.kind },
        "held task input not used: another input matches its record",
      );
    }
    const input = inputs[chosen];
    const v = verdicts[chosen];
    if (input === undefined || v === undefined) return;
    try {
      await this.#admit(input, v, "held");
    } catch (e) {
      // A held input's client was answered already; its status says what became of it.
      if (!isEnigmaError(e)) throw e;
      this.#p.log.info(
        { taskId: input.taskId, code: e.code, err: e.message },
        "held input refused",
      );
    }
  }

  /** `handing`: the hand-over to the named worker, when `submit` started it already. */
  async #admit(
    input: TaskInput,
    v: InputVerdict,
    via: Via,
    handing?: Promise<void>,
  ): Promise<void> {
    const { pipeline, metrics, log } = this.#p;
    const taskId = input.taskId;
    switch (v.kind) {
      case "unrecorded":
        return;
      case "malformed":
        metrics.admission.inc({ outcome: "malformed" });
        throw v.error;
      case "mismatch":
        metrics.admission.inc({ outcome: "mismatch" });
        throw new EnigmaError(
          ErrorCode.InputsHashMismatch,
          `the input does not match the inputsHash recorded on chain for task ${taskId}`,
          { details: { taskId, recorded: v.record.inputsHash } },
        );
      case "settled":
        if (await this.#wasSkipped(input)) throw this.#skippedError(taskId);
        metrics.admission.inc({ outcome: "settled" });
        throw new EnigmaError(ErrorCode.TaskNotPending, `task ${taskId} is already settled`, {
          details: { taskId },
        });
      case "wrong-worker":
      case "runnable":
        break;
    }
    const mine = v.kind === "runnable" && this.#isSelf(v.selected);
    if (mine && (via === "client" || via === "hand-over")) {
      if (await pipeline?.skipped(taskId, input.contractAddress)) {
        await this.#keep(input, v);
        throw await this.#skipped(input);
      }
    }
    if (v.kind === "wrong-worker" && via !== "gossip") {
      metrics.tasksNotExecuted.inc({ reason: "wrong-worker" });
      log.info(
        { taskId, workerAddress: input.workerAddress, selected: v.selected ?? null },
        "input names a worker that is not selected for its contract: accepted, not executed",
      );
    }
    // Who keeps the input: the gateway that took it, the worker that runs it, and every node
    // for a deployment (its code is stored when the result comes). Other nodes only learn the
    // task's contract for their ordering.
    if (via !== "gossip" || mine || input.preCode !== undefined) await this.#keep(input, v);
    pipeline?.onInput(input, v);
    if (via !== "client" && via !== "held") return;
    this.#p.publish(input);
    if (via === "held" || this.#isSelf(input.workerAddress)) return;
    const late = Date.now() - v.record.seenAt > this.#p.deadlineMs / 2;
    const handed = handing ?? this.#p.handOver(input);
    if (!late) {
      handed.catch((e: unknown) => {
        log.debug({ taskId, err: String(e) }, "direct hand-over failed");
      });
      return;
    }
    // Late enough that its turn may have passed: the worker's answer is the client's.
    try {
      await handed;
    } catch (e) {
      if (isEnigmaError(e, ErrorCode.TaskSkipped)) throw await this.#skipped(input);
      log.debug({ taskId, err: String(e) }, "direct hand-over failed");
    }
  }

  /** Stores an admitted input (the first one stays; a conflicting contract is ignored). */
  async #keep(input: TaskInput, _v: InputVerdict): Promise<void> {
    try {
      await this.#p.store.addTask(input.taskId, input.contractAddress, undefined, { input });
    } catch (e) {
      if (!isEnigmaError(e, ErrorCode.TaskConflict)) throw e;
      return;
    }
    if (input.preCode !== undefined) await this.#p.keptDeployment?.(input);
  }

  #hold(input: TaskInput): void {
    try {
      this.#p.held.hold(input);
    } catch (e) {
      this.#p.metrics.admission.inc({ outcome: "hold-full" });
      throw e;
    }
    this.#p.metrics.admission.inc({ outcome: "held" });
  }

  async #wasSkipped(input: TaskInput): Promise<boolean> {
    if ((await this.#p.pipeline?.skipped(input.taskId)) === true) return true;
    const outcome = await this.#p.store.getMessage("outcome", input.taskId);
    return (outcome as { code?: unknown } | undefined)?.code === ErrorCode.TaskSkipped;
  }

  /** Marks the task FAILED here (so that status queries say so) and builds the error. */
  async #skipped(input: TaskInput): Promise<EnigmaError> {
    const error = this.#skippedError(input.taskId);
    this.#p.metrics.admission.inc({ outcome: "skipped" });
    await this.#keep(input, { kind: "unrecorded", confirmed: false });
    try {
      await this.#p.store.updateTask(input.taskId, {
        status: TaskResultStatus.Failed,
        messages: { outcome: { code: error.code, message: error.message } },
      });
      this.#p.notify(input.taskId, "FAILED");
    } catch (e) {
      if (!isEnigmaError(e, ErrorCode.TaskStatusTransition)) throw e;
    }
    return error;
  }

  #skippedError(taskId: string): EnigmaError {
    return new EnigmaError(
      ErrorCode.TaskSkipped,
      `task ${taskId} was skipped: its turn passed while its input was missing (a later task of its contract ran). Its fee is refundable with returnFeesForTask after the task timeout`,
      { details: { taskId } },
    );
  }

  #isSelf(address: string | undefined): boolean {
    return (
      address !== undefined && this.#p.self !== undefined && address.toLowerCase() === this.#p.self
    );
  }
}
