// Keccak-256 of Discovery's draw message (`abi.encode(uint256 seed, bytes32 scAddr, uint256 n)`,
// 96 bytes: one block) in WebAssembly, emitted byte by byte at start-up from the permutation's
// definition below (no build step, no binary in the repository). The simulator makes ten million
// draws and the hash is their cost: @noble/hashes takes about 5.7 us a hash on this machine,
// this module about 0.4 us (one call hashes a whole epoch's contracts). Checked against
// @noble/hashes by a property test.

// Keccak-f[1600]: lane (x, y) is index x + 5y; rotation offsets by lane index.
const ROTATIONS = [
  0, 1, 62, 28, 27, 36, 44, 6, 55, 20, 3, 10, 43, 25, 39, 41, 45, 15, 21, 8, 18, 2, 61, 56, 14,
];

/** The 24 round constants, from the LFSR of the Keccak reference (bit 2^j - 1 = rc(j + 7i)). */
function roundConstants(): bigint[] {
  const rc = (t: number) => {
    let r = 1;
    for (let i = 0; i < t % 255; i++) {
      r <<= 1;
      if (r & 0x100) r ^= 0x171;
    }
    return r & 1;
  };
  return Array.from({ length: 24 }, (_, round) => {
    let v = 0n;
    for (let j = 0; j <= 6; j++) if (rc(j + 7 * round) === 1) v |= 1n << BigInt(2 ** j - 1);
    return v;
  });
}

