import { z } from "zod";
import { EnigmaError, ErrorCode } from "./errors.js";
import type { Hex } from "./hex.js";
import { normalizePublicKey } from "./keys.js";
import { validationIssues } from "./issues.js";

/**
 * Message schemas for the node JSON-RPC of DESIGN.md section 5 (Discovery's methods). Hex
 * is accepted with or without `0x` (enigma-js 0.3.0 strips it from task ids, addresses,
 * keys and ciphertexts) and parsed into lower-case `0x` hex. What a node *sends* back must
 * stay un-prefixed where enigma-js prepends `0x` itself: use `toRpcHex`.
 */

/** Upper bounds on untrusted payloads, so that a request cannot make a node buffer gigabytes. */
export const RPC_LIMITS = Object.freeze({
  /** Encrypted function name, arguments or output, in bytes. */
  maxPayloadBytes: 1024 * 1024,
  /** Gzipped, base64-encoded pre-code, in characters. */
  maxPreCodeChars: 8 * 1024 * 1024,
});

const HEX_BODY = /^(?:0x)?(?:[0-9a-fA-F]{2})*$/;

/** Hex digits after an optional `0x` (counted, not copied: payloads run to megabytes). */
const hexDigits = (s: string): number => (s.startsWith("0x") ? s.length - 2 : s.length);

/** Hex string with or without `0x`, optionally of an exact byte length; parses to `0x` lower-case. */
export function hexSchema(bytes?: number, maxBytes = RPC_LIMITS.maxPayloadBytes) {
  return z
    .string()
    .regex(HEX_BODY, "must be an even-length hex string (0x optional)")
    .refine((s) => bytes === undefined || hexDigits(s) === 2 * bytes, {
      message: `must be ${bytes ?? 0} bytes`,
    })
    .refine((s) => hexDigits(s) <= 2 * maxBytes, {
      message: `must be at most ${maxBytes} bytes`,
    })
    .transform((s): Hex => {
      const lower = s.toLowerCase();
      return (lower.startsWith("0x") ? lower : `0x${lower}`) as Hex;
    });
}

export const addressSchema = hexSchema(20);
export const bytes32Schema = hexSchema(32);
/** A user's or worker's 64-byte secp256k1 public key (x || y), checked to be on the curve. */
export const publicKey64Schema = hexSchema(64).refine(
  (h) => {
    try {
      normalizePublicKey(h);
      return true;
    } catch {
      return false;
    }
  },
  { message: "must be a point on secp256k1" },
);
/** 65-byte `r || s || v` signature. */
export const signatureSchema = hexSchema(65);
export const payloadSchema = hexSchema();

/**
 * Optional, and `""` (or `"0x"`) also means absent: Discovery's results carry empty strings
 * for "no Ethereum call" and "not a deployment".
 */
function absentWhenEmpty<T extends z.ZodType>(schema: T) {
  return z
    .union([
      z.literal("").transform(() => undefined),
      z.literal("0x").transform(() => undefined),
      schema,
    ])
    .optional();
}

/** Task status strings of the node RPC (Discovery's). */
export const TaskResultStatus = {
  Unverified: "UNVERIFIED",
  InProgress: "INPROGRESS",
  Success: "SUCCESS",
  Failed: "FAILED",
  EthereumFailure: "ETHEREUMFAILURE",
} as const;
export type TaskResultStatus = (typeof TaskResultStatus)[keyof typeof TaskResultStatus];
export const taskResultStatusSchema = z.enum([
  TaskResultStatus.Unverified,
  TaskResultStatus.InProgress,
  TaskResultStatus.Success,
  TaskResultStatus.Failed,
  TaskResultStatus.EthereumFailure,
]);

const base64Body = /^[A-Za-z0-9+/]*={0,2}$/;

export const getInfoParamsSchema = z.union([z.object({}), z.array(z.never()).length(0)]).optional();
/** Free-form node information; the node decides what it reports. */
export const getInfoResultSchema = z.looseObject({});

export const getWorkerEncryptionKeyParamsSchema = z.object({
  workerAddress: addressSchema,
  userPubKey: publicKey64Schema,
});
/** A worker's per-request encryption key and its enclave signature over it. */
export const workerEncryptionKeySchema = z.object({
  workerEncryptionKey: publicKey64Schema,
  workerSig: signatureSchema,
});
/**
 * Discovery's nodes answer getWorkerEncryptionKey, getTaskStatus and getTaskResult with the
 * value inside a `result` member of the JSON-RPC result (enigma-js reads `response.result.X`).
 */
function discoveryEnvelope<T extends z.ZodType>(schema: T) {
  return z.object({ result: schema });
}
export const getWorkerEncryptionKeyResultSchema = discoveryEnvelope(workerEncryptionKeySchema);

export const deploySecretContractParamsSchema = z.object({
  workerAddress: addressSchema,
  /** The pre-code, gzipped then base64-encoded (as enigma-js sends it). */
  preCode: z
    .string()
    .min(1, "must not be empty")
    .max(RPC_LIMITS.maxPreCodeChars, `must be at most ${RPC_LIMITS.maxPreCodeChars} characters`)
    .regex(base64Body, "must be base64")
    .refine((s) => s.length % 4 === 0, { message: "must be padded base64" }),
  encryptedArgs: payloadSchema,
  encryptedFn: payloadSchema,
  userDHKey: publicKey64Schema,
  contractAddress: bytes32Schema,
});

