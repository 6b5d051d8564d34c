import { generateKeyPairSync, sign } from "node:crypto";
import {
  ErrorCode,
  base64Encode,
  bytesToHex,
  encodeAttestationReport,
  encodeQuote,
  hexToBytes,
  parseAttestationPolicy,
  type AttestationPolicy,
  type Hex,
  type RsaTrustRoot,
} from "@enigma/protocol";
import { rejectedCode } from "@enigma/protocol/testing";
import { describe, expect, it } from "vitest";
import { AttestationCache, type ReportSource } from "./verify.js";

/** An attestation service: its trust root, and its signature over report bytes. */
function attestationService(): { root: RsaTrustRoot; sign: (bytes: Uint8Array) => Hex } {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const jwk = publicKey.export({ format: "jwk" });
  return {
    root: {
      modulus: bytesToHex(Buffer.from(jwk.n ?? "", "base64url")),
      exponent: bytesToHex(Buffer.from(jwk.e ?? "", "base64url")),
    },
    sign: (bytes) => bytesToHex(sign("sha256", bytes, privateKey)),
  };
}
const service = attestationService();
const root = service.root;
const worker = "0x627306090abaB3A6e1400e9345bC60c78a8BEf57";
const MRENCLAVE: Hex = `0x${"aa".repeat(32)}`;
const OTHER: Hex = `0x${"cc".repeat(32)}`;
const policy = (mrenclaves: Hex[]): AttestationPolicy =>
  parseAttestationPolicy({
    acceptedStatuses: ["OK"],
    allowDebug: false,
    mrenclaves,
    mrsigners: "any",
    minIsvSvn: 0,
  });

function report(mrenclave: Hex, id: string): { bytes: Uint8Array; signature: Hex } {
  const text = encodeAttestationReport({
    id,
    timestamp: "2026-11-23T20:00:00.000000",
    version: 3,
    isvEnclaveQuoteStatus: "OK",
    isvEnclaveQuoteBody: base64Encode(
      encodeQuote({
        version: 2,
        signType: 1,
        debug: false,
        mrenclave: hexToBytes(mrenclave),
        mrsigner: new Uint8Array(32).fill(0xbb),
        isvProdId: 0,
        isvSvn: 1,
        reportData: hexToBytes(worker),
      }),
    ),
  });
  return {
    bytes: new TextEncoder().encode(text),
    signature: service.sign(new TextEncoder().encode(text)),
  };
}

/** `worker` verified in epoch 10 by two clients (caches), one per source, starting together. */
function verifyTogether(a: ReportSource, b: ReportSource) {
  const verify = (src: ReportSource) =>
    new AttestationCache(src, root, policy([MRENCLAVE])).verify(worker, 10n);
  return Promise.allSettled([verify(a), verify(b)] as const);
}

/** A chain double that counts report reads and signature lookups (the costly log scan). */
function chain(initial: { bytes: Uint8Array; signature: Hex }) {
  let current = initial;
  const calls = { report: 0, signature: 0 };
  const src: ReportSource = {
    report: () => {
      calls.report++;
      return Promise.resolve(current.bytes);
    },
    signature: () => {
      calls.signature++;
      return Promise.resolve(current.signature);
    },
  };
  return {
    src,
    calls,
    reRegister: (r: { bytes: Uint8Array; signature: Hex }) => (current = r),
  };
}

