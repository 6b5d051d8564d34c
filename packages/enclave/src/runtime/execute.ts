// Executes secret contracts: prepare once per code hash (validate, meter, compile), then one
// fresh instance per task. Every fault of the contract ends as a typed failure result.
import { randomBytes } from "node:crypto";
import {
  EnigmaError,
  ErrorCode,
  bytesToHex,
  errorName,
  HOST_FUNCTIONS,
  type HostFunction,
  isEnigmaError,
  keccak256,
  type ErrorName,
} from "@enigma/protocol";
import type { StateChange, StateView } from "../state/state.js";
import {
  DEFAULT_EXECUTION_LIMITS,
  HOST_GAS,
  Host,
  HostAbort,
  type EthCall,
  type ExecutionLimits,
} from "./host.js";
import {
  DEFAULT_LIMITS,
  DEPLOY_EXPORT,
  DEPTH_EXPORT,
  GAS_EXPORT,
  GLOBAL_EXPORT_PREFIX,
  START_EXPORT,
  prepareCode,
  type RuntimeLimits,
} from "./metering.js";

/** A validated, metered and compiled contract, ready to run any number of times. */
export interface PreparedContract {
  /** keccak256 of the code as deployed. */
  readonly codeHash: Uint8Array;
  /** Length of the code as deployed. */
  readonly codeBytes: number;
  readonly module: WebAssembly.Module;
  readonly hasStart: boolean;
  readonly mutableGlobals: readonly number[];
  readonly reusable: boolean;
  /** Gas a deployment pays for instantiating the module (past the free amounts). */
  readonly instantiationGas: number;
}

/**
 * The largest gas limit the enclave runs a task with (about 1.7 s of a plain loop here; the
 * execution deadline is derived from the limit). A larger one fails the task with
 * GasLimitTooHigh before anything runs, charging nothing.
 */
export const MAX_TASK_GAS_LIMIT = 10_000_000_000;

/**
 * An instance whose memory is at most this many pages is kept and reset (a copy of its image)
 * for the next task; a larger one is instantiated afresh each time, which costs less than
 * copying its image back.
 */
const REUSE_MAX_PAGES = 64;

/**
 * The function's name as Discovery's runtime handed it to the module: the text before `(`
 * (enigma-tools-t/src/build_arguments_g/mod.rs, get_types). A signature without `(` and `)`
 * in that order is an input error.
 */
export function functionNameOf(signature: string): string | undefined {
  const open = signature.indexOf("(");
  const close = signature.indexOf(")");
  if (open < 0 || close < 0 || close < open) return undefined;
  return signature.slice(0, open);
}

type HostImports = ReturnType<Host["imports"]>;

/**
 * An instance with everything needed to reset it to its freshly instantiated state: the
 * memory image taken before anything ran and the initial values of the mutable globals.
 * Instantiation (a fresh linear memory) costs about 0.4 ms; a reset is a 64 KiB copy.
 */
interface Slot {
  exports: WebAssembly.Exports;
  memory: WebAssembly.Memory;
  gas: WebAssembly.Global;
  depth: WebAssembly.Global;
  globals: { global: WebAssembly.Global; initial: unknown }[];
  image: Uint8Array;
  /** The imports forward to the current execution's host. */
  binding: { fns: HostImports | undefined };
}

export interface ExecutionRequest {
  /** `deploy` runs the constructor (and charges the deployed bytes), `call` a function. */
  entry: "deploy" | "call";
  /** The function's signature, e.g. `add(uint256,uint256)` (the constructor's, for deploy). */
  functionName: string;
  /** ABI-encoded arguments. */
  args: Uint8Array;
  /** The contract's state before the task (empty for a deployment). */
  state: StateView;
  gasLimit: number;
  /** 32-byte task id: part of the random stream. */
  taskId: Uint8Array;
  /** Seed of `rand`; a fresh random seed when absent (a seeded devnet passes its own). */
  seed?: Uint8Array;
}

