// Deploy-time preparation of a secret contract: validation against the host interface and the
// module limits, and a binary rewrite that injects gas metering, bounds the call depth and caps
// memory and tables. A small rewriter of our own rather than binaryen: it needs no 15 MB
// dependency in the enclave's start-up path, keeps function and global indices unchanged
// (everything new is appended), and prepares a module in well under a millisecond.
//
// The metering is Discovery's: enigma-runtime-t/src/gas.rs ran pwasm-utils 0.5's
// inject_gas_counter with 1 per instruction, 16 integer div/rem, 4 integer mul, 2 load/store and
// 8192 per grown page. Its model is reproduced exactly: a function body and each block, loop,
// then- and else-branch is one metered block charged when entered; it costs 1 (for its closing
// `end`/`else`) plus its own instructions (a nested block's opening instruction included, its
// contents not). What pwasm-utils did not know (bulk memory and table instructions, locals
// beyond a function's first 128) is charged per byte or element, before the work.
import { EnigmaError, ErrorCode, HOST_FUNCTIONS, type HostFunction } from "@enigma/protocol";
import {
  Reader,
  SectionId,
  WASM_HEADER,
  WasmFormatError,
  Writer,
  readSections,
} from "./wasm-binary.js";

/** Export names the rewriter adds; a contract may not use them. */
export const GAS_EXPORT = "__enigma_gas";
export const DEPTH_EXPORT = "__enigma_depth";
export const START_EXPORT = "__enigma_start";
/** The constructor the runtime runs at deploy (the module's `deploy`, else its `call`). */
export const DEPLOY_EXPORT = "__enigma_deploy";

export interface RuntimeLimits {
  /** Memory cap in 64 KiB pages (the module's own maximum is lowered to it). */
  maxMemoryPages: number;
  /** Nested wasm-to-wasm calls before the contract traps with CallDepthExceeded. */
  maxCallDepth: number;
  /** Largest accepted module, in bytes. */
  maxCodeBytes: number;
  /** Table elements (initial, and the cap `table.grow` meets). */
  maxTableElements: number;
  maxFunctions: number;
  maxGlobals: number;
  maxDataSegments: number;
  maxElementSegments: number;
  maxTypes: number;
  maxExports: number;
  /** Locals of one function. */
  maxLocals: number;
  /** Bytes of one function body (compiling a huge one is work no gas pays for). */
  maxFunctionBytes: number;
}

export const DEFAULT_LIMITS: Readonly<RuntimeLimits> = Object.freeze({
  maxMemoryPages: 256, // 16 MiB
  maxCallDepth: 1024,
  maxCodeBytes: 2 * 1024 * 1024,
  maxTableElements: 65_536,
  maxFunctions: 50_000,
  maxGlobals: 1024,
  maxDataSegments: 4096,
  maxElementSegments: 1024,
  maxTypes: 8192,
  maxExports: 4096,
  maxLocals: 10_000,
  maxFunctionBytes: 256 * 1024,
});

/** The gas cost table (Discovery's, plus what it did not have to price). */
export const GAS_COSTS = Object.freeze({
  instruction: 1,
  divRem: 16,
  mul: 4,
  loadStore: 2,
  memoryPage: 8192,
  /** memory.copy / memory.fill / memory.init: 1 per started 8 bytes. */
  bulkBytesPerGas: 8,
  /** table.fill / copy / init / grow: per element (about 8 ns each here, measured). */
  tableElement: 16,
  /** Locals a function declares for free; each one past them costs 1 per call. */
  freeLocals: 128,
  local: 1,
  /** At deploy, per initial memory page past `freeMemoryPages` (as if grown). */
  freeMemoryPages: 32,
  /** At deploy, per initial table element past `freeTableElements`. */
  freeTableElements: 4096,
});

