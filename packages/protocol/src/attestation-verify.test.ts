import { createPublicKey, generateKeyPairSync, sign } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { enclaveReportData, encodeQuote, type QuoteFields } from "./attestation.js";
import {
  checkRegistrationBinding,
  encodeAttestationReport,
  parseAttestationPolicy,
  parseTrustRoot,
  trustRootFromJwk,
  trustRootFromPem,
  trustRootFromSpki,
  trustRootToJwk,
  trustRootToSpki,
  verifyAttestationReport,
  type AttestationPolicy,
  type RsaTrustRoot,
} from "./attestation-verify.js";
import { base64Decode, base64Encode } from "./base64.js";
import { ErrorCode, isEnigmaError } from "./errors.js";
import { bytesToHex, hexToBytes, type Hex } from "./hex.js";

const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const jwk = publicKey.export({ format: "jwk" });
const root: RsaTrustRoot = {
  modulus: bytesToHex(Buffer.from(jwk.n ?? "", "base64url")),
  exponent: bytesToHex(Buffer.from(jwk.e ?? "", "base64url")),
};
const signer = "0x627306090abaB3A6e1400e9345bC60c78a8BEf57";
const MRENCLAVE = ("0x" + "aa".repeat(32)) as Hex;
const MRSIGNER = ("0x" + "bb".repeat(32)) as Hex;
const policy: AttestationPolicy = {
  acceptedStatuses: ["OK", "GROUP_OUT_OF_DATE"],
  allowDebug: false,
  mrenclaves: [MRENCLAVE],
  mrsigners: [MRSIGNER],
  minIsvSvn: 2,
};
const fields: QuoteFields = {
  version: 2,
  signType: 1,
  debug: false,
  mrenclave: hexToBytes(MRENCLAVE),
  mrsigner: hexToBytes(MRSIGNER),
  isvProdId: 0,
  isvSvn: 2,
  reportData: hexToBytes(signer),
};

function signed(f: Partial<QuoteFields> = {}, status = "OK", text?: string) {
  const report =
    text ??
    encodeAttestationReport({
      id: "123",
      timestamp: "2026-11-23T20:00:00.000000",
      version: 3,
      isvEnclaveQuoteStatus: status,
      isvEnclaveQuoteBody: base64Encode(encodeQuote({ ...fields, ...f })),
    });
  return { report, signature: bytesToHex(sign("sha256", Buffer.from(report), privateKey)) };
}

async function rejection(p: Promise<unknown>): Promise<{ code: number; check: unknown }> {
  try {
    await p;
  } catch (e) {
    if (!isEnigmaError(e)) throw e;
    return { code: e.code, check: e.details.check };
  }
  throw new Error("accepted");
}

describe("trust root conversions", () => {
  it("JWK, SPKI and PEM agree with node:crypto", async () => {
    expect(trustRootToJwk(root)).toEqual({ kty: "RSA", n: jwk.n, e: jwk.e });
    expect(trustRootFromJwk(jwk)).toEqual(root);
    const spki = await trustRootToSpki(root);
    expect(Buffer.from(spki)).toEqual(publicKey.export({ format: "der", type: "spki" }));
    expect(await trustRootFromSpki(spki)).toEqual(root);
    expect(
      await trustRootFromPem(publicKey.export({ format: "pem", type: "spki" }).toString()),
    ).toEqual(root);
    expect(
      createPublicKey({ key: { ...trustRootToJwk(root) }, format: "jwk" }).equals(publicKey),
    ).toBe(true);
  });

  it("refuses small or malformed keys", async () => {
    expect(() =>
      parseTrustRoot({ modulus: "0x" + "ff".repeat(128), exponent: "0x010001" }),
    ).toThrow(/trust root/);
    expect(() => parseTrustRoot({ modulus: root.modulus, exponent: "0x00" })).toThrow(/trust root/);
    expect(() => parseTrustRoot({ modulus: root.modulus })).toThrow(/trust root/);
    expect((await rejection(trustRootFromSpki(new Uint8Array(10)))).code).toBe(
      ErrorCode.InvalidTrustRoot,
    );
  });
});

describe("base64", () => {
  it("round-trips like Buffer and rejects non-canonical text", () => {
    for (let n = 0; n < 10; n++) {
      const b = new Uint8Array(n).map((_, i) => i * 37);
      expect(base64Encode(b)).toBe(Buffer.from(b).toString("base64"));
      expect(base64Encode(b, true)).toBe(Buffer.from(b).toString("base64url"));
      expect(base64Decode(base64Encode(b))).toEqual(b);
    }
    expect(() => base64Decode("AB==")).toThrow(/trailing bits/);
    expect(() => base64Decode("AAA")).toThrow(/multiple of 4/);
    expect(() => base64Decode("AA*A")).toThrow(/character/);
  });
});

describe("policy", () => {
  it("is validated data", () => {
    expect(parseAttestationPolicy(policy)).toEqual(policy);
    expect(parseAttestationPolicy({ ...policy, mrenclaves: "any" }).mrenclaves).toBe("any");
    for (const bad of [
      { ...policy, acceptedStatuses: [] },
      { ...policy, minIsvSvn: -1 },
      { ...policy, mrenclaves: ["0x12"] },
      { ...policy, extra: 1 },
      { ...policy, allowDebug: "no" },
    ]) {
      expect(() => parseAttestationPolicy(bad)).toThrow(/policy/);
    }
  });
});

