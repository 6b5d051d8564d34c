import { EnigmaError, ErrorCode, hexToBytes, signDigest } from "@enigma/protocol";
import {
  BaseWallet,
  Signature,
  SocketProvider,
  Transaction,
  getAddress,
  hexlify,
  keccak256,
  type Interface,
  type Provider,
  type Signer,
  type TransactionReceipt,
  type TransactionLike,
} from "ethers";
import { fromChainError } from "./errors.js";

/** A transaction the client sent: what it needs to wait for it and to explain a revert. */
export interface SentTx {
  hash: string;
  from: string;
  to: string;
  data: string;
  nonce: number;
  gasLimit: bigint;
  /** The contract function, for errors (`createTaskRecord`...). */
  action: string;
}

export interface TxSenderOptions {
  /** Longest pause between receipt checks when the provider pushes no blocks (ms). */
  pollMs: number;
  /** How long a transaction may take to be mined (ms). */
  timeoutMs: number;
  /** How long fee data is reused (ms, default 60 s); a fee error refreshes it at once. */
  feeTtlMs?: number;
}

interface Fees {
  fields: Pick<TransactionLike, "type" | "maxFeePerGas" | "maxPriorityFeePerGas" | "gasPrice">;
  at: number;
}

/** A contract the sender can call: its address and ABI. */
export interface Target {
  address: string;
  iface: Interface;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const TRANSPORT_CODES = new Set(["NETWORK_ERROR", "TIMEOUT", "SERVER_ERROR"]);
const TRANSPORT_TEXT =
  /socket hang up|ECONNRESET|ECONNREFUSED|EPIPE|fetch failed|other side closed/i;

/**
 * Whether a chain request failed in transport (the connection, not the chain's answer): a
 * loaded HTTP server closing a keep-alive socket just as it is reused says "socket hang up".
 */
export function isTransportError(e: unknown): boolean {
  for (let x = e, depth = 0; typeof x === "object" && x !== null && depth < 6; depth++) {
    const { code, message, cause, error } = x as {
      code?: unknown;
      message?: unknown;
      cause?: unknown;
      error?: unknown;
    };
    if (typeof code === "string" && (TRANSPORT_CODES.has(code) || TRANSPORT_TEXT.test(code))) {
      return true;
    }
    if (typeof message === "string" && TRANSPORT_TEXT.test(message)) return true;
    x = cause ?? error;
  }
  return false;
}

/** `f()`, once more after a transport failure (for requests that are safe to repeat). */
export async function again<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (!isTransportError(e)) throw e;
    return f();
  }
}

/** A transaction as `TxSender` builds it: addresses, not names. */
export type TxFields = Fees["fields"] & {
  to: string;
  from: string;
  data: string;
  nonce: number;
  gasLimit: bigint;
  chainId: bigint;
};

/**
 * What `wallet.signTransaction(tx)` gives for a transaction whose `to` and `from` are addresses,
 * signed by `signDigest` (libsecp256k1 where Node runs: ~50 us, where ethers' JavaScript
 * signature took ~0.4 ms, the largest single cost of a task in a client process under load).
 */
export function signWithWallet(wallet: BaseWallet, tx: TxFields): string {
  const { from, ...fields } = tx;
  if (getAddress(from) !== wallet.address) {
    throw new EnigmaError(ErrorCode.InvalidArgument, "transaction from address mismatch", {
      details: { from, wallet: wallet.address },
    });
  }
  const btx = Transaction.from(fields);
  const rsv = signDigest(hexToBytes(wallet.privateKey), hexToBytes(btx.unsignedHash));
  btx.signature = Signature.from({
    r: hexlify(rsv.subarray(0, 32)),
    s: hexlify(rsv.subarray(32, 64)),
    v: rsv[64] ?? 27,
  });
  return btx.serialized;
}

/**
 * Sends the client's transactions with as few chain calls as a transaction needs. ethers'
 * `Contract` call does, per transaction, `eth_estimateGas`, `eth_getTransactionCount`,
 * `eth_getBlockByNumber`, `eth_gasPrice`, `eth_maxPriorityFeePerGas` and `eth_blockNumber`
 * besides the send, each a round trip and work for the chain under load. Here the transaction
 * nonce is counted locally (the client serializes its own transactions; any send error or
 * revert makes it read the chain again), the gas limit of each function is estimated once
 * (x1.5: unused gas costs nothing; an out-of-gas revert estimates again), fee data is reused
 * for `feeTtlMs` (60 s), and a `Wallet` signs locally and sends the raw transaction. Other signers
 * (browser wallets, a `JsonRpcSigner`) get the same fields and send as they do.
 *
 * Receipts: asked for right after the send (an instant-mining chain has mined it by then);
 * otherwise on every block a `WebSocketProvider` pushes, or, over HTTP, at growing intervals
 * from 4 ms up to `pollMs` (not ethers' `pollingInterval`, 4 s by default).
 */
