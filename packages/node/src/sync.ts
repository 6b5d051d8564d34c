// Delta sync: a node that starts late, or comes back after being down, fetches the code and the
// missing encrypted deltas of each secret contract from peers, in ranges, and checks every one
// against the hashes on Ethereum before storing it. It also checks what it already holds: a
// stored delta whose hash is not the committed one (a replayed or conflicting delta heard on
// gossip, a delta of a task the chain settled without it) is removed with everything after it
// and fetched again. Deltas not yet committed on chain arrive on gossip with the selected
// worker's signature instead. Hashes are read from the chain in pages (`getStateDeltaHashes`),
// never all at once: a long-lived contract's list would pass an `eth_call` gas cap.
import {
  EnigmaError,
  ErrorCode,
  bytesToHex,
  hexToBytes,
  keccak256,
  parseMessage,
  type Hex,
} from "@enigma/protocol";
import { DELTA_HASH_PAGE } from "./chain/enigma-chain.js";
import type { NodeContext } from "./context.js";
import {
  MAX_DELTAS_PER_RESPONSE,
  PROTOCOLS,
  deltaRangeRequestSchema,
  deltaRangeResponseSchema,
} from "./messages.js";

/** Raw bytes (code and deltas) per sync response: 6 MiB, 12 MiB of hex under the 16 MiB cap. */
const MAX_RESPONSE_DATA_BYTES = 6 * 1024 * 1024;

/** A failed catch-up is tried again after 1 s, doubling, this many times. */
const MAX_RETRIES = 8;
const RETRY_FIRST_MS = 1_000;

export class DeltaSync {
  readonly #ctx: NodeContext;
  readonly #inflight = new Map<string, Promise<void>>();
  /**
   * Per contract whose last catch-up failed (no peer could serve it: peers down, restarting or
   * not connected yet): the attempts so far and the timer of the next one.
   */
  readonly #retries = new Map<string, { attempt: number; timer: NodeJS.Timeout | undefined }>();
  #stopped = false;
  /** Per contract: the run that follows the one in flight (asked for while it ran). */
  readonly #again = new Map<string, Promise<void>>();
  /** Per contract: how many stored deltas (from index 0) were found equal to the chain's. */
  readonly #verified = new Map<string, number>();
  /** Called after stored deltas of a contract were removed (the enclave copy must reload). */
  onTruncated: ((contract: Hex, from: number) => void) | undefined;

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

