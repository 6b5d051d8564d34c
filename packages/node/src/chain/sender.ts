// The custodian's transactions: one at a time through a queue, each dry-run first (a revert
// is reported with the contract's error before anything is signed), signed once with a nonce
// tracked here, broadcast with retries (re-sending the same signed bytes, so a retry can never
// become a second transaction) and waited for.
import { EnigmaError, ErrorCode } from "@enigma/protocol";
import { keccak256, type TransactionReceipt, type Wallet } from "ethers";
import { isRevert, toChainError } from "./errors.js";
import type { Rpc, RunOptions } from "./rpc.js";
import { sleep } from "./retry.js";

// Gas headroom over the estimate: the estimate is exact for the state it ran on, and a batch's
// Ethereum calls need their gas budget to be there (InsufficientGasForCallback).
const GAS_HEADROOM_PERCENT = 25n;
// Rounds of "our nonce was taken by another transaction": another sender on this account.
const NONCE_ROUNDS = 3;

export interface SendOptions {
  details?: Record<string, unknown>;
  /** Code for failures that are not decodable reverts. Default ChainError. */
  fallbackCode?: ErrorCode;
}

function messagesOf(e: unknown): string {
  const parts: string[] = [];
  let current: unknown = e;
  for (let depth = 0; depth < 6 && typeof current === "object" && current !== null; depth++) {
    const o = current as {
      message?: unknown;
      error?: unknown;
      info?: { error?: unknown };
      cause?: unknown;
    };
    if (typeof o.message === "string") parts.push(o.message);
    current = o.error ?? o.info?.error ?? o.cause;
  }
  return parts.join(" | ");
}

function isNonceClash(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return (
    code === "NONCE_EXPIRED" ||
    code === "REPLACEMENT_UNDERPRICED" ||
    /nonce too low|nonce has already been used|replacement transaction underpriced/i.test(
      messagesOf(e),
    )
  );
}

function isAlreadyKnown(e: unknown): boolean {
  return /already known|known transaction|already imported|alreadyknown/i.test(messagesOf(e));
}

export class TransactionSender {
  readonly account: string;
  readonly #rpc: Rpc;
  readonly #wallet: Wallet;
  readonly #pollIntervalMs: number;
  readonly #receiptTimeoutMs: number;
  #tail: Promise<void> = Promise.resolve();
  /** The next nonce, when known; undefined makes the next send ask the node ("pending"). */
  #nonce: number | undefined;

  constructor(rpc: Rpc, wallet: Wallet, o: { pollIntervalMs: number; receiptTimeoutMs: number }) {
    this.#rpc = rpc;
    this.#wallet = wallet;
    this.account = wallet.address.toLowerCase();
    this.#pollIntervalMs = o.pollIntervalMs;
    this.#receiptTimeoutMs = o.receiptTimeoutMs;
  }

