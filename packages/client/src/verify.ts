import {
  ENIGMA_ABI,
  EnigmaError,
  ErrorCode,
  bytesToHex,
  equalBytes,
  hexToBytes,
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
    return { custodian, report, signature: bytesToHex(hexToBytes(String(parsed.args[2]))) };
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