export interface ExecutionError {
  code: ErrorCode;
  name: ErrorName;
  message: string;
  details: Record<string, unknown>;
}

export interface ExecutionSuccess {
  ok: true;
  output: Uint8Array;
  gasUsed: number;
  /** Changed keys, sorted by key bytes; empty when the task wrote nothing. */
  changes: StateChange[];
  ethCall: EthCall | null;
  logs: string[];
}

export interface ExecutionFailure {
  ok: false;
  error: ExecutionError;
  /** `gasLimit` on out of gas. */
  gasUsed: number;
  logs: string[];
}

export type ExecutionResult = ExecutionSuccess | ExecutionFailure;

export interface RuntimeOptions {
  limits?: Partial<RuntimeLimits>;
  executionLimits?: Partial<ExecutionLimits>;
  /** Compiled modules kept by code hash (least recently used evicted). Default 64. */
  cacheSize?: number;
  /** Largest gas limit a task may have (default MAX_TASK_GAS_LIMIT). */
  maxGasLimit?: number;
}

class OutOfGas extends Error {}

function instantiate(contract: PreparedContract): Slot {
  const binding: Slot["binding"] = { fns: undefined };
  const env: Record<string, (a: number, b: number, c: number, d: number) => number | undefined> =
    {};
  for (const name of Object.keys(HOST_FUNCTIONS) as HostFunction[]) {
    env[name] = (a, b, c, d) => {
      if (binding.fns === undefined) throw new HostAbort(ErrorCode.ContractTrap, "no execution");
      return binding.fns[name](a, b, c, d);
    };
  }
  const instance = new WebAssembly.Instance(contract.module, { env });
  const ex = instance.exports;
  const memory = ex["memory"] as WebAssembly.Memory;
  return {
    exports: ex,
    memory,
    gas: ex[GAS_EXPORT] as WebAssembly.Global,
    depth: ex[DEPTH_EXPORT] as WebAssembly.Global,
    globals: contract.mutableGlobals.map((i) => {
      const global = ex[`${GLOBAL_EXPORT_PREFIX}${i}`] as WebAssembly.Global;
      return { global, initial: global.value as unknown };
    }),
    image: new Uint8Array(memory.buffer).slice(),
    binding,
  };
}

/** A failure result (the executor's own failures, such as a deadline, use it too). */
export function failure(
  code: ErrorCode,
  message: string,
  gasUsed: number,
  logs: string[],
  details: Record<string, unknown> = {},
): ExecutionFailure {
  return { ok: false, error: { code, name: errorName(code), message, details }, gasUsed, logs };
}

/**
 * The metered WebAssembly runtime of the enclave.
 *
 * @example
 * const runtime = new ContractRuntime();
 * const code = runtime.prepare(wasm);
 * const r = runtime.execute(code, { entry: "call", functionName: "add(uint256,uint256)", args, state, gasLimit: 1e6, taskId });
 * if (r.ok) console.log(r.output, r.gasUsed);
 */
export class ContractRuntime {
  readonly limits: Readonly<RuntimeLimits>;
  readonly executionLimits: Readonly<ExecutionLimits>;
  private readonly cache = new Map<string, PreparedContract>();
  // One idle instance per contract; executions are synchronous, so one is enough.
  private readonly idle = new WeakMap<PreparedContract, Slot>();
  private readonly cacheSize: number;
  readonly maxGasLimit: number;

  constructor(options: RuntimeOptions = {}) {
    this.limits = Object.freeze({ ...DEFAULT_LIMITS, ...options.limits });
    this.executionLimits = Object.freeze({
      ...DEFAULT_EXECUTION_LIMITS,
      ...options.executionLimits,
    });
    this.cacheSize = options.cacheSize ?? 64;
    this.maxGasLimit = options.maxGasLimit ?? MAX_TASK_GAS_LIMIT;
  }

