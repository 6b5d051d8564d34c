// Hand-assembled modules for the runtime's tests: exact instruction sequences, so gas can be
// asserted to the unit. Test support only (not exported from the package).
import { Writer } from "./wasm-binary.js";

export interface TestModuleSpec {
  /** Body of `deploy` (instructions only, without the final `end`). */
  deploy?: number[];
  /** Body of `call`. */
  call?: number[];
  /** Extra functions of type () -> (), indices after deploy (0 + imports) and call. */
  extra?: number[][];
  /** Host imports of type () -> () ... use only with care; default none. */
  imports?: { name: string; params: number; results: number }[];
  memoryPages?: number;
  maxPages?: number;
  exportMemory?: boolean;
  /** i32 locals of `call`. */
  callLocals?: number;
  /** Mutable i32 globals, initialised to 0. */
  globals?: number;
}

export function testModule(spec: TestModuleSpec): Uint8Array<ArrayBuffer> {
  const imports = spec.imports ?? [];
  const w = new Writer().bytes(Uint8Array.of(0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0));
  const section = (id: number, c: Writer) => w.byte(id).sized(c.finish());
  // types: 0 = () -> (), then one per import
  const types = new Writer().u32(1 + imports.length).bytes(Uint8Array.of(0x60, 0, 0));
  for (const i of imports) {
    types.byte(0x60).u32(i.params);
    for (let p = 0; p < i.params; p++) types.byte(0x7f);
    types.u32(i.results);
    for (let r = 0; r < i.results; r++) types.byte(0x7f);
  }
  section(1, types);
  if (imports.length > 0) {
    const imp = new Writer().u32(imports.length);
    imports.forEach((i, n) =>
      imp
        .name("env")
        .name(i.name)
        .byte(0)
        .u32(n + 1),
    );
    section(2, imp);
  }
  const bodies = [spec.deploy ?? [], spec.call ?? [], ...(spec.extra ?? [])];
  const funcs = new Writer().u32(bodies.length);
  for (let i = 0; i < bodies.length; i++) funcs.u32(0);
  section(3, funcs);
  const mem = new Writer().u32(1);
  if (spec.maxPages === undefined) mem.byte(0).u32(spec.memoryPages ?? 1);
  else
    mem
      .byte(1)
      .u32(spec.memoryPages ?? 1)
      .u32(spec.maxPages);
  section(5, mem);
  if ((spec.globals ?? 0) > 0) {
    const g = new Writer().u32(spec.globals ?? 0);
    for (let i = 0; i < (spec.globals ?? 0); i++) g.bytes(Uint8Array.of(0x7f, 1, 0x41, 0, 0x0b));
    section(6, g);
  }
  const exp = new Writer();
  const entries: [string, number, number][] = [
    ["deploy", 0, imports.length],
    ["call", 0, imports.length + 1],
  ];
  if (spec.exportMemory !== false) entries.push(["memory", 2, 0]);
  exp.u32(entries.length);
  for (const [name, kind, index] of entries) exp.name(name).byte(kind).u32(index);
  section(7, exp);
  const code = new Writer().u32(bodies.length);
  bodies.forEach((b, i) => {
    const locals = i === 1 && (spec.callLocals ?? 0) > 0 ? [1, spec.callLocals ?? 0, 0x7f] : [0];
    code.sized(new Writer().bytes(Uint8Array.from([...locals, ...b, 0x0b])).finish());
  });
  section(10, code);
  return w.finish();
}