  /** Runs `job` after every job queued before it has settled. */
  enqueue<T>(job: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(job);
    this.#tail = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Resolves when the queue is empty. */
  async idle(): Promise<void> {
    for (let tail = this.#tail; ; tail = this.#tail) {
      await tail;
      if (tail === this.#tail) return;
    }
  }

  /**
   * Sends one transaction calling `to` with `data` and waits until it is mined. Only from
   * inside a queued job. A revert (in the dry run or on chain) is the contract's error.
   */
  async send(
    operation: string,
    to: string,
    data: string,
    o: SendOptions = {},
  ): Promise<TransactionReceipt> {
    const rpc = this.#rpc;
    const provider = rpc.provider;
    const run: RunOptions = {
      ...(o.details === undefined ? {} : { details: o.details }),
      ...(o.fallbackCode === undefined ? {} : { fallbackCode: o.fallbackCode }),
    };
    const estimate = await rpc.run(
      operation,
      () => provider.estimateGas({ from: this.account, to, data }),
      run,
    );
    const gasLimit = estimate + (estimate * GAS_HEADROOM_PERCENT) / 100n;

    for (let round = 1; ; round++) {
      const nonce =
        this.#nonce ??
        (await rpc.run(
          "eth_getTransactionCount",
          () => provider.getTransactionCount(this.account, "pending"),
          run,
        ));
      const tx = await rpc.run(
        "fee data",
        () => this.#wallet.populateTransaction({ to, data, nonce, gasLimit }),
        run,
      );
      const raw = await this.#wallet.signTransaction(tx);
      const hash = keccak256(raw);
      let accepted: boolean;
      try {
        accepted = await rpc.run(operation, () => this.#broadcast(raw, hash), {
          ...run,
          details: { ...o.details, transactionHash: hash },
        });
      } catch (e) {
        this.#nonce = undefined;
        throw e;
      }
      if (!accepted) {
        this.#nonce = undefined;
        if (round < NONCE_ROUNDS) continue;
        throw new EnigmaError(
          o.fallbackCode ?? ErrorCode.ChainError,
          `${operation}: nonce ${nonce} of ${this.account} keeps being used by other transactions: is another process sending from this account?`,
          { details: { operation, account: this.account, nonce, ...o.details } },
        );
      }
      this.#nonce = nonce + 1;
      const receipt = await this.#mined(operation, hash, run);
      if (receipt.status === 1) return receipt;
      throw await this.#onChainRevert(operation, to, data, gasLimit, receipt, o);
    }
  }

  /** true once the node has the transaction (also when an earlier, lost attempt delivered it). */
  async #broadcast(raw: string, hash: string): Promise<boolean> {
    const provider = this.#rpc.provider;
    try {
      await provider.send("eth_sendRawTransaction", [raw]);
      return true;
    } catch (e) {
      if (!isNonceClash(e) && !isAlreadyKnown(e)) throw e;
      // A retry of a broadcast whose answer was lost: the node has (or mined) these very bytes.
      if ((await provider.getTransaction(hash)) !== null) return true;
      return isAlreadyKnown(e);
    }
  }

  async #mined(operation: string, hash: string, run: RunOptions): Promise<TransactionReceipt> {
    const provider = this.#rpc.provider;
    const deadline = Date.now() + this.#receiptTimeoutMs;
    const details = { ...run.details, transactionHash: hash };
    for (;;) {
      const receipt = await this.#rpc.run(
        "eth_getTransactionReceipt",
        () => provider.getTransactionReceipt(hash),
        { ...run, details },
      );
      if (receipt !== null) return receipt;
      if (Date.now() >= deadline) {
        // It may still be mined later; the node's pending count is the truth from here on.
        this.#nonce = undefined;
        throw new EnigmaError(
          run.fallbackCode ?? ErrorCode.ChainError,
          `${operation}: transaction ${hash} was not mined within ${this.#receiptTimeoutMs} ms (fees too low, or the node dropped it)`,
          { details: { operation, ...details } },
        );
      }
      await sleep(this.#pollIntervalMs, this.#rpc.closed);
      this.#rpc.assertOpen(`${operation} (waiting for ${hash})`);
    }
  }

  /** The error of a transaction that reverted on chain although its dry run passed. */
  async #onChainRevert(
    operation: string,
    to: string,
    data: string,
    gasLimit: bigint,
    receipt: TransactionReceipt,
    o: SendOptions,
  ): Promise<EnigmaError> {
    const details = {
      ...o.details,
      transactionHash: receipt.hash.toLowerCase(),
      blockNumber: receipt.blockNumber,
    };
    // Replay on the state after its block: what changed between the dry run and the block
    // (a racing transaction) is there, so the replay usually names the error.
    try {
      await this.#rpc.provider.call({
        from: this.account,
        to,
        data,
        gasLimit,
        blockTag: receipt.blockNumber,
      });
    } catch (e) {
      if (isRevert(e)) {
        return toChainError(e, {
          operation,
          endpoint: this.#rpc.endpoint,
          details,
          ...(o.fallbackCode === undefined ? {} : { fallbackCode: o.fallbackCode }),
        });
      }
    }
    return new EnigmaError(
      o.fallbackCode ?? ErrorCode.ChainError,
      `${operation}: transaction ${details.transactionHash} reverted on chain (its replay does not say why: out of gas?)`,
      { details: { operation, ...details } },
    );
  }
}