export interface PreparedCode {
  /** The instrumented module's bytes. */
  wasm: Uint8Array<ArrayBuffer>;
  /** Length of the code as deployed (what the deploy charge is computed from). */
  codeBytes: number;
  /** Gas a deployment pays for what instantiating the module costs (past the free amounts). */
  instantiationGas: number;
  /** True when the module had a start function (now exported as START_EXPORT). */
  hasStart: boolean;
  /**
   * The module's mutable globals, exported as `${GLOBAL_EXPORT_PREFIX}<index>` so that an
   * instance can be reset and reused.
   */
  mutableGlobals: number[];
  /**
   * False when the code mutates tables or drops segments: then resetting memory and globals
   * is not enough to give a fresh instance, and every execution instantiates anew.
   */
  reusable: boolean;
  /** Initial memory pages. */
  memoryPages: number;
}

export const GLOBAL_EXPORT_PREFIX = "__enigma_global_";

type Op = "plain" | "open" | "else" | "end" | "grow" | "metered" | "call";

// Integer division, remainder and multiplication (pwasm-utils' Div and Mul; float ones are 1).
const DIV_REM = new Set([0x6d, 0x6e, 0x6f, 0x70, 0x7f, 0x80, 0x81, 0x82]);
const MUL = new Set([0x6c, 0x7e]);

function malformed(message: string, details: Record<string, unknown> = {}): EnigmaError {
  return new EnigmaError(ErrorCode.MalformedModule, `malformed secret contract: ${message}`, {
    details,
  });
}

function tooMuch(what: string, value: number, max: number): EnigmaError {
  return new EnigmaError(
    ErrorCode.ModuleLimitExceeded,
    `the secret contract exceeds a module limit: ${what} ${String(value)} > ${String(max)}`,
    { details: { limit: what, value, max } },
  );
}

interface FuncType {
  params: number[];
  results: number[];
}

const I32 = 0x7f;
const I64 = 0x7e;
const FUNCREF = 0x70;

/**
 * Validates a secret contract and returns it instrumented. Throws EnigmaError MalformedModule
 * for anything that is not a valid module importing only the host interface (module `env`,
 * right arity, all i32; and optionally `env.memory`) and exporting `call()` and `memory`
 * (or importing it), and ModuleLimitExceeded past a module limit.
 */
export function prepareCode(
  code: Uint8Array,
  limits: RuntimeLimits = DEFAULT_LIMITS,
): PreparedCode {
  if (code.length > limits.maxCodeBytes) {
    throw tooMuch("code bytes", code.length, limits.maxCodeBytes);
  }
  if (!WebAssembly.validate(code as Uint8Array<ArrayBuffer>)) {
    let reason = "invalid WebAssembly";
    try {
      new WebAssembly.Module(code as Uint8Array<ArrayBuffer>);
    } catch (e) {
      if (e instanceof Error) reason = e.message;
    }
    throw malformed(reason);
  }
  try {
    return rewrite(code, limits);
  } catch (e) {
    if (e instanceof WasmFormatError) throw malformed(e.message);
    throw e;
  }
}

