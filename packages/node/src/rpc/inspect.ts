// Read-only JSON-RPC methods beside Discovery's six, for people looking at a network (the
// devnet explorer, `enigma task trace`): what this node saw of a task and when, the trace
// events since a cursor, and the delta hashes this node stores for a contract. Plus, on a
// devnet that turned the enclave's debug interface on (never elsewhere), the decrypted input
// and output of a task and the plaintext state of a contract.
import type { WorkerEnclave } from "@enigma/enclave";
import {
  EnigmaError,
  ErrorCode,
  bytes32Schema,
  bytesToHex,
  decodeArgs,
  decodeValues,
  hexToBytes,
  parseFunctionSignature,
  validationIssues,
  type Hex,
} from "@enigma/protocol";
import { z } from "zod";
import { taskInputSchema } from "../messages.js";
import type { NodeStore } from "../store/store.js";
import type { TaskTraceLog } from "../trace/trace.js";
import type { MethodEntry } from "./jsonrpc.js";

export interface InspectPorts {
  trace: TaskTraceLog;
  store: Pick<NodeStore, "getCode" | "getDeltas" | "getTask" | "getMessage">;
  /** Who this node is (named in every answer). */
  node: () => { signer: Hex | null; peerId: string; roles: readonly string[] };
  /** The worker enclave, when this node is a worker (debug methods need it). */
  enclave?: WorkerEnclave;
}

/** Most deltas one `getContractDeltas` call returns. */
const MAX_DELTAS = 1_000;

const taskParams = z.object({ taskId: bytes32Schema }).strict();
const eventsParams = z
  .object({
    after: z.number().int().min(0).default(0),
    limit: z.number().int().min(1).max(1_000).default(500),
  })
  .strict();
const contractParams = z
  .object({
    contract: bytes32Schema,
    from: z.number().int().min(0).default(0),
    limit: z.number().int().min(1).max(MAX_DELTAS).default(MAX_DELTAS),
  })
  .strict();
const stateParams = z.object({ contract: bytes32Schema }).strict();

function entry<S extends z.ZodType>(
  method: string,
  schema: S,
  call: (p: z.output<S>) => Promise<unknown>,
): MethodEntry {
  return {
    parse: (p) => {
      const r = schema.safeParse(p ?? {});
      if (r.success) return r.data;
      const issues = validationIssues(r.error);
      const first = issues[0];
      throw new EnigmaError(
        ErrorCode.InvalidRpcParams,
        `invalid params for ${method}: ${first ? `${first.path || "(root)"} ${first.message}` : "rejected"}`,
        { details: { method, issues } },
      );
    },
    call: (p) => call(p as z.output<S>),
  };
}

/** The inspection methods (always) and the debug methods (answering only when debug is on). */
export function inspectionMethods(p: InspectPorts): Record<string, MethodEntry> {
  const debug = () => {
    // The worker enclave says whether its debug interface is on (EnclaveDebugDisabled if not).
    if (p.enclave === undefined) {
      throw new EnigmaError(
        ErrorCode.EnclaveDebugUnavailable,
        "this node has no worker enclave: ask a worker node",
      );
    }
    return p.enclave.debug;
  };
  return {
    getTaskTrace: entry("getTaskTrace", taskParams, ({ taskId }) =>
      Promise.resolve({
        node: p.node(),
        taskId: taskId.toLowerCase(),
        events: p.trace.trace(taskId).map(({ seq: _seq, taskId: _id, ...e }) => e),
      }),
    ),
    getTraceEvents: entry("getTraceEvents", eventsParams, ({ after, limit }) =>
      Promise.resolve({ node: p.node(), ...p.trace.since(after, limit) }),
    ),
    getContractDeltas: entry("getContractDeltas", contractParams, async (q) => {
      const code = await p.store.getCode(q.contract);
      const deltas = await p.store.getDeltas(q.contract, q.from, q.from + q.limit);
      return {
        node: p.node(),
        contract: q.contract.toLowerCase(),
        codeHash: code === undefined ? null : bytesToHex(code.codeHash),
        deltas: deltas.map((d) => ({ index: d.index, hash: bytesToHex(d.hash) })),
      };
    }),
    debugContractState: entry("debugContractState", stateParams, async ({ contract }) => {
      const d = debug();
      const deltas = await p.store.getDeltas(contract);
      if (deltas.length === 0) {
        throw new EnigmaError(
          ErrorCode.EnclaveDebugUnavailable,
          "this node stores no delta of that contract",
          { details: { contract } },
        );
      }
      return {
        node: p.node(),
        contract: contract.toLowerCase(),
        deltas: deltas.length,
        entries: d.contractState(contract, deltas),
      };
    }),
    debugTaskData: entry("debugTaskData", taskParams, async ({ taskId }) => {
      const d = debug();
      const input = taskInputSchema.safeParse(await p.store.getMessage("input", taskId));
      if (!input.success) {
        throw new EnigmaError(
          ErrorCode.EnclaveDebugUnavailable,
          "this node holds no input of that task",
          { details: { taskId } },
        );
      }
      const i = input.data;
      const dec = d.decryptInput({
        userPubKey: hexToBytes(i.userDHKey),
        encryptedFn: hexToBytes(i.encryptedFn),
        encryptedArgs: hexToBytes(i.encryptedArgs),
      });
      const task = await p.store.getTask(taskId);
      const output =
        task?.result?.output === undefined
          ? undefined
          : d.decryptOutput(hexToBytes(i.userDHKey), task.result.output);
      return {
        node: p.node(),
        taskId: taskId.toLowerCase(),
        contract: i.contractAddress.toLowerCase(),
        kind: i.preCode === undefined ? "compute" : "deploy",
        status: task?.status ?? null,
        fn: dec.fn,
        args: bytesToHex(dec.args),
        decodedArgs: readable(() => decodeArgs(parseFunctionSignature(dec.fn), dec.args)),
        output: output === undefined ? null : bytesToHex(output),
        outputText: output === undefined ? null : text(output),
        // A 32-byte output is most often one ABI word (uint256, bool, address...).
        outputUint256:
          output?.length === 32 ? readable(() => decodeValues(["uint256"], output))?.[0] : null,
      };
    }),
  };
}

/** Values as JSON can carry them (bigints as decimal strings); null when they do not decode. */
function readable(fn: () => unknown[]): string[] | null {
  try {
    return fn().map((v) =>
      typeof v === "bigint" ? v.toString() : typeof v === "string" ? v : JSON.stringify(v, big),
    );
  } catch {
    return null;
  }
}

function big(_k: string, v: unknown): unknown {
  return typeof v === "bigint" ? v.toString() : v;
}

/** UTF-8 text when the bytes are printable text (failure messages are), else null. */
function text(bytes: Uint8Array): string | null {
  try {
    const t = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    // eslint-disable-next-line no-control-regex -- printable text only
    return /^[^\u0000-\u0008\u000e-\u001f]*$/.test(t) ? t : null;
  } catch {
    return null;
  }
}
