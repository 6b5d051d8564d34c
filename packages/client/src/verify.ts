import {
  ENIGMA_ABI,
  EnigmaError,
  ErrorCode,
  bytesToHex,
  equalBytes,
  hexToBytes,
  isEnigmaError,
  keccak256,
  sameAddress,
  verifyAttestationReport,
  verifyWorkerKey,
  type AttestationPolicy,
  type Hex,
  type RsaTrustRoot,
  type VerifiedAttestation,
} from "@enigma/protocol";
import { Interface, ZeroAddress, type Provider } from "ethers";
import { fromChainError } from "./errors.js";

const ENIGMA = new Interface(ENIGMA_ABI);

/**
 * Checks that a worker encryption key was signed by the selected worker's enclave; throws
 * `SignerMismatch` (before anything is encrypted to it) otherwise.
 */
export function checkWorkerKey(workerKey: Hex, workerSig: Hex, selectedWorker: string): void {
  verifyWorkerKey(workerKey, workerSig, selectedWorker);
}

/** A worker's registration as the chain holds it: report bytes and the report's signature. */
export interface RegisteredReport {
  custodian: string;
  report: Uint8Array;
  signature: Hex;
}

/**
 * Reads the attestation report of the worker whose enclave signs as `signer`: the report from
 * `Enigma.getWorkerFromSigningAddress`, and its RSA signature from the calldata of the
 * `register` transaction that stored it (the contract checked it there but keeps only the
 * report). Throws `WorkerNotRegistered` or `AttestationMalformed`.
 */
export async function readRegisteredReport(
  provider: Provider,
  enigmaAddress: string,
  signer: string,
): Promise<RegisteredReport> {
  const stored = await readStoredReport(provider, enigmaAddress, signer);
  const signature = await findReportSignature(provider, enigmaAddress, signer, stored.report);
  return { ...stored, signature };
}

/** The report the chain holds for `signer` (one call); `WorkerNotRegistered` when none. */
export async function readStoredReport(
  provider: Provider,
  enigmaAddress: string,
  signer: string,
): Promise<{ custodian: string; report: Uint8Array }> {
  let custodian: string;
  let report: Uint8Array;
  try {
    const data = await provider.call({
      to: enigmaAddress,
      data: ENIGMA.encodeFunctionData("getWorkerFromSigningAddress", [signer]),
    });
    const [c, w] = ENIGMA.decodeFunctionResult("getWorkerFromSigningAddress", data) as unknown as [
      string,
      { report: string },
    ];
    custodian = c;
    report = hexToBytes(w.report);
  } catch (e) {
    throw fromChainError(e, "getWorkerFromSigningAddress");
  }
  if (custodian === ZeroAddress || report.length === 0) {
    throw new EnigmaError(ErrorCode.WorkerNotRegistered, "the selected worker is not registered", {
      details: { signer },
    });
  }
  return { custodian, report };
}

/**
 * The RSA signature of `report`, from the calldata of the `register` transaction that stored
 * it (a scan of the `Registered` logs: the expensive part of a verification).
 */
export async function findReportSignature(
  provider: Provider,
  enigmaAddress: string,
  signer: string,
  report: Uint8Array,
): Promise<Hex> {
  const registered = ENIGMA.getEvent("Registered");
  if (registered === null) throw new Error("ENIGMA_ABI lacks the Registered event");
  const logs = await provider.getLogs({
    address: enigmaAddress,
    topics: [registered.topicHash],
    fromBlock: 0,
    toBlock: "latest",
  });
  // Newest first: a worker may have re-registered; the stored report is the last one.
  for (const log of [...logs].reverse()) {
    const ev = ENIGMA.decodeEventLog(registered, log.data, log.topics);
    if (!sameAddress(String(ev[1]), signer)) continue;
    const tx = await provider.getTransaction(log.transactionHash);
    if (tx === null) continue;
    let parsed: ReturnType<Interface["parseTransaction"]>;
    try {
      parsed = ENIGMA.parseTransaction({ data: tx.data });
    } catch {
      continue; // not a direct call to Enigma (a relayer, a wallet contract...)
    }
    if (parsed?.name !== "register") continue;
    const txReport = hexToBytes(String(parsed.args[1]));
    if (!equalBytes(txReport, report)) continue;
    return bytesToHex(hexToBytes(String(parsed.args[2])));
  }
  throw new EnigmaError(
    ErrorCode.AttestationMalformed,
    "cannot find the register transaction carrying the worker's report signature",
    { details: { signer, check: "signature-lookup" } },
  );
}

