// Deploy-time preparation of a secret contract: validation against the host interface and a
// binary rewrite that injects gas metering per basic block, bounds the call depth and caps
// memory. A small rewriter of our own rather than binaryen: it needs no 15 MB dependency in
// the enclave's start-up path, keeps function and global indices unchanged (everything new is
// appended), and prepares a module in well under a millisecond (see README, "Decisions").
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

export interface RuntimeLimits {
  /** Memory cap in 64 KiB pages (the module's own maximum is lowered to it). */
  maxMemoryPages: number;
  /** Nested wasm-to-wasm calls before the contract traps with CallDepthExceeded. */
  maxCallDepth: number;
  /** Largest accepted module, in bytes. */
  maxCodeBytes: number;
}

export const DEFAULT_LIMITS: Readonly<RuntimeLimits> = Object.freeze({
  maxMemoryPages: 256, // 16 MiB
  maxCallDepth: 1024,
  maxCodeBytes: 2 * 1024 * 1024,
});

/** The gas cost table of DESIGN.md section 5. */
export const GAS_COSTS = Object.freeze({
  instruction: 1,
  divRem: 16,
  mul: 4,
  loadStore: 2,
  memoryPage: 8192,
  /** Our addition (DESIGN.md is silent): memory.copy / memory.fill pay 1 per started 32 bytes. */
  bulkBytesPerGas: 32,
});

export interface PreparedCode {
  /** The instrumented module's bytes. */
  wasm: Uint8Array<ArrayBuffer>;
  /** Length of the code as deployed (what the deploy charge is computed from). */
  codeBytes: number;
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
}

export const GLOBAL_EXPORT_PREFIX = "__enigma_global_";

type Op = "plain" | "boundary" | "grow" | "copy" | "fill" | "call" | "callIndirect";

const DIV_REM = new Set([0x6d, 0x6e, 0x6f, 0x70, 0x7f, 0x80, 0x81, 0x82, 0x95, 0xa3]);
const MUL = new Set([0x6c, 0x7e, 0x94, 0xa2]);

function malformed(message: string, details: Record<string, unknown> = {}): EnigmaError {
  return new EnigmaError(ErrorCode.MalformedModule, `malformed secret contract: ${message}`, {
    details,
  });
}

interface FuncType {
  params: number[];
  results: number[];
}

const I32 = 0x7f;
const I64 = 0x7e;

/**
 * Validates a secret contract and returns it instrumented. Throws EnigmaError MalformedModule
 * for anything that is not a valid module importing only the host interface (module `env`,
 * right arity, all i32) and exporting `memory`, `deploy()` and `call()`.
 */