const uleb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
};
const sleb = (value: bigint): number[] => {
  let v = BigInt.asIntN(64, value);
  const out: number[] = [];
  for (;;) {
    const b = Number(v & 0x7fn);
    v >>= 7n;
    if ((v === 0n && (b & 0x40) === 0) || (v === -1n && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
};
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, bytes: number[]): number[] => [id, ...uleb(bytes.length), ...bytes];
const name = (s: string): number[] => [...uleb(s.length), ...new TextEncoder().encode(s)];

// Opcodes used.
const OP = {
  block: 0x02,
  loop: 0x03,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  get: 0x20,
  set: 0x21,
  tee: 0x22,
  i64Load: 0x29,
  i64Store: 0x37,
  i32Const: 0x41,
  i64Const: 0x42,
  i32Eqz: 0x45,
  i32LtU: 0x49,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32Shl: 0x74,
  i64And: 0x83,
  i64Xor: 0x85,
  i64Rotl: 0x89,
  call: 0x10,
  select: 0x1b,
  if: 0x04,
  else: 0x05,
  i32Load: 0x28,
  f64Load: 0x2b,
  i64Load8U: 0x31,
  i32Store: 0x36,
  f64Const: 0x44,
  i32GeU: 0x4f,
  i32Mul: 0x6c,
  i32ShrU: 0x76,
  i64LtS: 0x53,
  i64GeS: 0x59,
  f64Ge: 0x66,
  i64Add: 0x7c,
  i64Sub: 0x7d,
  i64Mul: 0x7e,
  i64Or: 0x84,
  i64Shl: 0x86,
  f64Floor: 0x9c,
  f64Add: 0xa0,
  f64Mul: 0xa2,
  f64Div: 0xa3,
  i64TruncF64U: 0xb1,
  f64ConvertI64U: 0xba,
} as const;

// Locals: params 0..4 (i32) seedPtr, scPtr, nPtr, outPtr, count; then i64 lanes a0..a24,
// b0..b24, c0..c4, d; then i32 round.
const A = (i: number) => 5 + i;
const B = (i: number) => 30 + i;
const C = (i: number) => 55 + i;
const D = 60;
const ROUND = 61;
const get = (i: number) => [OP.get, ...uleb(i)];
const set = (i: number) => [OP.set, ...uleb(i)];
const i64 = (v: bigint) => [OP.i64Const, ...sleb(v)];
const i32 = (v: number) => [OP.i32Const, ...sleb(BigInt(v))];

/** One round: theta, rho and pi, chi, iota (round constant read from memory at `rcAt`). */
function round(rcAt: number): number[] {
  const c: number[] = [];
  for (let x = 0; x < 5; x++) {
    c.push(...get(A(x)));
    for (let y = 1; y < 5; y++) c.push(...get(A(x + 5 * y)), OP.i64Xor);
    c.push(...set(C(x)));
  }
  for (let x = 0; x < 5; x++) {
    c.push(...get(C((x + 4) % 5)), ...get(C((x + 1) % 5)), ...i64(1n), OP.i64Rotl, OP.i64Xor);
    c.push(...set(D));
    for (let y = 0; y < 5; y++)
      c.push(...get(A(x + 5 * y)), ...get(D), OP.i64Xor, ...set(A(x + 5 * y)));
  }
  for (let x = 0; x < 5; x++) {
    for (let y = 0; y < 5; y++) {
      const from = x + 5 * y;
      const to = y + 5 * ((2 * x + 3 * y) % 5);
      c.push(...get(A(from)));
      const r = ROTATIONS[from] ?? 0;
      if (r !== 0) c.push(...i64(BigInt(r)), OP.i64Rotl);
      c.push(...set(B(to)));
    }
  }
  for (let y = 0; y < 5; y++) {
    for (let x = 0; x < 5; x++) {
      c.push(...get(B(x + 5 * y)), ...get(B(((x + 1) % 5) + 5 * y)), ...i64(-1n), OP.i64Xor);
      c.push(...get(B(((x + 2) % 5) + 5 * y)), OP.i64And, OP.i64Xor, ...set(A(x + 5 * y)));
    }
  }
  c.push(...get(A(0)), ...get(ROUND), ...i32(3), OP.i32Shl, OP.i64Load, 3, ...uleb(rcAt));
  c.push(OP.i64Xor, ...set(A(0)));
  return c;
}

const f64 = (v: number) => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setFloat64(0, v, true);
  return [OP.f64Const, ...b];
};

/**
 * `hash(seedPtr, scPtr, nPtr, outPtr, count)`: for k < count, keccak256(seed || sc_k || n) into
 * out_k, where sc_k and out_k advance by 32 bytes (seed and n are the same for all).
 */
function hashBody(rcAt: number): number[] {
  const body: number[] = [OP.block, 0x40, OP.loop, 0x40];
  body.push(...get(4), OP.i32Eqz, OP.brIf, 1);
  // Absorb the 96-byte message into lanes 0..11; pad (0x01 at byte 96, 0x80 at byte 135).
  for (let i = 0; i < 4; i++) body.push(...get(0), OP.i64Load, 3, ...uleb(8 * i), ...set(A(i)));
  for (let i = 0; i < 4; i++) body.push(...get(1), OP.i64Load, 3, ...uleb(8 * i), ...set(A(4 + i)));
  for (let i = 0; i < 4; i++) body.push(...get(2), OP.i64Load, 3, ...uleb(8 * i), ...set(A(8 + i)));
  body.push(...i64(1n), ...set(A(12)));
  for (let i = 13; i < 25; i++) body.push(...i64(i === 16 ? -(2n ** 63n) : 0n), ...set(A(i)));
  body.push(...i32(0), ...set(ROUND));
  body.push(OP.loop, 0x40, ...round(rcAt));
  body.push(...get(ROUND), ...i32(1), OP.i32Add, OP.tee, ...uleb(ROUND), ...i32(24), OP.i32LtU);
  body.push(OP.brIf, 0, OP.end);
  for (let i = 0; i < 4; i++) body.push(...get(3), ...get(A(i)), OP.i64Store, 3, ...uleb(8 * i));
  body.push(...get(1), ...i32(32), OP.i32Add, ...set(1));
  body.push(...get(3), ...i32(32), OP.i32Add, ...set(3));
  body.push(...get(4), ...i32(1), OP.i32Sub, ...set(4));
  body.push(OP.br, 0, OP.end, OP.end);
  return body;
}

/**
 * `reduce(hashPtr, t) -> f64`: the 256-bit big-endian word at hashPtr modulo t, for an integer
 * 0 < t < 2^52 given as f64. Horner over 32-bit limbs, `r = (r * 2^32 + limb) mod t`: the
 * quotient is estimated in f64 (off by at most one: its relative error is about 2^-20), the
 * remainder computed in wrapping i64, exact because it lies in (-t, 2t), then corrected.
 */
function reduceBody(): number[] {
  // params: 0 hashPtr (i32), 1 t (f64); locals: 2 r (i64), 3 limb (i64), 4 tI (i64)
  const b: number[] = [...get(1), OP.i64TruncF64U, ...set(4), ...i64(0n), ...set(2)];
  for (let j = 0; j < 8; j++) {
    // limb = big-endian u32 at hashPtr + 4j
    b.push(...get(0), OP.i64Load8U, 0, ...uleb(4 * j), ...i64(24n), OP.i64Shl);
    b.push(...get(0), OP.i64Load8U, 0, ...uleb(4 * j + 1), ...i64(16n), OP.i64Shl, OP.i64Or);
    b.push(...get(0), OP.i64Load8U, 0, ...uleb(4 * j + 2), ...i64(8n), OP.i64Shl, OP.i64Or);
    b.push(...get(0), OP.i64Load8U, 0, ...uleb(4 * j + 3), OP.i64Or, ...set(3));
    // r = (r << 32) + limb - q * t, q = floor((r * 2^32 + limb) / t) in f64
    b.push(...get(2), ...i64(32n), OP.i64Shl, ...get(3), OP.i64Add);
    b.push(...get(2), OP.f64ConvertI64U, ...f64(4294967296), OP.f64Mul);
    b.push(...get(3), OP.f64ConvertI64U, OP.f64Add, ...get(1), OP.f64Div, OP.f64Floor);
    b.push(OP.i64TruncF64U, ...get(4), OP.i64Mul, OP.i64Sub, ...set(2));
    // into [0, t)
    b.push(
      ...get(2),
      ...i64(0n),
      OP.i64LtS,
      OP.if,
      0x40,
      ...get(2),
      ...get(4),
      OP.i64Add,
      ...set(2),
      OP.end,
    );
    b.push(
      ...get(2),
      ...get(4),
      OP.i64GeS,
      OP.if,
      0x40,
      ...get(2),
      ...get(4),
      OP.i64Sub,
      ...set(2),
      OP.end,
    );
  }
  b.push(...get(2), OP.f64ConvertI64U);
  return b;
}

/**
 * `indexAll(hashPtr, count, prefixPtr, workers, t, idxPtr)`: for each of `count` hashes, the
 * first index whose prefix sum (f64, exact integers) reaches `hash mod t`, else the last worker:
 * Discovery's walk, as an i32 at idxPtr + 4k.
 */
function indexAllBody(): number[] {
  // params: 0 hashPtr, 1 count, 2 prefixPtr, 3 workers (i32), 4 t (f64), 5 idxPtr (i32)
  // locals: 6 r (f64), 7 lo, 8 hi, 9 mid, 10 k (i32)
  const b: number[] = [...i32(0), ...set(10), OP.block, 0x40, OP.loop, 0x40];
  b.push(...get(10), ...get(1), OP.i32GeU, OP.brIf, 1);
  b.push(...get(0), ...get(10), ...i32(32), OP.i32Mul, OP.i32Add, ...get(4), OP.call, 1, ...set(6));
  b.push(...i32(0), ...set(7), ...get(3), ...set(8));
  b.push(OP.block, 0x40, OP.loop, 0x40);
  b.push(...get(7), ...get(8), OP.i32GeU, OP.brIf, 1);
  b.push(...get(7), ...get(8), OP.i32Add, ...i32(1), OP.i32ShrU, ...set(9));
  b.push(
    ...get(2),
    ...get(9),
    ...i32(8),
    OP.i32Mul,
    OP.i32Add,
    OP.f64Load,
    3,
    0,
    ...get(6),
    OP.f64Ge,
  );
  b.push(
    OP.if,
    0x40,
    ...get(9),
    ...set(8),
    OP.else,
    ...get(9),
    ...i32(1),
    OP.i32Add,
    ...set(7),
    OP.end,
  );
  b.push(OP.br, 0, OP.end, OP.end);
  // idx = lo < workers ? lo : workers - 1
  b.push(...get(5), ...get(10), ...i32(4), OP.i32Mul, OP.i32Add);
  b.push(...get(7), ...get(3), ...i32(1), OP.i32Sub, ...get(7), ...get(3), OP.i32LtU, OP.select);
  b.push(OP.i32Store, 2, 0);
  b.push(...get(10), ...i32(1), OP.i32Add, ...set(10), OP.br, 0, OP.end, OP.end);
  return b;
}

function moduleBytes(rcAt: number): Uint8Array {
  const I32 = 0x7f;
  const I64 = 0x7e;
  const F64 = 0x7c;
  const code = (locals: number[][], body: number[]) => {
    const fn = [...vec(locals), ...body, OP.end];
    return [...uleb(fn.length), ...fn];
  };
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0],
    ...section(
      1,
      vec([
        [0x60, ...vec([[I32], [I32], [I32], [I32], [I32]]), ...vec([])],
        [0x60, ...vec([[I32], [F64]]), ...vec([[F64]])],
        [0x60, ...vec([[I32], [I32], [I32], [I32], [F64], [I32]]), ...vec([])],
      ]),
    ),
    ...section(3, vec([uleb(0), uleb(1), uleb(2)])),
    ...section(5, vec([[0x00, ...uleb(1)]])),
    ...section(
      7,
      vec([
        [...name("memory"), 2, ...uleb(0)],
        [...name("hash"), 0, ...uleb(0)],
        [...name("reduce"), 0, ...uleb(1)],
        [...name("indexAll"), 0, ...uleb(2)],
      ]),
    ),
    ...section(
      10,
      vec([
        code(
          [
            [...uleb(56), I64],
            [...uleb(1), I32],
          ],
          hashBody(rcAt),
        ),
        code([[...uleb(3), I64]], reduceBody()),
        code(
          [
            [...uleb(1), F64],
            [...uleb(4), I32],
          ],
          indexAllBody(),
        ),
      ]),
    ),
  ]);
}

