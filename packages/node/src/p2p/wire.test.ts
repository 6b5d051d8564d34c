import { EnigmaError, ErrorCode, isEnigmaError } from "@enigma/protocol";
import { describe, expect, it } from "vitest";
import {
  decodeJson,
  decodeResponse,
  encodeJson,
  encodeResponse,
  frame,
  readFrame,
  toWireError,
} from "./wire.js";

const enc = new TextEncoder();
const context = { peer: "12D3KooW...", protocol: "/test/1" };

function thrown(fn: () => unknown): EnigmaError {
  try {
    fn();
  } catch (e) {
    if (isEnigmaError(e)) return e;
    throw e;
  }
  throw new Error("expected a throw");
}

async function* chunks(...parts: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const part of parts) yield part;
  await Promise.resolve();
}

describe("wire format", () => {
  it("round-trips JSON and refuses what JSON cannot carry", () => {
    expect(decodeJson(encodeJson({ a: [1, "x", null] }, "body"), "body")).toEqual({
      a: [1, "x", null],
    });
    expect(decodeJson(encodeJson(undefined, "body"), "body")).toBeNull();
    expect(thrown(() => encodeJson(1n, "body")).code).toBe(ErrorCode.InvalidArgument);
    expect(thrown(() => encodeJson(() => 1, "body")).code).toBe(ErrorCode.InvalidArgument);
  });

  it("reports malformed JSON and UTF-8 as InvalidMessage", () => {
    expect(thrown(() => decodeJson(enc.encode("{nope"), "request")).code).toBe(
      ErrorCode.InvalidMessage,
    );
    expect(thrown(() => decodeJson(new Uint8Array([0xff, 0xfe]), "request")).code).toBe(
      ErrorCode.InvalidMessage,
    );
  });

  it("carries results, including ones that look like errors", () => {
    const bytes = encodeResponse({ result: { error: "just a field" } });
    expect(decodeResponse(bytes, context)).toEqual({ error: "just a field" });
    expect(decodeResponse(encodeResponse({ result: null }), context)).toBeNull();
  });

  it("rebuilds catalog errors with code, message and details", () => {
    const wire = toWireError(
      new EnigmaError(ErrorCode.StateKeyUnknown, "no key for contract", { details: { c: 1 } }),
    );
    const e = thrown(() => decodeResponse(encodeResponse({ error: wire }), context));
    expect(e.code).toBe(ErrorCode.StateKeyUnknown);
    expect(e.message).toBe("no key for contract");
    expect(e.details).toEqual({ c: 1, ...context });
  });

  it("maps unknown codes, plain errors and unsendable details safely", () => {
    const unknown = encodeResponse({ error: { code: 99_999, message: "?", details: {} } });
    const e = thrown(() => decodeResponse(unknown, context));
    expect(e.code).toBe(ErrorCode.PeerRequestFailed);
    expect(e.details).toMatchObject({ remoteCode: 99_999 });

    expect(toWireError(new RangeError("bad"))).toEqual({
      code: ErrorCode.PeerRequestFailed,
      message: "request handler failed: bad",
      details: {},
    });
    const withBigint = new EnigmaError(ErrorCode.InvalidAmount, "x", { details: { v: 1n } });
    expect(toWireError(withBigint).details).toEqual({});
    expect(thrown(() => decodeResponse(encodeResponse({ result: 2n }), context)).code).toBe(
      ErrorCode.PeerRequestFailed,
    );
  });

  it("rejects envelopes that are neither result nor error", () => {
    for (const text of ["[1]", "7", "{}", '{"error":{"code":"x"}}']) {
      expect(thrown(() => decodeResponse(enc.encode(text), context)).code).toBe(
        ErrorCode.InvalidMessage,
      );
    }
  });

  it("reads one length-prefixed frame, capped by its announced length", async () => {
    const framed = frame(enc.encode("hello")).subarray();
    // Split mid-frame: the reader reassembles.
    expect(await readFrame(chunks(framed.subarray(0, 3), framed.subarray(3)), 16, "x")).toEqual(
      enc.encode("hello"),
    );
    expect(await readFrame(chunks(framed.subarray(0, 3)), 16, "x")).toBeUndefined();
    const big = frame(new Uint8Array(100)).subarray();
    const e = await readFrame(chunks(big.subarray(0, 2)), 99, "response").catch(
      (err: unknown) => err,
    );
    expect(isEnigmaError(e, ErrorCode.MessageTooLarge)).toBe(true);
  });
});