/**
 * Verifies the worker's on-chain attestation report against the trust root and policy, and
 * that the report binds `signer`. Throws the protocol's typed errors
 * (`AttestationSignatureInvalid`, `AttestationMrenclaveRejected`, ...).
 */
export async function verifyWorkerAttestation(
  provider: Provider,
  enigmaAddress: string,
  signer: string,
  trustRoot: RsaTrustRoot,
  policy: AttestationPolicy,
): Promise<VerifiedAttestation> {
  const r = await readRegisteredReport(provider, enigmaAddress, signer);
  return verifyAttestationReport(
    { report: new TextDecoder().decode(r.report), signature: r.signature },
    trustRoot,
    policy,
    signer,
  );
}

/** Where `AttestationCache` reads reports and their signatures (the chain, or a test double). */
export interface ReportSource {
  report(signer: string): Promise<Uint8Array>;
  signature(signer: string, report: Uint8Array): Promise<Hex>;
}

/** A report source over the `Enigma` contract (`readStoredReport`, `findReportSignature`). */
export function chainReportSource(provider: Provider, enigmaAddress: string): ReportSource {
  return {
    report: async (signer) => (await readStoredReport(provider, enigmaAddress, signer)).report,
    signature: (signer, report) => findReportSignature(provider, enigmaAddress, signer, report),
  };
}

/**
 * Report signatures that verified, shared by every `AttestationCache` of this process:
 * keccak256(report) and the trust root's modulus -> signature. Finding a signature is a scan of
 * every `Registered` log since block 0, which grows with the chain: on a devnet of 30,000 blocks,
 * 32 clients starting at once, each verifying 3 workers, made the chain ~3 s of scans and
 * their first tasks wait 100-200 ms. A hit is sound by construction: the entry verified over
 * these very report bytes under this very root. Bounded; the oldest entries go first.
 */
const SHARED_SIGNATURES = new Map<string, Hex>();
const SHARED_SIGNATURES_MAX = 1024;
/** Scans in flight, by the same key: clients starting together scan once. */
const SHARED_SCANS = new Map<string, Promise<Hex>>();

function sharedKey(report: Uint8Array, trustRoot: RsaTrustRoot): string {
  return `${bytesToHex(keccak256(report))}/${trustRoot.modulus.toLowerCase()}/${trustRoot.exponent.toLowerCase()}`;
}

function rememberShared(key: string, signature: Hex): void {
  SHARED_SIGNATURES.delete(key);
  SHARED_SIGNATURES.set(key, signature);
  if (SHARED_SIGNATURES.size > SHARED_SIGNATURES_MAX) {
    const oldest = SHARED_SIGNATURES.keys().next().value;
    if (oldest !== undefined) SHARED_SIGNATURES.delete(oldest);
  }
}

interface Passed {
  epoch: bigint;
  policy: number;
  report: Uint8Array;
  verified: VerifiedAttestation;
}

/**
 * Worker attestations verified once per (worker, epoch, policy) (issue 13, issue 20): a pass
 * holds for the epoch it was checked in; in a new epoch the report is read again (one call)
 * and verified again (a report can be replaced by a new registration, and a policy can judge
 * an old report differently, for example by its age), and a new policy (`setPolicy`) drops
 * every pass. The signature lookup (a scan of the `Registered` logs) is redone only when the
 * report's bytes changed. A failure is never cached: the next task checks again.
 */