describe("AttestationCache", () => {
  it("verifies a worker once per epoch, reading the report again (but not its signature) in a new epoch", async () => {
    const c = chain(report(MRENCLAVE, "once-1"));
    const cache = new AttestationCache(c.src, root, policy([MRENCLAVE]));
    const first = await Promise.all([cache.verify(worker, 10n), cache.verify(worker, 10n)]);
    expect(first[0].signer.toLowerCase()).toBe(worker.toLowerCase());
    await cache.verify(worker, 10n);
    expect(c.calls).toEqual({ report: 1, signature: 1 });
    await cache.verify(worker, 20n);
    expect(c.calls).toEqual({ report: 2, signature: 1 });
  });

  it("re-verifies when the worker's report changed, and refuses a report the policy rejects", async () => {
    const c = chain(report(MRENCLAVE, "changed-1"));
    const cache = new AttestationCache(c.src, root, policy([MRENCLAVE]));
    await cache.verify(worker, 10n);
    // The worker re-registers with a build the policy does not accept.
    c.reRegister(report(OTHER, "changed-2"));
    await cache.verify(worker, 10n); // same epoch: the pass holds
    expect(await rejectedCode(cache.verify(worker, 20n))).toBe(
      ErrorCode.AttestationMrenclaveRejected,
    );
    expect(c.calls.signature).toBe(2);
    // A failure is not cached: checked again on the next call.
    expect(await rejectedCode(cache.verify(worker, 20n))).toBe(
      ErrorCode.AttestationMrenclaveRejected,
    );
    expect(c.calls.report).toBe(3);
  });

  it("drops every pass when the policy or trust root changes", async () => {
    const c = chain(report(MRENCLAVE, "policy-1"));
    const cache = new AttestationCache(c.src, root, policy([MRENCLAVE]));
    await cache.verify(worker, 10n);
    cache.setPolicy(policy([OTHER]));
    expect(await rejectedCode(cache.verify(worker, 10n))).toBe(
      ErrorCode.AttestationMrenclaveRejected,
    );
    cache.setPolicy(policy([MRENCLAVE, OTHER]));
    await cache.verify(worker, 10n);
    cache.setPolicy(policy([MRENCLAVE]), attestationService().root);
    expect(await rejectedCode(cache.verify(worker, 10n))).toBe(
      ErrorCode.AttestationSignatureInvalid,
    );
    // Only the report was read again each time; its signature was looked up once.
    expect(c.calls).toEqual({ report: 4, signature: 1 });
  });

  it("shares a signature found by one client's lookup with every client of the process", async () => {
    const r = report(MRENCLAVE, "shared-1");
    const clients = Array.from({ length: 8 }, () => chain(r));
    const caches = clients.map((c) => new AttestationCache(c.src, root, policy([MRENCLAVE])));
    // Clients that start together look it up once.
    await Promise.all(caches.map((cache) => cache.verify(worker, 10n)));
    expect(clients.reduce((n, c) => n + c.calls.signature, 0)).toBe(1);
    expect(clients.every((c) => c.calls.report === 1)).toBe(true);
    // A client that comes later finds it too.
    const late = chain(r);
    await new AttestationCache(late.src, root, policy([MRENCLAVE])).verify(worker, 10n);
    expect(late.calls).toEqual({ report: 1, signature: 0 });
  });

  it("shares nothing across trust roots, and a client whose shared signature fails looks it up itself", async () => {
    const r = report(MRENCLAVE, "roots-1");
    const a = chain(r);
    await new AttestationCache(a.src, root, policy([MRENCLAVE])).verify(worker, 10n);
    // The same report bytes on another chain, signed by another attestation service.
    const other = attestationService();
    const b = chain({ bytes: r.bytes, signature: other.sign(r.bytes) });
    const verified = await new AttestationCache(b.src, other.root, policy([MRENCLAVE])).verify(
      worker,
      10n,
    );
    expect(verified.signer.toLowerCase()).toBe(worker.toLowerCase());
    expect(b.calls.signature).toBe(1);
    // Two clients of different chains starting together, with the same root and report: the
    // second joins the first one's lookup, whose chain holds a signature the root refuses,
    // and looks the signature up on its own chain.
    const r2 = report(MRENCLAVE, "roots-2");
    const forged = chain({ bytes: r2.bytes, signature: other.sign(r2.bytes) });
    const honest = chain(r2);
    const [fromForged, fromHonest] = await verifyTogether(forged.src, honest.src);
    expect(fromForged.status).toBe("rejected");
    expect(fromHonest.status).toBe("fulfilled");
    expect(honest.calls.signature).toBe(1);
  });

  it("a client whose joined lookup failed (another client's chain or connection) looks it up itself", async () => {
    const r = report(MRENCLAVE, "joined-fails-1");
    const broken = chain(r);
    broken.src.signature = () => Promise.reject(new Error("socket hang up"));
    const honest = chain(r);
    const [fromBroken, fromHonest] = await verifyTogether(broken.src, honest.src);
    expect(fromBroken.status).toBe("rejected");
    expect(fromHonest.status).toBe("fulfilled");
    expect(honest.calls.signature).toBe(1);
  });
});