export class TxSender {
  readonly #signer: Signer;
  readonly #provider: Provider;
  readonly #o: TxSenderOptions;
  #address: Promise<string> | undefined;
  #nonce: number | undefined;
  #fees: Fees | undefined;
  #chainId: bigint | undefined;
  readonly #gas = new Map<string, bigint>();

  constructor(signer: Signer, provider: Provider, options: TxSenderOptions) {
    this.#signer = signer;
    this.#provider = provider;
    this.#o = options;
  }

  /** The signer's address (asked once). */
  address(): Promise<string> {
    this.#address ??= this.#signer.getAddress().catch((e: unknown) => {
      this.#address = undefined;
      throw e;
    });
    return this.#address;
  }

  /** Forgets the transaction nonce and fee data: the next send reads them from the chain. */
  reset(): void {
    this.#nonce = undefined;
    this.#fees = undefined;
  }

  /**
   * Sends `fn(args)` to `target`; resolves once the node took it (not mined). Throws typed
   * errors (`fromChainError`: a revert the chain reports at once, as Hardhat does when it
   * mines on every transaction, carries the contract's custom error).
   */
  async send(target: Target, fn: string, args: readonly unknown[]): Promise<SentTx> {
    const from = await this.address();
    const data = target.iface.encodeFunctionData(fn, args);
    const to = target.address;
    try {
      const [gasLimit, nonce, fees, chainId] = await Promise.all([
        this.#gasLimit(fn, from, to, data),
        this.#nextNonce(from),
        this.#feeFields(),
        this.#chain(),
      ]);
      const tx: TxFields = { to, from, data, nonce, gasLimit, chainId, ...fees };
      const hash = await this.#broadcast(tx);
      this.#nonce = nonce + 1;
      return { hash, from, to, data, nonce, gasLimit, action: fn };
    } catch (e) {
      this.reset();
      throw fromChainError(e, fn);
    }
  }

  /**
   * Waits until `tx` is mined; resolves with its receipt, or throws why it reverted: the
   * contract's error from a replay at its block, `TransactionReverted` when the replay names
   * none (with `details.outOfGas` when it used all its gas), `TransactionTimeout`.
   */
  async mined(tx: SentTx): Promise<TransactionReceipt> {
    let receipt: TransactionReceipt;
    try {
      receipt = await this.#receipt(tx.hash);
    } catch (e) {
      this.reset();
      throw fromChainError(e, tx.action);
    }
    if (receipt.status === 1) return receipt;
    this.reset();
    const outOfGas = receipt.gasUsed * 100n >= tx.gasLimit * 97n;
    if (outOfGas) this.#gas.delete(tx.action);
    else {
      try {
        await this.#provider.call({
          from: tx.from,
          to: tx.to,
          data: tx.data,
          blockTag: receipt.blockNumber,
        });
      } catch (e) {
        throw fromChainError(e, tx.action);
      }
    }
    throw new EnigmaError(
      ErrorCode.TransactionReverted,
      `${tx.action} reverted${outOfGas ? ": out of gas" : ""} (transaction ${tx.hash})`,
      {
        details: { action: tx.action, txHash: tx.hash, outOfGas, gasUsed: String(receipt.gasUsed) },
      },
    );
  }

  async #gasLimit(fn: string, from: string, to: string, data: string): Promise<bigint> {
    const known = this.#gas.get(fn);
    if (known !== undefined) return known;
    // The first call of each function is estimated: a revert shows here, before any send.
    const estimate = await again(() => this.#provider.estimateGas({ from, to, data }));
    const limit = (estimate * 3n) / 2n;
    this.#gas.set(fn, limit);
    return limit;
  }

  async #nextNonce(from: string): Promise<number> {
    if (this.#nonce !== undefined) return this.#nonce;
    const n = await again(() => this.#provider.getTransactionCount(from, "pending"));
    this.#nonce = n;
    return n;
  }

  async #feeFields(): Promise<Fees["fields"]> {
    // Long: fee data goes stale only when the base fee rises above the cached maximum, and
    // the chain says so at the send (retried with fresh data); with 64 senders a 5 s refresh
    // was 3 chain requests a task.
    const ttl = this.#o.feeTtlMs ?? 60_000;
    if (this.#fees !== undefined && Date.now() - this.#fees.at < ttl) return this.#fees.fields;
    const f = await again(() => this.#provider.getFeeData());
    const fields: Fees["fields"] =
      f.maxFeePerGas !== null && f.maxPriorityFeePerGas !== null
        ? { type: 2, maxFeePerGas: f.maxFeePerGas, maxPriorityFeePerGas: f.maxPriorityFeePerGas }
        : { type: 0, gasPrice: f.gasPrice ?? 1n };
    this.#fees = { fields, at: Date.now() };
    return fields;
  }

  async #chain(): Promise<bigint> {
    this.#chainId ??= (await this.#provider.getNetwork()).chainId;
    return this.#chainId;
  }

  async #broadcast(tx: TxFields): Promise<string> {
    const rpc = this.#provider as Provider & {
      send?: (m: string, p: unknown[]) => Promise<unknown>;
    };
    // Only a wallet that sends as ethers' own does: a subclass that overrides `sendTransaction`
    // (a hook, a relay, a confirmation prompt) must see every transaction.
    if (
      this.#signer instanceof BaseWallet &&
      this.#signer.sendTransaction === BaseWallet.prototype.sendTransaction &&
      this.#signer.signTransaction === BaseWallet.prototype.signTransaction &&
      typeof rpc.send === "function"
    ) {
      const send = rpc.send.bind(rpc);
      const raw = signWithWallet(this.#signer, tx);
      try {
        return String(await send("eth_sendRawTransaction", [raw]));
      } catch (e) {
        if (!isTransportError(e)) throw e;
        // The connection failed, maybe after the chain took the transaction: the same signed
        // bytes have the same hash, so ask for it, and send the very same bytes again if the
        // chain does not know it (never a new transaction that could record the task twice).
        const hash = keccak256(raw);
        if ((await again(() => this.#provider.getTransaction(hash))) !== null) return hash;
        return String(await send("eth_sendRawTransaction", [raw]));
      }
    }
    return (await this.#signer.sendTransaction(tx)).hash;
  }

  async #receipt(hash: string): Promise<TransactionReceipt> {
    const until = Date.now() + this.#o.timeoutMs;
    const first = await again(() => this.#provider.getTransactionReceipt(hash));
    if (first !== null) return first;
    if (this.#provider instanceof SocketProvider) {
      const r = await this.#onBlocks(this.#provider, hash, until);
      if (r !== null) return r;
    } else {
      for (let pause = 4; Date.now() < until; pause = Math.min(pause * 2, this.#o.pollMs)) {
        await sleep(Math.min(pause, Math.max(1, until - Date.now())));
        const r = await again(() => this.#provider.getTransactionReceipt(hash));
        if (r !== null) return r;
      }
    }
    throw new EnigmaError(
      ErrorCode.TransactionTimeout,
      `transaction ${hash} was not mined in time`,
      {
        details: { txHash: hash, timeoutMs: this.#o.timeoutMs },
      },
    );
  }

  /** Checks for the receipt on every block the provider pushes, until `until`. */
  async #onBlocks(
    provider: SocketProvider,
    hash: string,
    until: number,
  ): Promise<TransactionReceipt | null> {
    let listener: (() => void) | undefined;
    try {
      return await new Promise<TransactionReceipt | null>((resolve, reject) => {
        const timer = setTimeout(() => {
          resolve(null);
        }, until - Date.now());
        // One check at a time; a block during a check makes it check again after.
        let busy = false;
        let again = false;
        const check = (): void => {
          if (busy) {
            again = true;
            return;
          }
          busy = true;
          again = false;
          provider.getTransactionReceipt(hash).then(
            (r) => {
              busy = false;
              if (r === null) {
                if (again) check();
                return;
              }
              clearTimeout(timer);
              resolve(r);
            },
            (e: unknown) => {
              clearTimeout(timer);
              reject(e instanceof Error ? e : new Error(String(e)));
            },
          );
        };
        listener = check;
        void provider.on("block", listener);
        // Mined between the first check and the subscription: one more look.
        check();
      });
    } finally {
      if (listener !== undefined) void provider.off("block", listener);
    }
  }
}