  /**
   * Catches `contract` up with what Ethereum has committed (code and deltas), after checking
   * the deltas it holds against the chain; shares calls.
   */
  catchUp(contract: Hex): Promise<void> {
    const running = this.#inflight.get(contract);
    if (running !== undefined) {
      // Asked again while one runs: the chain may have committed more since it read the
      // contract's head, so one more run follows it (shared by every ask meanwhile). Without
      // it, the receipts of an epoch's last batch could leave a node behind until the next.
      let next = this.#again.get(contract);
      if (next === undefined) {
        next = running
          .catch(() => undefined)
          .then(() => {
            this.#again.delete(contract);
            return this.catchUp(contract);
          });
        this.#again.set(contract, next);
      }
      return next;
    }
    const p = this.#catchUp(contract)
      .then(
        () => {
          this.#clearRetry(contract);
        },
        (e: unknown) => {
          this.#scheduleRetry(contract);
          throw e;
        },
      )
      .finally(() => this.#inflight.delete(contract));
    this.#inflight.set(contract, p);
    return p;
  }

  /**
   * Stops the catch-up retries (the node is stopping). A failed catch-up is tried again 1 s
   * later, then 2, 4... (8 times): a node that follows committed deltas by sync alone (the
   * principal) would otherwise stay behind until the contract's next commit, which may never
   * come (the chaos run's principal, restarted while peers were down, missed the last one).
   */
  stopRetries(): void {
    this.#stopped = true;
    for (const r of this.#retries.values()) clearTimeout(r.timer);
    this.#retries.clear();
  }

  #scheduleRetry(contract: Hex): void {
    const key = contract.toLowerCase();
    const prev = this.#retries.get(key);
    if (this.#stopped || prev?.timer !== undefined) return;
    const attempt = (prev?.attempt ?? 0) + 1;
    if (attempt > MAX_RETRIES) {
      this.#retries.delete(key);
      return;
    }
    const timer = setTimeout(
      () => {
        const r = this.#retries.get(key);
        if (r !== undefined) r.timer = undefined;
        this.catchUp(contract).catch(() => undefined);
      },
      RETRY_FIRST_MS * 2 ** (attempt - 1),
    );
    timer.unref();
    this.#retries.set(key, { attempt, timer });
  }

  #clearRetry(contract: Hex): void {
    const key = contract.toLowerCase();
    const r = this.#retries.get(key);
    if (r === undefined) return;
    clearTimeout(r.timer);
    this.#retries.delete(key);
  }

  /**
   * Removes the stored deltas of `contract` from `from` on (they disagree with the chain, or
   * build on a delta it will never record) and catches up from peers. Returns how many went.
   */
  async truncate(contract: Hex, from: number): Promise<number> {
    await this.#inflight.get(contract)?.catch(() => undefined);
    return this.#truncate(contract, from);
  }

  async #truncate(contract: Hex, from: number): Promise<number> {
    const { store, log } = this.#ctx;
    const removed = await store.truncateDeltas(contract, from);
    const verified = this.#verified.get(contract);
    if (verified !== undefined && verified > from) this.#verified.set(contract, from);
    if (removed > 0) {
      log.warn({ contract, from, removed }, "stored deltas removed: they are not the chain's");
      this.onTruncated?.(contract, from);
    }
    return removed;
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
    const onChain = sc.deltaCount;
    await this.#checkHeld(contract, onChain);
    let needCode = (await store.getCode(contract)) === undefined;
    let have = await store.deltaCount(contract);
    if (!needCode && have >= onChain) return;
    const peers = p2p.peers();
    for (const peer of peers) {
      try {
        while (needCode || have < onChain) {
          const raw = await p2p.request(
            peer,
            PROTOCOLS.deltas,
            { contract, from: have, to: Math.max(have + 1, onChain), withCode: needCode },
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
          const fresh = res.deltas.filter((d) => d.index >= have && d.index < onChain);
          if (fresh.length === 0 || fresh[0]?.index !== have) break;
          const hashes = await chain.getStateDeltaHashes(contract, have, have + fresh.length);
          for (const d of fresh) {
            if (d.hash !== hashes[d.index - have]?.toLowerCase()) {
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
          this.#verified.set(contract, Math.min(have, onChain));
        }
      } catch (e) {
        log.warn({ contract, peer, err: String(e) }, "delta sync from peer failed");
      }
      if (!needCode && have >= onChain) {
        log.info({ contract, deltas: have }, "contract caught up from peers");
        return;
      }
    }
    if (needCode || have < onChain) {
      throw new EnigmaError(
        ErrorCode.DeltaSyncFailed,
        `could not fetch ${needCode ? "the code and " : ""}deltas ${have}..${onChain - 1} of ${contract} from any peer`,
        { details: { contract, have, onChain, peers: peers.length } },
      );
    }
  }

  /**
   * Checks the stored deltas of `contract` that the chain has committed against its hashes,
   * from where the last check stopped; removes the first one that differs and all after it.
   */
  async #checkHeld(contract: Hex, onChain: number): Promise<void> {
    const { chain, store } = this.#ctx;
    const have = await store.deltaCount(contract);
    const end = Math.min(have, onChain);
    let from = Math.min(this.#verified.get(contract) ?? 0, end);
    while (from < end) {
      const to = Math.min(end, from + DELTA_HASH_PAGE);
      const [stored, hashes] = await Promise.all([
        store.getDeltas(contract, from, to),
        chain.getStateDeltaHashes(contract, from, to),
      ]);
      const bad = stored.find((d, i) => bytesToHex(d.hash) !== hashes[i]?.toLowerCase());
      if (bad !== undefined) {
        this.#verified.set(contract, bad.index);
        await this.#truncate(contract, bad.index);
        return;
      }
      from = to;
      this.#verified.set(contract, from);
    }
  }
}