function rewrite(code: Uint8Array, limits: RuntimeLimits): PreparedCode {
  const sections = readSections(code);
  const byId = new Map<number, { start: number; end: number }>();
  for (const s of sections) {
    if (s.id === SectionId.Custom) continue; // names and debug info are dropped
    if (s.id > SectionId.DataCount) throw malformed(`unsupported section ${s.id}`);
    byId.set(s.id, s);
  }
  const reader = (id: number): Reader | undefined => {
    const s = byId.get(id);
    return s === undefined ? undefined : new Reader(code, s.start, s.end);
  };
  const limit = (what: string, value: number, max: number) => {
    if (value > max) throw tooMuch(what, value, max);
  };

  // Types
  const types: FuncType[] = [];
  const tr = reader(SectionId.Type);
  if (tr !== undefined) {
    const count = tr.u32();
    limit("types", count, limits.maxTypes);
    for (let n = count; n > 0; n--) {
      if (tr.byte() !== 0x60) throw malformed("only function types are supported");
      const params: number[] = [];
      for (let p = tr.u32(); p > 0; p--) params.push(tr.byte());
      const results: number[] = [];
      for (let q = tr.u32(); q > 0; q--) results.push(tr.byte());
      types.push({ params, results });
    }
  }
  const typeOf = (i: number): FuncType => {
    const t = types[i];
    if (t === undefined) throw malformed(`type index ${i} out of range`);
    return t;
  };

  // Imports: host functions, and the memory as `env.memory` (modules built for Discovery's
  // runtime import it; it becomes an ordinary memory of the module here).
  let importedFuncs = 0;
  let importedMemory: { flags: number; min: number; max?: number } | undefined;
  const importEntries = new Writer();
  let importCount = 0;
  const ir = reader(SectionId.Import);
  if (ir !== undefined) {
    for (let n = ir.u32(); n > 0; n--) {
      const entryStart = ir.pos;
      const mod = ir.name();
      const field = ir.name();
      const kind = ir.byte();
      if (kind === 2 && mod === "env" && field === "memory" && importedMemory === undefined) {
        const flags = ir.byte();
        const min = ir.u32();
        importedMemory = flags & 1 ? { flags, min, max: ir.u32() } : { flags, min };
        continue;
      }
      if (kind !== 0) {
        throw malformed(`import ${mod}.${field} is not a host function`, {
          import: `${mod}.${field}`,
        });
      }
      const t = typeOf(ir.u32());
      if (mod !== "env" || !Object.hasOwn(HOST_FUNCTIONS, field)) {
        throw malformed(`import ${mod}.${field} is not part of the host interface`, {
          import: `${mod}.${field}`,
        });
      }
      const [np, nr] = HOST_FUNCTIONS[field as HostFunction];
      if (
        t.params.length !== np ||
        t.results.length !== nr ||
        ![...t.params, ...t.results].every((v) => v === I32)
      ) {
        throw malformed(`import env.${field} has the wrong signature`, { import: field });
      }
      importEntries.bytes(code.subarray(entryStart, ir.pos));
      importCount++;
      importedFuncs++;
    }
  }

  // Functions
  const funcTypes: number[] = [];
  const fr = reader(SectionId.Function);
  if (fr !== undefined) for (let n = fr.u32(); n > 0; n--) funcTypes.push(fr.u32());
  limit("functions", importedFuncs + funcTypes.length, limits.maxFunctions);
  const totalFuncs = importedFuncs + funcTypes.length;

  // Table: at most one, of functions, capped
  let tableElements = 0;
  let tableSection: Uint8Array | undefined;
  const tbr = reader(SectionId.Table);
  if (tbr !== undefined) {
    const count = tbr.u32();
    limit("tables", count, 1);
    if (count === 1) {
      if (tbr.byte() !== FUNCREF) throw malformed("only a table of functions is supported");
      const flags = tbr.byte();
      if (flags !== 0 && flags !== 1) throw malformed("shared or 64-bit tables are not supported");
      const min = tbr.u32();
      const max = Math.min(
        flags === 1 ? tbr.u32() : limits.maxTableElements,
        limits.maxTableElements,
      );
      limit("table elements", min, limits.maxTableElements);
      tableElements = min;
      tableSection = new Writer().u32(1).byte(FUNCREF).byte(1).u32(min).u32(max).finish();
    }
  }

  // Memory: exactly one (defined here or imported as env.memory), capped
  let memory: { flags: number; min: number; max?: number } | undefined = importedMemory;
  const mr = reader(SectionId.Memory);
  if (mr !== undefined) {
    const count = mr.u32();
    if (count > 1 || (count === 1 && memory !== undefined)) {
      throw malformed("the module must have exactly one memory");
    }
    if (count === 1) {
      const flags = mr.byte();
      const min = mr.u32();
      memory = flags & 1 ? { flags, min, max: mr.u32() } : { flags, min };
    }
  }
  if (memory === undefined) throw malformed("the module must have exactly one memory");
  if (memory.flags !== 0 && memory.flags !== 1) {
    throw malformed("shared or 64-bit memories are not supported");
  }
  const minPages = memory.min;
  limit("memory pages", minPages, limits.maxMemoryPages);
  const maxPages = Math.min(memory.max ?? limits.maxMemoryPages, limits.maxMemoryPages);
  if (minPages > maxPages) throw malformed("the memory's minimum is above its maximum");

  // Globals (none imported, so new ones are appended at index `globalCount`)
  let globalCount = 0;
  const mutableGlobals: number[] = [];
  let globalRest: Uint8Array = new Uint8Array();
  const gr = reader(SectionId.Global);
  if (gr !== undefined) {
    globalCount = gr.u32();
    limit("globals", globalCount, limits.maxGlobals);
    globalRest = code.subarray(gr.pos, gr.end);
    for (let i = 0; i < globalCount; i++) {
      const type = gr.byte();
      if (type === 0x7b) throw malformed("v128 globals are not supported");
      if (gr.byte() === 1) mutableGlobals.push(i);
      skipConstExpr(gr);
    }
  }
  const gasGlobal = globalCount;
  const depthGlobal = globalCount + 1;

  // Exports
  const exports = new Map<string, { kind: number; index: number }>();
  const er = reader(SectionId.Export);
  if (er !== undefined) {
    const count = er.u32();
    limit("exports", count, limits.maxExports);
    for (let n = count; n > 0; n--) {
      const name = er.name();
      exports.set(name, { kind: er.byte(), index: er.u32() });
    }
  }
  for (const name of exports.keys()) {
    if (name.startsWith("__enigma_")) throw malformed(`export name ${name} is reserved`);
  }
  const memExport = exports.get("memory");
  if (memExport !== undefined && memExport.kind !== 2) {
    throw malformed("the export `memory` must be the memory");
  }
  if (memExport === undefined && importedMemory === undefined) {
    throw malformed("the module must export its memory as `memory`");
  }
  const entryPoint = (fn: string): number | undefined => {
    const e = exports.get(fn);
    if (e === undefined) return undefined;
    if (e.kind !== 0) throw malformed(`\`${fn}\` must be a function`);
    const t =
      e.index < importedFuncs ? undefined : typeOf(funcTypes[e.index - importedFuncs] ?? -1);
    if (t === undefined || t.params.length !== 0 || t.results.length !== 0) {
      throw malformed(`\`${fn}\` must take no parameters and return nothing`);
    }
    return e.index;
  };
  const callIndex = entryPoint("call");
  if (callIndex === undefined) throw malformed("the module must export a function `call`");
  // A module without `deploy` is its own constructor: Discovery's pwasm-utils build left such a
  // module as it was and the deployment invoked its `call`.
  const deployIndex = entryPoint("deploy") ?? callIndex;

  // Start function: exported instead, so that it runs metered, after the gas is set
  let start: number | undefined;
  const sr = reader(SectionId.Start);
  if (sr !== undefined) start = sr.u32();

  // Element and data segments: counted
  const elr = reader(SectionId.Element);
  if (elr !== undefined) limit("element segments", elr.u32(), limits.maxElementSegments);
  const dr = reader(SectionId.Data);
  if (dr !== undefined) limit("data segments", dr.u32(), limits.maxDataSegments);

  const ctx: BodyContext = {
    importedFuncs,
    gasGlobal,
    depthGlobal,
    growFn: totalFuncs,
    maxCallDepth: limits.maxCallDepth,
    maxLocals: limits.maxLocals,
    reusable: true,
    helpers: new Map(),
    nextFn: totalFuncs + 1,
  };

  // Code
  const code2 = new Writer();
  const cr = reader(SectionId.Code);
  const bodies = cr === undefined ? 0 : cr.u32();
  if (bodies !== funcTypes.length) throw malformed("function and code sections disagree");
  const instrumented: Uint8Array[] = [];
  if (cr !== undefined) {
    for (let i = 0; i < bodies; i++) {
      const size = cr.u32();
      limit("bytes of a function body", size, limits.maxFunctionBytes);
      const body = new Reader(code, cr.pos, cr.pos + size);
      cr.skip(size);
      instrumented.push(instrumentBody(body, ctx));
    }
  }
  const helpers = [...ctx.helpers.values()];
  code2.u32(bodies + 1 + helpers.length);
  for (const b of instrumented) code2.sized(b);
  code2.sized(growHelper(ctx));
  for (const h of helpers) code2.sized(h.body);

  // Assemble
  const out = new Writer().bytes(WASM_HEADER);
  const section = (id: number, content: Uint8Array) => out.byte(id).sized(content);
  const raw = (id: number) => {
    const s = byId.get(id);
    if (s !== undefined) section(id, code.subarray(s.start, s.end));
  };
  const typeSec = new Writer().u32(types.length + 1 + helpers.length);
  if (tr !== undefined) {
    const s = byId.get(SectionId.Type);
    // the original types, then the new ones
    const rest = new Reader(code, s?.start ?? 0, s?.end ?? 0);
    rest.u32();
    typeSec.bytes(code.subarray(rest.pos, rest.end));
  }
  typeSec.bytes(Uint8Array.of(0x60, 1, I32, 1, I32)); // grow helper: (i32) -> i32
  for (const h of helpers) typeSec.bytes(h.type);
  section(SectionId.Type, typeSec.finish());
  if (importCount > 0) {
    section(SectionId.Import, new Writer().u32(importCount).bytes(importEntries.finish()).finish());
  }
  const funcSec = new Writer().u32(funcTypes.length + 1 + helpers.length);
  for (const t of funcTypes) funcSec.u32(t);
  funcSec.u32(types.length);
  helpers.forEach((_, i) => funcSec.u32(types.length + 1 + i));
  section(SectionId.Function, funcSec.finish());
  if (tableSection !== undefined) section(SectionId.Table, tableSection);
  section(SectionId.Memory, new Writer().u32(1).byte(1).u32(minPages).u32(maxPages).finish());
  const globSec = new Writer().u32(globalCount + 2).bytes(globalRest);
  globSec.bytes(Uint8Array.of(I64, 1, 0x42, 0, 0x0b)); // gas left: mut i64 = 0
  globSec.bytes(Uint8Array.of(I32, 1, 0x41, 0, 0x0b)); // call depth: mut i32 = 0
  section(SectionId.Global, globSec.finish());
  const expSec = new Writer();
  const extra: [string, number, number][] = [
    [GAS_EXPORT, 3, gasGlobal],
    [DEPTH_EXPORT, 3, depthGlobal],
    [DEPLOY_EXPORT, 0, deployIndex],
  ];
  if (memExport === undefined) extra.push(["memory", 2, 0]);
  if (start !== undefined) extra.push([START_EXPORT, 0, start]);
  for (const g of mutableGlobals) extra.push([`${GLOBAL_EXPORT_PREFIX}${g}`, 3, g]);
  expSec.u32(exports.size + extra.length);
  for (const [name, e] of exports) expSec.name(name).byte(e.kind).u32(e.index);
  for (const [name, kind, index] of extra) expSec.name(name).byte(kind).u32(index);
  section(SectionId.Export, expSec.finish());
  raw(SectionId.Element);
  raw(SectionId.DataCount);
  section(SectionId.Code, code2.finish());
  raw(SectionId.Data);
  const instantiationGas =
    GAS_COSTS.memoryPage * Math.max(0, minPages - GAS_COSTS.freeMemoryPages) +
    GAS_COSTS.tableElement * Math.max(0, tableElements - GAS_COSTS.freeTableElements);
  return {
    wasm: out.finish(),
    codeBytes: code.length,
    instantiationGas,
    hasStart: start !== undefined,
    mutableGlobals,
    reusable: ctx.reusable,
    memoryPages: minPages,
  };
}

