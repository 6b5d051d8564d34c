// The attestation service as its own HTTP service: an enclave's quote goes in, a report signed
// by the one key comes out; malformed quotes are refused; a node pointed at another service
// (another key) finds out before it registers anything.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ErrorCode,
  QUOTE_OFFSETS,
  base64Decode,
  base64Encode,
  parseAttestationReport,
  verifyAttestationReport,
} from "@enigma/protocol";
import { rejectedCode } from "@enigma/protocol/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ATTESTATION_REPORT_PATH,
  AttestationServer,
  fetchTrustRoot,
  remoteAttester,
} from "./attestation-server.js";
import {
  SIMULATED_ENCLAVE_MEASUREMENT,
  SimulatedAttestationService,
  devnetAttestationPolicy,
} from "./attestation-service.js";
import { EnclaveIdentity } from "./identity.js";
import { WorkerEnclave } from "./worker-enclave.js";

const service = SimulatedAttestationService.generate();
const server = new AttestationServer({ service });
const identity = EnclaveIdentity.generate(new TextEncoder().encode("attestation server test"));
let dir: string;

beforeAll(async () => {
  await server.start();
  dir = await mkdtemp(join(tmpdir(), "attestation-server-"));
});

afterAll(async () => {
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});

async function postQuote(body: unknown): Promise<{ status: number; json: unknown }> {
  const res = await fetch(new URL(ATTESTATION_REPORT_PATH, server.url), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, json: JSON.parse(await res.text()) as unknown };
}

describe("AttestationServer", () => {
  it("signs a report over the quote the enclave produced; it checks against the trust root", async () => {
    const attest = remoteAttester(server.url, { trustRoot: service.trustRoot });
    const quote = identity.quote(SIMULATED_ENCLAVE_MEASUREMENT);
    const signed = await attest(quote);
    expect(base64Decode(parseAttestationReport(signed.report).isvEnclaveQuoteBody)).toEqual(quote);
    const v = await verifyAttestationReport(
      signed,
      service.trustRoot,
      devnetAttestationPolicy(),
      identity.signer,
    );
    expect(v.signer).toBe(identity.signer);
    expect(await fetchTrustRoot(server.url)).toEqual(service.trustRoot);
  });

  it("attests a worker enclave over HTTP: the node needs the URL, never the key", async () => {
    const worker = await WorkerEnclave.open({
      dir: join(dir, "worker"),
      attest: remoteAttester(server.url, { trustRoot: service.trustRoot }),
      chainId: 31337n,
      enigmaAddress: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
    });
    const v = await verifyAttestationReport(
      worker.attestation,
      service.trustRoot,
      devnetAttestationPolicy(),
      worker.signer,
    );
    expect(v.signer).toBe(worker.signer);
  });

  it("refuses quotes that are not well formed, naming the check (AttestationQuoteRejected)", async () => {
    const good = identity.quote(SIMULATED_ENCLAVE_MEASUREMENT);
    const bad = (edit: (q: Uint8Array) => void) => {
      const q = good.slice();
      edit(q);
      return q;
    };
    const cases: [string, Uint8Array][] = [
      ["length", good.slice(0, 431)],
      ["version", bad((q) => (q[QUOTE_OFFSETS.version] = 9))],
      ["signType", bad((q) => (q[QUOTE_OFFSETS.signType] = 5))],
      ["mrenclave", bad((q) => q.fill(0, QUOTE_OFFSETS.mrenclave, QUOTE_OFFSETS.mrenclave + 32))],
      ["mrsigner", bad((q) => q.fill(0, QUOTE_OFFSETS.mrsigner, QUOTE_OFFSETS.mrsigner + 32))],
      [
        "reportData",
        bad((q) => q.fill(0, QUOTE_OFFSETS.reportData, QUOTE_OFFSETS.reportData + 20)),
      ],
    ];
    for (const [check, quote] of cases) {
      const r = await postQuote({ isvEnclaveQuote: base64Encode(quote) });
      expect(r, check).toMatchObject({
        status: 400,
        json: { error: { code: ErrorCode.AttestationQuoteRejected, details: { check } } },
      });
    }
    for (const body of ["{", { quote: "x" }, { isvEnclaveQuote: "!!" }]) {
      const r = await postQuote(body);
      expect(r.status).toBe(400);
      expect(r.json).toMatchObject({ error: { code: ErrorCode.AttestationQuoteRejected } });
    }
    const attest = remoteAttester(server.url);
    expect(await rejectedCode(Promise.resolve(attest(good.slice(0, 10))))).toBe(
      ErrorCode.AttestationQuoteRejected,
    );
  });

  it("fails a node pointed at another service, or at none, before it registers anything", async () => {
    const impostor = new AttestationServer({ service: SimulatedAttestationService.generate() });
    await impostor.start();
    try {
      const quote = identity.quote(SIMULATED_ENCLAVE_MEASUREMENT);
      // The impostor signs with its own key: the configured trust root does not verify it.
      const attest = remoteAttester(impostor.url, { trustRoot: service.trustRoot });
      expect(await rejectedCode(Promise.resolve(attest(quote)))).toBe(
        ErrorCode.AttestationServiceUnavailable,
      );
      expect(
        await rejectedCode(
          WorkerEnclave.open({
            dir: join(dir, "fooled"),
            attest,
            chainId: 31337n,
            enigmaAddress: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
          }),
        ),
      ).toBe(ErrorCode.AttestationServiceUnavailable);
    } finally {
      await impostor.stop();
    }
    const nobody = remoteAttester("http://127.0.0.1:1", { attempts: 2 });
    expect(
      await rejectedCode(Promise.resolve(nobody(identity.quote(SIMULATED_ENCLAVE_MEASUREMENT)))),
    ).toBe(ErrorCode.AttestationServiceUnavailable);
  });
});
