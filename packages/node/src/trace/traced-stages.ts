// The task path's stages with trace events: each subclass adds one event per step it overrides
// and changes nothing else, so the stages' own files (admission, execution, publishing) stay
// free of tracing and the node picks the traced form when it wires them.
import type { EnclaveTaskResult } from "@enigma/enclave";
import type { EnigmaError, Hex } from "@enigma/protocol";
import type { TaskInput } from "../messages.js";
import { Admission, type AdmissionPorts } from "../tasks/admission.js";
import {
  Execution,
  type ContractSource,
  type EnclavePort,
  type ExecutionOptions,
  type ExecutionOutcome,
  type RunnableTask,
} from "../worker/execution.js";
import { Publisher, type OutcomeMeta, type PublishingPorts } from "../worker/publishing.js";
import type { TaskTracer } from "./trace.js";

function inputFacts(input: TaskInput, via: string) {
  return {
    via,
    contract: input.contractAddress.toLowerCase(),
    worker: input.workerAddress.toLowerCase(),
    kind: input.preCode === undefined ? "compute" : "deploy",
  };
}

/** Admission that records `input-accepted` (client, hand-over) and `input-heard` (gossip). */
export class TracedAdmission extends Admission {
  readonly #trace: TaskTracer;

  constructor(ports: AdmissionPorts, trace: TaskTracer) {
    super(ports);
    this.#trace = trace;
  }

  override async submit(input: TaskInput): Promise<void> {
    await super.submit(input);
    this.#trace.event(input.taskId, "input-accepted", inputFacts(input, "client"));
  }

  override async handedOver(input: TaskInput): Promise<void> {
    await super.handedOver(input);
    this.#trace.event(input.taskId, "input-accepted", inputFacts(input, "hand-over"));
  }

  override async heard(input: TaskInput): Promise<void> {
    this.#trace.event(input.taskId, "input-heard", inputFacts(input, "gossip"));
    await super.heard(input);
  }
}

/** Execution that records `execution-started` and `executed`. */
export class TracedExecution extends Execution {
  readonly #trace: TaskTracer;

  constructor(
    enclave: EnclavePort,
    source: ContractSource,
    options: ExecutionOptions,
    trace: TaskTracer,
  ) {
    super(enclave, source, options);
    this.#trace = trace;
  }

  override async run(task: RunnableTask, stopped?: () => boolean): Promise<ExecutionOutcome> {
    const id = task.input.taskId;
    this.#trace.event(id, "execution-started", {
      contract: task.input.contractAddress.toLowerCase(),
      block: task.record.blockNumber,
    });
    const outcome = await super.run(task, stopped);
    if ("result" in outcome) {
      const r = outcome.result;
      this.#trace.event(id, "executed", {
        success: r.success,
        gasUsed: r.gasUsed.toString(),
        ...(r.error === undefined ? {} : { code: r.error.code }),
      });
    } else {
      this.#trace.event(id, "executed", { success: false, code: outcome.failure.code });
    }
    return outcome;
  }
}

/** Publishing that records `result-published` and `not-run`. */
export class TracedPublisher extends Publisher {
  readonly #trace: TaskTracer;

  constructor(ports: PublishingPorts, trace: TaskTracer) {
    super(ports);
    this.#trace = trace;
  }

  override async result(
    result: EnclaveTaskResult,
    meta: OutcomeMeta,
    started?: number,
  ): Promise<void> {
    await super.result(result, meta, started);
    this.#trace.event(result.taskId, "result-published", {
      success: result.success,
      ...(result.delta === null ? {} : { delta: result.delta.index }),
    });
  }

  override async notRun(taskId: Hex, failure: EnigmaError, meta?: OutcomeMeta): Promise<void> {
    await super.notRun(taskId, failure, meta);
    this.#trace.event(taskId, "not-run", { code: failure.code });
  }
}