interface Helper {
  type: Uint8Array;
  body: Uint8Array;
  index: number;
}

interface BodyContext {
  importedFuncs: number;
  gasGlobal: number;
  depthGlobal: number;
  growFn: number;
  maxCallDepth: number;
  maxLocals: number;
  reusable: boolean;
  /** Metering wrappers of bulk memory and table instructions, by instruction bytes. */
  helpers: Map<string, Helper>;
  nextFn: number;
}

interface Instr {
  start: number;
  end: number;
  op: Op;
  cost: number;
  helper?: number;
}

/** `gas -= cost; if (gas < 0) unreachable` */
function emitCharge(w: Writer, ctx: BodyContext, cost: number): void {
  w.byte(0x23)
    .u32(ctx.gasGlobal)
    .byte(0x42)
    .s64(BigInt(cost))
    .byte(0x7d)
    .byte(0x24)
    .u32(ctx.gasGlobal);
  w.byte(0x23)
    .u32(ctx.gasGlobal)
    .byte(0x42)
    .byte(0)
    .byte(0x53)
    .byte(0x04)
    .byte(0x40)
    .byte(0x00)
    .byte(0x0b);
}

function instrumentBody(r: Reader, ctx: BodyContext): Uint8Array {
  const bodyStart = r.pos;
  let locals = 0;
  for (let groups = r.u32(); groups > 0; groups--) {
    locals += r.u32();
    r.byte();
  }
  if (locals > ctx.maxLocals) throw tooMuch("locals of a function", locals, ctx.maxLocals);
  const codeStart = r.pos;
  const instrs = decode(r, ctx);

  // pwasm-utils' blocks: the charge of each goes before the instruction at `at`.
  const charges = new Map<number, number>();
  const blockCost: number[] = [];
  const stack: number[] = [];
  const open = (at: number) => {
    blockCost.push(1);
    stack.push(blockCost.length - 1);
    charges.set(at, blockCost.length - 1);
  };
  const add = (cost: number) => {
    const top = stack[stack.length - 1];
    if (top === undefined) throw new WasmFormatError("instruction outside a block");
    blockCost[top] = (blockCost[top] ?? 0) + cost;
  };
  open(0);
  // Zero-initialising many locals is work too: each past the free ones costs, on entry.
  add(Math.max(0, locals - GAS_COSTS.freeLocals) * GAS_COSTS.local);
  instrs.forEach((ins, i) => {
    if (ins.op === "open") {
      add(ins.cost);
      open(i + 1);
    } else if (ins.op === "else") {
      stack.pop();
      open(i + 1);
    } else if (ins.op === "end") {
      stack.pop();
    } else {
      add(ins.cost);
    }
  });

  const w = new Writer().bytes(r.bytes.subarray(bodyStart, codeStart));
  // Instructions kept as they are lie next to each other in the body: copied in runs.
  let runStart = -1;
  let runEnd = -1;
  const flush = () => {
    if (runStart >= 0) w.bytes(r.bytes.subarray(runStart, runEnd));
    runStart = -1;
  };
  instrs.forEach((ins, i) => {
    const block = charges.get(i);
    if (block !== undefined) {
      flush();
      emitCharge(w, ctx, blockCost[block] ?? 0);
    }
    if (ins.op === "grow" || ins.op === "metered" || ins.op === "call") {
      flush();
      emitInstr(w, r.bytes, ins, ctx);
    } else {
      if (runStart < 0) runStart = ins.start;
      runEnd = ins.end;
    }
  });
  flush();
  return w.finish();
}