export function prepareCode(
  code: Uint8Array,
  limits: RuntimeLimits = DEFAULT_LIMITS,
): PreparedCode {
  if (code.length > limits.maxCodeBytes) {
    throw malformed(`module of ${code.length} bytes exceeds the ${limits.maxCodeBytes}-byte limit`);
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

  // Types
  const types: FuncType[] = [];
  const tr = reader(SectionId.Type);
  let typeRest: Uint8Array = new Uint8Array();
  if (tr !== undefined) {
    const count = tr.u32();
    typeRest = code.subarray(tr.pos, tr.end);
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

  // Imports: only host functions
  let importedFuncs = 0;
  const ir = reader(SectionId.Import);
  if (ir !== undefined) {
    for (let n = ir.u32(); n > 0; n--) {
      const mod = ir.name();
      const field = ir.name();
      const kind = ir.byte();
      if (kind !== 0)
        throw malformed(`import ${mod}.${field} is not a function`, { import: field });
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
      importedFuncs++;
    }
  }

  // Functions
  const funcTypes: number[] = [];
  const fr = reader(SectionId.Function);
  if (fr !== undefined) for (let n = fr.u32(); n > 0; n--) funcTypes.push(fr.u32());
  const totalFuncs = importedFuncs + funcTypes.length;

  // Memory: exactly one, defined here, capped
  const mr = reader(SectionId.Memory);
  if (mr === undefined || mr.u32() !== 1)
    throw malformed("the module must define exactly one memory");
  const flags = mr.byte();
  if (flags !== 0 && flags !== 1) throw malformed("shared or 64-bit memories are not supported");
  const minPages = mr.u32();
  const maxPages = Math.min(flags === 1 ? mr.u32() : limits.maxMemoryPages, limits.maxMemoryPages);
  if (minPages > maxPages) {
    throw malformed(
      `the memory needs ${minPages} pages, more than the ${limits.maxMemoryPages}-page limit`,
    );
  }

  // Globals (none imported, so new ones are appended at index `globalCount`)
  let globalCount = 0;
  const mutableGlobals: number[] = [];
  let globalRest: Uint8Array = new Uint8Array();
  const gr = reader(SectionId.Global);
  if (gr !== undefined) {
    globalCount = gr.u32();
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
    for (let n = er.u32(); n > 0; n--) {
      const name = er.name();
      exports.set(name, { kind: er.byte(), index: er.u32() });
    }
  }
  for (const name of exports.keys()) {
    if (name.startsWith("__enigma_")) throw malformed(`export name ${name} is reserved`);
  }
  if (exports.get("memory")?.kind !== 2)
    throw malformed("the module must export its memory as `memory`");
  for (const fn of ["deploy", "call"]) {
    const e = exports.get(fn);
    if (e?.kind !== 0) throw malformed(`the module must export a function \`${fn}\``);
    const t =
      e.index < importedFuncs ? undefined : typeOf(funcTypes[e.index - importedFuncs] ?? -1);
    if (t === undefined || t.params.length !== 0 || t.results.length !== 0) {
      throw malformed(`\`${fn}\` must take no parameters and return nothing`);
    }
  }

  // Start function: exported instead, so that it runs metered, after the gas is set
  let start: number | undefined;
  const sr = reader(SectionId.Start);
  if (sr !== undefined) start = sr.u32();

  // Helper functions appended after the module's own
  const growType = types.length;
  const bulkType = types.length + 1;
  const growFn = totalFuncs;
  const copyFn = totalFuncs + 1;
  const fillFn = totalFuncs + 2;
  const ctx: BodyContext = {
    importedFuncs,
    gasGlobal,
    depthGlobal,
    growFn,
    copyFn,
    fillFn,
    maxCallDepth: limits.maxCallDepth,
    reusable: true,
  };

  // Code
  const code2 = new Writer();
  const cr = reader(SectionId.Code);
  const bodies = cr === undefined ? 0 : cr.u32();
  if (bodies !== funcTypes.length) throw malformed("function and code sections disagree");
  code2.u32(bodies + 3);
  if (cr !== undefined) {
    for (let i = 0; i < bodies; i++) {
      const size = cr.u32();
      const body = new Reader(code, cr.pos, cr.pos + size);
      cr.skip(size);
      code2.sized(instrumentBody(body, ctx));
    }
  }
  code2.sized(growHelper(ctx));
  code2.sized(bulkHelper(ctx, 0x0a));
  code2.sized(bulkHelper(ctx, 0x0b));

  // Assemble
  const out = new Writer().bytes(WASM_HEADER);
  const section = (id: number, content: Uint8Array) => out.byte(id).sized(content);
  const raw = (id: number) => {
    const s = byId.get(id);
    if (s !== undefined) section(id, code.subarray(s.start, s.end));
  };
  const typeSec = new Writer().u32(types.length + 2);
  typeSec.bytes(typeRest);
  typeSec.bytes(Uint8Array.of(0x60, 1, I32, 1, I32)); // grow helper: (i32) -> i32
  typeSec.bytes(Uint8Array.of(0x60, 3, I32, I32, I32, 0)); // bulk helper: (i32 i32 i32) -> ()
  section(SectionId.Type, typeSec.finish());
  raw(SectionId.Import);
  const funcSec = new Writer().u32(funcTypes.length + 3);
  for (const t of funcTypes) funcSec.u32(t);
  funcSec.u32(growType).u32(bulkType).u32(bulkType);
  section(SectionId.Function, funcSec.finish());
  raw(SectionId.Table);
  section(SectionId.Memory, new Writer().u32(1).byte(1).u32(minPages).u32(maxPages).finish());
  const globSec = new Writer().u32(globalCount + 2).bytes(globalRest);
  globSec.bytes(Uint8Array.of(I64, 1, 0x42, 0, 0x0b)); // gas left: mut i64 = 0
  globSec.bytes(Uint8Array.of(I32, 1, 0x41, 0, 0x0b)); // call depth: mut i32 = 0
  section(SectionId.Global, globSec.finish());
  const expSec = new Writer();
  const extra: [string, number, number][] = [
    [GAS_EXPORT, 3, gasGlobal],
    [DEPTH_EXPORT, 3, depthGlobal],
  ];
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
  return {
    wasm: out.finish(),
    codeBytes: code.length,
    hasStart: start !== undefined,
    mutableGlobals,
    reusable: ctx.reusable,
  };
}

interface BodyContext {
  importedFuncs: number;
  gasGlobal: number;
  depthGlobal: number;
  growFn: number;
  copyFn: number;
  fillFn: number;
  maxCallDepth: number;
  reusable: boolean;
}

interface Instr {
  start: number;
  end: number;
  op: Op;
  cost: number;
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
  for (let groups = r.u32(); groups > 0; groups--) {
    r.u32();
    r.byte();
  }
  const codeStart = r.pos;
  const instrs = decode(r, ctx);
  const w = new Writer().bytes(r.bytes.subarray(bodyStart, codeStart));
  // A metered segment runs from one control boundary to the next, both included; its cost is
  // charged on entry, so a loop pays on every iteration and a taken branch never pays for
  // the code it skipped.
  let i = 0;
  while (i < instrs.length) {
    let j = i;
    let cost = 0;
    for (;;) {
      const ins = instrs[j] as Instr;
      cost += ins.cost;
      j++;
      if (ins.op === "boundary" || j >= instrs.length) break;
    }
    if (cost > 0) emitCharge(w, ctx, cost);
    for (let k = i; k < j; k++) emitInstr(w, r.bytes, instrs[k] as Instr, ctx);
    i = j;
  }
  return w.finish();
}

function emitInstr(w: Writer, bytes: Uint8Array, ins: Instr, ctx: BodyContext): void {
  switch (ins.op) {
    case "grow":
      w.byte(0x10).u32(ctx.growFn);
      return;
    case "copy":
      w.byte(0x10).u32(ctx.copyFn);
      return;
    case "fill":
      w.byte(0x10).u32(ctx.fillFn);
      return;
    case "call":
    case "callIndirect": {
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

function decode(r: Reader, ctx: BodyContext): Instr[] {
  const out: Instr[] = [];
  let depth = 0;
  while (!r.done) {
    const start = r.pos;
    const opcode = r.byte();
    let op: Op = "plain";
    let cost: number = GAS_COSTS.instruction;
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
          op = "boundary";
          break;
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
          op = "boundary";
          break;
        case 0x05: // else
          op = "boundary";
          cost = 0;
          break;
        case 0x0b: // end
          op = "boundary";
          cost = 0;
          depth--;
          break;
        case 0x0c: // br
        case 0x0d: // br_if
          r.u32();
          op = "boundary";
          break;
        case 0x0e: // br_table
          for (let n = r.u32(); n >= 0; n--) r.u32();
          op = "boundary";
          break;
        case 0x10: {
          const f = r.u32();
          if (f >= ctx.importedFuncs) op = "call";
          break;
        }
        case 0x11:
          r.u32();
          r.u32();
          op = "callIndirect";
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
          cost = GAS_COSTS.loadStore;
          if (sub === 8) {
            r.u32();
            r.u32();
          } else if (sub === 9 || sub === 13 || (sub >= 15 && sub <= 17)) {
            r.u32();
            if (sub !== 16) ctx.reusable = false; // data.drop, elem.drop, table.grow/fill
          } else if (sub === 10) {
            r.u32();
            r.u32();
            op = "copy";
          } else if (sub === 11) {
            r.u32();
            op = "fill";
          } else if (sub === 12 || sub === 14) {
            r.u32();
            r.u32();
            ctx.reusable = false; // table.init, table.copy
          } else {
            throw new WasmFormatError(`unsupported instruction 0xfc ${sub}`);
          }
          break;
        }
        default:
          throw new WasmFormatError(
            `unsupported instruction 0x${opcode.toString(16)} (SIMD, threads, exceptions and tail calls are not allowed)`,
          );
      }
    }
    out.push({ start, end: r.pos, op, cost });
    if (depth < 0) {
      if (r.pos < r.end) throw new WasmFormatError("code after the end of a function body");
      break;
    }
  }
  return out;
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

function growHelper(ctx: BodyContext): Uint8Array {
  const g = ctx.gasGlobal;
  const w = new Writer().u32(0); // no locals
  // gas -= pages * 8192
  w.byte(0x23).u32(g).byte(0x20).byte(0).byte(0xad).byte(0x42).s64(BigInt(GAS_COSTS.memoryPage));
  w.byte(0x7e).byte(0x7d).byte(0x24).u32(g);
  w.byte(0x23).u32(g).byte(0x42).byte(0).byte(0x53).byte(0x04).byte(0x40).byte(0x00).byte(0x0b);
  w.byte(0x20).byte(0).byte(0x40).byte(0).byte(0x0b);
  return w.finish();
}

/** memory.copy (0x0a) or memory.fill (0x0b) charging 1 gas per started 32 bytes. */
function bulkHelper(ctx: BodyContext, sub: 0x0a | 0x0b): Uint8Array {
  const g = ctx.gasGlobal;
  const w = new Writer().u32(0);
  // gas -= (n + 31) >> 5
  w.byte(0x23)
    .u32(g)
    .byte(0x20)
    .byte(2)
    .byte(0xad)
    .byte(0x42)
    .s64(BigInt(GAS_COSTS.bulkBytesPerGas - 1));
  w.byte(0x7c).byte(0x42).s64(5n).byte(0x88).byte(0x7d).byte(0x24).u32(g);
  w.byte(0x23).u32(g).byte(0x42).byte(0).byte(0x53).byte(0x04).byte(0x40).byte(0x00).byte(0x0b);
  w.byte(0x20).byte(0).byte(0x20).byte(1).byte(0x20).byte(2).byte(0xfc).u32(sub);
  if (sub === 0x0a) w.byte(0).byte(0);
  else w.byte(0);
  w.byte(0x0b);
  return w.finish();
}