  /**
   * Validates, meters and compiles a contract; cached by code hash (`knownHash`, when the
   * caller already computed keccak256(code), is trusted). Throws EnigmaError
   * MalformedModule for a module that is not a valid secret contract.
   */
  prepare(code: Uint8Array, knownHash?: Uint8Array): PreparedContract {
    // keccak256 of a 1.6 MB module takes tens of ms in JavaScript: a caller that has it passes it.
    const codeHash = knownHash ?? keccak256(code);
    const id = bytesToHex(codeHash);
    const hit = this.cache.get(id);
    if (hit !== undefined) {
      this.cache.delete(id);
      this.cache.set(id, hit);
      return hit;
    }
    const prepared = prepareCode(code, this.limits);
    let module: WebAssembly.Module;
    try {
      module = new WebAssembly.Module(prepared.wasm);
    } catch (e) {
      throw new EnigmaError(
        ErrorCode.MalformedModule,
        `malformed secret contract: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
    const contract: PreparedContract = Object.freeze({
      codeHash,
      codeBytes: prepared.codeBytes,
      module,
      hasStart: prepared.hasStart,
      mutableGlobals: Object.freeze([...prepared.mutableGlobals]),
      reusable: prepared.reusable && prepared.memoryPages <= REUSE_MAX_PAGES,
      instantiationGas: prepared.instantiationGas,
    });
    this.cache.set(id, contract);
    if (this.cache.size > this.cacheSize) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    return contract;
  }

  /**
   * Takes a contract prepared elsewhere (a compiled module posted from another thread) into the
   * cache; returns the cached one when the code is already there.
   */
  adopt(contract: PreparedContract): PreparedContract {
    const id = bytesToHex(contract.codeHash);
    const hit = this.cache.get(id);
    if (hit !== undefined) return hit;
    this.cache.set(id, contract);
    if (this.cache.size > this.cacheSize) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    return contract;
  }

  /**
   * Deploys code: prepares it and runs its constructor. A module refused at preparation is a
   * failure result with no gas used (nothing ran; Discovery's module creation errors carried
   * no gas either), not an exception.
   */
  deploy(
    code: Uint8Array,
    request: Omit<ExecutionRequest, "entry">,
  ): ExecutionResult & { contract?: PreparedContract } {
    const refused = this.checkRequest(request);
    if (refused !== undefined) return refused;
    let contract: PreparedContract;
    try {
      contract = this.prepare(code);
    } catch (e) {
      if (isEnigmaError(e)) return failure(e.code, e.message, 0, [], { ...e.details });
      return failure(ErrorCode.MalformedModule, "malformed secret contract", 0, []);
    }
    return { ...this.execute(contract, { ...request, entry: "deploy" }), contract };
  }

  /** The prepared contract of `codeHash` when it is cached. */
  cached(codeHash: Uint8Array): PreparedContract | undefined {
    return this.cache.get(bytesToHex(codeHash));
  }

  /** A request that cannot run at all: a failure with no gas used, or undefined. */
  checkRequest(request: Omit<ExecutionRequest, "entry">): ExecutionFailure | undefined {
    const gasLimit = request.gasLimit;
    if (!Number.isSafeInteger(gasLimit) || gasLimit < 0) {
      return failure(
        ErrorCode.InvalidExecutionRequest,
        "gasLimit must be a non-negative safe integer",
        0,
        [],
      );
    }
    if (gasLimit > this.maxGasLimit) {
      return failure(
        ErrorCode.GasLimitTooHigh,
        `the gas limit ${gasLimit} exceeds the enclave's maximum of ${this.maxGasLimit}`,
        0,
        [],
        { gasLimit, max: this.maxGasLimit },
      );
    }
    if (request.taskId.length !== 32) {
      return failure(ErrorCode.InvalidExecutionRequest, "taskId must be 32 bytes", 0, []);
    }
    if (functionNameOf(request.functionName) === undefined) {
      return failure(
        ErrorCode.InvalidFunctionSignature,
        `'${request.functionName}' is not a function signature: it needs '(' and ')'`,
        0,
        [],
        { function: request.functionName },
      );
    }
    return undefined;
  }

