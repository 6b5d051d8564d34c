// Keys and values of the node store. Keys are raw bytes chosen so that LevelDB's byte order is
// the order we read in (big-endian integers); values are either a small binary layout (code
// and deltas: the bulky, hot records) or JSON built with a fixed field order and `0x` lower-case
// hex for bytes (tasks, receipts, metadata), so the same record always gives the same bytes.
import {
  EnigmaError,
  ErrorCode,
  TaskResultStatus,
  bytesToHex,
  concatBytes,
  hexToBytes,
  type ChainReceipt,
  type Hex,
} from "@enigma/protocol";
import { z } from "zod";

export const MAX_DELTA_INDEX = Number.MAX_SAFE_INTEGER;

/** Input that names bytes: a Uint8Array, or hex with or without `0x`. */
export type BytesInput = Uint8Array | string;

export function invalid(message: string, details: Record<string, unknown> = {}): EnigmaError {
  return new EnigmaError(ErrorCode.InvalidArgument, message, { details });
}

export function corrupt(what: string, cause?: unknown): EnigmaError {
  return new EnigmaError(
    ErrorCode.StoreCorrupt,
    `stored ${what} cannot be decoded: the data directory is damaged or was written by another program`,
    { details: { what }, cause },
  );
}

/** Bytes of an exact length from untrusted input; InvalidArgument names `what`. */
export function fixedBytes(value: unknown, length: number, what: string): Uint8Array {
  const bytes = anyBytes(value, what);
  if (bytes.length !== length) {
    throw invalid(`${what} must be ${length} bytes, got ${bytes.length}`, { what });
  }
  return bytes;
}

/** Bytes of any length from untrusted input (Uint8Array or hex). */
export function anyBytes(value: unknown, what: string): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (typeof value === "string") return hexToBytes(value, what);
  throw invalid(`${what} must be bytes or a hex string`, { what, type: typeof value });
}

export function index(value: unknown, what: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw invalid(`${what} must be a non-negative safe integer`, { what, value: String(value) });
  }
  return value;
}

export function u64be(n: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(n));
  return out;
}

export function readU64be(bytes: Uint8Array, at: number): number {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw corrupt("index");
  return Number(v);
}

/** Delta key: contract (32) || u64be(index), so one contract's deltas iterate in index order. */
export function deltaKey(contract: Uint8Array, i: number): Uint8Array {
  return concatBytes(contract, u64be(i));
}

/** Delta value: hash (32) || data. */
export function encodeHashed(hash: Uint8Array, data: Uint8Array): Uint8Array {
  return concatBytes(hash, data);
}

