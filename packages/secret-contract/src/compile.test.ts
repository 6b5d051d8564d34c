import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CONTRACT_EXPORTS, HOST_FUNCTIONS, type HostFunction } from "@enigma/protocol";
import { beforeAll, describe, expect, it } from "vitest";
import { compileSecretContract } from "./compile.js";
import { exampleSourcePath } from "./examples.js";

let module: WebAssembly.Module;

beforeAll(async () => {
  const { wasm } = await compileSecretContract(exampleSourcePath("counter"));
  module = await WebAssembly.compile(wasm);
}, 60_000);

/**
 * A minimal host: enough of Discovery's interface to run the example (the enclave has the real
 * one): the function's name before "(", state values as JSON text, `null` for a missing key.
 */
function instantiate(state: Map<string, Uint8Array>, fn: string) {
  let memory: WebAssembly.Memory | undefined = undefined;
  let output: Uint8Array | undefined;
  const mem = () => new Uint8Array((memory as WebAssembly.Memory).buffer);
  const key = (p: number, n: number) => new TextDecoder().decode(mem().slice(p, p + n));
  const fnBytes = new TextEncoder().encode(fn.split("(")[0]);
  const NULL = new TextEncoder().encode("null");
  const none = (): undefined => undefined;
  const host: Record<HostFunction, (...a: number[]) => unknown> = {
    write_state: (k, kl, v, vl) => {
      state.set(key(k, kl), mem().slice(v, v + vl));
    },
    read_state_len: (k, kl) => (state.get(key(k, kl)) ?? NULL).length,
    read_state: (k, kl, out) => {
      mem().set(state.get(key(k, kl)) ?? NULL, out);
    },
    remove_from_state: (k, kl) => {
      state.delete(key(k, kl));
    },
    eprint: none,
    fetch_function_name_length: () => fnBytes.length,
    fetch_function_name: (out) => {
      mem().set(fnBytes, out);
    },
    fetch_args_length: () => 0,
    fetch_args: none,
    write_eth_bridge: none,
    gas: none,
    ret: (p, n) => {
      output = mem().slice(p, p + n);
    },
    rand: none,
    encrypt: none,
    decrypt: none,
  };
  const instance = new WebAssembly.Instance(module, { env: host });
  memory = instance.exports["memory"] as WebAssembly.Memory;
  return { exports: instance.exports as Record<string, () => void>, output: () => output };
}

describe("compileSecretContract", () => {
  it("produces a module that imports only the host interface and exports memory, deploy, call", () => {
    for (const imp of WebAssembly.Module.imports(module)) {
      expect(imp.module).toBe("env");
      expect(Object.keys(HOST_FUNCTIONS)).toContain(imp.name);
      expect(imp.kind).toBe("function");
    }
    const exported = WebAssembly.Module.exports(module).map((e) => e.name);
    for (const name of CONTRACT_EXPORTS) expect(exported).toContain(name);
  });

  it("runs the counter: state persists across calls through the host", () => {
    const state = new Map<string, Uint8Array>();
    instantiate(state, "construct()").exports["deploy"]?.();
    // the count is kept as JSON, as eng-wasm keeps a u64
    expect(new TextDecoder().decode(state.get("count"))).toBe("0");
    for (let i = 1; i <= 3; i++) {
      const run = instantiate(state, "increment()");
      run.exports["call"]?.();
      expect(run.output()).toEqual(Uint8Array.of(0, 0, 0, 0, 0, 0, 0, i));
    }
    const get = instantiate(state, "get()");
    get.exports["call"]?.();
    expect(get.output()?.at(-1)).toBe(3);
    expect(new TextDecoder().decode(state.get("count"))).toBe("3");
  });

  it("traps on an unknown function rather than returning garbage", () => {
    const run = instantiate(new Map(), "nope()");
    expect(() => run.exports["call"]?.()).toThrow(WebAssembly.RuntimeError);
  });

  it("reports compiler diagnostics for a broken contract and a missing file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "sc-"));
    const bad = join(dir, "bad.ts");
    await writeFile(bad, "export function deploy(): void { let x: i32 = 'str'; }\n");
    await expect(compileSecretContract(bad)).rejects.toThrow(
      /cannot compile .*bad\.ts[\s\S]*TS2322/,
    );
    await expect(compileSecretContract(join(dir, "missing.ts"))).rejects.toThrow(/ENOENT/);
  }, 60_000);
});
