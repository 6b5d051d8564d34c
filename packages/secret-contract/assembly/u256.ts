// A 256-bit unsigned integer (Solidity's uint256) as four u64 limbs. Arithmetic is checked:
// an overflow or underflow traps, like Solidity >= 0.8. Division is not provided; values that
// fit in u64 can use toU64() and native arithmetic.

export class U256 {
  // limbs, most significant first
  a3: u64;
  a2: u64;
  a1: u64;
  a0: u64;

  constructor(a3: u64 = 0, a2: u64 = 0, a1: u64 = 0, a0: u64 = 0) {
    this.a3 = a3;
    this.a2 = a2;
    this.a1 = a1;
    this.a0 = a0;
  }

  static fromU64(v: u64): U256 {
    return new U256(0, 0, 0, v);
  }

  static zero(): U256 {
    return new U256();
  }

  /** From 32 big-endian bytes (an ABI word). */
  static fromBytes32(b: Uint8Array, offset: i32 = 0): U256 {
    if (offset + 32 > b.length) unreachable();
    return new U256(
      readU64(b, offset),
      readU64(b, offset + 8),
      readU64(b, offset + 16),
      readU64(b, offset + 24),
    );
  }

  /** 32 big-endian bytes. */
  toBytes32(): Uint8Array {
    const out = new Uint8Array(32);
    writeU64(out, 0, this.a3);
    writeU64(out, 8, this.a2);
    writeU64(out, 16, this.a1);
    writeU64(out, 24, this.a0);
    return out;
  }

  isZero(): bool {
    return (this.a3 | this.a2 | this.a1 | this.a0) == 0;
  }

  fitsU64(): bool {
    return (this.a3 | this.a2 | this.a1) == 0;
  }

  /** The value as u64; traps when it does not fit. */
  toU64(): u64 {
    if (!this.fitsU64()) unreachable();
    return this.a0;
  }

  /** -1, 0 or 1. */
  cmp(o: U256): i32 {
    if (this.a3 != o.a3) return this.a3 < o.a3 ? -1 : 1;
    if (this.a2 != o.a2) return this.a2 < o.a2 ? -1 : 1;
    if (this.a1 != o.a1) return this.a1 < o.a1 ? -1 : 1;
    if (this.a0 != o.a0) return this.a0 < o.a0 ? -1 : 1;
    return 0;
  }

  eq(o: U256): bool {
    return this.cmp(o) == 0;
  }

  lt(o: U256): bool {
    return this.cmp(o) < 0;
  }

  gt(o: U256): bool {
    return this.cmp(o) > 0;
  }

  /** this + o; traps on overflow. */
  add(o: U256): U256 {
    const r0 = this.a0 + o.a0;
    let c: u64 = r0 < this.a0 ? 1 : 0;
    const t1 = this.a1 + o.a1;
    let c1: u64 = t1 < this.a1 ? 1 : 0;
    const r1 = t1 + c;
    if (r1 < t1) c1 = 1;
    c = c1;
    const t2 = this.a2 + o.a2;
    let c2: u64 = t2 < this.a2 ? 1 : 0;
    const r2 = t2 + c;
    if (r2 < t2) c2 = 1;
    c = c2;
    const t3 = this.a3 + o.a3;
    let c3: u64 = t3 < this.a3 ? 1 : 0;
    const r3 = t3 + c;
    if (r3 < t3) c3 = 1;
    if (c3 != 0) unreachable(); // overflow
    return new U256(r3, r2, r1, r0);
  }

  /** this - o; traps on underflow. */
  sub(o: U256): U256 {
    if (this.lt(o)) unreachable(); // underflow
    const r0 = this.a0 - o.a0;
    let b: u64 = this.a0 < o.a0 ? 1 : 0;
    const t1 = this.a1 - o.a1;
    let b1: u64 = this.a1 < o.a1 ? 1 : 0;
    const r1 = t1 - b;
    if (t1 < b) b1 = 1;
    b = b1;
    const t2 = this.a2 - o.a2;
    let b2: u64 = this.a2 < o.a2 ? 1 : 0;
    const r2 = t2 - b;
    if (t2 < b) b2 = 1;
    b = b2;
    const r3 = this.a3 - o.a3 - b;
    return new U256(r3, r2, r1, r0);
  }

  /** this * o; traps on overflow. */
  mul(o: U256): U256 {
    const x = this.limbs32();
    const y = o.limbs32();
    const r = new StaticArray<u64>(16);
    for (let i = 0; i < 8; i++) {
      let carry: u64 = 0;
      const xi = x[i];
      if (xi == 0) continue;
      for (let j = 0; j < 8; j++) {
        const t = xi * y[j] + r[i + j] + carry;
        r[i + j] = t & 0xffffffff;
        carry = t >> 32;
      }
      r[i + 8] = carry;
    }
    for (let k = 8; k < 16; k++) if (r[k] != 0) unreachable(); // overflow
    return new U256(
      (r[7] << 32) | r[6],
      (r[5] << 32) | r[4],
      (r[3] << 32) | r[2],
      (r[1] << 32) | r[0],
    );
  }

  // little-endian 32-bit limbs
  private limbs32(): StaticArray<u64> {
    const l = new StaticArray<u64>(8);
    l[0] = this.a0 & 0xffffffff;
    l[1] = this.a0 >> 32;
    l[2] = this.a1 & 0xffffffff;
    l[3] = this.a1 >> 32;
    l[4] = this.a2 & 0xffffffff;
    l[5] = this.a2 >> 32;
    l[6] = this.a3 & 0xffffffff;
    l[7] = this.a3 >> 32;
    return l;
  }
}

export function readU64(b: Uint8Array, offset: i32): u64 {
  let v: u64 = 0;
  for (let i = 0; i < 8; i++) v = (v << 8) | (<u64>b[offset + i]);
  return v;
}

export function writeU64(b: Uint8Array, offset: i32, v: u64): void {
  for (let i = 7; i >= 0; i--) {
    b[offset + i] = <u8>(v & 0xff);
    v >>= 8;
  }
}
