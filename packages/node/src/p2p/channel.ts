// Request channels: many requests and responses over one long-lived libp2p stream per peer.
//
// A request on a stream of its own costs both ends a yamux SYN/ACK, a multistream-select
// round trip (libp2p 3 always negotiates fully), a peer-store write on each side, the
// request, two FINs and the response: ~0.7 ms of CPU for a 1 KiB echo on this machine, where
// a gossip message costs ~0.12 ms. The hot requests (a gateway's hand-over of a task input and
// its fetch of a worker key) travel over a channel instead: one frame out, one frame back.
//
// Wire format, on `CHANNEL_PROTOCOL` streams, each frame length-prefixed (unsigned varint):
//   request  (opener -> peer): u32be id | u16be protocol length | protocol (UTF-8) | JSON body
//   response (peer -> opener): u32be id | response envelope (`wire.ts`: {result} or {error})
// Requests are served concurrently and answered in completion order. The opener only sends
// requests and the peer only responses; a peer opens its own channel for its requests.
import { EnigmaError, ErrorCode } from "@enigma/protocol";
import type { Stream } from "@libp2p/interface";
import * as lp from "it-length-prefixed";
import type { Uint8ArrayList } from "uint8arraylist";
import { encodeResponse, toWireError } from "./wire.js";

export const CHANNEL_PROTOCOL = "/enigma/channel/1";
/** Largest request body sent over a channel; a larger one takes a stream of its own. */
export const CHANNEL_MAX_BODY_BYTES = 64 * 1024;
const MAX_PROTOCOL_BYTES = 256;
const REQUEST_HEADER_BYTES = 6;
const RESPONSE_HEADER_BYTES = 4;
const MAX_REQUEST_FRAME = REQUEST_HEADER_BYTES + MAX_PROTOCOL_BYTES + CHANNEL_MAX_BODY_BYTES;
const MAX_ID = 0xffff_ffff;
/**
 * Requests of one inbound channel served at once; beyond, the channel stops reading (and
 * yamux stops granting the peer send window) until one is answered. A request on a stream of
 * its own is bounded the same way, by libp2p's 32 inbound streams per protocol.
 */
export const CHANNEL_MAX_IN_FLIGHT = 128;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

interface Pending {
  resolve: (envelope: Uint8Array) => void;
  reject: (e: Error) => void;
  maxResponseBytes: number;
}

/**
 * The opener's end of a channel: sends requests, matches responses to them by id. When the
 * stream ends or fails, every pending request fails with `PeerRequestFailed` and the channel
 * is `closed` for good (the caller opens a new one).
 */
export class ChannelClient {
  readonly #stream: Stream;
  readonly #peer: string;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #closed = false;

