// The gateway role: Discovery's JSON-RPC methods for clients (DESIGN.md section 5). It takes a
// client's task input, checks what it can (the record on chain and the selected worker, when
// the record is already there), stores it, hands it straight to the selected worker and
// publishes it on gossip for everyone. It answers status and result queries from its own store,
// asking the worker when it missed the result on gossip.
import {
  EnigmaError,
  ErrorCode,
  RPC_METHODS,
  TaskResultStatus,
  workerEncryptionKeySchema,
  bytesToHex,
  hexToBytes,
  isEnigmaError,
  parseMessage,
  recoverAddress,
  sameAddress,
  signWorkerKey,
  toRpcHex,
  type Hex,
  workerKeyDigest,
  type RpcParams,
} from "@enigma/protocol";
import type { WorkerEnclave } from "@enigma/enclave";
import type { NodeContext } from "./context.js";
import type { PeerDirectory } from "./directory.js";
import {
  PROTOCOLS,
  taskInputSchema,
  taskResultSchema,
  taskSkippedSchema,
  type TaskInput,
  type TaskResult,
} from "./messages.js";
import type { Admission } from "./tasks/admission.js";
import type { RpcHandlers, RpcWireResult } from "./rpc/server.js";

/** What a handler answers inside Discovery's `{ result: ... }` envelope. */
type WireResult<M extends "getWorkerEncryptionKey" | "getTaskStatus" | "getTaskResult"> =
  RpcWireResult<M>["result"];

export interface GatewayDeps {
  directory: PeerDirectory;
  /** This node's worker enclave, when it is also a worker. */
  enclave?: WorkerEnclave;
  /** Where every task input enters (`tasks/admission.ts`). */
  admission: Admission;
  /** Stores a result heard from a peer (shared with the gossip path). */
  acceptResult: (result: TaskResult) => Promise<void>;
  /** RPC subscribers (`taskStatus`). */
  notify: (taskId: string, status: "FAILED") => void;
  info: () => Record<string, unknown>;
}

const nothing = (): undefined => undefined;
/** A task input with its largest pre-code (8 MiB of base64) and payloads. */
const MAX_INPUT_BYTES = 12 * 1024 * 1024;

export class Gateway {
  readonly #ctx: NodeContext;
  readonly #d: GatewayDeps;

  constructor(ctx: NodeContext, deps: GatewayDeps) {
    this.#ctx = ctx;
    this.#d = deps;
  }

