// The host side of the secret-contract interface: the `env` imports one execution gets, with
// the semantics of Discovery's runtime (enigma-core, enigma-runtime-t/src/lib.rs): the module is
// handed the function's name, the ABI-encoded arguments as they are, state values as serde_json
// text (`null` for a missing key), one Ethereum call (the last one asked for), its output bytes.
// All state it touches is the execution's own; nothing is shared between runs.
import { createCipheriv } from "node:crypto";
import {
  ErrorCode,
  GCM_IV_BYTES,
  GCM_TAG_BYTES,
  concatBytes,
  keccak256,
  type HostFunction,
} from "@enigma/protocol";
import { compareIds, keyFromId, keyId, type StateChange, type StateView } from "../state/state.js";
import { gcmDecrypt } from "../state/deltas.js";
import { JsonValueError, canonicalJsonBytes } from "./json-value.js";

/** What the SDK prints (then traps) when `call()` gets a function it does not know. */
export const UNKNOWN_FUNCTION_MARKER = "__enigma_unknown_function__";

/** `read_state` of a key that does not exist: serde_json's `Value::Null`. */
const NULL_JSON = new TextEncoder().encode("null");

/** Host-side limits of one execution. */
export interface ExecutionLimits {
  maxKeyBytes: number;
  maxValueBytes: number;
  /** The whole state (keys + values) after the task. */
  maxStateBytes: number;
  maxOutputBytes: number;
  maxEthPayloadBytes: number;
  /** eprint output kept per execution; the rest is dropped (and never decoded). */
  maxLogBytes: number;
  /** Largest `rand`, `encrypt` or `decrypt` buffer. */
  maxHostBufferBytes: number;
}

export const DEFAULT_EXECUTION_LIMITS: Readonly<ExecutionLimits> = Object.freeze({
  maxKeyBytes: 1024,
  maxValueBytes: 256 * 1024,
  maxStateBytes: 16 * 1024 * 1024,
  maxOutputBytes: 256 * 1024,
  maxEthPayloadBytes: 64 * 1024,
  maxLogBytes: 16 * 1024,
  maxHostBufferBytes: 1024 * 1024,
});

/**
 * The host's own gas charges. `stateWrite`, `writtenByte` (per byte a value grows; the same
 * refunded per byte it shrinks), `deployedByte` and `execution` are Discovery's
 * (enigma-runtime-t/src/gas.rs, RuntimeWasmCosts).
 */
export const HOST_GAS = Object.freeze({
  execution: 10_000,
  deployedByte: 1,
  stateWrite: 10,
  writtenByte: 1,
});

/**
 * Host work that Discovery left free (reading state, copying arguments and outputs, `rand`,
 * `encrypt`, `decrypt`, `eprint`, parsing JSON values) is charged past an allowance per
 * execution, before the work is done: a contract of Discovery's kind stays inside the
 * allowance and pays exactly Discovery's gas, while a contract looping on host calls pays for
 * every call and byte past it (see the README, "Metering without escapes").
 */
export const HOST_WORK = Object.freeze({
  /** Host calls free per execution. */
  freeCalls: 1024,
  /** Bytes of host work free per execution. */
  freeBytes: 256 * 1024,
  /** Per host call past the free calls. */
  callGas: 200,
  /** Per byte of host work past the free bytes (copying, parsing JSON). */
  byteGas: 4,
  /** How many times a byte of `encrypt`, `decrypt` or `rand` weighs (AES runs over it). */
  cryptoWeight: 4,
  /** How many times a byte written to state weighs (it is parsed and re-serialised as JSON). */
  jsonWeight: 4,
});

/** An Ethereum call requested through `write_eth_bridge`. */
export interface EthCall {
  /** 20-byte contract address. */
  address: Uint8Array;
  /** The whole calldata: selector and ABI arguments. */
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
  /** The name before `(` of the called signature (Discovery's `fetch_function_name`). */
  functionName: Uint8Array;
  args: Uint8Array;
  state: StateView;
  taskId: Uint8Array;
  seed: Uint8Array;
  limits: ExecutionLimits;
  /** Subtracts gas; throws (out of gas) when the limit would be passed. */
  charge(amount: number): void;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
const lossy = new TextDecoder("utf-8", { fatal: false });

/** One execution's host: builds the imports and collects what the contract produced. */
export class Host {
  memory: WebAssembly.Memory | undefined;
  output: Uint8Array = new Uint8Array();
  ethCall: EthCall | null = null;
  readonly logs: string[] = [];
  unknownFunction = false;
  /** Gas given back by shrinking writes: subtracted from the gas used when the task succeeds. */
  refund = 0;
  private readonly init: HostInit;
  private readonly changes = new Map<string, Uint8Array | null>();
  private stateBytes: number;
  private logBytes = 0;
  private calls = 0;
  private workBytes = 0;
  private stream: ReturnType<typeof createCipheriv> | undefined;

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