function emitInstr(w: Writer, bytes: Uint8Array, ins: Instr, ctx: BodyContext): void {
  switch (ins.op) {
    case "grow":
      w.byte(0x10).u32(ctx.growFn);
      return;
    case "metered":
      w.byte(0x10).u32(ins.helper ?? 0);
      return;
    case "call": {
      const d = ctx.depthGlobal;
      // depth += 1; if (depth > max) unreachable; <call>; depth -= 1
      w.byte(0x23).u32(d).byte(0x41).byte(1).byte(0x6a).byte(0x24).u32(d);
      w.byte(0x23).u32(d).byte(0x41).s32(ctx.maxCallDepth).byte(0x4b);
      w.byte(0x04).byte(0x40).byte(0x00).byte(0x0b);
      w.bytes(bytes.subarray(ins.start, ins.end));
      w.byte(0x23).u32(d).byte(0x41).byte(1).byte(0x6b).byte(0x24).u32(d);
      return;
    }
    default:
      w.bytes(bytes.subarray(ins.start, ins.end));
  }
}

function blockType(r: Reader): void {
  const b = r.bytes[r.pos] ?? 0;
  if (
    b === 0x40 ||
    b === 0x7f ||
    b === 0x7e ||
    b === 0x7d ||
    b === 0x7c ||
    b === 0x70 ||
    b === 0x6f
  ) {
    r.pos++;
  } else {
    r.skipSigned(5); // a type index (multi-value)
  }
}

