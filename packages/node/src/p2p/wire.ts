import { EnigmaError, ErrorCode, errorName, isEnigmaError } from "@enigma/protocol";
import * as lp from "it-length-prefixed";
import type { Uint8ArrayList } from "uint8arraylist";

// The request-response wire format: one length-prefixed (unsigned varint) JSON frame each way
// per stream. A request frame is the JSON body itself; a response frame is an envelope,
// `{"result": value}` or `{"error": {code, message, details}}`, so that a result which happens
// to have an `error` field is never mistaken for a failure.

/** An error as it crosses the wire. */
export interface WireError {
  code: number;
  message: string;
  details: Record<string, unknown>;
}

export type ResponseEnvelope = { result: unknown } | { error: WireError };

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * JSON-encodes a value to UTF-8. `undefined` becomes `null` (JSON has no undefined).
 * Throws InvalidArgument when the value cannot be represented (a bigint, a cycle).
 */
export function encodeJson(value: unknown, what: string): Uint8Array {
  if (typeof value === "function" || typeof value === "symbol") {
    throw new EnigmaError(ErrorCode.InvalidArgument, `${what} is not JSON-serializable`);
  }
  let text: string;
  try {
    // undefined (like a function) stringifies to undefined, though typed as string.
    text = value === undefined ? "null" : JSON.stringify(value);
  } catch (cause) {
    throw new EnigmaError(ErrorCode.InvalidArgument, `${what} is not JSON-serializable`, {
      cause,
    });
  }
  return encoder.encode(text);
}

/** Parses a UTF-8 JSON frame; malformed input is InvalidMessage. */
export function decodeJson(bytes: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(decoder.decode(bytes)) as unknown;
  } catch (cause) {
    throw new EnigmaError(ErrorCode.InvalidMessage, `${what} is not valid UTF-8 JSON`, {
      details: { bytes: bytes.byteLength },
      cause,
    });
  }
}

/** Prefixes a frame with its length, ready for `stream.send`. */
export function frame(bytes: Uint8Array): Uint8ArrayList {
  return lp.encode.single(bytes);
}

/**
 * Reads the first length-prefixed frame from a stream. Returns undefined when the stream ends
 * before a whole frame; a frame announcing more than `maxBytes` is MessageTooLarge, detected
 * from the length prefix before the body is buffered.
 */
export async function readFrame(
  source: AsyncIterable<Uint8Array | Uint8ArrayList>,
  maxBytes: number,
  what: string,
): Promise<Uint8Array | undefined> {
  try {
    for await (const chunk of lp.decode(source, { maxDataLength: maxBytes })) {
      return chunk.subarray();
    }
  } catch (e) {
    if (e instanceof Error && e.name === "UnexpectedEOFError") return undefined;
    if (e instanceof Error && e.name === "InvalidDataLengthError") {
      throw new EnigmaError(ErrorCode.MessageTooLarge, `${what} exceeds ${maxBytes} bytes`, {
        details: { maxBytes },
        cause: e,
      });
    }
    throw e;
  }
  return undefined;
}

/** The wire form of anything a request handler throws. */
export function toWireError(e: unknown): WireError {
  if (isEnigmaError(e)) {
    return { code: e.code, message: e.message, details: jsonSafe(e.details) };
  }
  const message = e instanceof Error ? e.message : String(e);
  return {
    code: ErrorCode.PeerRequestFailed,
    message: `request handler failed: ${message}`,
    details: {},
  };
}

/** Encodes a response envelope; a result that cannot be encoded becomes an error response. */
export function encodeResponse(envelope: ResponseEnvelope): Uint8Array {
  try {
    return encodeJson(envelope, "response");
  } catch {
    return encodeJson(
      {
        error: {
          code: ErrorCode.PeerRequestFailed,
          message: "request handler returned a value that is not JSON-serializable",
          details: {},
        },
      },
      "response",
    );
  }
}

/**
 * Turns a response frame back into the handler's result, or throws the handler's error with
 * the same code and message (codes outside the catalog become PeerRequestFailed).
 */
export function decodeResponse(bytes: Uint8Array, context: Record<string, unknown>): unknown {
  const envelope = decodeJson(bytes, "response");
  if (typeof envelope !== "object" || envelope === null || Array.isArray(envelope)) {
    throw new EnigmaError(ErrorCode.InvalidMessage, "response is not a JSON object", {
      details: context,
    });
  }
  if ("error" in envelope) {
    const wire = parseWireError(envelope.error);
    if (wire === undefined) {
      throw new EnigmaError(ErrorCode.InvalidMessage, "response carries a malformed error", {
        details: context,
      });
    }
    const details = { ...wire.details, ...context };
    if (isCatalogCode(wire.code)) throw new EnigmaError(wire.code, wire.message, { details });
    throw new EnigmaError(
      ErrorCode.PeerRequestFailed,
      `peer failed with unknown error code ${wire.code}: ${wire.message}`,
      { details: { ...details, remoteCode: wire.code } },
    );
  }
  if ("result" in envelope) return envelope.result;
  throw new EnigmaError(ErrorCode.InvalidMessage, "response has neither result nor error", {
    details: context,
  });
}

function parseWireError(value: unknown): WireError | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const { code, message, details } = value as Record<string, unknown>;
  if (typeof code !== "number" || typeof message !== "string") return undefined;
  const safeDetails =
    typeof details === "object" && details !== null && !Array.isArray(details)
      ? (details as Record<string, unknown>)
      : {};
  return { code, message, details: safeDetails };
}

function isCatalogCode(code: number): code is ErrorCode {
  try {
    errorName(code as ErrorCode);
    return true;
  } catch {
    return false;
  }
}

// Error details are free-form; send them only when they survive JSON (no bigints, no cycles).
function jsonSafe(details: Readonly<Record<string, unknown>>): Record<string, unknown> {
  try {
    return JSON.parse(JSON.stringify(details)) as Record<string, unknown>;
  } catch {
    return {};
  }
}