  /** Starts reading responses from `stream` (a just-opened CHANNEL_PROTOCOL stream). */
  constructor(stream: Stream, peer: string, maxResponseBytes: number) {
    this.#stream = stream;
    this.#peer = peer;
    void this.#read(maxResponseBytes + RESPONSE_HEADER_BYTES);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Requests in flight. */
  get pending(): number {
    return this.#pending.size;
  }

  /**
   * Sends one request and resolves with the response envelope's bytes. `signal` abandons it
   * (its response, if one comes, is dropped).
   */
  request(
    protocol: string,
    body: Uint8Array,
    maxResponseBytes: number,
    signal: AbortSignal,
  ): Promise<Uint8Array> {
    if (this.#closed) return Promise.reject(this.#closedError());
    const name = encoder.encode(protocol);
    if (name.byteLength > MAX_PROTOCOL_BYTES || body.byteLength > CHANNEL_MAX_BODY_BYTES) {
      return Promise.reject(
        new EnigmaError(ErrorCode.InvalidArgument, "request too large for a channel", {
          details: { protocol, bytes: body.byteLength },
        }),
      );
    }
    const id = this.#nextId;
    this.#nextId = id === MAX_ID ? 1 : id + 1;
    const head = new Uint8Array(REQUEST_HEADER_BYTES + name.byteLength);
    const view = new DataView(head.buffer);
    view.setUint32(0, id);
    view.setUint16(4, name.byteLength);
    head.set(name, REQUEST_HEADER_BYTES);
    return new Promise<Uint8Array>((resolve, reject) => {
      const onAbort = (): void => {
        if (this.#pending.delete(id)) reject(abortReason(signal));
      };
      if (signal.aborted) {
        reject(abortReason(signal));
        return;
      }
      signal.addEventListener("abort", onAbort, { once: true });
      const settle = <T>(f: (v: T) => void) => {
        return (v: T): void => {
          signal.removeEventListener("abort", onAbort);
          f(v);
        };
      };
      this.#pending.set(id, {
        resolve: settle(resolve),
        reject: settle(reject),
        maxResponseBytes,
      });
      try {
        this.#stream.send(lp.encode.single(concat(head, body)));
      } catch (e) {
        this.#pending.get(id)?.reject(this.#closedError(e));
        this.#pending.delete(id);
      }
    });
  }

  /** Closes the channel; pending requests fail. */
  close(): void {
    this.#stream.abort(new Error("channel closed"));
    this.#end(undefined);
  }

  async #read(maxFrame: number): Promise<void> {
    let cause: unknown;
    try {
      for await (const chunk of lp.decode(this.#stream, { maxDataLength: maxFrame })) {
        this.#onResponse(chunk);
      }
    } catch (e) {
      cause = e;
      if (this.#stream.status === "open")
        this.#stream.abort(e instanceof Error ? e : new Error(String(e)));
    }
    this.#end(cause);
  }

  #onResponse(chunk: Uint8ArrayList): void {
    const bytes = chunk.subarray();
    if (bytes.byteLength < RESPONSE_HEADER_BYTES) throw new Error("channel response without an id");
    const id = new DataView(bytes.buffer, bytes.byteOffset).getUint32(0);
    const pending = this.#pending.get(id);
    if (pending === undefined) return; // abandoned (timed out)
    this.#pending.delete(id);
    const envelope = bytes.subarray(RESPONSE_HEADER_BYTES);
    if (envelope.byteLength > pending.maxResponseBytes) {
      pending.reject(
        new EnigmaError(
          ErrorCode.MessageTooLarge,
          `response exceeds ${pending.maxResponseBytes} bytes`,
          { details: { maxBytes: pending.maxResponseBytes } },
        ),
      );
      return;
    }
    pending.resolve(envelope);
  }

  #end(cause: unknown): void {
    if (this.#closed) return;
    this.#closed = true;
    const error = this.#closedError(cause);
    for (const p of this.#pending.values()) p.reject(error);
    this.#pending.clear();
  }

  #closedError(cause?: unknown): EnigmaError {
    return new EnigmaError(
      ErrorCode.PeerRequestFailed,
      `the request channel to ${this.#peer} closed before a response`,
      { details: { peer: this.#peer }, ...(cause === undefined ? {} : { cause }) },
    );
  }
}

/** What `serveChannel` needs of a registered protocol. */
export interface ChannelHandler {
  maxRequestBytes: number;
  handler: (request: unknown, from: string) => Promise<unknown>;
}

/**
 * Serves the requests of one inbound channel until it ends: each is answered by the handler of
 * its protocol (`lookup`), as a request on a stream of its own would be (the same errors: an
 * unserved protocol is PeerRequestFailed, a body over the protocol's `maxRequestBytes` is
 * MessageTooLarge, malformed JSON is InvalidMessage). A frame that is not a request at all, or
 * larger than any channel request, ends the channel.
 */
export async function serveChannel(
  stream: Stream,
  from: string,
  lookup: (protocol: string) => ChannelHandler | undefined,
  onFailure: (e: unknown) => void,
): Promise<void> {
  let inFlight = 0;
  let slotFree: (() => void) | undefined;
  try {
    for await (const chunk of lp.decode(stream, { maxDataLength: MAX_REQUEST_FRAME })) {
      if (inFlight >= CHANNEL_MAX_IN_FLIGHT) {
        if (stream.readStatus === "readable") stream.pause();
        await new Promise<void>((resolve) => (slotFree = resolve));
        if (stream.readStatus === "paused") stream.resume();
      }
      const bytes = chunk.subarray();
      if (bytes.byteLength < REQUEST_HEADER_BYTES) throw new Error("malformed channel request");
      const view = new DataView(bytes.buffer, bytes.byteOffset);
      const id = view.getUint32(0);
      const nameBytes = view.getUint16(4);
      if (REQUEST_HEADER_BYTES + nameBytes > bytes.byteLength) {
        throw new Error("malformed channel request");
      }
      const protocol = decoder.decode(
        bytes.subarray(REQUEST_HEADER_BYTES, REQUEST_HEADER_BYTES + nameBytes),
      );
      const body = bytes.subarray(REQUEST_HEADER_BYTES + nameBytes);
      inFlight++;
      void answer(stream, id, protocol, body, from, lookup(protocol)).finally(() => {
        inFlight--;
        const free = slotFree;
        slotFree = undefined;
        free?.();
      });
    }
  } catch (e) {
    onFailure(e);
    if (stream.status === "open") stream.abort(e instanceof Error ? e : new Error(String(e)));
  }
}

async function answer(
  stream: Stream,
  id: number,
  protocol: string,
  body: Uint8Array,
  from: string,
  entry: ChannelHandler | undefined,
): Promise<void> {
  let envelope: Uint8Array;
  try {
    if (entry === undefined) {
      throw new EnigmaError(ErrorCode.PeerRequestFailed, `this peer does not serve ${protocol}`, {
        details: { protocol },
      });
    }
    if (body.byteLength > entry.maxRequestBytes) {
      throw new EnigmaError(
        ErrorCode.MessageTooLarge,
        `request exceeds ${entry.maxRequestBytes} bytes`,
        { details: { maxBytes: entry.maxRequestBytes } },
      );
    }
    let request: unknown;
    try {
      request = JSON.parse(decoder.decode(body)) as unknown;
    } catch (cause) {
      throw new EnigmaError(ErrorCode.InvalidMessage, "request is not valid UTF-8 JSON", {
        details: { bytes: body.byteLength },
        cause,
      });
    }
    const result = await entry.handler(request, from);
    envelope = encodeResponse({ result: result ?? null });
  } catch (e) {
    envelope = encodeResponse({ error: toWireError(e) });
  }
  if (stream.status !== "open" || stream.writeStatus !== "writable") return;
  const head = new Uint8Array(RESPONSE_HEADER_BYTES);
  new DataView(head.buffer).setUint32(0, id);
  try {
    // The request's slot (CHANNEL_MAX_IN_FLIGHT) is held until its response has left the write
    // buffer: a peer that sends requests and never reads the answers must not make this node
    // buffer them without bound.
    if (!stream.send(lp.encode.single(concat(head, envelope)))) await stream.onDrain();
  } catch {
    // The opener went away; nothing left to tell it.
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a, 0);
  out.set(b, a.byteLength);
  return out;
}

/** Why `signal` aborted, as an Error. */
export function abortReason(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  return r instanceof Error ? r : new Error("request aborted");
}
