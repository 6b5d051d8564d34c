// Helpers over the host interface, so that a secret contract reads like a small program.
import * as env from "./env";
import { AbiReader, AbiWriter } from "./abi";
import { U256, readU64, writeU64 } from "./u256";

export { env };
export { AbiReader, AbiWriter } from "./abi";
export { U256 } from "./u256";
export { keccak256, selector } from "./keccak";

function utf8(s: string): Uint8Array {
  return Uint8Array.wrap(String.UTF8.encode(s));
}

/**
 * The called function's name: the text before `(` of the signature the user called, e.g. `add`
 * for `add(uint256,uint256)` (Discovery's runtime hands only the name; eng-wasm's `call()`
 * dispatches on it).
 */
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

/** A reader over the call's ABI-encoded arguments. */
export function abiArgs(): AbiReader {
  return new AbiReader(args());
}

/**
 * Ends `call()` for a function the contract does not have: the runtime reports the typed
 * failure UnknownFunction instead of a bare trap (eng-wasm contracts just panic).
 */
export function unknownFunction(): void {
  print("__enigma_unknown_function__");
  unreachable();
}

// ---- state: keys are text, values are JSON (as eng-wasm's serde_json values) ----

/**
 * The value of `key` as JSON text, as the runtime keeps it (canonical serde_json: no spaces,
 * object keys sorted); null when the key is absent (the runtime reads it as `null`).
 */
export function readStateJson(key: string): string | null {
  const k = utf8(key);
  const len = env.read_state_len(k.dataStart, k.length);
  const out = new Uint8Array(len);
  env.read_state(k.dataStart, k.length, out.dataStart);
  const text = String.UTF8.decode(out.buffer);
  return text == "null" ? null : text;
}

/** Writes JSON text under `key`; the runtime fails the task when it is not JSON. */
export function writeStateJson(key: string, json: string): void {
  const k = utf8(key);
  const v = utf8(json);
  env.write_state(k.dataStart, k.length, v.dataStart, v.length);
}

export function removeState(key: string): void {
  const k = utf8(key);
  env.remove_from_state(k.dataStart, k.length);
}

/** True when `key` holds a value. */
export function hasState(key: string): bool {
  return readStateJson(key) != null;
}

/** The key `prefix || hex(id)`, for map-like state (balances by address...). */
export function mapKey(prefix: string, id: Uint8Array): string {
  return prefix + toHex(id).slice(2);
}

/** A u64 kept as a JSON number (serde's u64); `fallback` when absent. */
export function readU64State(key: string, fallback: u64 = 0): u64 {
  const v = readStateJson(key);
  return v == null ? fallback : parseU64(v);
}

export function writeU64State(key: string, value: u64): void {
  writeStateJson(key, value.toString());
}

/** A U256 kept as ethereum-types' serde form: `"0x"` and minimal lowercase hex; zero when absent. */
export function readU256State(key: string): U256 {
  const v = readStateJson(key);
  return v == null ? U256.zero() : U256.fromBytes32(hexToBytes32(parseString(v)));
}

export function writeU256State(key: string, value: U256): void {
  writeStateJson(key, quote(u256Hex(value)));
}

/** Bytes kept as a `"0x..."` hex string (ethereum-types' H160/H256 form); null when absent. */
export function readBytesState(key: string): Uint8Array | null {
  const v = readStateJson(key);
  return v == null ? null : fromHex(parseString(v));
}

export function writeBytesState(key: string, value: Uint8Array): void {
  writeStateJson(key, quote(toHex(value)));
}

export function readStringState(key: string): string | null {
  const v = readStateJson(key);
  return v == null ? null : parseString(v);
}

export function writeStringState(key: string, value: string): void {
  writeStateJson(key, quote(value));
}

/** A bool kept as JSON `true`/`false`; `fallback` when absent. */
export function readBoolState(key: string, fallback: bool = false): bool {
  const v = readStateJson(key);
  if (v == null) return fallback;
  if (v == "true") return true;
  if (v == "false") return false;
  unreachable();
  return false;
}

export function writeBoolState(key: string, value: bool): void {
  writeStateJson(key, value ? "true" : "false");
}

// ---- JSON and hex ----

/** A JSON integer (what serde writes for a u64); traps on anything else. */
export function parseU64(json: string): u64 {
  if (json.length == 0 || json.length > 20) unreachable();
  let v: u64 = 0;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (c < 48 || c > 57) unreachable();
    const next = v * 10 + <u64>(c - 48);
    if (next < v) unreachable();
    v = next;
  }
  return v;
}

/** A JSON string literal, escaped as serde_json escapes it. */
export function quote(s: string): string {
  let plain = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c == 0x22 || c == 0x5c) {
      plain = false;
      break;
    }
  }
  if (plain) return '"' + s + '"'; // the common case (keys, hex): no escapes
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c == 0x22) out += '\\"';
    else if (c == 0x5c) out += "\\\\";
    else if (c == 0x0a) out += "\\n";
    else if (c == 0x0d) out += "\\r";
    else if (c == 0x09) out += "\\t";
    else if (c == 0x08) out += "\\b";
    else if (c == 0x0c) out += "\\f";
    else if (c < 0x20) out += "\\u00" + HEX.charAt(c >> 4) + HEX.charAt(c & 15);
    else out += String.fromCharCode(c);
  }
  return out + '"';
}

