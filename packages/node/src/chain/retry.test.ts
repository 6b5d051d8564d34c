import { makeError } from "ethers";
import { describe, expect, it } from "vitest";
import { backoffDelay, isTransientRpcError, withRetry } from "./retry.js";

const socket = (code: string) => Object.assign(new Error(`connect ${code}`), { code });

describe("isTransientRpcError", () => {
  it("retries transport failures", () => {
    expect(isTransientRpcError(socket("ECONNREFUSED"))).toBe(true);
    expect(isTransientRpcError(socket("ECONNRESET"))).toBe(true);
    expect(isTransientRpcError(new Error("socket hang up"))).toBe(true);
    expect(isTransientRpcError(makeError("request timeout", "TIMEOUT"))).toBe(true);
    const http = (statusCode: number) =>
      makeError("bad response", "SERVER_ERROR", {
        request: null as never,
        response: { statusCode } as never,
      });
    expect(isTransientRpcError(http(503))).toBe(true);
    expect(isTransientRpcError(http(429))).toBe(true);
    expect(isTransientRpcError(http(404))).toBe(false);
    // Wrapped: the socket error as the cause of another error.
    expect(isTransientRpcError(new Error("failed", { cause: socket("ETIMEDOUT") }))).toBe(true);
  });

  it("never retries an answer", () => {
    expect(
      isTransientRpcError(
        makeError("execution reverted", "CALL_EXCEPTION", { data: "0x" } as never),
      ),
    ).toBe(false);
    expect(isTransientRpcError(makeError("nonce has already been used", "NONCE_EXPIRED"))).toBe(
      false,
    );
    expect(isTransientRpcError(socket("ENOTFOUND"))).toBe(false);
    expect(isTransientRpcError(new Error("anything else"))).toBe(false);
    expect(isTransientRpcError(undefined)).toBe(false);
  });
});

describe("withRetry", () => {
  let calls = 0;
  const failing = (e: Error): Promise<never> => {
    calls++;
    return Promise.reject(e);
  };

  it("retries transient failures with doubling delays, up to the attempt budget", async () => {
    calls = 0;
    const started = performance.now();
    const value = await withRetry(
      () => (++calls < 3 ? Promise.reject(socket("ECONNRESET")) : Promise.resolve("ok")),
      { attempts: 5, baseDelayMs: 5 },
    );
    expect(value).toBe("ok");
    expect(calls).toBe(3);
    expect(performance.now() - started).toBeGreaterThanOrEqual(5 + 10 - 1);

    calls = 0;
    const e = socket("ECONNREFUSED");
    await expect(withRetry(() => failing(e), { attempts: 2, baseDelayMs: 1 })).rejects.toBe(e);
    expect(calls).toBe(2);
  });

  it("does not retry a final error, nor after an abort", async () => {
    calls = 0;
    await expect(
      withRetry(() => failing(new Error("reverted")), {
        attempts: 5,
        baseDelayMs: 1,
      }),
    ).rejects.toThrow("reverted");
    expect(calls).toBe(1);
    const ctl = new AbortController();
    ctl.abort();
    calls = 0;
    await expect(
      withRetry(
        () => failing(socket("ECONNRESET")),
        { attempts: 5, baseDelayMs: 1 },
        { signal: ctl.signal },
      ),
    ).rejects.toThrow();
    expect(calls).toBe(1);
  });

  it("caps the backoff", () => {
    expect([1, 2, 3, 4].map((n) => backoffDelay(n, 100))).toEqual([100, 200, 400, 800]);
    expect(backoffDelay(20, 100)).toBe(10_000);
  });
});
