// `enigma sc compile` and `enigma sc exec`: secret contracts on this machine, no network. exec
// deploys into a throwaway (or, with --state-dir, persistent) local enclave context and shows
// the output, the gas and the state delta in plaintext: this is a simulation, showing it is
// the point.
import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import {
  LocalContract,
  ThreadExecutor,
  inspectContract,
  type ContractInspection,
  type ExecutionResult,
  type TaskOutcome,
} from "@enigma/enclave";
import {
  EnigmaError,
  ErrorCode,
  isEnigmaError,
  bytesToHex,
  decodeValues,
  encodeArgs,
  equalBytes,
  keccak256,
  parseFunctionSignature,
} from "@enigma/protocol";
import { compileSecretContract } from "@enigma/secret-contract";
import type { Command } from "commander";
import type { CliIo } from "./main.js";

function bad(message: string, details: Record<string, unknown> = {}): EnigmaError {
  return new EnigmaError(ErrorCode.InvalidArgument, message, { details });
}

/**
 * ABI-encodes a JSON array of arguments for `signature`; returns the canonical signature and
 * the parsed values too.
 */
export function encodeJsonArgs(
  signature: string,
  json: string,
): { fn: string; args: Uint8Array; values: unknown[] } {
  const sig = parseFunctionSignature(signature);
  let values: unknown;
  try {
    values = JSON.parse(json);
  } catch {
    throw bad(`bad args for ${sig.signature}: not JSON`);
  }
  if (!Array.isArray(values)) throw bad(`bad args for ${sig.signature}: expected a JSON array`);
  try {
    return { fn: sig.signature, args: encodeArgs(sig, values), values };
  } catch (e) {
    throw bad(`bad args for ${sig.signature}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** bigints as decimal strings, for JSON. */
export function jsonValue(v: unknown): unknown {
  if (typeof v === "bigint") return v.toString();
  if (Array.isArray(v)) return v.map(jsonValue);
  return v;
}

/** Printable ASCII as a JSON string, anything else as hex. */
export function printable(b: Uint8Array): string {
  const text = new TextDecoder("utf-8", { fatal: false }).decode(b);
  return /^[\x20-\x7e]+$/.test(text) ? JSON.stringify(text) : bytesToHex(b);
}

interface ExecOptions {
  wasm: string;
  fn?: string;
  args: string;
  ctor: string;
  ctorArgs: string;
  returns?: string;
  gasLimit: number;
  stateDir?: string;
  seed?: string;
  json?: boolean;
}

function describeResult(
  label: string,
  outcome: TaskOutcome,
  returns: readonly string[] | undefined,
): Record<string, unknown> {
  const r: ExecutionResult = outcome.result;
  const base: Record<string, unknown> = { task: label, ok: r.ok, gasUsed: r.gasUsed };
  if (!r.ok) return { ...base, error: r.error, logs: r.logs };
  let decoded: unknown;
  if (returns !== undefined) {
    try {
      decoded = jsonValue(decodeValues(returns, r.output));
    } catch {
      decoded = undefined;
    }
  }
  return {
    ...base,
    output: bytesToHex(r.output),
    ...(decoded === undefined ? {} : { decoded }),
    delta:
      outcome.delta === null
        ? null
        : {
            index: outcome.delta.index,
            hash: bytesToHex(outcome.delta.hash),
            changes: r.changes.map((c) => ({
              key: bytesToHex(c.key),
              keyText: printable(c.key),
              value: c.value === null ? null : bytesToHex(c.value),
            })),
          },
    ethCall:
      r.ethCall === null
        ? null
        : { address: bytesToHex(r.ethCall.address), payload: bytesToHex(r.ethCall.payload) },
    logs: r.logs,
  };
}

function printHuman(io: CliIo, d: Record<string, unknown>): void {
  const line = (k: string, v: string) => {
    io.out(`${k.padEnd(10)} ${v}\n`);
  };
  line("task", String(d["task"]));
  if (d["ok"] !== true) {
    const e = d["error"] as { name: string; code: number; message: string };
    line("status", `FAILED ${e.name} (${e.code}): ${e.message}`);
    line("gas used", String(d["gasUsed"]));
    return;
  }
  line("status", "ok");
  if (d["decoded"] !== undefined) line("output", JSON.stringify(d["decoded"]));
  else line("output", String(d["output"]));
  line("gas used", String(d["gasUsed"]));
  const delta = d["delta"] as {
    index: number;
    hash: string;
    changes: { keyText: string; value: string | null }[];
  } | null;
  if (delta === null) {
    line("delta", "(none)");
  } else {
    line(
      "delta",
      `#${delta.index} ${delta.hash}${delta.changes.length === 0 ? " (no changes)" : ""}`,
    );
    for (const c of delta.changes) {
      io.out(`  ${c.keyText} ${c.value === null ? "(removed)" : `= ${c.value}`}\n`);
    }
  }
  const eth = d["ethCall"] as { address: string; payload: string } | null;
  if (eth !== null) line("eth call", `${eth.address} ${eth.payload}`);
  for (const l of d["logs"] as string[]) line("log", l);
}

