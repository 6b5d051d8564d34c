// The host side of the secret-contract interface (DESIGN.md section 5): the `env` imports one
// execution gets. All state it touches is the execution's own; nothing is shared between runs.
import {
  EnigmaError,
  ErrorCode,
  GCM_IV_BYTES,
  GCM_TAG_BYTES,
  aesDecrypt,
  aesEncrypt,
  concatBytes,
  keccak256,
  u64be,
  type HostFunction,
} from "@enigma/protocol";
import { compareIds, keyFromId, keyId, type StateChange, type StateView } from "../state/state.js";

/** What the SDK prints (then traps) when `call()` gets a function it does not know. */
export const UNKNOWN_FUNCTION_MARKER = "__enigma_unknown_function__";

/** Host-side limits of one execution. */
export interface ExecutionLimits {
  maxKeyBytes: number;
  maxValueBytes: number;
  /** The whole state (keys + values) after the task. */
  maxStateBytes: number;
  maxOutputBytes: number;
  maxEthPayloadBytes: number;
  /** eprint output kept per execution; the rest is dropped. */
  maxLogBytes: number;
}

export const DEFAULT_EXECUTION_LIMITS: Readonly<ExecutionLimits> = Object.freeze({
  maxKeyBytes: 1024,
  maxValueBytes: 256 * 1024,
  maxStateBytes: 16 * 1024 * 1024,
  maxOutputBytes: 256 * 1024,
  maxEthPayloadBytes: 64 * 1024,
  maxLogBytes: 16 * 1024,
});

/** The host's own gas charges (DESIGN.md section 5). */
export const HOST_GAS = Object.freeze({
  execution: 10_000,
  deployedByte: 1,
  stateWrite: 10,
  writtenByte: 1,
});

/** An Ethereum call requested through `write_eth_bridge`. */
export interface EthCall {
  /** 20-byte contract address. */
  address: Uint8Array;
  /** ABI calldata. */
  payload: Uint8Array;
}

/** Thrown by a host function to end the execution with a typed failure. */
export class HostAbort extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;
  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.code = code;
    this.details = details;
  }
}

export interface HostInit {
  functionName: Uint8Array;
  args: Uint8Array;
  state: StateView;
  taskId: Uint8Array;
  seed: Uint8Array;
  limits: ExecutionLimits;
  /** Subtracts gas; throws HostAbort(OutOfGas) when it runs out. */
  charge(amount: number): void;
}

/** One execution's host: builds the imports and collects what the contract produced. */
export class Host {
  memory: WebAssembly.Memory | undefined;
  output: Uint8Array = new Uint8Array();
  ethCall: EthCall | null = null;
  readonly logs: string[] = [];
  unknownFunction = false;
  private readonly init: HostInit;
  private readonly changes = new Map<string, Uint8Array | null>();
  private stateBytes: number;
  private randCounter = 0n;
  private logBytes = 0;

  constructor(init: HostInit) {
    this.init = init;
    this.stateBytes = init.state.byteSize;
  }

  /** The changed keys, sorted by key bytes. */
  stateChanges(): StateChange[] {
    return [...this.changes.keys()]
      .sort(compareIds)
      .map((id) => ({ key: keyFromId(id), value: this.changes.get(id) ?? null }));
  }

  private mem(): Uint8Array {
    if (this.memory === undefined) throw new HostAbort(ErrorCode.ContractTrap, "memory not ready");
    return new Uint8Array(this.memory.buffer);
  }

  private view(ptr: number, len: number, fn: string): Uint8Array {
    const m = this.mem();
    const p = ptr >>> 0;
    const n = len >>> 0;
    if (p + n > m.length) {
      throw new HostAbort(ErrorCode.ContractTrap, `${fn}: memory access out of bounds`, {
        ptr: p,
        len: n,
      });
    }
    return m.subarray(p, p + n);
  }

  private put(ptr: number, data: Uint8Array, fn: string): void {
    this.view(ptr, data.length, fn).set(data);
  }

  private read(key: Uint8Array): Uint8Array | undefined {
    const id = keyId(key);
    if (this.changes.has(id)) return this.changes.get(id) ?? undefined;
    return this.init.state.get(key);
  }

  private key(ptr: number, len: number, fn: string): Uint8Array {
    if (len >>> 0 > this.init.limits.maxKeyBytes) {
      throw new HostAbort(
        ErrorCode.StateTooLarge,
        `${fn}: key of ${len >>> 0} bytes exceeds ${this.init.limits.maxKeyBytes}`,
      );
    }
    return this.view(ptr, len, fn);
  }

  private setChange(key: Uint8Array, value: Uint8Array | null): void {
    const old = this.read(key);
    const before = old === undefined ? 0 : key.length + old.length;
    const after = value === null ? 0 : key.length + value.length;
    this.stateBytes += after - before;
    if (this.stateBytes > this.init.limits.maxStateBytes) {
      throw new HostAbort(
        ErrorCode.StateTooLarge,
        `the contract state would exceed ${this.init.limits.maxStateBytes} bytes`,
      );
    }
    this.changes.set(keyId(key), value);
  }