// Memory layout (bytes): round constants, fixed 32-byte slots, then the contracts, the batch's
// hashes and indices, then an epoch's prefix sums (grown as needed).
const RC_AT = 0;
const SEED_AT = 256;
const N_AT = 288;
const ZERO_AT = 320;
const ONE_OUT_AT = 352;
const SCRATCH_SEED_AT = 384;
const SCRATCH_HASH_AT = 416;
const CONTRACTS_AT = 1024;

/** Totals below this reduce in WebAssembly (see `reduce`); larger ones take the bigint path. */
export const WASM_TOTAL_LIMIT = 2 ** 52;

let compiled: WebAssembly.Module | undefined;

type HashFn = (seedAt: number, scAt: number, nAt: number, outAt: number, count: number) => void;
type ReduceFn = (hashAt: number, t: number) => number;
type IndexAllFn = (
  hashAt: number,
  count: number,
  prefixAt: number,
  workers: number,
  t: number,
  idxAt: number,
) => void;

/**
 * The draws' hashing and arithmetic for one simulation: the contracts' addresses live in
 * WebAssembly memory; each epoch hashes draw 0 of all of them and walks the stakes in one call,
 * later draws one at a time.
 */
export class DrawHasher {
  readonly contracts: number;
  readonly #hash: HashFn;
  readonly #reduce: ReduceFn;
  readonly #indexAll: IndexAllFn;
  readonly #memory: WebAssembly.Memory;
  readonly #hashesAt: number;
  readonly #indicesAt: number;
  readonly #prefixAt: number;
  #bytes: Uint8Array;
  #view: DataView;