/**
 * A bulk memory or table instruction, replaced by a call to a helper that takes the same
 * operands, charges for the bytes or elements (the operand on top of the stack) and then does
 * the instruction. `params` are the operand types; `result` is i32 for table.grow.
 */
function meteredHelper(
  ctx: BodyContext,
  instr: Uint8Array,
  params: number[],
  result: boolean,
  perUnit: "bytes" | "elements",
): number {
  const id = Array.from(instr).join(",");
  const hit = ctx.helpers.get(id);
  if (hit !== undefined) return hit.index;
  const g = ctx.gasGlobal;
  const n = params.length - 1; // the count is the last operand
  const w = new Writer().u32(0);
  // gas -= cost(n)
  w.byte(0x23).u32(g).byte(0x20).u32(n).byte(0xad); // gas, i64.extend_i32_u(count)
  if (perUnit === "bytes") {
    w.byte(0x42)
      .s64(BigInt(GAS_COSTS.bulkBytesPerGas - 1))
      .byte(0x7c); // + 7
    w.byte(0x42).s64(3n).byte(0x88); // >> 3
  } else {
    w.byte(0x42).s64(BigInt(GAS_COSTS.tableElement)).byte(0x7e); // * per element
  }
  w.byte(0x7d).byte(0x24).u32(g);
  w.byte(0x23).u32(g).byte(0x42).byte(0).byte(0x53).byte(0x04).byte(0x40).byte(0x00).byte(0x0b);
  for (let i = 0; i < params.length; i++) w.byte(0x20).u32(i);
  w.bytes(instr).byte(0x0b);
  const type = new Writer().byte(0x60).u32(params.length);
  for (const p of params) type.byte(p);
  type.u32(result ? 1 : 0);
  if (result) type.byte(I32);
  const index = ctx.nextFn++;
  ctx.helpers.set(id, { type: type.finish(), body: w.finish(), index });
  return index;
}