describe("verifyAttestationReport", () => {
  let good: { report: string; signature: Hex };
  beforeAll(() => {
    good = signed();
  });

  it("accepts a good report and returns the quote and signer", async () => {
    const v = await verifyAttestationReport(good, root, policy, signer);
    expect(v.signer).toBe(signer);
    expect(v.quote.isvSvn).toBe(2);
    expect(v.report.isvEnclaveQuoteStatus).toBe("OK");
    expect((await verifyAttestationReport(good, root, policy)).signer).toBe(signer);
    expect(
      (await verifyAttestationReport(good, root, policy, signer.toLowerCase().slice(2))).signer,
    ).toBe(signer);
  });

  it("names each failed check", async () => {
    const other = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({
      format: "jwk",
    });
    const otherRoot = trustRootFromJwk(other);
    const cases: [() => Promise<unknown>, number, string][] = [
      [
        () => verifyAttestationReport(good, otherRoot, policy),
        ErrorCode.AttestationSignatureInvalid,
        "signature",
      ],
      [
        () => verifyAttestationReport({ ...good, signature: "0x1234" }, root, policy),
        ErrorCode.AttestationSignatureInvalid,
        "signature",
      ],
      [
        () => verifyAttestationReport(signed({}, "SIGNATURE_INVALID"), root, policy),
        ErrorCode.AttestationStatusRejected,
        "status",
      ],
      [
        () => verifyAttestationReport(signed({ debug: true }), root, policy),
        ErrorCode.AttestationDebugRejected,
        "debug",
      ],
      [
        () => verifyAttestationReport(signed({ mrenclave: new Uint8Array(32) }), root, policy),
        ErrorCode.AttestationMrenclaveRejected,
        "mrenclave",
      ],
      [
        () => verifyAttestationReport(signed({ mrsigner: new Uint8Array(32) }), root, policy),
        ErrorCode.AttestationMrsignerRejected,
        "mrsigner",
      ],
      [
        () => verifyAttestationReport(signed({ isvSvn: 1 }), root, policy),
        ErrorCode.AttestationIsvSvnTooLow,
        "isvSvn",
      ],
      [
        () => verifyAttestationReport(good, root, policy, "0x" + "11".repeat(20)),
        ErrorCode.AttestationSignerMismatch,
        "signer",
      ],
      [
        () => verifyAttestationReport(signed({}, "OK", "{}"), root, policy),
        ErrorCode.AttestationMalformed,
        "format",
      ],
      [
        () => verifyAttestationReport(signed({}, "OK", "not json"), root, policy),
        ErrorCode.AttestationMalformed,
        "format",
      ],
      [
        () =>
          verifyAttestationReport(
            signed({}, "OK", good.report.replace('{"id"', '{ "id"')),
            root,
            policy,
          ),
        ErrorCode.AttestationMalformed,
        "format",
      ],
      [
        () =>
          verifyAttestationReport(
            signed(
              {},
              "OK",
              good.report.replace(/"isvEnclaveQuoteBody":"[^"]*"/, '"isvEnclaveQuoteBody":"AAAA"'),
            ),
            root,
            policy,
          ),
        ErrorCode.AttestationMalformed,
        "quote",
      ],
    ];
    for (const [p, codeWanted, check] of cases) {
      expect(await rejection(p())).toEqual({ code: codeWanted, check });
    }
    // The policy may allow what the default refuses.
    await expect(
      verifyAttestationReport(signed({ debug: true, mrenclave: new Uint8Array(32) }), root, {
        ...policy,
        allowDebug: true,
        mrenclaves: "any",
      }),
    ).resolves.toBeDefined();
    expect(
      (await rejection(verifyAttestationReport(good, root, { ...policy, minIsvSvn: 1.5 }))).code,
    ).toBe(ErrorCode.InvalidAttestationPolicy);
  });
});

describe("checkRegistrationBinding", () => {
  const custodian = "0x00000000000000000000000000000000000c0de5";
  const enigmaAddress = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
  const bound = (o: { custodian?: string; chainId?: bigint; enigmaAddress?: string } = {}) =>
    signed({
      reportData: enclaveReportData(hexToBytes(signer), {
        custodian: hexToBytes(o.custodian ?? custodian),
        chainId: o.chainId ?? 31337n,
        enigmaAddress: hexToBytes(o.enigmaAddress ?? enigmaAddress),
      }),
    }).report;
  const expected = { signer, custodian, chainId: 31337n, enigmaAddress };

  it("passes a report bound to the registering custodian, chain and deployment", () => {
    expect(() => {
      checkRegistrationBinding(bound(), expected);
    }).not.toThrow();
  });

  it("names what differs with AttestationBindingMismatch (319)", () => {
    const cases: [string, string][] = [
      [bound({ custodian: "0x" + "11".repeat(20) }), "custodian"],
      [bound({ chainId: 1n }), "chain or Enigma deployment"],
      [bound({ enigmaAddress: "0x" + "22".repeat(20) }), "chain or Enigma deployment"],
      [signed().report, "custodian"], // names only the signer
      [bound(), "signer"],
    ];
    for (const [report, differs] of cases) {
      const e: unknown = (() => {
        try {
          checkRegistrationBinding(
            report,
            differs === "signer" ? { ...expected, signer: "0x" + "33".repeat(20) } : expected,
          );
        } catch (x) {
          return x;
        }
        return undefined;
      })();
      expect(isEnigmaError(e, ErrorCode.AttestationBindingMismatch), differs).toBe(true);
      expect((e as { details: { differs: string } }).details.differs).toBe(differs);
    }
  });
});
