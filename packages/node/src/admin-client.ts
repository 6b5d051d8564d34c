// A client of the node's admin endpoint (`admin.ts`), in one place: the devnet's nemesis and the
// invariant checker both call it. Light: it imports nothing of the node itself.
import { EnigmaError, ErrorCode } from "@enigma/protocol";

/** One admin JSON-RPC call (the node's admin endpoint). */
export async function adminCall(
  url: string,
  method: string,
  params: unknown,
  timeoutMs = 10_000,
): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (cause) {
    throw new EnigmaError(ErrorCode.AdminUnavailable, `${method} at ${url}: no answer`, {
      details: { url, method },
      cause,
    });
  }
  const body = (await res.json()) as {
    result?: unknown;
    error?: { code: number; message: string; data?: { code?: number } };
  };
  if (body.error !== undefined) {
    const code = body.error.data?.code;
    throw new EnigmaError(
      typeof code === "number" && code >= 100 ? (code as ErrorCode) : ErrorCode.AdminUnavailable,
      `${method}: ${body.error.message}`,
      { details: { url, method, rpcCode: body.error.code } },
    );
  }
  return body.result;
}