  constructor(contracts: readonly Uint8Array[]) {
    compiled ??= new WebAssembly.Module(moduleBytes(RC_AT) as Uint8Array<ArrayBuffer>);
    const exports = new WebAssembly.Instance(compiled, {}).exports;
    this.#memory = exports.memory as WebAssembly.Memory;
    this.#hash = exports.hash as HashFn;
    this.#reduce = exports.reduce as ReduceFn;
    this.#indexAll = exports.indexAll as IndexAllFn;
    this.contracts = contracts.length;
    this.#hashesAt = CONTRACTS_AT + 32 * contracts.length;
    this.#indicesAt = this.#hashesAt + 32 * contracts.length;
    this.#prefixAt = this.#indicesAt + 8 * Math.ceil(contracts.length / 2);
    this.#bytes = new Uint8Array(this.#memory.buffer);
    this.#view = new DataView(this.#memory.buffer);
    this.#reserve(this.#prefixAt + 8 * 1024);
    roundConstants().forEach((v, i) => {
      this.#view.setBigUint64(RC_AT + 8 * i, v, true);
    });
    contracts.forEach((c, i) => {
      if (c.length !== 32) throw new RangeError("contract addresses are 32 bytes");
      this.#bytes.set(c, CONTRACTS_AT + 32 * i);
    });
  }