  handlers(): RpcHandlers {
    return {
      getInfo: async () => ({
        ...this.#d.info(),
        blockNumber: await this.#ctx.chain.blockNumber(),
      }),
      getWorkerEncryptionKey: async (p) => ({ result: await this.#workerKey(p) }),
      // Discovery's result shapes (enigma-js reads `response.result.X`): see RPC_METHODS.
      deploySecretContract: async (p) => ({
        sendTaskResult: await this.#submit({ ...p, taskId: p.contractAddress }),
      }),
      sendTaskInput: async (p) => ({ sendTaskResult: await this.#submit(p) }),
      getTaskStatus: async (p) => ({ result: await this.#status(p) }),
      getTaskResult: async (p) => ({ result: await this.#result(p) }),
    };
  }

  /** Serves the worker-key protocol (a gateway forwarding a client's request to this worker). */
  async start(): Promise<void> {
    const { p2p } = this.#ctx;
    const enclave = this.#d.enclave;
    if (enclave !== undefined) {
      await p2p.handle(PROTOCOLS.workerKey, (raw) => {
        const p = parseMessage(
          RPC_METHODS.getWorkerEncryptionKey.params,
          raw,
          "worker key request",
        );
        if (!sameAddress(p.workerAddress, enclave.signer)) {
          throw new EnigmaError(ErrorCode.WorkerUnknown, "this node is not that worker", {
            details: { workerAddress: p.workerAddress },
          });
        }
        const k = this.#signedKey(enclave, p.userPubKey);
        return Promise.resolve({
          workerEncryptionKey: bytesToHex(k.workerEncryptionKey),
          workerSig: k.workerSig,
        });
      });
      await p2p.handle(
        PROTOCOLS.taskInput,
        async (raw) => {
          const input = parseMessage(taskInputSchema, raw, "task input");
          await this.#d.admission.handedOver(input);
          return true;
        },
        { maxRequestBytes: MAX_INPUT_BYTES },
      );
    }
    await p2p.handle(PROTOCOLS.taskResult, async (raw) => {
      const { taskId } = parseMessage(RPC_METHODS.getTaskResult.params, raw, "task result request");
      const result = await this.#ctx.store.getMessage("result", taskId);
      if (result !== undefined) return result;
      // A task this worker skipped has no result: say so, so that the gateway answers FAILED.
      const outcome = (await this.#ctx.store.getMessage("outcome", taskId)) as
        { code?: unknown } | undefined;
      return outcome?.code === ErrorCode.TaskSkipped ? { taskId, skipped: true } : null;
    });
  }

  /** The enclave's key for a user, signed by the enclave (or by a test fault's key). */
  #signedKey(
    enclave: WorkerEnclave,
    userPubKey: string,
  ): { workerEncryptionKey: Uint8Array; workerSig: Hex } {
    const k = enclave.workerEncryptionKey(userPubKey);
    const fault = this.#ctx.config.testFaults?.workerKeySigner;
    if (fault === undefined) return k;
    // TEST FAULT (config testFaults.workerKeySigner): a signature clients must refuse.
    return { ...k, workerSig: signWorkerKey(hexToBytes(fault), k.workerEncryptionKey) };
  }

  async #workerKey(
    p: RpcParams<"getWorkerEncryptionKey">,
  ): Promise<WireResult<"getWorkerEncryptionKey">> {
    const enclave = this.#d.enclave;
    let key: Hex;
    let sig: Hex;
    if (enclave !== undefined && sameAddress(enclave.signer, p.workerAddress)) {
      const k = this.#signedKey(enclave, p.userPubKey);
      key = bytesToHex(k.workerEncryptionKey);
      sig = k.workerSig;
    } else {
      const peer = await this.#d.directory.peerOf(p.workerAddress);
      const raw = await this.#ctx.p2p.request(peer, PROTOCOLS.workerKey, p, { timeoutMs: 10_000 });
      const r = parseMessage(workerEncryptionKeySchema, raw, "worker key");
      // The client checks this too; a gateway does not pass on a key its worker did not sign.
      const signer = recoverAddress(workerKeyDigest(r.workerEncryptionKey), r.workerSig);
      if (!sameAddress(signer, p.workerAddress)) {
        throw new EnigmaError(
          ErrorCode.SignerMismatch,
          "the worker key is not signed by that worker",
          {
            details: { workerAddress: p.workerAddress },
          },
        );
      }
      key = r.workerEncryptionKey;
      sig = r.workerSig;
    }
    // enigma-js prefixes 0x itself.
    return {
      workerEncryptionKey: toRpcHex(hexToBytes(key)),
      workerSig: toRpcHex(hexToBytes(sig)),
    };
  }

  async #submit(p: RpcParams<"sendTaskInput"> & { preCode?: string }): Promise<boolean> {
    const input: TaskInput = {
      taskId: p.taskId,
      contractAddress: p.contractAddress,
      workerAddress: p.workerAddress,
      encryptedFn: p.encryptedFn,
      encryptedArgs: p.encryptedArgs,
      userDHKey: p.userDHKey,
      ...(p.preCode === undefined ? {} : { preCode: p.preCode }),
    };
    await this.#d.admission.submit(input);
    return true;
  }

  async #status(p: RpcParams<"getTaskStatus">): Promise<WireResult<"getTaskStatus">> {
    const task = await this.#known(p.taskId, p.workerAddress);
    const out: WireResult<"getTaskStatus"> = { status: task.status };
    if (p.withResult && task.result?.output !== undefined)
      out.output = toRpcHex(task.result.output);
    return out;
  }

  async #result(p: RpcParams<"getTaskResult">): Promise<WireResult<"getTaskResult">> {
    const { store } = this.#ctx;
    const task = await store.getTask(p.taskId);
    if (task === undefined) return null;
    if (task.result === undefined) {
      return { taskId: toRpcHex(hexToBytes(task.taskId)), status: task.status };
    }
    const r = task.result;
    const delta =
      r.delta === undefined
        ? undefined
        : (await store.getDeltas(task.contract, r.delta.index, r.delta.index + 1))[0];
    const out: NonNullable<WireResult<"getTaskResult">> = {
      taskId: toRpcHex(hexToBytes(task.taskId)),
      status: task.status,
      output: r.output === undefined ? "" : toRpcHex(r.output),
      usedGas: r.usedGas ?? 0,
      ethereumPayload: r.ethereumPayload === undefined ? "" : toRpcHex(r.ethereumPayload),
      ethereumAddress: r.ethereumAddress === undefined ? "" : toRpcHex(r.ethereumAddress),
      signature: r.signature === undefined ? "" : toRpcHex(r.signature),
      preCodeHash: r.preCodeHash === undefined ? "" : toRpcHex(r.preCodeHash),
    };
    if (delta !== undefined) out["delta"] = { key: delta.index, data: toRpcHex(delta.data) };
    return out;
  }

  /** The stored task; asks the worker for its result when this node missed it. */
  async #known(taskId: Hex, workerAddress?: Hex) {
    const { store } = this.#ctx;
    let task = await store.getTask(taskId);
    if (task === undefined || task.result === undefined) {
      await this.#fetchResult(taskId, workerAddress).catch(nothing);
      task = await store.getTask(taskId);
    }
    if (task === undefined) {
      throw new EnigmaError(ErrorCode.TaskUnknown, `task ${taskId} is not known to this node`, {
        details: { taskId },
      });
    }
    return task;
  }

  /**
   * The worker said it skipped the task: believed only from the worker the task's stored input
   * names (so that nobody else can fail a task at this gateway).
   */
  async #markSkipped(taskId: Hex, workerAddress: Hex): Promise<void> {
    const { store } = this.#ctx;
    const input = taskInputSchema.safeParse(await store.getMessage("input", taskId));
    if (!input.success || !sameAddress(input.data.workerAddress, workerAddress)) return;
    try {
      await store.updateTask(taskId, {
        status: TaskResultStatus.Failed,
        messages: { outcome: { code: ErrorCode.TaskSkipped, message: "skipped by its worker" } },
      });
      this.#d.notify(taskId, "FAILED");
    } catch (e) {
      if (!isEnigmaError(e, ErrorCode.TaskStatusTransition)) throw e;
    }
  }

  async #fetchResult(taskId: Hex, workerAddress?: Hex): Promise<void> {
    if (workerAddress === undefined) return;
    if (this.#d.enclave !== undefined && sameAddress(this.#d.enclave.signer, workerAddress)) return;
    const peer = await this.#d.directory.peerOf(workerAddress);
    const raw = await this.#ctx.p2p.request(
      peer,
      PROTOCOLS.taskResult,
      { taskId },
      { timeoutMs: 3_000 },
    );
    if (raw === null) return;
    const skipped = taskSkippedSchema.safeParse(raw);
    if (skipped.success) {
      await this.#markSkipped(taskId, workerAddress);
      return;
    }
    try {
      await this.#d.acceptResult(parseMessage(taskResultSchema, raw, "task result"));
    } catch (e) {
      if (!isEnigmaError(e)) throw e;
      this.#ctx.log.warn({ taskId, err: e.message }, "fetched result rejected");
    }
  }
}
