// Delta sync: a node that starts late, or comes back after being down, fetches the code and the
// missing encrypted deltas of each secret contract from peers, in ranges, and checks every one
// against the hashes on Ethereum before storing it. Deltas not yet committed on chain arrive on
// gossip with the selected worker's signature instead.
import {
  EnigmaError,
  ErrorCode,
  bytesToHex,
  hexToBytes,
  keccak256,
  parseMessage,
  type Hex,
} from "@enigma/protocol";
import type { NodeContext } from "./context.js";
import {
  MAX_DELTAS_PER_RESPONSE,
  PROTOCOLS,
  deltaRangeRequestSchema,
  deltaRangeResponseSchema,
} from "./messages.js";

/** Raw bytes (code and deltas) per sync response: 6 MiB, 12 MiB of hex under the 16 MiB cap. */
const MAX_RESPONSE_DATA_BYTES = 6 * 1024 * 1024;

export class DeltaSync {
  readonly #ctx: NodeContext;
  readonly #inflight = new Map<string, Promise<void>>();

  constructor(ctx: NodeContext) {
    this.#ctx = ctx;
  }

  /** Serves ranges of this node's store to peers. */
  async start(): Promise<void> {
    const { p2p, store } = this.#ctx;
    await p2p.handle(PROTOCOLS.deltas, async (raw) => {
      const req = parseMessage(deltaRangeRequestSchema, raw, "delta range request");
      const to = Math.min(req.to, req.from + MAX_DELTAS_PER_RESPONSE);
      const deltas = await store.getDeltas(req.contract, req.from, to);
      const code = req.withCode ? await store.getCode(req.contract) : undefined;
      // Stay well under the requester's response cap (hex doubles the size): the requester
      // asks again from where this answer stops.
      let budget = MAX_RESPONSE_DATA_BYTES - (code?.code.length ?? 0);
      const out: { index: number; hash: string; data: string }[] = [];
      for (const d of deltas) {
        budget -= d.data.length;
        if (budget < 0 && out.length > 0) break;
        out.push({ index: d.index, hash: bytesToHex(d.hash), data: bytesToHex(d.data) });
      }
      return { code: code === undefined ? null : bytesToHex(code.code), deltas: out };
    });
  }

  /** Catches `contract` up with what Ethereum has committed (code and deltas); shares calls. */
  catchUp(contract: Hex): Promise<void> {
    let p = this.#inflight.get(contract);
    if (p === undefined) {
      p = this.#catchUp(contract).finally(() => this.#inflight.delete(contract));
      this.#inflight.set(contract, p);
    }
    return p;
  }

  /** Catches up every secret contract deployed on chain. */
  async catchUpAll(): Promise<void> {
    const contracts = await this.#ctx.chain.secretContractAddresses();
    for (const c of contracts) {
      try {
        await this.catchUp(c as Hex);
      } catch (e) {
        this.#ctx.log.warn({ contract: c, err: String(e) }, "delta sync failed");
      }
    }
  }

  async #catchUp(contract: Hex): Promise<void> {
    const { chain, store, p2p, metrics, log } = this.#ctx;
    const sc = await chain.getSecretContract(contract);
    if (sc === undefined) return;
    const hashes = sc.stateDeltaHashes.map((h) => h.toLowerCase());
    let needCode = (await store.getCode(contract)) === undefined;
    let have = await store.deltaCount(contract);
    if (!needCode && have >= hashes.length) return;
    const peers = p2p.peers();
    for (const peer of peers) {
      try {
        while (needCode || have < hashes.length) {
          const raw = await p2p.request(
            peer,
            PROTOCOLS.deltas,
            { contract, from: have, to: Math.max(have + 1, hashes.length), withCode: needCode },
            { timeoutMs: 10_000 },
          );
          const res = parseMessage(deltaRangeResponseSchema, raw, "delta range response");
          if (needCode) {
            if (res.code === null) break;
            const code = hexToBytes(res.code);
            if (bytesToHex(keccak256(code)) !== sc.codeHash.toLowerCase()) {
              throw new EnigmaError(
                ErrorCode.DeltaSyncFailed,
                "peer sent code that does not match the chain",
                {
                  details: { contract, peer },
                },
              );
            }
            await store.putCode(contract, code);
            needCode = false;
          }
          const fresh = res.deltas.filter((d) => d.index >= have && d.index < hashes.length);
          if (fresh.length === 0) break;
          for (const d of fresh) {
            if (d.hash !== hashes[d.index]) {
              throw new EnigmaError(
                ErrorCode.DeltaSyncFailed,
                `peer sent delta ${d.index} whose hash is not the one on chain`,
                { details: { contract, peer, index: d.index } },
              );
            }
          }
          await store.putDeltas(
            contract,
            fresh.map((d) => ({
              index: d.index,
              hash: hexToBytes(d.hash),
              data: hexToBytes(d.data),
            })),
          );
          metrics.deltaSyncDeltas.inc(fresh.length);
          have = await store.deltaCount(contract);
        }
      } catch (e) {
        log.warn({ contract, peer, err: String(e) }, "delta sync from peer failed");
      }
      if (!needCode && have >= hashes.length) {
        log.info({ contract, deltas: have }, "contract caught up from peers");
        return;
      }
    }
    if (needCode || have < hashes.length) {
      throw new EnigmaError(
        ErrorCode.DeltaSyncFailed,
        `could not fetch ${needCode ? "the code and " : ""}deltas ${have}..${hashes.length - 1} of ${contract} from any peer`,
        { details: { contract, have, onChain: hashes.length, peers: peers.length } },
      );
    }
  }
}