export class AttestationCache {
  readonly #src: ReportSource;
  #trustRoot: RsaTrustRoot;
  #policy: AttestationPolicy;
  #policyVersion = 0;
  readonly #passed = new Map<string, Passed>();
  readonly #signatures = new Map<string, { report: Uint8Array; signature: Hex }>();
  readonly #inFlight = new Map<string, Promise<VerifiedAttestation>>();

  constructor(src: ReportSource, trustRoot: RsaTrustRoot, policy: AttestationPolicy) {
    this.#src = src;
    this.#trustRoot = trustRoot;
    this.#policy = policy;
  }

  /** Replaces the policy (and trust root): every worker is verified again. */
  setPolicy(policy: AttestationPolicy, trustRoot: RsaTrustRoot = this.#trustRoot): void {
    this.#policy = policy;
    this.#trustRoot = trustRoot;
    this.#policyVersion++;
    this.#passed.clear();
  }

  /** The attestation of `signer`, verified in epoch `epoch` (first block number). */
  verify(signer: string, epoch: bigint): Promise<VerifiedAttestation> {
    const key = signer.toLowerCase();
    const hit = this.#passed.get(key);
    if (hit !== undefined && hit.epoch === epoch && hit.policy === this.#policyVersion) {
      return Promise.resolve(hit.verified);
    }
    const flightKey = `${key}/${epoch}/${this.#policyVersion}`;
    let p = this.#inFlight.get(flightKey);
    if (p === undefined) {
      p = this.#check(key, signer, epoch).finally(() => this.#inFlight.delete(flightKey));
      this.#inFlight.set(flightKey, p);
    }
    return p;
  }

  async #check(key: string, signer: string, epoch: bigint): Promise<VerifiedAttestation> {
    const policy = this.#policy;
    const version = this.#policyVersion;
    const trustRoot = this.#trustRoot;
    const report = await this.#src.report(signer);
    const known = this.#signatures.get(key);
    const shared = sharedKey(report, trustRoot);
    const verify = (signature: Hex) =>
      verifyAttestationReport(
        { report: new TextDecoder().decode(report), signature },
        trustRoot,
        policy,
        signer,
      );
    let signature: Hex;
    let verified: VerifiedAttestation;
    if (known !== undefined && equalBytes(known.report, report)) {
      signature = known.signature;
      verified = await verify(signature);
    } else {
      const hit = SHARED_SIGNATURES.get(shared);
      let scan = SHARED_SCANS.get(shared);
      const joined = hit === undefined && scan !== undefined;
      if (hit !== undefined) signature = hit;
      else {
        if (scan === undefined) {
          scan = this.#src.signature(signer, report);
          const mine = scan;
          SHARED_SCANS.set(shared, mine);
          void mine
            .finally(() => {
              if (SHARED_SCANS.get(shared) === mine) SHARED_SCANS.delete(shared);
            })
            .catch(() => undefined);
        }
        signature = await scan.catch((e: unknown) => {
          // Another client's scan (of its own provider and chain) failing says nothing of
          // this client's: it scans for itself.
          if (!joined) throw e;
          return this.#src.signature(signer, report);
        });
      }
      try {
        verified = await verify(signature);
      } catch (e) {
        // Another client's scan may have read another chain that holds the same report with
        // another signature: then this client's own scan decides.
        if (!joined || !isEnigmaError(e, ErrorCode.AttestationSignatureInvalid)) throw e;
        signature = await this.#src.signature(signer, report);
        verified = await verify(signature);
      }
      this.#signatures.set(key, { report, signature });
      rememberShared(shared, signature);
    }
    // A policy set meanwhile is not what this pass was checked under.
    if (version === this.#policyVersion) {
      this.#passed.set(key, { epoch, policy: version, report, verified });
    }
    return verified;
  }
}
