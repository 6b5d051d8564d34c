import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ErrorCode,
  bytesToHex,
  isEnigmaError,
  type Hex,
  type StateKeyRequest,
} from "@enigma/protocol";
import { beforeAll, describe, expect, it } from "vitest";
import {
  SIMULATED_ENCLAVE_MEASUREMENT,
  SimulatedAttestationService,
  devnetAttestationPolicy,
} from "./attestation-service.js";
import { EnclaveIdentity } from "./identity.js";
import { Sealer } from "./sealing.js";
import { StateKeyAuthority, StateKeyStore, withStateKey } from "./statekeys.js";

const utf8 = (s: string) => new TextEncoder().encode(s);
const contractA = ("0x" + "aa".repeat(32)) as Hex;
const contractB = ("0x" + "bb".repeat(32)) as Hex;
let ias: SimulatedAttestationService;
let principal: EnclaveIdentity;
let authority: StateKeyAuthority;
let worker: EnclaveIdentity;

beforeAll(() => {
  ias = SimulatedAttestationService.generate();
  principal = EnclaveIdentity.generate(utf8("principal test seed"));
  worker = EnclaveIdentity.generate(utf8("worker test seed 01"));
  authority = StateKeyAuthority.generate(principal, {
    trustRoot: ias.trustRoot,
    policy: devnetAttestationPolicy(),
  });
});

async function refusal(
  p: Promise<unknown>,
): Promise<{ code: number; reason: unknown; check: unknown }> {
  try {
    await p;
  } catch (e) {
    if (!isEnigmaError(e)) throw e;
    return { code: e.code, reason: e.details.reason, check: e.details.check };
  }
  throw new Error("accepted");
}

