// What nodes say to each other: the gossip topics and request-response protocols, and the
// schema of every message. Everything that arrives from a peer goes through `parseMessage`
// with one of these schemas before the node looks at it.
import { gunzipSync } from "node:zlib";
import {
  EnigmaError,
  ErrorCode,
  addressSchema,
  base64Decode,
  bytes32Schema,
  bytesToHex,
  deploymentInputsHash,
  hexSchema,
  hexToBytes,
  inputsHash,
  parseMessage,
  keccak256,
  payloadSchema,
  publicKey64Schema,
  RPC_LIMITS,
  signatureSchema,
  type ChainReceipt,
  type Hex,
} from "@enigma/protocol";
import { z } from "zod";
import { decodeJson, encodeJson } from "./p2p/wire.js";

/** Gossip topics: every node subscribes to both. */
export const TOPICS = Object.freeze({
  /** Task inputs as clients sent them (encrypted), published by the gateway that took them. */
  tasks: "/enigma/tasks/1",
  /** Task results (encrypted output, encrypted delta, receipt fields, enclave signature). */
  results: "/enigma/results/1",
});

/** Request-response protocols. */
export const PROTOCOLS = Object.freeze({
  /** Who is this peer: role, enclave signer (proved by a signature over the peer id). */
  identity: "/enigma/identity/1",
  /** A worker's enclave encryption key for one user (forwarded by gateways). */
  workerKey: "/enigma/worker-key/1",
  /** A task input handed straight to the selected worker (gossip is the broadcast path). */
  taskInput: "/enigma/task-input/1",
  /** A task's result, for a node that missed it on gossip. */
  taskResult: "/enigma/task-result/1",
  /** State keys from the principal (attested, selected workers only). */
  stateKeys: "/enigma/state-keys/1",
  /** Code and a range of ordered encrypted deltas of one contract (late or returning nodes). */
  deltas: "/enigma/deltas/1",
});

/** Most deltas one sync response carries; a node asks again for the rest. */
export const MAX_DELTAS_PER_RESPONSE = 256;
/** Largest pre-code a node accepts after gunzip. */
export const MAX_PRECODE_BYTES = 4 * 1024 * 1024;

const ZERO32: Hex = `0x${"00".repeat(32)}`;
const ZERO_ADDRESS: Hex = `0x${"00".repeat(20)}`;

const base64Schema = z
  .string()
  .min(1)
  .max(RPC_LIMITS.maxPreCodeChars)
  .regex(/^[A-Za-z0-9+/]*={0,2}$/, "must be base64");

export const taskInputSchema = z
  .object({
    taskId: bytes32Schema,
    /** For a deployment, equal to taskId. */
    contractAddress: bytes32Schema,
    /** The worker the client addressed (its enclave signer). */
    workerAddress: addressSchema,
    encryptedFn: payloadSchema,
    encryptedArgs: payloadSchema,
    userDHKey: publicKey64Schema,
    /** Deployments only: the pre-code, gzipped and base64-encoded as the client sent it. */
    preCode: base64Schema.optional(),
  })
  .strict();
export type TaskInput = z.output<typeof taskInputSchema>;

export const taskResultSchema = z
  .object({
    taskId: bytes32Schema,
    contractAddress: bytes32Schema,
    /** The enclave signer that produced the result (must be the task's selected worker). */
    workerAddress: addressSchema,
    /** What the signed receipt binds: the inputs hash the enclave ran (= the record's)... */
    inputsHash: bytes32Schema,
    /** ...and the delta the task ran on (zero for a deployment) with its chain position. */
    prevDeltaHash: bytes32Schema,
    deltaIndex: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
    success: z.boolean(),
    output: hexSchema(undefined, RPC_LIMITS.maxPayloadBytes),
    delta: z
      .object({
        index: z.number().int().nonnegative(),
        hash: bytes32Schema,
        data: hexSchema(undefined, RPC_LIMITS.maxPayloadBytes),
      })
      .strict()
      .nullable(),
    gasUsed: z.string().regex(/^\d{1,20}$/, "must be a decimal uint64"),
    ethCall: z.object({ address: addressSchema, payload: payloadSchema }).strict().nullable(),
    preCodeHash: bytes32Schema.nullable(),
    codeHash: bytes32Schema.nullable(),
    error: z
      .object({ code: z.number().int(), message: z.string().max(4096) })
      .strict()
      .nullable(),
    /** EIP-712 signature of the one-receipt batch `receiptOf(result)`. */
    signature: signatureSchema,
  })
  .strict();
export type TaskResult = z.output<typeof taskResultSchema>;

export const identitySchema = z
  .object({
    peerId: z.string().min(1).max(128),
    roles: z
      .array(z.enum(["principal", "worker", "gateway"]))
      .min(1)
      .max(3),
    /** Enclave signer; absent for a gateway-only node. */
    signer: addressSchema.optional(),
    /** The signer's signature over the enclave's `peerIdentityDigest(peerId)`. */
    signature: signatureSchema.optional(),
    /** Where this peer listens. */
    multiaddrs: z.array(z.string().min(1).max(256)).max(16).default([]),
    /** Other peers it knows (peer exchange, so a node that bootstrapped off one peer meets all). */
    known: z
      .array(
        z
          .object({
            peerId: z.string().min(1).max(128),
            multiaddrs: z.array(z.string().min(1).max(256)).max(16),
          })
          .strict(),
      )
      .max(64)
      .default([]),
  })
  .strict();