/** The value of a JSON string literal; traps when `json` is not one. */
export function parseString(json: string): string {
  if (json.length < 2 || json.charCodeAt(0) != 0x22 || json.charCodeAt(json.length - 1) != 0x22) {
    unreachable();
  }
  const inner = json.substring(1, json.length - 1);
  if (inner.indexOf("\\") < 0) return inner; // the common case: no escapes
  let out = "";
  for (let i = 0; i < inner.length; i++) {
    const c = inner.charCodeAt(i);
    if (c != 0x5c) {
      out += String.fromCharCode(c);
      continue;
    }
    i++;
    const e = inner.charCodeAt(i);
    if (e == 0x6e) out += "\n";
    else if (e == 0x72) out += "\r";
    else if (e == 0x74) out += "\t";
    else if (e == 0x62) out += "\b";
    else if (e == 0x66) out += "\f";
    else if (e == 0x75) {
      out += String.fromCharCode(<i32>parseHex(inner.substring(i + 1, i + 5)));
      i += 4;
    } else out += String.fromCharCode(e); // \" \\ \/
  }
  return out;
}

const HEX = "0123456789abcdef";

/** `"0x"` and two lowercase hex digits per byte. */
export function toHex(b: Uint8Array): string {
  const out = new Uint8Array(2 + 2 * b.length);
  out[0] = 48;
  out[1] = 120;
  for (let i = 0; i < b.length; i++) {
    out[2 + 2 * i] = <u8>HEX.charCodeAt(b[i] >> 4);
    out[3 + 2 * i] = <u8>HEX.charCodeAt(b[i] & 15);
  }
  return String.UTF8.decode(out.buffer);
}

function hexDigit(c: i32): i32 {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  unreachable();
  return 0;
}

function parseHex(s: string): u64 {
  let v: u64 = 0;
  for (let i = 0; i < s.length; i++) v = (v << 4) | (<u64>hexDigit(s.charCodeAt(i)));
  return v;
}

/** Bytes from `"0x"` and an even number of hex digits. */
export function fromHex(s: string): Uint8Array {
  if (s.length < 2 || s.charCodeAt(0) != 48 || s.charCodeAt(1) != 120 || s.length % 2 != 0) {
    unreachable();
  }
  const out = new Uint8Array((s.length - 2) / 2);
  for (let i = 0; i < out.length; i++) {
    out[i] = <u8>((hexDigit(s.charCodeAt(2 + 2 * i)) << 4) | hexDigit(s.charCodeAt(3 + 2 * i)));
  }
  return out;
}

/** A U256 as ethereum-types writes it: `"0x"` and minimal hex (`0x0` for zero). */
export function u256Hex(v: U256): string {
  const full = toHex(v.toBytes32()).slice(2);
  let i = 0;
  while (i < 63 && full.charCodeAt(i) == 48) i++;
  return "0x" + full.slice(i);
}

function hexToBytes32(s: string): Uint8Array {
  if (s.length < 3 || s.length > 66 || s.charCodeAt(0) != 48 || s.charCodeAt(1) != 120) {
    unreachable();
  }
  const digits = s.slice(2);
  const out = new Uint8Array(32);
  for (let i = 0; i < digits.length; i++) {
    const pos = 64 - digits.length + i; // nibble position from the left
    const d = <u8>hexDigit(digits.charCodeAt(i));
    out[pos >> 1] |= pos & 1 ? d : d << 4;
  }
  return out;
}

// ---- output ----

/** Sets the call's output (the host encrypts it to the user). */
export function ret(value: Uint8Array): void {
  env.ret(value.dataStart, value.length);
}

/** Sets the output to an ABI encoding built with an AbiWriter. */
export function retAbi(w: AbiWriter): void {
  ret(w.finish());
}

/** Debug print, shown in the node's log (never to the user). */
export function print(message: string): void {
  const m = utf8(message);
  env.eprint(m.dataStart, m.length);
}

// ---- randomness, crypto, Ethereum ----

/** `n` random bytes from the enclave (reproducible only with the devnet's seed). */
export function randomBytes(n: i32): Uint8Array {
  const out = new Uint8Array(n);
  env.rand(out.dataStart, n);
  return out;
}

export function randomU64(): u64 {
  return readU64(randomBytes(8), 0);
}

/** AES-256-GCM under a 32-byte key; result is ciphertext || tag(16) || iv(12). */
export function encryptWith(key: Uint8Array, message: Uint8Array): Uint8Array {
  if (key.length != 32) unreachable();
  const out = new Uint8Array(message.length + 28);
  env.encrypt(message.dataStart, message.length, key.dataStart, out.dataStart);
  return out;
}

/** Inverse of encryptWith; the task fails when the key is wrong or the data was changed. */
export function decryptWith(key: Uint8Array, cipher: Uint8Array): Uint8Array {
  if (key.length != 32 || cipher.length < 28) unreachable();
  const out = new Uint8Array(cipher.length - 28);
  env.decrypt(cipher.dataStart, cipher.length, key.dataStart, out.dataStart);
  return out;
}

/**
 * Asks for one Ethereum call, made by the Enigma contract when the receipt is committed:
 * `calldata = selector || abi.encode(args)`. At most one per task.
 */
export function callEthereum(address: Uint8Array, selector4: Uint8Array, argsAbi: AbiWriter): void {
  if (address.length != 20 || selector4.length != 4) unreachable();
  const body = argsAbi.finish();
  const payload = new Uint8Array(4 + body.length);
  payload.set(selector4);
  payload.set(body, 4);
  env.write_eth_bridge(payload.dataStart, payload.length, address.dataStart);
}

// ---- bytes ----

/** A u64 as 8 big-endian bytes, and back. */
export function u64ToBytes(v: u64): Uint8Array {
  const out = new Uint8Array(8);
  writeU64(out, 0, v);
  return out;
}

export function bytesToU64(b: Uint8Array): u64 {
  let v: u64 = 0;
  for (let i = 0; i < b.length; i++) v = (v << 8) | (<u64>b[i]);
  return v;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): bool {
  if (a.length != b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] != b[i]) return false;
  return true;
}
