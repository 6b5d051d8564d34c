// The principal node: at each epoch boundary (the epoch policy's) it draws the seed in its
// enclave and calls `setWorkersParams`; it hands out contract state keys, encrypted to the
// requesting enclave, only to an attested worker selected for that contract in one of the epochs
// the policy names (Discovery's: the current one and the one before it, so a task recorded just
// before the boundary can still be run).
import { EnigmaError, ErrorCode, isEnigmaError, type Hex } from "@enigma/protocol";
import type { PrincipalEnclave } from "@enigma/enclave";
import type { StateKeyRequest } from "@enigma/protocol";
import type { EpochInfo } from "./chain/types.js";
import type { NodeContext } from "./context.js";
import { PROTOCOLS } from "./messages.js";

export class PrincipalService {
  readonly #ctx: NodeContext;
  readonly #enclave: PrincipalEnclave;
  #inflight: Promise<void> | undefined;

  constructor(ctx: NodeContext, enclave: PrincipalEnclave) {
    this.#ctx = ctx;
    this.#enclave = enclave;
  }

  async start(): Promise<void> {
    const { p2p, metrics, log } = this.#ctx;
    await p2p.handle(PROTOCOLS.stateKeys, async (raw, from) => {
      try {
        const response = await this.#enclave.issueStateKeys(
          raw as StateKeyRequest,
          (signer, contract) => this.#authorize(signer, contract),
        );
        metrics.stateKeyRequests.inc({ outcome: "granted" });
        log.info(
          { peer: from, worker: response.recipient, contracts: response.keys.length },
          "state keys issued",
        );
        return response;
      } catch (e) {
        metrics.stateKeyRequests.inc({ outcome: "refused" });
        log.warn({ peer: from, err: String(e) }, "state key request refused");
        throw e;
      }
    });
  }

  async stop(): Promise<void> {
    await this.#inflight;
  }

  /** Starts the next epoch when the current one is over (or none exists yet). */
  onBlock(head: number): Promise<void> {
    if (this.#inflight !== undefined) return this.#inflight;
    this.#inflight = this.#maybeNewEpoch(head).finally(() => {
      this.#inflight = undefined;
    });
    return this.#inflight;
  }

  async #maybeNewEpoch(head: number): Promise<void> {
    const { chain, metrics, log, policy } = this.#ctx;
    // Inside the epoch in force at `head` (known from the watcher's scan) nothing is due: a
    // newer epoch can only start once that one is over.
    const atHead = await chain.getEpoch(head);
    if (atHead !== undefined && !policy.epochs.isEpochDue(head, atHead, chain.epochSize)) return;
    const current = await chain.currentEpoch();
    if (!policy.epochs.isEpochDue(head, current, chain.epochSize)) return;
    const index = current === undefined ? 0 : current.index + 1;
    const seed = this.#enclave.epochSeed(index);
    const sig = this.#enclave.signWorkersParams(head, seed, index);
    try {
      const { blockNumber } = await chain.setWorkersParams(head, seed, sig);
      metrics.epochs.inc();
      log.info({ epoch: index, firstBlock: blockNumber }, "epoch started");
    } catch (e) {
      // Another attempt raced us (EpochRejected: too early / already set): the next block retries.
      if (isEnigmaError(e, ErrorCode.EpochRejected)) return;
      log.warn({ epoch: index, err: String(e) }, "setWorkersParams failed");
    }
  }

  async #authorize(signer: Hex, contract: Hex): Promise<boolean> {
    const { chain, policy, selection } = this.#ctx;
    const current = await chain.currentEpoch();
    if (current === undefined) {
      throw new EnigmaError(ErrorCode.NoEpoch, "no epoch has started yet");
    }
    // The policy's epochs, newest first, by index: walk back from the current one.
    const wanted = policy.epochs.stateKeyEpochs(current.index);
    let e: EpochInfo | undefined = current;
    while (e !== undefined && wanted.length > 0) {
      if (wanted.includes(e.index) && (await selection.isMember(contract, e, signer))) return true;
      const oldest = Math.min(...wanted);
      if (e.index <= oldest || e.firstBlockNumber === 0) break;
      e = await chain.getEpoch(e.firstBlockNumber - 1);
    }
    return false;
  }
}