describe("state-key transfer", () => {
  it("an attested worker gets the same keys the principal holds (proved by encrypt/decrypt)", async () => {
    const store = new StateKeyStore(worker);
    const request = store.createRequest(ias.attestEnclave(worker), [contractA, contractB]);
    const response = await authority.issue(request);
    expect(response.recipient).toBe(worker.signer);
    expect(store.accept(response, principal.signer)).toEqual([contractA, contractB]);
    for (const c of [contractA, contractB]) {
      expect(store.has(c)).toBe(true);
      expect(store.decrypt(c, authority.encrypt(c, utf8("state of " + c)))).toEqual(
        utf8("state of " + c),
      );
      expect(authority.decrypt(c, store.encrypt(c, utf8("delta")))).toEqual(utf8("delta"));
    }
    // Keys differ per contract.
    expect(
      isEnigmaError(
        catchSync(() => store.decrypt(contractB, authority.encrypt(contractA, utf8("x")))),
        ErrorCode.DecryptionFailed,
      ),
    ).toBe(true);
    // Enclave-internal access gives the same raw key on both sides, for delta encryption.
    expect(withStateKey(store, contractA, bytesToHex)).toBe(
      withStateKey(authority, contractA, bytesToHex),
    );
    // No key leaves in clear on the wire.
    const wire = JSON.stringify(response);
    expect(wire).not.toContain(withStateKey(authority, contractA, bytesToHex).slice(2));
  });

  it("refuses a request without a valid attestation", async () => {
    const store = new StateKeyStore(worker);
    const otherIas = SimulatedAttestationService.generate();
    const cases: [StateKeyRequest, unknown][] = [
      [store.createRequest(otherIas.attestEnclave(worker), [contractA]), "signature"],
      [
        store.createRequest(
          ias.attestEnclave(worker, { ...SIMULATED_ENCLAVE_MEASUREMENT, debug: true }),
          [contractA],
        ),
        "debug",
      ],
      [
        store.createRequest(
          ias.attestEnclave(worker, SIMULATED_ENCLAVE_MEASUREMENT, { status: "SIGNATURE_INVALID" }),
          [contractA],
        ),
        "status",
      ],
    ];
    for (const [req, check] of cases) {
      expect(await refusal(authority.issue(req))).toMatchObject({
        code: ErrorCode.StateKeyRequestRefused,
        check,
      });
    }
  });

  it("refuses a wrong-signer request: someone else's attestation, or a swapped key", async () => {
    const mallory = EnclaveIdentity.generate();
    // Mallory presents the worker's (valid) attestation with her own key and signature.
    const replay = new StateKeyStore(mallory).createRequest(ias.attestEnclave(worker), [contractA]);
    expect(await refusal(authority.issue(replay))).toMatchObject({
      code: ErrorCode.StateKeyRequestRefused,
      check: "signer",
    });
    // Or swaps her key-exchange key into the worker's signed request.
    const good = new StateKeyStore(worker).createRequest(ias.attestEnclave(worker), [contractA]);
    const swapped = { ...good, keyExchangePublicKey: bytesToHex(mallory.keyExchangePublicKey) };
    expect(await refusal(authority.issue(swapped))).toMatchObject({
      code: ErrorCode.StateKeyRequestRefused,
      check: "signer",
    });
    // Or adds a contract.
    const widened = { ...good, contractAddresses: [contractA, contractB] };
    expect((await refusal(authority.issue(widened))).code).toBe(ErrorCode.StateKeyRequestRefused);
    // Malformed input is refused the same way.
    expect((await refusal(authority.issue({ ...good, signature: "0x12" }))).reason).toBe(
      "malformed request",
    );
  });

  it("asks the authorizer (is this worker selected?) for each contract", async () => {
    const req = new StateKeyStore(worker).createRequest(ias.attestEnclave(worker), [
      contractA,
      contractB,
    ]);
    const seen: string[] = [];
    const deny = (signer: Hex, c: Hex) => {
      seen.push(`${signer}:${c}`);
      return c === contractA;
    };
    expect((await refusal(authority.issue(req, deny))).code).toBe(ErrorCode.StateKeyRequestRefused);
    expect(seen).toEqual([`${worker.signer}:${contractA}`, `${worker.signer}:${contractB}`]);
    await expect(authority.issue(req, () => Promise.resolve(true))).resolves.toBeDefined();
  });

  it("the receiver refuses an answer not from the principal or not for it, and unknown contracts", async () => {
    const store = new StateKeyStore(worker);
    const response = await authority.issue(
      store.createRequest(ias.attestEnclave(worker), [contractA]),
    );
    expect(catchSync(() => store.accept(response, worker.signer))).toMatchObject({
      code: ErrorCode.SignerMismatch,
    });
    const other = new StateKeyStore(EnclaveIdentity.generate());
    expect(catchSync(() => other.accept(response, principal.signer))).toMatchObject({
      code: ErrorCode.SignerMismatch,
    });
    const tampered = {
      ...response,
      keys: [{ ...response.keys[0], contractAddress: contractB } as (typeof response.keys)[0]],
    };
    expect(catchSync(() => store.accept(tampered, principal.signer))).toMatchObject({
      code: ErrorCode.SignerMismatch,
    });
    expect(store.has(contractA)).toBe(false);
    expect(catchSync(() => store.encrypt(contractA, utf8("x")))).toMatchObject({
      code: ErrorCode.StateKeyUnknown,
    });
  });

  it("persists: the principal's master secret and a worker's keys are sealed to the platform", async () => {
    const dir = await mkdtemp(join(tmpdir(), "enigma-statekeys-"));
    try {
      const sealer = new Sealer(new Uint8Array(32).fill(4));
      const opts = { trustRoot: ias.trustRoot, policy: devnetAttestationPolicy() };
      const a = await StateKeyAuthority.loadOrCreate(dir, sealer, principal, opts);
      const b = await StateKeyAuthority.loadOrCreate(dir, sealer, principal, opts);
      expect(b.decrypt(contractA, a.encrypt(contractA, utf8("x")))).toEqual(utf8("x"));
      await expect(
        StateKeyAuthority.loadOrCreate(
          dir,
          new Sealer(new Uint8Array(32).fill(5)),
          principal,
          opts,
        ),
      ).rejects.toMatchObject({
        code: ErrorCode.SealedDataRejected,
      });

      const store = new StateKeyStore(worker);
      store.accept(
        await a.issue(store.createRequest(ias.attestEnclave(worker), [contractA])),
        principal.signer,
      );
      const restored = StateKeyStore.unseal(worker, sealer, store.seal(sealer));
      expect(restored.contracts()).toEqual([contractA]);
      expect(restored.decrypt(contractA, a.encrypt(contractA, utf8("y")))).toEqual(utf8("y"));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("a seeded authority derives the same keys on every run", () => {
    const opts = {
      trustRoot: ias.trustRoot,
      policy: devnetAttestationPolicy(),
      seed: utf8("principal master seed"),
    };
    const a = StateKeyAuthority.generate(principal, opts);
    const b = StateKeyAuthority.generate(principal, opts);
    expect(b.decrypt(contractA, a.encrypt(contractA, utf8("z")))).toEqual(utf8("z"));
  });
});

function catchSync(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}
