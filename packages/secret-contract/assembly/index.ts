// Helpers over the host interface, so that a secret contract reads like a small program.
import * as env from "./env";

export { env };

function utf8(s: string): ArrayBuffer {
  return String.UTF8.encode(s);
}

/** The called function's signature, for example "add(uint256,uint256)". */
export function functionName(): string {
  const len = env.fetch_function_name_length();
  const buf = new ArrayBuffer(len);
  env.fetch_function_name(changetype<usize>(buf));
  return String.UTF8.decode(buf);
}

/** The raw (ABI-encoded) arguments of the call. */
export function args(): Uint8Array {
  const len = env.fetch_args_length();
  const out = new Uint8Array(len);
  env.fetch_args(out.dataStart);
  return out;
}

/** Reads a state value; null when the key is absent. */
export function readState(key: string): Uint8Array | null {
  const k = utf8(key);
  const len = env.read_state_len(changetype<usize>(k), k.byteLength);
  if (len == 0) return null;
  const out = new Uint8Array(len);
  env.read_state(changetype<usize>(k), k.byteLength, out.dataStart);
  return out;
}

export function writeState(key: string, value: Uint8Array): void {
  const k = utf8(key);
  env.write_state(changetype<usize>(k), k.byteLength, value.dataStart, value.length);
}

export function removeState(key: string): void {
  const k = utf8(key);
  env.remove_from_state(changetype<usize>(k), k.byteLength);
}

/** Sets the call's output (the host encrypts it to the user). */
export function ret(value: Uint8Array): void {
  env.ret(value.dataStart, value.length);
}

/** Debug print, shown in the node's log (never to the user). */
export function print(message: string): void {
  const m = utf8(message);
  env.eprint(changetype<usize>(m), m.byteLength);
}

/** A u64 as 8 big-endian bytes, and back. */
export function u64ToBytes(v: u64): Uint8Array {
  const out = new Uint8Array(8);
  for (let i = 7; i >= 0; i--) {
    out[i] = <u8>(v & 0xff);
    v >>= 8;
  }
  return out;
}

export function bytesToU64(b: Uint8Array): u64 {
  let v: u64 = 0;
  for (let i = 0; i < b.length; i++) v = (v << 8) | (<u64>b[i]);
  return v;
}
