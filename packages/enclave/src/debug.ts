// DEVNET ONLY: the worker enclave's debug interface. It opens what the enclave boundary exists
// to hide (a task's decrypted function and arguments, its decrypted output, a contract's
// plaintext state) so that a researcher on a local devnet can see inside ("god mode" of the
// explorer). It exists only when the enclave is opened with `debug: true`, which only a
// devnet's node config sets; a real SGX enclave built for production has no such entry point,
// and a deployment of this simulation must never turn it on.
import { EnigmaError, ErrorCode, toBytes, type BytesLike, type Hex } from "@enigma/protocol";
import type { UserKeyExchange } from "./keyexchange.js";
import { rebuildState } from "./state/deltas.js";
import { withStateKey, type StateKeyHolder } from "./statekeys.js";

/** A task input as the debug interface decrypts it. */
export interface DebugTaskInput {
  /** The UTF-8 function signature the client encrypted (`add(uint256,uint256)`). */
  fn: string;
  /** The ABI-encoded arguments (empty when the task had none). */
  args: Uint8Array;
}

/** One entry of a contract's plaintext state. */
export interface DebugStateEntry {
  /** The key as UTF-8 text (keys are strings in Discovery's contracts). */
  key: string;
  /** The value as stored: JSON text in Discovery's contracts. */
  value: string;
}

/**
 * What the enclave's debug interface can do. `WorkerEnclave.debug` hands it out only when the
 * enclave was opened with `debug: true`; otherwise it throws `EnclaveDebugDisabled`.
 */
export class EnclaveDebug {
  readonly #kx: UserKeyExchange;
  readonly #keys: StateKeyHolder;

  /** @internal built by `WorkerEnclave` only. */
  constructor(kx: UserKeyExchange, keys: StateKeyHolder) {
    this.#kx = kx;
    this.#keys = keys;
  }

  /** Decrypts a task input sent to this enclave's key for `userPubKey`. */
  decryptInput(input: {
    userPubKey: BytesLike;
    encryptedFn: BytesLike;
    encryptedArgs: BytesLike;
  }): DebugTaskInput {
    const fn = this.#kx.decrypt(input.userPubKey, input.encryptedFn);
    const encryptedArgs = toBytes(input.encryptedArgs, "encryptedArgs");
    return {
      fn: new TextDecoder().decode(fn),
      args:
        encryptedArgs.length === 0
          ? new Uint8Array()
          : this.#kx.decrypt(input.userPubKey, encryptedArgs),
    };
  }

  /** Decrypts an output this enclave encrypted to `userPubKey` (empty stays empty). */
  decryptOutput(userPubKey: BytesLike, output: BytesLike): Uint8Array {
    const bytes = toBytes(output, "output");
    return bytes.length === 0 ? new Uint8Array() : this.#kx.decrypt(userPubKey, bytes);
  }

  /**
   * A contract's plaintext state after `deltas` (all of them, delta 0 first), decrypted under
   * the state key this enclave holds; `EnclaveDebugUnavailable` when it holds none.
   */
  contractState(
    contract: Hex,
    deltas: readonly { index: number; hash: BytesLike; data: Uint8Array }[],
  ): DebugStateEntry[] {
    if (!this.#keys.has(contract)) {
      throw new EnigmaError(
        ErrorCode.EnclaveDebugUnavailable,
        "this enclave holds no state key for the contract (ask the worker selected for it)",
        { details: { contract } },
      );
    }
    const state = withStateKey(this.#keys, contract, (key) =>
      rebuildState(
        key,
        deltas.map((d) => ({ index: d.index, hash: toBytes(d.hash, "hash", 32), data: d.data })),
      ),
    ).state;
    const text = new TextDecoder();
    return state.entries().map((e) => ({
      key: text.decode(e.key),
      value: e.value === null ? "null" : text.decode(e.value),
    }));
  }
}

/** The error of a disabled debug interface (one message everywhere). */
export function debugDisabled(): EnigmaError {
  return new EnigmaError(
    ErrorCode.EnclaveDebugDisabled,
    "the enclave's debug interface is off: only a devnet turns it on (node config debug.enclave); a real deployment never exposes it",
  );
}