function decode(r: Reader, ctx: BodyContext): Instr[] {
  const out: Instr[] = [];
  let depth = 0;
  while (!r.done) {
    const start = r.pos;
    const opcode = r.byte();
    let op: Op = "plain";
    let cost: number = GAS_COSTS.instruction;
    let helper: number | undefined;
    if (opcode >= 0x28 && opcode <= 0x3e) {
      const align = r.u32();
      if (align >= 0x40) throw new WasmFormatError("multiple memories are not supported");
      r.u32();
      cost = GAS_COSTS.loadStore;
    } else if (DIV_REM.has(opcode)) {
      cost = GAS_COSTS.divRem;
    } else if (MUL.has(opcode)) {
      cost = GAS_COSTS.mul;
    } else if (opcode >= 0x45 && opcode <= 0xc4) {
      // numeric, no immediates
    } else {
      switch (opcode) {
        case 0x00: // unreachable
        case 0x0f: // return
        case 0x01: // nop
        case 0x1a: // drop
        case 0x1b: // select
        case 0xd1: // ref.is_null
          break;
        case 0x02: // block
        case 0x03: // loop
        case 0x04: // if
          blockType(r);
          depth++;
          op = "open";
          break;
        case 0x05: // else
          op = "else";
          cost = 0;
          break;
        case 0x0b: // end
          op = "end";
          cost = 0;
          depth--;
          break;
        case 0x0c: // br
        case 0x0d: // br_if
          r.u32();
          break;
        case 0x0e: // br_table
          for (let n = r.u32(); n >= 0; n--) r.u32();
          break;
        case 0x10: {
          const f = r.u32();
          if (f >= ctx.importedFuncs) op = "call";
          break;
        }
        case 0x11:
          r.u32();
          r.u32();
          op = "call";
          break;
        case 0x1c:
          for (let n = r.u32(); n > 0; n--) r.byte();
          break;
        case 0x20:
        case 0x21:
        case 0x22:
        case 0x23:
        case 0x24:
        case 0x25:
        case 0xd2:
          r.u32();
          break;
        case 0x26: // table.set
          r.u32();
          ctx.reusable = false;
          break;
        case 0x3f: // memory.size
          r.u32();
          break;
        case 0x40: // memory.grow
          r.u32();
          op = "grow";
          break;
        case 0x41:
          r.skipSigned(5);
          break;
        case 0x42:
          r.skipSigned(10);
          break;
        case 0x43:
          r.skip(4);
          break;
        case 0x44:
          r.skip(8);
          break;
        case 0xd0:
          r.byte();
          break;
        case 0xfc: {
          const sub = r.u32();
          if (sub <= 7) break; // saturating float-to-int
          if (sub === 8) {
            // memory.init seg mem: (dst, src, n)
            r.u32();
            r.u32();
            helper = bulk(ctx, r, start, [I32, I32, I32], false, "bytes");
          } else if (sub === 9 || sub === 13) {
            r.u32(); // data.drop / elem.drop
            ctx.reusable = false;
          } else if (sub === 10) {
            r.u32(); // memory.copy dst src
            r.u32();
            helper = bulk(ctx, r, start, [I32, I32, I32], false, "bytes");
          } else if (sub === 11) {
            r.u32(); // memory.fill mem
            helper = bulk(ctx, r, start, [I32, I32, I32], false, "bytes");
          } else if (sub === 12 || sub === 14) {
            r.u32(); // table.init seg tab / table.copy dst src: (d, s, n)
            r.u32();
            ctx.reusable = false;
            helper = bulk(ctx, r, start, [I32, I32, I32], false, "elements");
          } else if (sub === 15) {
            r.u32(); // table.grow tab: (init, n) -> i32
            ctx.reusable = false;
            helper = bulk(ctx, r, start, [FUNCREF, I32], true, "elements");
          } else if (sub === 16) {
            r.u32(); // table.size
          } else if (sub === 17) {
            r.u32(); // table.fill tab: (i, v, n)
            ctx.reusable = false;
            helper = bulk(ctx, r, start, [I32, FUNCREF, I32], false, "elements");
          } else {
            throw new WasmFormatError(`unsupported instruction 0xfc ${sub}`);
          }
          if (helper !== undefined) op = "metered";
          break;
        }
        default:
          throw new WasmFormatError(
            `unsupported instruction 0x${opcode.toString(16)} (SIMD, threads, exceptions and tail calls are not allowed)`,
          );
      }
    }
    out.push({ start, end: r.pos, op, cost, ...(helper === undefined ? {} : { helper }) });
    if (depth < 0) {
      if (r.pos < r.end) throw new WasmFormatError("code after the end of a function body");
      break;
    }
  }
  return out;
}