export type PeerIdentity = z.output<typeof identitySchema>;

export const workerKeyRequestSchema = z
  .object({ workerAddress: addressSchema, userPubKey: publicKey64Schema })
  .strict();

/** A worker's answer to a task-result request for a task it skipped (no result exists). */
export const taskSkippedSchema = z
  .object({ taskId: bytes32Schema, skipped: z.literal(true) })
  .strict();

export const taskResultRequestSchema = z.object({ taskId: bytes32Schema }).strict();

export const deltaRangeRequestSchema = z
  .object({
    contract: bytes32Schema,
    from: z.number().int().nonnegative(),
    to: z.number().int().positive(),
    withCode: z.boolean().default(false),
  })
  .strict()
  .refine((r) => r.to > r.from, { message: "to must be greater than from" });

export const deltaRangeResponseSchema = z
  .object({
    code: hexSchema(undefined, MAX_PRECODE_BYTES).nullable(),
    deltas: z
      .array(
        z
          .object({
            index: z.number().int().nonnegative(),
            hash: bytes32Schema,
            data: hexSchema(undefined, RPC_LIMITS.maxPayloadBytes),
          })
          .strict(),
      )
      .max(MAX_DELTAS_PER_RESPONSE),
  })
  .strict();

/** A message as gossip bytes (JSON). */
export function encodeMessage(value: unknown): Uint8Array {
  return encodeJson(value, "message");
}

/** A gossip message of one schema, from its bytes; InvalidMessage when it is not one. */
export function decodeMessage<S extends z.ZodType>(
  schema: S,
  data: Uint8Array,
  what: string,
): z.output<S> {
  return parseMessage(schema, decodeJson(data, what), what);
}

/** The pre-code of a deployment input, un-gzipped (bounded); InvalidMessage when broken. */
export function decodePreCode(preCode: string): Uint8Array {
  try {
    const zipped = base64Decode(preCode);
    return new Uint8Array(gunzipSync(zipped, { maxOutputLength: MAX_PRECODE_BYTES }));
  } catch (cause) {
    throw new EnigmaError(
      ErrorCode.InvalidMessage,
      `preCode must be gzipped, base64-encoded WebAssembly of at most ${MAX_PRECODE_BYTES} bytes`,
      { cause },
    );
  }
}

/** The inputs hash a task input must match on chain (deployments hash the raw pre-code). */
export function inputsHashOf(input: TaskInput, preCode?: Uint8Array): Hex {
  if (input.preCode !== undefined) {
    return deploymentInputsHash(
      input.encryptedFn,
      input.encryptedArgs,
      preCode ?? decodePreCode(input.preCode),
      input.userDHKey,
    );
  }
  return inputsHash(input.encryptedFn, input.encryptedArgs, input.contractAddress, input.userDHKey);
}

/** The chain receipt a result stands for: what the worker will commit and what it signed. */
export function receiptOf(result: TaskResult): ChainReceipt {
  return {
    taskId: result.taskId,
    scAddr: result.contractAddress,
    inputsHash: result.inputsHash,
    prevDeltaHash: result.prevDeltaHash,
    deltaIndex: result.deltaIndex,
    stateDeltaHash: result.delta?.hash ?? ZERO32,
    outputHash: bytesToHex(keccak256(hexToBytes(result.output))),
    gasUsed: BigInt(result.gasUsed),
    success: result.success,
    preCodeHash: result.preCodeHash ?? ZERO32,
    codeHash: result.codeHash ?? ZERO32,
    ethAddress: result.ethCall?.address ?? ZERO_ADDRESS,
    ethCalldata: result.ethCall?.payload ?? "0x",
  };
}

/** Internal consistency of a result (hashes match their data); ResultRejected otherwise. */
export function checkResultShape(result: TaskResult): void {
  const fail = (why: string) =>
    new EnigmaError(ErrorCode.ResultRejected, `result of ${result.taskId}: ${why}`, {
      details: { taskId: result.taskId },
    });
  if (result.delta !== null) {
    if (bytesToHex(keccak256(hexToBytes(result.delta.data))) !== result.delta.hash) {
      throw fail("delta hash does not match its data");
    }
    if (!result.success) throw fail("a failed task carries no delta");
    // The index is signed (the receipt's deltaIndex): a genuine delta cannot be replayed at
    // another position.
    if (result.delta.index !== result.deltaIndex) throw fail("delta index is not the signed one");
  }
  if (!result.success && result.ethCall !== null) throw fail("a failed task makes no call");
  const deployment = result.preCodeHash !== null;
  if (deployment && result.contractAddress !== result.taskId) {
    throw fail("a deployment's contract address is its task id");
  }
}