/** Reads a compiled contract; InvalidArgument when unreadable or not WebAssembly. */
export async function readWasm(path: string): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (e) {
    const code = (e as { code?: string }).code ?? "unreadable";
    throw bad(`cannot read ${path}: ${code}`);
  }
  if (bytes.length < 8 || !equalBytes(bytes.subarray(0, 4), Uint8Array.of(0, 0x61, 0x73, 0x6d))) {
    throw bad(`${path} is not a WebAssembly module`);
  }
  return bytes;
}

async function exec(io: CliIo, opts: ExecOptions): Promise<number> {
  const code = await readWasm(opts.wasm);
  const call = opts.fn === undefined ? undefined : encodeJsonArgs(opts.fn, opts.args);
  const ctor = encodeJsonArgs(opts.ctor, opts.ctorArgs);
  const returns =
    opts.returns === undefined ? undefined : parseFunctionSignature(`r(${opts.returns})`).types;
  const seed =
    opts.seed === undefined ? randomBytes(32) : keccak256(new TextEncoder().encode(opts.seed));
  // The contract runs as on a worker: in an execution thread, under a deadline.
  const executor = new ThreadExecutor({ threads: 1 });
  try {
    if (opts.stateDir !== undefined) await mkdir(opts.stateDir, { recursive: true });
    // The state key is made and kept (sealed) inside the enclave package.
    const local = await LocalContract.open(
      code,
      executor,
      opts.stateDir === undefined ? {} : { dir: opts.stateDir },
    ).catch((e: unknown) => {
      if (isEnigmaError(e)) throw e;
      throw bad(
        `cannot read ${opts.stateDir ?? ""}: ${e instanceof Error ? e.message : String(e)}`,
      );
    });
    const reports: Record<string, unknown>[] = [];
    if (!local.deployed) {
      const outcome = await local.deploy({
        functionName: ctor.fn,
        args: ctor.args,
        gasLimit: opts.gasLimit,
        seed,
      });
      reports.push(describeResult(`deploy ${ctor.fn}`, outcome, undefined));
    }
    if (local.deployed && call !== undefined) {
      const outcome = await local.run({
        functionName: call.fn,
        args: call.args,
        gasLimit: opts.gasLimit,
        seed,
      });
      reports.push(describeResult(`call ${call.fn}`, outcome, returns));
    }
    if (local.deployed) await local.save();
    if (opts.json === true) {
      io.out(`${JSON.stringify(reports)}\n`);
    } else {
      reports.forEach((r, i) => {
        if (i > 0) io.out("\n");
        printHuman(io, r);
      });
    }
    const failed = reports.find((r) => r["ok"] !== true);
    if (failed !== undefined) {
      const e = failed["error"] as { name: string; code: number; message: string };
      io.err(`enigma: ${String(failed["task"])} failed: ${e.name} (${e.code}): ${e.message}\n`);
      return 2;
    }
    return 0;
  } finally {
    await executor.close();
  }
}