  /** Runs one task. Never throws for anything the contract does. */
  execute(contract: PreparedContract, request: ExecutionRequest): ExecutionResult {
    const refused = this.checkRequest(request);
    if (refused !== undefined) return refused;
    const gasLimit = request.gasLimit;
    // Set once the instance exists; host calls only happen after.
    const meter: { global?: WebAssembly.Global } = {};
    const charge = (amount: number): void => {
      const gasGlobal = meter.global;
      if (gasGlobal === undefined) throw new OutOfGas();
      const left = (gasGlobal.value as bigint) - BigInt(amount);
      gasGlobal.value = left < 0n ? -1n : left;
      if (left < 0n) throw new OutOfGas();
    };
    const host = new Host({
      functionName: new TextEncoder().encode(functionNameOf(request.functionName) ?? ""),
      args: request.args,
      state: request.state,
      taskId: request.taskId,
      seed: request.seed ?? randomBytes(32),
      limits: this.executionLimits,
      charge,
    });

    let slot = contract.reusable ? this.idle.get(contract) : undefined;
    if (slot === undefined) {
      try {
        slot = instantiate(contract);
      } catch (e) {
        return failure(
          ErrorCode.ContractTrap,
          `the contract cannot be instantiated: ${e instanceof Error ? e.message : String(e)}`,
          0,
          [],
        );
      }
    } else {
      this.idle.delete(contract);
      new Uint8Array(slot.memory.buffer).set(slot.image);
      for (const g of slot.globals) g.global.value = g.initial;
      slot.depth.value = 0;
    }
    const ex = slot.exports;
    slot.binding.fns = host.imports();
    host.memory = slot.memory;
    const gasGlobal = slot.gas;
    meter.global = gasGlobal;
    const depthGlobal = slot.depth;
    gasGlobal.value = BigInt(gasLimit);

    // Charged so far (refunds are not subtracted: Discovery subtracted them only on success).
    const charged = (): number => gasLimit - Number(gasGlobal.value as bigint);
    try {
      if (contract.hasStart) (ex[START_EXPORT] as () => void)();
      (ex[request.entry === "deploy" ? DEPLOY_EXPORT : "call"] as () => void)();
      // Discovery charged after the run: a deployment its code bytes (no execution fee), a
      // computation the fixed execution fee.
      charge(
        request.entry === "deploy"
          ? HOST_GAS.deployedByte * contract.codeBytes + contract.instantiationGas
          : HOST_GAS.execution,
      );
    } catch (e) {
      const logs = host.logs;
      if (e instanceof OutOfGas || (gasGlobal.value as bigint) < 0n) {
        return failure(ErrorCode.OutOfGas, "out of gas", gasLimit, logs);
      }
      const gasUsed = charged();
      if (e instanceof HostAbort) return failure(e.code, e.message, gasUsed, logs, e.details);
      if ((depthGlobal.value as number) > this.limits.maxCallDepth || e instanceof RangeError) {
        return failure(
          ErrorCode.CallDepthExceeded,
          `call depth exceeds ${this.limits.maxCallDepth}`,
          gasUsed,
          logs,
        );
      }
      if (host.unknownFunction) {
        return failure(
          ErrorCode.UnknownFunction,
          `the contract has no function ${request.functionName}`,
          gasUsed,
          logs,
          {
            function: request.functionName,
          },
        );
      }
      const message = e instanceof Error ? e.message : String(e);
      return failure(ErrorCode.ContractTrap, `the contract trapped: ${message}`, gasUsed, logs);
    }
    slot.binding.fns = undefined;
    // A grown memory cannot shrink back: such an instance is not reused.
    if (contract.reusable && slot.memory.buffer.byteLength === slot.image.length) {
      this.idle.set(contract, slot);
    }
    return {
      ok: true,
      output: host.output,
      gasUsed: Math.max(0, charged() - host.refund),
      changes: host.stateChanges(),
      ethCall: host.ethCall,
      logs: host.logs,
    };
  }
}
