// Solidity ABI decoding of arguments and encoding of outputs for the common types: uint256
// (U256, or u64 where the value fits: decoding traps when it does not), bool, address
// (20 bytes), bytes32, and the dynamic bytes, string and uint256[]. Malformed input traps.
import { U256, readU64, writeU64 } from "./u256";

/** Reads ABI-encoded values in order, like abi.decode. */
export class AbiReader {
  private data: Uint8Array;
  private pos: i32 = 0;

  constructor(data: Uint8Array) {
    this.data = data;
  }

  private word(at: i32): i32 {
    if (at < 0 || at + 32 > this.data.length) unreachable(); // truncated arguments
    return at;
  }

  private next(): i32 {
    const at = this.word(this.pos);
    this.pos += 32;
    return at;
  }

  /** A head word that must be a small integer (offsets, lengths). */
  private smallAt(at: i32): i32 {
    for (let i = 0; i < 28; i++) if (this.data[at + i] != 0) unreachable();
    const v = <u32>readU64(this.data, at + 24);
    if (v > <u32>this.data.length) unreachable();
    return <i32>v;
  }

  u256(): U256 {
    return U256.fromBytes32(this.data, this.next());
  }

  /** A uint256 that must fit in u64 (traps otherwise). */
  u64(): u64 {
    return this.u256().toU64();
  }

  bool(): bool {
    const v = this.u64();
    if (v > 1) unreachable();
    return v == 1;
  }

  /** 20 bytes; traps when the upper 12 bytes are not zero. */
  address(): Uint8Array {
    const at = this.next();
    for (let i = 0; i < 12; i++) if (this.data[at + i] != 0) unreachable();
    return this.data.slice(at + 12, at + 32);
  }

  bytes32(): Uint8Array {
    const at = this.next();
    return this.data.slice(at, at + 32);
  }

  bytes(): Uint8Array {
    const offset = this.smallAt(this.next());
    const lenAt = this.word(offset);
    const len = this.smallAt(lenAt);
    if (lenAt + 32 + len > this.data.length) unreachable();
    return this.data.slice(lenAt + 32, lenAt + 32 + len);
  }

  string(): string {
    return String.UTF8.decode(this.bytes().buffer);
  }

  u256Array(): Array<U256> {
    const offset = this.smallAt(this.next());
    const lenAt = this.word(offset);
    const len = this.smallAt(lenAt);
    const out = new Array<U256>(len);
    for (let i = 0; i < len; i++)
      out[i] = U256.fromBytes32(this.data, this.word(lenAt + 32 + i * 32));
    return out;
  }
}

/** Builds an ABI encoding (abi.encode), static heads first, dynamic tails after. */
export class AbiWriter {
  private heads: Array<Uint8Array> = [];
  // tails[i] is non-null for a dynamic value at head i
  private tails: Array<Uint8Array | null> = [];

  private head(w: Uint8Array): AbiWriter {
    this.heads.push(w);
    this.tails.push(null);
    return this;
  }

  private tail(t: Uint8Array): AbiWriter {
    this.heads.push(new Uint8Array(32));
    this.tails.push(t);
    return this;
  }

  u256(v: U256): AbiWriter {
    return this.head(v.toBytes32());
  }

  u64(v: u64): AbiWriter {
    return this.head(U256.fromU64(v).toBytes32());
  }

  bool(v: bool): AbiWriter {
    return this.u64(v ? 1 : 0);
  }

  address(a: Uint8Array): AbiWriter {
    if (a.length != 20) unreachable();
    const w = new Uint8Array(32);
    w.set(a, 12);
    return this.head(w);
  }

  bytes32(b: Uint8Array): AbiWriter {
    if (b.length != 32) unreachable();
    return this.head(b.slice(0));
  }

  bytes(b: Uint8Array): AbiWriter {
    const padded = (b.length + 31) & ~31;
    const t = new Uint8Array(32 + padded);
    writeU64(t, 24, <u64>b.length);
    t.set(b, 32);
    return this.tail(t);
  }

  string(s: string): AbiWriter {
    return this.bytes(Uint8Array.wrap(String.UTF8.encode(s)));
  }

  u256Array(values: Array<U256>): AbiWriter {
    const t = new Uint8Array(32 + 32 * values.length);
    writeU64(t, 24, <u64>values.length);
    for (let i = 0; i < values.length; i++) t.set(values[i].toBytes32(), 32 + 32 * i);
    return this.tail(t);
  }

  finish(): Uint8Array {
    let size = 32 * this.heads.length;
    for (let i = 0; i < this.tails.length; i++) {
      const t = this.tails[i];
      if (t != null) size += t!.length;
    }
    const out = new Uint8Array(size);
    let tailPos = 32 * this.heads.length;
    for (let i = 0; i < this.heads.length; i++) {
      const t = this.tails[i];
      if (t == null) {
        out.set(this.heads[i], 32 * i);
      } else {
        const tail = t!;
        writeU64(out, 32 * i + 24, <u64>tailPos);
        out.set(tail, tailPos);
        tailPos += tail.length;
      }
    }
    return out;
  }
}