export function decodeHashed(
  value: Uint8Array,
  what: string,
): { hash: Uint8Array; data: Uint8Array } {
  if (value.length < 32) throw corrupt(what);
  return { hash: value.slice(0, 32), data: value.slice(32) };
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder("utf-8", { fatal: true });

export function encodeJson(value: unknown): Uint8Array {
  return utf8.encode(JSON.stringify(value));
}

export function decodeJson<S extends z.ZodType>(
  schema: S,
  bytes: Uint8Array,
  what: string,
): z.output<S> {
  let raw: unknown;
  try {
    raw = JSON.parse(fromUtf8.decode(bytes));
  } catch (cause) {
    throw corrupt(what, cause);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw corrupt(what, parsed.error);
  return parsed.data;
}

const hex = (bytes?: number) =>
  z
    .string()
    .regex(/^0x([0-9a-f]{2})*$/)
    .refine((s) => bytes === undefined || s.length === 2 + 2 * bytes) as z.ZodType<Hex>;

export const TASK_STATUSES: readonly TaskResultStatus[] = [
  TaskResultStatus.Unverified,
  TaskResultStatus.InProgress,
  TaskResultStatus.Success,
  TaskResultStatus.Failed,
  TaskResultStatus.EthereumFailure,
];

/** A task's result as the node keeps it (what `getTaskResult` answers from). */
export interface TaskResultData {
  /** Encrypted output for the user. */
  output?: Uint8Array;
  /** The state delta this task produced (its bytes live in the delta records). */
  delta?: { index: number; hash: Uint8Array };
  usedGas?: number;
  ethereumPayload?: Uint8Array;
  /** 20-byte address of the requested Ethereum call. */
  ethereumAddress?: Uint8Array;
  /** The enclave's 65-byte signature over the result. */
  signature?: Uint8Array;
  /** Deployments only. */
  preCodeHash?: Uint8Array;
}

/** A task as stored. */
export interface StoredTask {
  taskId: Hex;
  /** The secret contract (for a deployment, the task id itself). */
  contract: Hex;
  status: TaskResultStatus;
  result?: TaskResultData;
  /** True once its receipt was committed on chain (then it can never be queued again). */
  committed: boolean;
}

const taskJson = z
  .object({
    taskId: hex(32),
    contract: hex(32),
    status: z.enum(TASK_STATUSES as [TaskResultStatus, ...TaskResultStatus[]]),
    committed: z.boolean(),
    result: z
      .object({
        output: hex().optional(),
        delta: z.object({ index: z.number().int().nonnegative(), hash: hex(32) }).optional(),
        usedGas: z.number().int().nonnegative().optional(),
        ethereumPayload: hex().optional(),
        ethereumAddress: hex(20).optional(),
        signature: hex(65).optional(),
        preCodeHash: hex(32).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

const opt = (b: Uint8Array | undefined): Hex | undefined =>
  b === undefined ? undefined : bytesToHex(b);
const optBytes = (h: Hex | undefined): Uint8Array | undefined =>
  h === undefined ? undefined : hexToBytes(h);

export function encodeTask(t: StoredTask): Uint8Array {
  const r = t.result;
  // Field order is fixed here, and JSON.stringify drops undefined fields: deterministic bytes.
  return encodeJson({
    taskId: t.taskId,
    contract: t.contract,
    status: t.status,
    committed: t.committed,
    result:
      r === undefined
        ? undefined
        : {
            output: opt(r.output),
            delta:
              r.delta === undefined
                ? undefined
                : { index: r.delta.index, hash: bytesToHex(r.delta.hash) },
            usedGas: r.usedGas,
            ethereumPayload: opt(r.ethereumPayload),
            ethereumAddress: opt(r.ethereumAddress),
            signature: opt(r.signature),
            preCodeHash: opt(r.preCodeHash),
          },
  });
}

export function decodeTask(bytes: Uint8Array): StoredTask {
  const j = decodeJson(taskJson, bytes, "task");
  const task: StoredTask = {
    taskId: j.taskId,
    contract: j.contract,
    status: j.status,
    committed: j.committed,
  };
  const r = j.result;
  if (r !== undefined) {
    task.result = dropUndefined({
      output: optBytes(r.output),
      delta:
        r.delta === undefined
          ? undefined
          : { index: r.delta.index, hash: hexToBytes(r.delta.hash) },
      usedGas: r.usedGas,
      ethereumPayload: optBytes(r.ethereumPayload),
      ethereumAddress: optBytes(r.ethereumAddress),
      signature: optBytes(r.signature),
      preCodeHash: optBytes(r.preCodeHash),
    });
  }
  return task;
}

/** Validates a caller's result; returns a clean copy (only known fields, defined ones). */
export function checkResult(value: unknown): TaskResultData {
  if (typeof value !== "object" || value === null) throw invalid("result must be an object");
  const r = value as Record<string, unknown>;
  const known = new Set([
    "output",
    "delta",
    "usedGas",
    "ethereumPayload",
    "ethereumAddress",
    "signature",
    "preCodeHash",
  ]);
  for (const k of Object.keys(r)) {
    if (!known.has(k)) throw invalid(`unknown result field "${k}"`, { field: k });
  }
  const bytesOpt = (k: string, len?: number) => {
    const v = r[k];
    if (v === undefined) return undefined;
    return len === undefined ? anyBytes(v, `result.${k}`) : fixedBytes(v, len, `result.${k}`);
  };
  let delta: TaskResultData["delta"];
  if (r["delta"] !== undefined) {
    if (typeof r["delta"] !== "object" || r["delta"] === null) {
      throw invalid("result.delta must be {index, hash}");
    }
    const d = r["delta"] as Record<string, unknown>;
    delta = {
      index: index(d["index"], "result.delta.index"),
      hash: fixedBytes(d["hash"], 32, "result.delta.hash"),
    };
  }
  return dropUndefined({
    output: bytesOpt("output"),
    delta,
    usedGas: r["usedGas"] === undefined ? undefined : index(r["usedGas"], "result.usedGas"),
    ethereumPayload: bytesOpt("ethereumPayload"),
    ethereumAddress: bytesOpt("ethereumAddress", 20),
    signature: bytesOpt("signature", 65),
    preCodeHash: bytesOpt("preCodeHash", 32),
  });
}

/** A copy without undefined fields, so that equal results compare and encode equal. */
function dropUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

const receiptJson = z
  .object({
    taskId: hex(32),
    scAddr: hex(32),
    inputsHash: hex(32),
    prevDeltaHash: hex(32),
    deltaIndex: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
    stateDeltaHash: hex(32),
    outputHash: hex(32),
    gasUsed: z.string().regex(/^(0|[1-9][0-9]*)$/),
    success: z.boolean(),
    preCodeHash: hex(32),
    codeHash: hex(32),
    ethAddress: hex(20),
    ethCalldata: hex(),
  })
  .strict();

const U64_MAX = (1n << 64n) - 1n;

/** Validates a receipt from the caller and normalises its hex to `0x` lower case. */
export function checkReceipt(value: unknown): ChainReceipt {
  if (typeof value !== "object" || value === null) throw invalid("receipt must be an object");
  const r = value as Record<string, unknown>;
  const h = (k: string, len?: number): Hex =>
    bytesToHex(
      len === undefined ? anyBytes(r[k], `receipt.${k}`) : fixedBytes(r[k], len, `receipt.${k}`),
    );
  const gasUsed = r["gasUsed"];
  if (typeof gasUsed !== "bigint" || gasUsed < 0n || gasUsed > U64_MAX) {
    throw invalid("receipt.gasUsed must be a uint64 bigint", { type: typeof gasUsed });
  }
  if (typeof r["success"] !== "boolean") throw invalid("receipt.success must be a boolean");
  const deltaIndex = r["deltaIndex"];
  if (typeof deltaIndex !== "number" || !Number.isSafeInteger(deltaIndex) || deltaIndex < 0) {
    throw invalid("receipt.deltaIndex must be a non-negative safe integer", {
      type: typeof deltaIndex,
    });
  }
  return {
    taskId: h("taskId", 32),
    scAddr: h("scAddr", 32),
    inputsHash: h("inputsHash", 32),
    prevDeltaHash: h("prevDeltaHash", 32),
    deltaIndex,
    stateDeltaHash: h("stateDeltaHash", 32),
    outputHash: h("outputHash", 32),
    gasUsed,
    success: r["success"],
    preCodeHash: h("preCodeHash", 32),
    codeHash: h("codeHash", 32),
    ethAddress: h("ethAddress", 20),
    ethCalldata: h("ethCalldata"),
  };
}

export function encodeReceipt(r: ChainReceipt): Uint8Array {
  return encodeJson({
    taskId: r.taskId,
    scAddr: r.scAddr,
    inputsHash: r.inputsHash,
    prevDeltaHash: r.prevDeltaHash,
    deltaIndex: r.deltaIndex,
    stateDeltaHash: r.stateDeltaHash,
    outputHash: r.outputHash,
    gasUsed: r.gasUsed.toString(),
    success: r.success,
    preCodeHash: r.preCodeHash,
    codeHash: r.codeHash,
    ethAddress: r.ethAddress,
    ethCalldata: r.ethCalldata,
  });
}

export function decodeReceipt(bytes: Uint8Array): ChainReceipt {
  const j = decodeJson(receiptJson, bytes, "receipt");
  return { ...j, gasUsed: BigInt(j.gasUsed) };
}

/** A JSON value as metadata holds it. */
export type MetaValue = string | number | boolean | null | MetaValue[] | { [k: string]: MetaValue };

export function checkMeta(value: unknown, path = "value"): MetaValue {
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw invalid(`${path} must be a finite number`, { path });
    return value;
  }
  if (Array.isArray(value)) return value.map((v, i) => checkMeta(v, `${path}[${i}]`));
  if (typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, MetaValue> = {};
    // Sorted keys: the same object always serialises to the same bytes.
    for (const k of Object.keys(value).sort()) {
      out[k] = checkMeta((value as Record<string, unknown>)[k], `${path}.${k}`);
    }
    return out;
  }
  throw invalid(
    `${path} must be JSON (string, finite number, boolean, null, array, plain object)`,
    {
      path,
      type: typeof value,
    },
  );
}

export const metaJson: z.ZodType<MetaValue> = z.json();