  private randomBytes(len: number): Uint8Array {
    const out = new Uint8Array(len);
    for (let o = 0; o < len; o += 32) {
      const block = keccak256(
        concatBytes(this.init.seed, this.init.taskId, u64be(this.randCounter++)),
      );
      out.set(block.subarray(0, Math.min(32, len - o)), o);
    }
    return out;
  }

  imports(): Record<HostFunction, (...a: number[]) => number | undefined> {
    const { init } = this;
    const l = init.limits;
    return {
      write_state: (k, kl, v, vl) => {
        const key = this.key(k, kl, "write_state");
        if (vl >>> 0 > l.maxValueBytes) {
          throw new HostAbort(
            ErrorCode.StateTooLarge,
            `write_state: value of ${vl >>> 0} bytes exceeds ${l.maxValueBytes}`,
          );
        }
        init.charge(HOST_GAS.stateWrite + HOST_GAS.writtenByte * (key.length + (vl >>> 0)));
        this.setChange(key.slice(), this.view(v, vl, "write_state").slice());
        return undefined;
      },
      read_state_len: (k, kl) => this.read(this.key(k, kl, "read_state_len"))?.length ?? 0,
      read_state: (k, kl, out) => {
        const v = this.read(this.key(k, kl, "read_state"));
        if (v !== undefined) this.put(out, v, "read_state");
        return undefined;
      },
      remove_from_state: (k, kl) => {
        const key = this.key(k, kl, "remove_from_state");
        init.charge(HOST_GAS.stateWrite + HOST_GAS.writtenByte * key.length);
        if (this.read(key) !== undefined || this.changes.has(keyId(key))) {
          this.setChange(key.slice(), null);
        }
        return undefined;
      },
      eprint: (p, n) => {
        const text = new TextDecoder().decode(this.view(p, n, "eprint"));
        if (text === UNKNOWN_FUNCTION_MARKER) {
          this.unknownFunction = true;
        } else if (this.logBytes < l.maxLogBytes) {
          this.logBytes += text.length;
          this.logs.push(text);
        }
        return undefined;
      },
      fetch_function_name_length: () => init.functionName.length,
      fetch_function_name: (out) => {
        this.put(out, init.functionName, "fetch_function_name");
        return undefined;
      },
      fetch_args_length: () => init.args.length,
      fetch_args: (out) => {
        this.put(out, init.args, "fetch_args");
        return undefined;
      },
      write_eth_bridge: (p, n, a) => {
        if (this.ethCall !== null) {
          throw new HostAbort(
            ErrorCode.EthereumCallLimit,
            "a task may request only one Ethereum call",
          );
        }
        if (n >>> 0 > l.maxEthPayloadBytes) {
          throw new HostAbort(
            ErrorCode.OutputTooLarge,
            `write_eth_bridge: payload of ${n >>> 0} bytes exceeds ${l.maxEthPayloadBytes}`,
          );
        }
        this.ethCall = {
          payload: this.view(p, n, "write_eth_bridge").slice(),
          address: this.view(a, 20, "write_eth_bridge").slice(),
        };
        return undefined;
      },
      gas: (amount) => {
        init.charge(amount >>> 0);
        return undefined;
      },
      ret: (p, n) => {
        if (n >>> 0 > l.maxOutputBytes) {
          throw new HostAbort(
            ErrorCode.OutputTooLarge,
            `ret: output of ${n >>> 0} bytes exceeds ${l.maxOutputBytes}`,
          );
        }
        this.output = this.view(p, n, "ret").slice();
        return undefined;
      },
      rand: (out, n) => {
        this.view(out, n, "rand").set(this.randomBytes(n >>> 0));
        return undefined;
      },
      encrypt: (m, n, k, out) => {
        const key = this.view(k, 32, "encrypt").slice();
        const msg = this.view(m, n, "encrypt").slice();
        // The IV comes from the task's random stream: unique per call, reproducible with the seed.
        this.put(out, aesEncrypt(key, msg, this.randomBytes(GCM_IV_BYTES)), "encrypt");
        return undefined;
      },
      decrypt: (c, n, k, out) => {
        const key = this.view(k, 32, "decrypt").slice();
        const wire = this.view(c, n, "decrypt").slice();
        let plain: Uint8Array;
        try {
          plain = aesDecrypt(key, wire);
        } catch (e) {
          throw new HostAbort(
            ErrorCode.HostCallFailed,
            `decrypt: ${e instanceof EnigmaError ? e.message : "failed"}`,
          );
        }
        if (plain.length !== (n >>> 0) - GCM_TAG_BYTES - GCM_IV_BYTES) {
          throw new HostAbort(ErrorCode.HostCallFailed, "decrypt: unexpected plaintext length");
        }
        this.put(out, plain, "decrypt");
        return undefined;
      },
    };
  }
}