export const sendTaskInputParamsSchema = z.object({
  taskId: bytes32Schema,
  workerAddress: addressSchema,
  encryptedFn: payloadSchema,
  encryptedArgs: payloadSchema,
  userDHKey: publicKey64Schema,
  contractAddress: bytes32Schema,
});
/**
 * deploySecretContract and sendTaskInput answer `{ sendTaskResult: true }` once the input is
 * accepted (Discovery's shape; a refused input is a JSON-RPC error).
 */
export const taskInputResultSchema = z.object({ sendTaskResult: z.boolean() });

export const getTaskStatusParamsSchema = z.object({
  taskId: bytes32Schema,
  workerAddress: addressSchema,
  withResult: z.boolean().optional().default(false),
});
export const taskStatusSchema = z.object({
  status: taskResultStatusSchema,
  /** The encrypted output, when asked `withResult` and the task is done. */
  output: payloadSchema.optional(),
});
export const getTaskStatusResultSchema = discoveryEnvelope(taskStatusSchema);

export const getTaskResultParamsSchema = z.object({ taskId: bytes32Schema });
export const taskResultSchema = z.object({
  taskId: bytes32Schema,
  status: taskResultStatusSchema,
  output: payloadSchema.optional(),
  delta: z.object({ key: z.number().int().nonnegative(), data: payloadSchema }).optional(),
  usedGas: z.number().int().nonnegative().optional(),
  ethereumPayload: payloadSchema.optional(),
  ethereumAddress: absentWhenEmpty(addressSchema),
  signature: signatureSchema.optional(),
  preCodeHash: absentWhenEmpty(bytes32Schema),
});
/** `{ result: null }` while no result is known (enigma-js then retries). */
export const getTaskResultResultSchema = discoveryEnvelope(taskResultSchema.nullable());

/** Every method: its params and result schemas. */
export const RPC_METHODS = Object.freeze({
  getInfo: { params: getInfoParamsSchema, result: getInfoResultSchema },
  getWorkerEncryptionKey: {
    params: getWorkerEncryptionKeyParamsSchema,
    result: getWorkerEncryptionKeyResultSchema,
  },
  deploySecretContract: { params: deploySecretContractParamsSchema, result: taskInputResultSchema },
  sendTaskInput: { params: sendTaskInputParamsSchema, result: taskInputResultSchema },
  getTaskStatus: { params: getTaskStatusParamsSchema, result: getTaskStatusResultSchema },
  getTaskResult: { params: getTaskResultParamsSchema, result: getTaskResultResultSchema },
});
export type RpcMethod = keyof typeof RPC_METHODS;
export type RpcParams<M extends RpcMethod> = z.output<(typeof RPC_METHODS)[M]["params"]>;
export type RpcResult<M extends RpcMethod> = z.output<(typeof RPC_METHODS)[M]["result"]>;

/** JSON-RPC 2.0 request envelope. */
export const rpcRequestSchema = z.object({
  jsonrpc: z.literal("2.0"),
  id: z.union([z.string(), z.number(), z.null()]).optional(),
  method: z.string().min(1),
  params: z.union([z.record(z.string(), z.unknown()), z.array(z.unknown())]).optional(),
});

export function isRpcMethod(method: string): method is RpcMethod {
  return Object.hasOwn(RPC_METHODS, method);
}

/**
 * Validates a method's params; throws `InvalidRpcParams` with every problem and its path
 * (`details.issues`), or `InvalidMessage` for an unknown method.
 *
 * @example
 * const p = parseRpcParams("getTaskStatus", { taskId: "ab".repeat(32), workerAddress, withResult: true });
 */
export function parseRpcParams<M extends RpcMethod>(method: M, params: unknown): RpcParams<M> {
  const schema = RPC_METHODS[checkMethod(method)].params;
  return parseWith(method, schema, params, ErrorCode.InvalidRpcParams, "params") as RpcParams<M>;
}

/** Validates a method's result as a client receives it; throws `InvalidRpcResult`. */
export function parseRpcResult<M extends RpcMethod>(method: M, result: unknown): RpcResult<M> {
  const schema = RPC_METHODS[checkMethod(method)].result;
  return parseWith(method, schema, result, ErrorCode.InvalidRpcResult, "result") as RpcResult<M>;
}

/** Validates any value against a schema; throws `InvalidMessage` with the issues. */
export function parseMessage<S extends z.ZodType>(
  schema: S,
  value: unknown,
  what: string,
): z.output<S> {
  return parseWith(what, schema, value, ErrorCode.InvalidMessage, "message");
}

/** Un-prefixed lower-case hex, the form enigma-js expects in results (it prepends `0x`). */
export function toRpcHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

function checkMethod(method: string): RpcMethod {
  if (!isRpcMethod(method)) {
    throw new EnigmaError(ErrorCode.InvalidMessage, `unknown RPC method "${method}"`, {
      details: { method, known: Object.keys(RPC_METHODS) },
    });
  }
  return method;
}

function parseWith<S extends z.ZodType>(
  name: string,
  schema: S,
  value: unknown,
  code: ErrorCode,
  what: string,
): z.output<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issues = validationIssues(r.error);
  const first = issues[0];
  throw new EnigmaError(
    code,
    `invalid ${what} for ${name}: ${first ? `${first.path || "(root)"} ${first.message}` : "rejected"}`,
    { details: { method: name, issues } },
  );
}
