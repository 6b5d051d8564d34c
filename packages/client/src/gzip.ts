/** Compresses bytes with gzip (RFC 1952). Injectable; see `defaultGzip`. */
export type Gzip = (data: Uint8Array) => Promise<Uint8Array>;

/**
 * gzip through the WHATWG `CompressionStream`, which browsers and Node (18+) both provide, so
 * the SDK needs neither `node:zlib` nor a bundled deflate. Inject another `Gzip` in
 * `EnigmaClientOptions.gzip` for runtimes without it.
 */
export const defaultGzip: Gzip = async (data) => {
  if (typeof CompressionStream === "undefined") {
    throw new Error("this runtime has no CompressionStream: pass options.gzip");
  }
  const stream = new Blob([data as Uint8Array<ArrayBuffer>])
    .stream()
    .pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
};
