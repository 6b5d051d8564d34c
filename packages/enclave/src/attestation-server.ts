// One attestation authority: the simulated attestation service as its own small HTTP service,
// shaped like Intel's IAS API (v3 `report`), so that only the service holds its RSA key. An
// enclave produces its quote; the node posts it here and gets back the signed report, which it
// can check against the trust root it was configured with. Nothing a node holds can sign a
// report.
import { createPublicKey, verify } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  EnigmaError,
  ErrorCode,
  base64Decode,
  base64Encode,
  bytesToHex,
  hexToBytes,
  isEnigmaError,
  parseAttestationReport,
  parseTrustRoot,
  trustRootToJwk,
  type RsaTrustRoot,
  type SignedAttestationReport,
} from "@enigma/protocol";
import type { SimulatedAttestationService } from "./attestation-service.js";
import type { EnclaveAttester } from "./enclave-base.js";

/** Where a quote is posted: `{"isvEnclaveQuote": "<base64>"}`, as to IAS. */
export const ATTESTATION_REPORT_PATH = "/attestation/v3/report";
/** The service's public key (`{ modulus, exponent }`, the trust root). */
export const ATTESTATION_TRUST_ROOT_PATH = "/attestation/v3/trust-root";
/** The report's signature, base64, as IAS sends it. */
const SIGNATURE_HEADER = "x-iasreport-signature";
/** A quote request is small: 432 bytes of quote in base64 and the JSON around it. */
const MAX_REQUEST_BYTES = 16 * 1024;

export interface AttestationServerOptions {
  /** The service (and its key): the only holder of the key is the process running this. */
  service: SimulatedAttestationService;
  /** Interface to listen on; 127.0.0.1 by default. */
  host?: string;
  /** 0 (the default) picks a free port. */
  port?: number;
}

/**
 * The attestation service over HTTP.
 *
 * - `POST /attestation/v3/report` with `{"isvEnclaveQuote": "<base64 quote>"}`: 200 with the
 *   report (JSON text, exactly the signed bytes) and its RSA signature (base64) in the
 *   `X-IASReport-Signature` header; 400 with `{"error": {code, message}}` when the quote is not
 *   well formed (`AttestationQuoteRejected`) or the request is not that JSON.
 * - `GET /attestation/v3/trust-root`: `{ modulus, exponent }`.
 * - `GET /health`: `{"ok": true}`.
 *
 * @example
 * const server = new AttestationServer({ service: SimulatedAttestationService.generate() });
 * await server.start();
 * const attest = remoteAttester(server.url, { trustRoot: service.trustRoot });
 * await server.stop();
 */
export class AttestationServer {
  readonly #service: SimulatedAttestationService;
  readonly #host: string;
  readonly #port: number;
  #server: Server | undefined;
  #address: AddressInfo | undefined;

  constructor(o: AttestationServerOptions) {
    this.#service = o.service;
    this.#host = o.host ?? "127.0.0.1";
    this.#port = o.port ?? 0;
    if (!Number.isInteger(this.#port) || this.#port < 0 || this.#port > 65_535) {
      throw new EnigmaError(ErrorCode.InvalidArgument, "port must be from 0 to 65535", {
        details: { port: this.#port },
      });
    }
  }

  async start(): Promise<void> {
    if (this.#server !== undefined) return;
    const server = createServer((req, res) => {
      this.#handle(req, res);
    });
    server.headersTimeout = 10_000;
    server.requestTimeout = 20_000;
    await new Promise<void>((resolve, reject) => {
      server.once("error", (e) => {
        reject(
          new EnigmaError(
            ErrorCode.InvalidConfig,
            `the attestation service cannot listen on ${this.#host}:${this.#port}: ${e.message}`,
            { cause: e },
          ),
        );
      });
      server.listen(this.#port, this.#host, resolve);
    });
    this.#server = server;
    this.#address = server.address() as AddressInfo;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    this.#address = undefined;
    if (server === undefined) return;
    await new Promise<void>((resolve) => {
      server.close(() => {
        resolve();
      });
      server.closeAllConnections();
    });
  }

  /** `http://host:port` once started (a wildcard address is reached on loopback). */
  get url(): string {
    const a = this.#address;
    if (a === undefined) {
      throw new EnigmaError(ErrorCode.NodeNotReady, "the attestation service is not started");
    }
    let host = a.address;
    if (host === "0.0.0.0") host = "127.0.0.1";
    if (host === "::") host = "::1";
    return `http://${a.family === "IPv6" ? `[${host}]` : host}:${a.port}`;
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    req.on("error", () => undefined);
    const path = new URL(req.url ?? "/", "http://service").pathname;
    if (req.method === "GET" && path === "/health") {
      json(res, 200, { ok: true });
    } else if (req.method === "GET" && path === ATTESTATION_TRUST_ROOT_PATH) {
      json(res, 200, this.#service.trustRoot);
    } else if (req.method === "POST" && path === ATTESTATION_REPORT_PATH) {
      this.#report(req, res);
    } else {
      json(res, 404, { error: { message: `no ${req.method ?? ""} ${path} here` } });
    }
  }

  #report(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (b: Buffer) => {
      size += b.length;
      if (size > MAX_REQUEST_BYTES) {
        json(
          res,
          413,
          { error: { message: `a quote request is at most ${MAX_REQUEST_BYTES} bytes` } },
          true,
        );
        req.destroy();
        return;
      }
      chunks.push(b);
    });
    req.on("end", () => {
      if (res.writableEnded) return;
      let signed: SignedAttestationReport;
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown;
        const quote = (body as { isvEnclaveQuote?: unknown } | null)?.isvEnclaveQuote;
        if (typeof quote !== "string") {
          throw new EnigmaError(
            ErrorCode.AttestationQuoteRejected,
            'send {"isvEnclaveQuote": "<base64 quote>"}',
            { details: { check: "request" } },
          );
        }
        signed = this.#service.attest(base64Decode(quote, false, "isvEnclaveQuote"));
      } catch (e) {
        const err = isEnigmaError(e)
          ? e
          : new EnigmaError(ErrorCode.AttestationQuoteRejected, "the request is not JSON", {
              details: { check: "request" },
            });
        // Whatever was wrong with it (not base64, not a quote), the quote is what is refused.
        json(res, 400, {
          error: {
            code: ErrorCode.AttestationQuoteRejected,
            message: err.message,
            details: err.details,
          },
        });
        return;
      }
      res.writeHead(200, {
        "Content-Type": "application/json; charset=utf-8",
        "Content-Length": Buffer.byteLength(signed.report),
        [SIGNATURE_HEADER]: Buffer.from(hexToBytes(signed.signature)).toString("base64"),
      });
      res.end(signed.report);
    });
  }
}

function json(res: ServerResponse, status: number, body: unknown, close = false): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": Buffer.byteLength(text),
    ...(close ? { Connection: "close" } : {}),
  });
  res.end(text);
}