  /**
   * Charges a host call doing `bytes` of work, before the work: free within the allowance,
   * HOST_WORK rates past it.
   */
  private work(bytes: number, weight = 1): void {
    this.calls++;
    const before = this.workBytes;
    this.workBytes += bytes * weight;
    let gas = 0;
    if (this.calls > HOST_WORK.freeCalls) gas += HOST_WORK.callGas;
    const over = this.workBytes - Math.max(before, HOST_WORK.freeBytes);
    if (over > 0) gas += over * HOST_WORK.byteGas;
    if (gas > 0) this.init.charge(gas);
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

  /** A state key: UTF-8 text, as eng-wasm's `&str` keys are. */
  private key(ptr: number, len: number, fn: string): Uint8Array {
    if (len >>> 0 > this.init.limits.maxKeyBytes) {
      throw new HostAbort(
        ErrorCode.StateTooLarge,
        `${fn}: key of ${len >>> 0} bytes exceeds ${this.init.limits.maxKeyBytes}`,
      );
    }
    const key = this.view(ptr, len, fn).slice();
    try {
      utf8.decode(key);
    } catch {
      // Discovery read such a key as the empty string; no eng-wasm contract can produce one.
      throw new HostAbort(ErrorCode.InvalidStateKey, `${fn}: the state key is not UTF-8 text`);
    }
    return key;
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

  /** The task's random stream: AES-256-CTR under keccak256(seed || taskId), reproducible. */
  private randomBytes(len: number): Uint8Array {
    this.stream ??= createCipheriv(
      "aes-256-ctr",
      keccak256(concatBytes(this.init.seed, this.init.taskId)),
      new Uint8Array(16),
    );
    return new Uint8Array(this.stream.update(new Uint8Array(len)));
  }

  private buffer(len: number, fn: string): number {
    const n = len >>> 0;
    if (n > this.init.limits.maxHostBufferBytes) {
      throw new HostAbort(
        ErrorCode.OutputTooLarge,
        `${fn}: ${n} bytes exceed ${this.init.limits.maxHostBufferBytes}`,
      );
    }
    return n;
  }

  imports(): Record<HostFunction, (...a: number[]) => number | undefined> {
    const { init } = this;
    const l = init.limits;
    return {
      write_state: (k, kl, v, vl) => {
        const n = vl >>> 0;
        this.work((kl >>> 0) + n, HOST_WORK.jsonWeight);
        const key = this.key(k, kl, "write_state");
        if (n > l.maxValueBytes) {
          throw new HostAbort(
            ErrorCode.StateTooLarge,
            `write_state: value of ${n} bytes exceeds ${l.maxValueBytes}`,
          );
        }
        // Discovery's calculate_gas_for_writing: 10 plus each byte the value grows over the old
        // one (serialised; a missing or null value counts 0); a shrink refunds its bytes.
        const old = this.read(key);
        const oldLen = old === undefined || isNull(old) ? 0 : old.length;
        if (n >= oldLen) init.charge(HOST_GAS.stateWrite + HOST_GAS.writtenByte * (n - oldLen));
        else this.refund += HOST_GAS.writtenByte * (oldLen - n);
        let value: Uint8Array;
        try {
          value = canonicalJsonBytes(this.view(v, vl, "write_state"));
        } catch (e) {
          if (!(e instanceof JsonValueError)) throw e;
          throw new HostAbort(
            ErrorCode.StateValueNotJson,
            `write_state: the value is not JSON (${e.message})`,
          );
        }
        this.setChange(key, value);
        return undefined;
      },
      read_state_len: (k, kl) => {
        this.work(kl >>> 0);
        return (this.read(this.key(k, kl, "read_state_len")) ?? NULL_JSON).length;
      },
      read_state: (k, kl, out) => {
        const key = this.key(k, kl, "read_state");
        const v = this.read(key) ?? NULL_JSON;
        this.work(key.length + v.length);
        this.put(out, v, "read_state");
        return undefined;
      },
      remove_from_state: (k, kl) => {
        this.work(kl >>> 0);
        const key = this.key(k, kl, "remove_from_state");
        if (this.read(key) !== undefined) this.setChange(key, null);
        return undefined;
      },
      eprint: (p, n) => {
        const len = n >>> 0;
        this.work(len);
        // Only what still fits in the log is read and decoded.
        const keep = Math.min(len, Math.max(0, l.maxLogBytes - this.logBytes));
        const text = lossy.decode(this.view(p, keep, "eprint"));
        this.view(p, len, "eprint"); // the whole buffer must still be in bounds
        if (keep === len && text === UNKNOWN_FUNCTION_MARKER) {
          this.unknownFunction = true;
        } else if (keep > 0) {
          this.logBytes += keep;
          this.logs.push(text);
        }
        return undefined;
      },
      fetch_function_name_length: () => {
        this.work(0);
        return init.functionName.length;
      },
      fetch_function_name: (out) => {
        this.work(init.functionName.length);
        this.put(out, init.functionName, "fetch_function_name");
        return undefined;
      },
      fetch_args_length: () => {
        this.work(0);
        return init.args.length;
      },
      fetch_args: (out) => {
        this.work(init.args.length);
        this.put(out, init.args, "fetch_args");
        return undefined;
      },
      write_eth_bridge: (p, n, a) => {
        this.work((n >>> 0) + 20);
        if (n >>> 0 > l.maxEthPayloadBytes) {
          throw new HostAbort(
            ErrorCode.OutputTooLarge,
            `write_eth_bridge: payload of ${n >>> 0} bytes exceeds ${l.maxEthPayloadBytes}`,
          );
        }
        // As in Discovery, a later call replaces an earlier one: one Ethereum call per task.
        this.ethCall = {
          payload: this.view(p, n, "write_eth_bridge").slice(),
          address: this.view(a, 20, "write_eth_bridge").slice(),
        };
        return undefined;
      },
      gas: (amount) => {
        this.work(0);
        init.charge(amount >>> 0);
        return undefined;
      },
      ret: (p, n) => {
        this.work(n >>> 0);
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
        this.work(n >>> 0, HOST_WORK.cryptoWeight);
        const len = this.buffer(n, "rand");
        const target = this.view(out, len, "rand");
        target.set(this.randomBytes(len));
        return undefined;
      },
      encrypt: (m, n, k, out) => {
        this.work((n >>> 0) + GCM_TAG_BYTES + GCM_IV_BYTES, HOST_WORK.cryptoWeight);
        const len = this.buffer(n, "encrypt");
        const key = this.view(k, 32, "encrypt").slice();
        const msg = this.view(m, len, "encrypt");
        const target = this.view(out, len + GCM_TAG_BYTES + GCM_IV_BYTES, "encrypt");
        // The IV comes from the task's random stream: unique per call, reproducible with the seed.
        const iv = this.randomBytes(GCM_IV_BYTES);
        const cipher = createCipheriv("aes-256-gcm", key, iv);
        const body = concatBytes(cipher.update(msg), cipher.final());
        target.set(concatBytes(body, cipher.getAuthTag(), iv));
        return undefined;
      },
      decrypt: (c, n, k, out) => {
        this.work(n >>> 0, HOST_WORK.cryptoWeight);
        const len = this.buffer(n, "decrypt");
        if (len < GCM_TAG_BYTES + GCM_IV_BYTES) {
          throw new HostAbort(ErrorCode.HostCallFailed, "decrypt: ciphertext too short");
        }
        const key = this.view(k, 32, "decrypt").slice();
        const wire = this.view(c, len, "decrypt").slice();
        const target = this.view(out, len - GCM_TAG_BYTES - GCM_IV_BYTES, "decrypt");
        let plain: Uint8Array;
        try {
          plain = gcmDecrypt(key, wire);
        } catch {
          throw new HostAbort(ErrorCode.HostCallFailed, "decrypt: wrong key or tampered data");
        }
        target.set(plain);
        return undefined;
      },
    };
  }
}

function isNull(v: Uint8Array): boolean {
  return v.length === 4 && v[0] === 0x6e && v[1] === 0x75 && v[2] === 0x6c && v[3] === 0x6c;
}
