// A worker's side of state-key transfer: it asks the principal (over libp2p request-response)
// for the keys of contracts it was selected for; the request carries its attestation and the
// answer is encrypted to its enclave, which keeps (and seals) the keys.
import {
  EnigmaError,
  ErrorCode,
  isEnigmaError,
  type Hex,
  type StateKeyResponse,
} from "@enigma/protocol";
import type { WorkerEnclave } from "@enigma/enclave";
import type { NodeContext } from "../context.js";
import type { PeerDirectory } from "../directory.js";
import { PROTOCOLS } from "../messages.js";

export class StateKeyClient {
  readonly #ctx: NodeContext;
  readonly #enclave: WorkerEnclave;
  readonly #directory: PeerDirectory;
  /** Requests in flight per contract, so concurrent tasks share one round trip. */
  readonly #inflight = new Map<string, Promise<void>>();

  constructor(ctx: NodeContext, enclave: WorkerEnclave, directory: PeerDirectory) {
    this.#ctx = ctx;
    this.#enclave = enclave;
    this.#directory = directory;
  }

  /** Makes sure the enclave holds the state keys of `contracts`. */
  async ensure(contracts: readonly Hex[]): Promise<void> {
    const missing = contracts.filter((c) => !this.#enclave.hasStateKey(c));
    if (missing.length === 0) return;
    const key = missing.join(",");
    let p = this.#inflight.get(key);
    if (p === undefined) {
      p = this.#fetch(missing).finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, p);
    }
    await p;
  }

  async #fetch(contracts: Hex[]): Promise<void> {
    const { chain, p2p, metrics, log } = this.#ctx;
    const principal = await chain.principal();
    let peer: string;
    try {
      peer = await this.#directory.peerOf(principal);
    } catch (cause) {
      throw new EnigmaError(
        ErrorCode.PeerUnreachable,
        "the principal node is not reachable: cannot obtain the contract's state key",
        { details: { principal, contracts }, cause },
      );
    }
    const request = this.#enclave.createStateKeyRequest(contracts);
    try {
      const response = await p2p.request(peer, PROTOCOLS.stateKeys, request, { timeoutMs: 10_000 });
      const got = await this.#enclave.acceptStateKeys(response as StateKeyResponse, principal);
      metrics.stateKeyRequests.inc({ outcome: "granted" });
      log.info({ contracts: got }, "state keys received from the principal");
    } catch (e) {
      metrics.stateKeyRequests.inc({ outcome: "refused" });
      if (isEnigmaError(e)) throw e;
      throw new EnigmaError(
        ErrorCode.StateKeyRequestRefused,
        `state key request failed: ${String(e)}`,
        {
          details: { contracts },
          cause: e,
        },
      );
    }
  }
}