export interface RemoteAttesterOptions {
  /**
   * The service's public key: every report is checked against it before it is used, so a
   * wrong service URL (or an impostor) fails at start, not at registration.
   */
  trustRoot?: RsaTrustRoot;
  /** Per attempt, ms. Default 10 s. */
  timeoutMs?: number;
  /** Attempts while the service cannot be reached (it may be starting). Default 5. */
  attempts?: number;
}

/**
 * An `EnclaveAttester` that asks the attestation service at `url` over HTTP: the enclave's quote
 * goes out, the signed report comes back. `AttestationQuoteRejected` when the service refuses
 * the quote; `AttestationServiceUnavailable` when it cannot be reached, answers something that
 * is not a report, or a report whose signature the trust root does not verify.
 */
export function remoteAttester(url: string, options: RemoteAttesterOptions = {}): EnclaveAttester {
  const endpoint = serviceUrl(url, ATTESTATION_REPORT_PATH);
  const attempts = options.attempts ?? 5;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const key =
    options.trustRoot === undefined
      ? undefined
      : createPublicKey({
          key: { ...trustRootToJwk(parseTrustRoot(options.trustRoot)) },
          format: "jwk",
        });
  return async (quote) => {
    const res = await withRetries(url, attempts, () =>
      fetch(endpoint, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ isvEnclaveQuote: base64Encode(quote) }),
        signal: AbortSignal.timeout(timeoutMs),
      }),
    );
    const text = await res.text();
    if (res.status === 400) {
      const error = (safeJson(text) as { error?: { message?: unknown; details?: unknown } } | null)
        ?.error;
      const message = typeof error?.message === "string" ? error.message : text.slice(0, 200);
      const details =
        typeof error?.details === "object" && error.details !== null ? error.details : {};
      throw new EnigmaError(
        ErrorCode.AttestationQuoteRejected,
        `the attestation service refused the quote: ${message}`,
        { details: { url, ...details } },
      );
    }
    const sig = res.headers.get(SIGNATURE_HEADER);
    if (res.status !== 200 || sig === null) {
      throw unavailable(url, `it answered HTTP ${res.status} without a signed report`);
    }
    try {
      parseAttestationReport(text);
    } catch (cause) {
      throw unavailable(url, "its answer is not an attestation report", cause);
    }
    const signature = Buffer.from(sig, "base64");
    if (key !== undefined && !verify("sha256", Buffer.from(text, "utf8"), key, signature)) {
      throw unavailable(url, "its report is not signed by the configured trust root");
    }
    return { report: text, signature: bytesToHex(new Uint8Array(signature)) };
  };
}

/** The service's trust root, as it states it (`GET /attestation/v3/trust-root`). */
export async function fetchTrustRoot(url: string, attempts = 5): Promise<RsaTrustRoot> {
  const res = await withRetries(url, attempts, () =>
    fetch(serviceUrl(url, ATTESTATION_TRUST_ROOT_PATH), { signal: AbortSignal.timeout(10_000) }),
  );
  try {
    return parseTrustRoot(JSON.parse(await res.text()) as unknown);
  } catch (cause) {
    throw unavailable(url, "it did not answer a trust root", cause);
  }
}

function serviceUrl(url: string, path: string): string {
  const base = URL.parse(url);
  if (base === null || !/^https?:$/.test(base.protocol)) {
    throw new EnigmaError(
      ErrorCode.InvalidConfig,
      `the attestation service URL is not http(s): ${url}`,
    );
  }
  return new URL(path, base).toString();
}

/** Runs `call` until it reaches the service, backing off (100 ms, doubling) between attempts. */
async function withRetries(
  url: string,
  attempts: number,
  call: () => Promise<Response>,
): Promise<Response> {
  let last: unknown;
  for (let i = 0; i < attempts; i++) {
    try {
      const res = await call();
      if (res.status < 500) return res;
      last = new Error(`HTTP ${res.status}`);
    } catch (e) {
      last = e;
    }
    if (i + 1 < attempts) await new Promise((r) => setTimeout(r, 100 * 2 ** i));
  }
  throw unavailable(
    url,
    `it could not be reached (${last instanceof Error ? last.message : String(last)})`,
    last,
  );
}

function unavailable(url: string, why: string, cause?: unknown): EnigmaError {
  return new EnigmaError(
    ErrorCode.AttestationServiceUnavailable,
    `attestation service at ${url}: ${why}`,
    {
      details: { url },
      ...(cause === undefined ? {} : { cause }),
    },
  );
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
