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

/** A reader over the call's ABI-encoded arguments. */
export function abiArgs(): AbiReader {
  return new AbiReader(args());
}

/**
 * Ends `call()` for a function the contract does not have: the runtime reports the typed
 * failure UnknownFunction instead of a bare trap.
 */
export function unknownFunction(): void {
  print("__enigma_unknown_function__");
  unreachable();
}

// ---- state: keys are bytes; the string forms use the key's UTF-8 bytes ----

/** Reads a state value by byte key; null when absent (an empty value reads as absent). */
export function readStateAt(key: Uint8Array): Uint8Array | null {
  const len = env.read_state_len(key.dataStart, key.length);
  if (len == 0) return null;
  const out = new Uint8Array(len);
  env.read_state(key.dataStart, key.length, out.dataStart);
  return out;
}

export function writeStateAt(key: Uint8Array, value: Uint8Array): void {
  env.write_state(key.dataStart, key.length, value.dataStart, value.length);
}

export function removeStateAt(key: Uint8Array): void {
  env.remove_from_state(key.dataStart, key.length);
}

/** Reads a state value; null when the key is absent. */
export function readState(key: string): Uint8Array | null {
  return readStateAt(utf8(key));
}

export function writeState(key: string, value: Uint8Array): void {
  writeStateAt(utf8(key), value);
}

export function removeState(key: string): void {
  removeStateAt(utf8(key));
}

/** The key `prefix || id`, for map-like state (balances by address...). */
export function mapKey(prefix: string, id: Uint8Array): Uint8Array {
  const p = utf8(prefix);
  const k = new Uint8Array(p.length + id.length);
  k.set(p);
  k.set(id, p.length);
  return k;
}

/** A u64 kept as 8 big-endian bytes; `fallback` when absent. */
export function readU64State(key: string, fallback: u64 = 0): u64 {
  const v = readState(key);
  return v == null ? fallback : bytesToU64(v);
}

export function writeU64State(key: string, value: u64): void {
  writeState(key, u64ToBytes(value));
}

/** A U256 kept as 32 big-endian bytes; zero when absent. */
export function readU256At(key: Uint8Array): U256 {
  const v = readStateAt(key);
  return v == null ? U256.zero() : U256.fromBytes32(v);
}

export function writeU256At(key: Uint8Array, value: U256): void {
  writeStateAt(key, value.toBytes32());
}

export function readStringState(key: string): string | null {
  const v = readState(key);
  return v == null ? null : String.UTF8.decode(v.buffer);
}

export function writeStringState(key: string, value: string): void {
  writeState(key, utf8(value));
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
