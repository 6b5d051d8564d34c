import type { IncomingMessage } from "node:http";

export type BodyResult =
  | { kind: "ok"; body: Buffer }
  | { kind: "too_large"; received: number }
  /** The client went away (or the server is stopping); there is no one to answer. */
  | { kind: "aborted" };

/**
 * Reads a request body of at most `limit` bytes. A declared `Content-Length` over the limit is
 * refused before a byte is read; a chunked body is refused at the first chunk that crosses the
 * limit, and what was read so far is dropped. Either way the rest of the body is left unread
 * (the request is paused) and the caller answers, then closes the connection.
 */
export function readBoundedBody(req: IncomingMessage, limit: number): Promise<BodyResult> {
  const declared = Number(req.headers["content-length"] ?? Number.NaN);
  if (Number.isFinite(declared) && declared > limit) {
    req.pause();
    return Promise.resolve({ kind: "too_large", received: 0 });
  }
  return new Promise((resolve) => {
    let chunks: Buffer[] = [];
    let received = 0;
    const settle = (r: BodyResult) => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onAbort);
      req.off("close", onClose);
      resolve(r);
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > limit) {
        chunks = [];
        req.pause();
        settle({ kind: "too_large", received });
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      settle({ kind: "ok", body: Buffer.concat(chunks, received) });
    };
    const onAbort = () => {
      settle({ kind: "aborted" });
    };
    // "close" before "end": the connection dropped mid-body.
    const onClose = () => {
      if (!req.complete) settle({ kind: "aborted" });
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onAbort);
    req.on("close", onClose);
  });
}