  #reserve(bytes: number): void {
    const pages = Math.ceil(bytes / 65536) - this.#memory.buffer.byteLength / 65536;
    if (pages <= 0) return;
    this.#memory.grow(pages);
    this.#bytes = new Uint8Array(this.#memory.buffer);
    this.#view = new DataView(this.#memory.buffer);
  }

  /** keccak256(seed || contract_k || uint256(0)) for every contract, 32 bytes each, in `out`. */
  hashAll(seed: Uint8Array, out: Uint8Array): void {
    this.#bytes.set(seed, SEED_AT);
    this.#hash(SEED_AT, CONTRACTS_AT, ZERO_AT, this.#hashesAt, this.contracts);
    out.set(this.#bytes.subarray(this.#hashesAt, this.#hashesAt + 32 * this.contracts));
  }

  /**
   * Draw `n` of every contract for an epoch: its hashes into `hashes` (when given), and into
   * `indices` the index where Discovery's walk over `prefix` (the epoch's prefix sums, exact,
   * total `total` < `WASM_TOTAL_LIMIT`) stops.
   */
  indexAll(
    seed: Uint8Array,
    n: number,
    prefix: Float64Array,
    total: number,
    hashes: Uint8Array | undefined,
    indices: Int32Array,
  ): void {
    this.#reserve(this.#prefixAt + 8 * prefix.length);
    this.#bytes.set(seed, SEED_AT);
    this.#bytes.fill(0, N_AT, N_AT + 24);
    this.#view.setBigUint64(N_AT + 24, BigInt(n));
    this.#hash(SEED_AT, CONTRACTS_AT, N_AT, this.#hashesAt, this.contracts);
    hashes?.set(this.#bytes.subarray(this.#hashesAt, this.#hashesAt + 32 * this.contracts));
    new Float64Array(this.#memory.buffer, this.#prefixAt, prefix.length).set(prefix);
    this.#indexAll(
      this.#hashesAt,
      this.contracts,
      this.#prefixAt,
      prefix.length,
      total,
      this.#indicesAt,
    );
    indices.set(new Int32Array(this.#memory.buffer, this.#indicesAt, this.contracts));
  }

  /** keccak256(seed || contract_k || uint256(n)) as a bigint. */
  hashOne(seed: Uint8Array, contract: number, n: number): bigint {
    this.#hashOneInto(seed, contract, n);
    return wordAt(this.#view, ONE_OUT_AT);
  }

  /** That hash modulo `t` (0 < t < `WASM_TOTAL_LIMIT`). */
  reduceOne(seed: Uint8Array, contract: number, n: number, t: number): number {
    this.#hashOneInto(seed, contract, n);
    return this.#reduce(ONE_OUT_AT, t);
  }

  /** A 32-byte big-endian word modulo `t` (0 < t < `WASM_TOTAL_LIMIT`). */
  reduceWord(word: Uint8Array, t: number): number {
    this.#bytes.set(word, SCRATCH_HASH_AT);
    return this.#reduce(SCRATCH_HASH_AT, t);
  }

  #hashOneInto(seed: Uint8Array, contract: number, n: number): void {
    this.#bytes.set(seed, SCRATCH_SEED_AT);
    this.#bytes.fill(0, N_AT, N_AT + 24);
    this.#view.setBigUint64(N_AT + 24, BigInt(n));
    this.#hash(SCRATCH_SEED_AT, CONTRACTS_AT + 32 * contract, N_AT, ONE_OUT_AT, 1);
  }
}

/** The big-endian 256-bit word at `offset`. */
export function wordAt(view: DataView, offset: number): bigint {
  return (
    (view.getBigUint64(offset) << 192n) |
    (view.getBigUint64(offset + 8) << 128n) |
    (view.getBigUint64(offset + 16) << 64n) |
    view.getBigUint64(offset + 24)
  );
}