function bulk(
  ctx: BodyContext,
  r: Reader,
  start: number,
  params: number[],
  result: boolean,
  perUnit: "bytes" | "elements",
): number {
  return meteredHelper(ctx, r.bytes.slice(start, r.pos), params, result, perUnit);
}

/** Skips a constant expression (global initialiser) up to and including its `end`. */
function skipConstExpr(r: Reader): void {
  for (;;) {
    const op = r.byte();
    if (op === 0x0b) return;
    if (op === 0x41) r.skipSigned(5);
    else if (op === 0x42) r.skipSigned(10);
    else if (op === 0x43) r.skip(4);
    else if (op === 0x44) r.skip(8);
    else if (op === 0x23 || op === 0xd2) r.u32();
    else if (op === 0xd0) r.byte();
    else if (![0x6a, 0x6b, 0x6c, 0x7c, 0x7d, 0x7e].includes(op)) {
      throw new WasmFormatError(`unsupported constant expression opcode 0x${op.toString(16)}`);
    }
  }
}

/** memory.grow as a call: gas -= pages * 8192 (unless the gas runs out), then grow. */
function growHelper(ctx: BodyContext): Uint8Array {
  const g = ctx.gasGlobal;
  const w = new Writer().u32(0); // no locals
  w.byte(0x23).u32(g).byte(0x20).byte(0).byte(0xad).byte(0x42).s64(BigInt(GAS_COSTS.memoryPage));
  w.byte(0x7e).byte(0x7d).byte(0x24).u32(g);
  w.byte(0x23).u32(g).byte(0x42).byte(0).byte(0x53).byte(0x04).byte(0x40).byte(0x00).byte(0x0b);
  w.byte(0x20).byte(0).byte(0x40).byte(0).byte(0x0b);
  return w.finish();
}
