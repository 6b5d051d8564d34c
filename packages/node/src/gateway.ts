// The gateway role: Discovery's JSON-RPC methods for clients (DESIGN.md section 5). It takes a
// client's task input, checks what it can (the record on chain and the selected worker, when
// the record is already there), stores it, hands it straight to the selected worker and
// publishes it on gossip for everyone. It answers status and result queries from its own store,
// asking the worker when it missed the result on gossip.
import {
  EnigmaError,
  ErrorCode,
  RPC_METHODS,
  workerEncryptionKeySchema,
  bytesToHex,
  hexToBytes,
  isEnigmaError,
  parseMessage,
  recoverWorkerKeySigner,
  sameAddress,
  signWorkerKey,
  toRpcHex,
  type Hex,
  type RpcParams,
} from "@enigma/protocol";
import type { WorkerEnclave } from "@enigma/enclave";
import type { TaskRecordInfo } from "./chain/enigma-chain.js";
import { isSelected, selectedWorker, type NodeContext } from "./context.js";
import type { PeerDirectory } from "./directory.js";
import {
  PROTOCOLS,
  TOPICS,
  decodePreCode,
  encodeMessage,
  inputsHashOf,
  taskInputSchema,
  taskResultSchema,
  type TaskInput,
  type TaskResult,
} from "./messages.js";
import type { RpcHandlers, RpcWireResult } from "./rpc/server.js";

/** What a handler answers inside Discovery's `{ result: ... }` envelope. */
type WireResult<M extends "getWorkerEncryptionKey" | "getTaskStatus" | "getTaskResult"> =
  RpcWireResult<M>["result"];

export interface GatewayDeps {
  directory: PeerDirectory;
  /** This node's worker enclave, when it is also a worker. */
  enclave?: WorkerEnclave;
  /**
   * Stores a verified input and hands it to this node's pipeline (when it is a worker), with
   * the task's record when the caller has just read it.
   */
  acceptInput: (input: TaskInput, record?: TaskRecordInfo) => Promise<void>;
  /** Checks an input against its task record on chain. */
  verifyInput: (input: TaskInput) => Promise<"accept" | "reject" | "ignore">;
  /** Stores a result heard from a peer (shared with the gossip path). */
  acceptResult: (result: TaskResult) => Promise<void>;
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
          if ((await this.#d.verifyInput(input)) !== "accept") {
            throw new EnigmaError(
              ErrorCode.InputsHashMismatch,
              "the input does not match its task record",
              {
                details: { taskId: input.taskId },
              },
            );
          }
          await this.#d.acceptInput(input);
          return true;
        },
        { maxRequestBytes: MAX_INPUT_BYTES },
      );
    }
    await p2p.handle(PROTOCOLS.taskResult, async (raw) => {
      const { taskId } = parseMessage(RPC_METHODS.getTaskResult.params, raw, "task result request");
      return (await this.#ctx.store.getMessage("result", taskId)) ?? null;
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
      if (
        !sameAddress(recoverWorkerKeySigner(r.workerEncryptionKey, r.workerSig), p.workerAddress)
      ) {
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
    const { store, chain, p2p, metrics, log } = this.#ctx;
    const input: TaskInput = {
      taskId: p.taskId,
      contractAddress: p.contractAddress,
      workerAddress: p.workerAddress,
      encryptedFn: p.encryptedFn,
      encryptedArgs: p.encryptedArgs,
      userDHKey: p.userDHKey,
      ...(p.preCode === undefined ? {} : { preCode: p.preCode }),
    };
    if (input.preCode !== undefined) decodePreCode(input.preCode);
    // Clients record the task before they send it: the input must match that record (so a
    // task id cannot be taken over by another input) and name the selected worker.
    const record = await this.#record(input.taskId);
    if (inputsHashOf(input) !== record.inputsHash) {
      throw new EnigmaError(
        ErrorCode.InputsHashMismatch,
        `the input does not match the inputsHash recorded on chain for task ${input.taskId}`,
        { details: { taskId: input.taskId, recorded: record.inputsHash } },
      );
    }
    {
      if (record.status !== 1) {
        throw new EnigmaError(ErrorCode.TaskNotPending, `task ${input.taskId} is already settled`, {
          details: { taskId: input.taskId, status: record.status },
        });
      }
      if (
        !(await isSelected(chain, input.contractAddress, record.blockNumber, input.workerAddress))
      ) {
        const epoch = await chain.getEpoch(record.blockNumber);
        throw new EnigmaError(
          ErrorCode.WorkerNotSelected,
          `worker ${input.workerAddress} is not the selected worker for this contract in the task's epoch`,
          {
            details: {
              taskId: input.taskId,
              workerAddress: input.workerAddress,
              selected:
                epoch === undefined ? null : (selectedWorker(input.contractAddress, epoch) ?? null),
            },
          },
        );
      }
    }
    if (input.preCode === undefined && (await store.getCode(input.contractAddress)) === undefined) {
      const sc = await chain.getSecretContract(input.contractAddress);
      if (sc === undefined && !(await this.#deploying(input.contractAddress))) {
        throw new EnigmaError(
          ErrorCode.SecretContractNotDeployed,
          `secret contract ${input.contractAddress} is not deployed`,
          { details: { contractAddress: input.contractAddress } },
        );
      }
    }
    await this.#d.acceptInput(input, record);
    metrics.tasksReceived.inc({ kind: input.preCode === undefined ? "compute" : "deploy" });
    const enclave = this.#d.enclave;
    if (enclave === undefined || !sameAddress(enclave.signer, input.workerAddress)) {
      void this.#handOver(input);
    }
    void p2p
      .publish(TOPICS.tasks, encodeMessage(input), { minPeers: 1, timeoutMs: 5_000 })
      .catch((e: unknown) => {
        log.warn({ taskId: input.taskId, err: String(e) }, "task input not gossiped");
      });
    return true;
  }

  /**
   * A deployment of `contract` this node has the input of (a contract's address is its
   * deployment task's id) and whose record is still pending: its tasks are accepted before it
   * ran or committed, since workers run a contract's tasks in record order (the deployment
   * first; if it fails, its tasks fail too).
   */
  async #deploying(contract: Hex): Promise<boolean> {
    const input = taskInputSchema.safeParse(await this.#ctx.store.getMessage("input", contract));
    if (!input.success || input.data.preCode === undefined) return false;
    return (await this.#ctx.chain.getTaskRecord(contract))?.status === 1;
  }

  /** The task's record, waiting briefly for a chain endpoint that lags the client's. */
  async #record(taskId: Hex) {
    for (let i = 0; i < 20; i++) {
      const r = await this.#ctx.chain.getTaskRecord(taskId);
      if (r !== undefined) return r;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new EnigmaError(
      ErrorCode.TaskRecordNotFound,
      `task ${taskId} has no record on Ethereum: create the task record before sending its input`,
      { details: { taskId } },
    );
  }

  /** Direct delivery to the named worker; gossip is the fallback (and the broadcast). */
  async #handOver(input: TaskInput): Promise<void> {
    try {
      const peer = await this.#d.directory.peerOf(input.workerAddress);
      await this.#ctx.p2p.request(peer, PROTOCOLS.taskInput, input, { timeoutMs: 10_000 });
    } catch (e) {
      this.#ctx.log.debug({ taskId: input.taskId, err: String(e) }, "direct hand-over failed");
    }
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
    try {
      await this.#d.acceptResult(parseMessage(taskResultSchema, raw, "task result"));
    } catch (e) {
      if (!isEnigmaError(e)) throw e;
      this.#ctx.log.warn({ taskId, err: e.message }, "fetched result rejected");
    }
  }
}
