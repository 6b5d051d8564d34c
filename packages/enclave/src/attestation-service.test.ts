import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ErrorCode,
  base64Decode,
  base64Encode,
  bytesToHex,
  encodeAttestationReport,
  isEnigmaError,
  parseAttestationReport,
  trustRootFromPem,
  verifyAttestationReport,
  type Hex,
  type SignedAttestationReport,
} from "@enigma/protocol";
import { beforeAll, describe, expect, it } from "vitest";
import {
  SIMULATED_ENCLAVE_MEASUREMENT,
  SimulatedAttestationService,
  devnetAttestationPolicy,
} from "./attestation-service.js";
import { EnclaveIdentity } from "./identity.js";

let ias: SimulatedAttestationService;
let id: EnclaveIdentity;
let good: SignedAttestationReport;
const policy = devnetAttestationPolicy();

beforeAll(() => {
  ias = SimulatedAttestationService.generate();
  id = EnclaveIdentity.generate(new TextEncoder().encode("attestation test seed"));
  good = ias.attestEnclave(id);
});

async function failure(
  signed: SignedAttestationReport,
  expected?: string,
): Promise<{ code: number; check: unknown }> {
  try {
    await verifyAttestationReport(signed, ias.trustRoot, policy, expected ?? id.signer);
  } catch (e) {
    if (!isEnigmaError(e)) throw e;
    return { code: e.code, check: e.details.check };
  }
  return { code: 0, check: "accepted" };
}

function isSignatureRejection(r: { code: number; check: unknown }): boolean {
  return r.code === ErrorCode.AttestationSignatureInvalid && r.check === "signature";
}

function flip(bytes: Uint8Array, bit: number): Uint8Array {
  const out = bytes.slice();
  out[bit >> 3] = (out[bit >> 3] ?? 0) ^ (1 << (bit & 7));
  return out;
}

describe("simulated attestation service", () => {
  it("signs the canonical IAS-style report over the enclave's quote", async () => {
    const report = parseAttestationReport(good.report);
    expect(Object.keys(JSON.parse(good.report) as object)).toEqual([
      "id",
      "timestamp",
      "version",
      "isvEnclaveQuoteStatus",
      "isvEnclaveQuoteBody",
    ]);
    expect(report.isvEnclaveQuoteStatus).toBe("OK");
    expect(base64Decode(report.isvEnclaveQuoteBody)).toEqual(
      id.quote(SIMULATED_ENCLAVE_MEASUREMENT),
    );
    expect(report.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);
    const v = await verifyAttestationReport(good, ias.trustRoot, policy, id.signer);
    expect(v.signer).toBe(id.signer);
    expect(good.signature.length).toBe(2 + 512);
  });

  it("exposes its trust root as data and PEM, and persists its key", async () => {
    expect(await trustRootFromPem(ias.publicKeyPem())).toEqual(ias.trustRoot);
    expect(ias.trustRoot.modulus.length).toBe(2 + 512);
    expect(ias.trustRoot.exponent).toBe("0x010001");
    const dir = await mkdtemp(join(tmpdir(), "enigma-ias-"));
    try {
      const file = join(dir, "sub", "ias.pem");
      const a = await SimulatedAttestationService.loadOrCreate(file);
      const b = await SimulatedAttestationService.loadOrCreate(file);
      expect(b.trustRoot).toEqual(a.trustRoot);
      expect((await stat(file)).mode & 0o777).toBe(0o600);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    expect(() => SimulatedAttestationService.fromPem("nope")).toThrow(/PEM/);
    expect(() => ias.attest(new Uint8Array(431))).toThrow(/432/);
  });
});

describe("mutation tests: every single-bit change is rejected", () => {
  it("any bit flipped in the report text", async () => {
    const bytes = new TextEncoder().encode(good.report);
    const dec = new TextDecoder();
    const accepted: number[] = [];
    for (let bit = 0; bit < bytes.length * 8; bit++) {
      const report = dec.decode(flip(bytes, bit));
      if (!isSignatureRejection(await failure({ report, signature: good.signature })))
        accepted.push(bit);
    }
    expect(bytes.length * 8).toBeGreaterThan(5000);
    expect(accepted).toEqual([]);
  });

  it("any bit flipped in the quote (inside the base64)", async () => {
    const parsed = parseAttestationReport(good.report);
    const quote = base64Decode(parsed.isvEnclaveQuoteBody);
    const accepted: number[] = [];
    for (let bit = 0; bit < quote.length * 8; bit++) {
      const report = encodeAttestationReport({
        ...parsed,
        isvEnclaveQuoteBody: base64Encode(flip(quote, bit)),
      });
      if (!isSignatureRejection(await failure({ report, signature: good.signature })))
        accepted.push(bit);
    }
    expect(quote.length).toBe(432);
    expect(accepted).toEqual([]);
  });

  it("any bit flipped in the signature", async () => {
    const sig = base64Decode(base64Encode(Buffer.from(good.signature.slice(2), "hex")));
    const accepted: number[] = [];
    for (let bit = 0; bit < sig.length * 8; bit++) {
      const signature: Hex = bytesToHex(flip(sig, bit));
      if (!isSignatureRejection(await failure({ report: good.report, signature })))
        accepted.push(bit);
    }
    expect(sig.length).toBe(256);
    expect(accepted).toEqual([]);
  });
});

describe("each check rejects a correctly signed report", () => {
  it("a valid report for another signer", async () => {
    const other = EnclaveIdentity.generate();
    expect(await failure(ias.attestEnclave(other))).toEqual({
      code: ErrorCode.AttestationSignerMismatch,
      check: "signer",
    });
  });

  it("status, debug, MRENCLAVE, MRSIGNER, ISVSVN, and another service's signature", async () => {
    const m = SIMULATED_ENCLAVE_MEASUREMENT;
    const cases: [SignedAttestationReport, number, string][] = [
      [
        ias.attestEnclave(id, m, { status: "GROUP_OUT_OF_DATE" }),
        ErrorCode.AttestationStatusRejected,
        "status",
      ],
      [ias.attestEnclave(id, { ...m, debug: true }), ErrorCode.AttestationDebugRejected, "debug"],
      [
        ias.attestEnclave(id, { ...m, mrenclave: new Uint8Array(32).fill(1) }),
        ErrorCode.AttestationMrenclaveRejected,
        "mrenclave",
      ],
      [
        ias.attestEnclave(id, { ...m, mrsigner: new Uint8Array(32).fill(1) }),
        ErrorCode.AttestationMrsignerRejected,
        "mrsigner",
      ],
      [
        ias.attestEnclave(id, { ...m, isvSvn: m.isvSvn - 1 }),
        ErrorCode.AttestationIsvSvnTooLow,
        "isvSvn",
      ],
      [
        SimulatedAttestationService.generate().attestEnclave(id),
        ErrorCode.AttestationSignatureInvalid,
        "signature",
      ],
    ];
    for (const [signed, code, check] of cases) {
      expect(await failure(signed)).toEqual({ code, check });
    }
    // A later ISVSVN is accepted.
    expect(await failure(ias.attestEnclave(id, { ...m, isvSvn: m.isvSvn + 1 }))).toEqual({
      code: 0,
      check: "accepted",
    });
  });
});