/** `enigma sc inspect`: what the module is and whether the runtime runs it. */
async function inspect(io: CliIo, file: string, opts: { json?: boolean }): Promise<number> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(file));
  } catch (e) {
    const code = (e as { code?: string }).code ?? "unreadable";
    throw bad(`cannot read ${file}: ${code}`);
  }
  if (bytes.length < 8 || !equalBytes(bytes.subarray(0, 4), Uint8Array.of(0, 0x61, 0x73, 0x6d))) {
    throw bad(`${file} is not a WebAssembly module`);
  }
  const r: ContractInspection = inspectContract(bytes);
  if (opts.json === true) {
    io.out(`${JSON.stringify({ file, codeHash: bytesToHex(keccak256(bytes)), ...r })}\n`);
  } else {
    const line = (k: string, v: string) => {
      io.out(`${k.padEnd(10)} ${v}\n`);
    };
    line("file", file);
    line("size", `${r.bytes} bytes`);
    line("code hash", bytesToHex(keccak256(bytes)));
    line(
      "interface",
      r.interface === "none"
        ? "not a secret contract of Discovery's interface (it needs an exported call() and only env imports)"
        : `${r.interface}: Discovery's host interface`,
    );
    if (r.memory !== undefined) {
      line(
        "memory",
        `${r.memory.initialPages} pages${r.memory.imported ? " (imported as env.memory)" : ""}`,
      );
    }
    line("imports", r.imports.length === 0 ? "(none)" : "");
    for (const i of r.imports) {
      io.out(
        `  ${i.module}.${i.name} (${i.kind})${i.hostFunction || i.kind === "memory" ? "" : "  <- not served by the runtime"}\n`,
      );
    }
    line("exports", r.exports.length === 0 ? "(none)" : "");
    for (const e of r.exports) io.out(`  ${e.name} (${e.kind})\n`);
    line(
      "verdict",
      r.accepted
        ? "the runtime deploys it"
        : `refused: ${r.refusal?.message ?? "unknown"} (code ${String(r.refusal?.code)})`,
    );
  }
  return r.accepted ? 0 : 2;
}

/** Compiles an AssemblyScript contract; InvalidArgument with the first compiler error. */
export async function compileFile(file: string): Promise<Uint8Array> {
  const { wasm } = await compileSecretContract(file).catch((e: unknown) => {
    const msg = e instanceof Error ? e.message : String(e);
    const first = msg.split("\n").find((l) => /ERROR|ENOENT/.test(l)) ?? msg.split("\n")[0];
    throw bad(`cannot compile ${file}: ${(first ?? "").trim()}`);
  });
  return wasm;
}

function gasArg(value: string): number {
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw bad("--gas-limit must be a whole number");
  }
  return Number(value);
}

/** Adds `sc compile` and `sc exec` to the program; `setExit` records a non-zero exit code. */
export function registerSc(program: Command, io: CliIo, setExit: (code: number) => void): void {
  const sc = program.command("sc").description("secret contracts on this machine").exitOverride();
  sc.command("compile")
    .description("compile an AssemblyScript secret contract to WebAssembly")
    .argument("<file.ts>", "contract source")
    .option("-o, --out <file>", "output file (default: the source name with .wasm)")
    .exitOverride()
    .action(async (file: string, opts: { out?: string }) => {
      const wasm = await compileFile(file);
      const out = resolve(
        opts.out ?? join(dirname(file), `${basename(file).replace(/\.ts$/, "")}.wasm`),
      );
      await mkdir(dirname(out), { recursive: true });
      await writeFile(out, wasm);
      io.out(`wrote ${out} (${wasm.length} bytes)\n`);
    });
  sc.command("inspect")
    .description(
      "show a module's imports, exports and size, the interface it expects, and whether the runtime runs it",
    )
    .argument("<file.wasm>", "compiled contract")
    .option("--json", "print JSON only")
    .exitOverride()
    .action(async (file: string, opts: { json?: boolean }) => {
      setExit(await inspect(io, file, opts));
    });
  sc.command("exec")
    .description("deploy a contract into a local enclave and run one call")
    .requiredOption("--wasm <file>", "compiled contract")
    .option("--fn <signature>", "function to call, e.g. 'add(uint256,uint256)'")
    .option("--args <json>", "JSON array of arguments", "[]")
    .option("--ctor <signature>", "constructor signature", "construct()")
    .option("--ctor-args <json>", "JSON array of constructor arguments", "[]")
    .option("--returns <types>", "output types to decode, e.g. 'uint256' or 'bool,address'")
    .option("--gas-limit <n>", "gas limit per task", gasArg, 10_000_000)
    .option("--state-dir <dir>", "keep the contract and its deltas here across runs")
    .option("--seed <text>", "seed for rand (reproducible runs)")
    .option("--json", "print JSON only")
    .exitOverride()
    .action(async (opts: ExecOptions) => {
      setExit(await exec(io, opts));
    });
}
