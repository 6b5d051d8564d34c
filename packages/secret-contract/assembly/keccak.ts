// keccak256 (the Ethereum variant: original Keccak padding 0x01), for function selectors and
// hashing inside a contract.

const RC: StaticArray<u64> = [
  0x0000000000000001, 0x0000000000008082, 0x800000000000808a, 0x8000000080008000,
  0x000000000000808b, 0x0000000080000001, 0x8000000080008081, 0x8000000000008009,
  0x000000000000008a, 0x0000000000000088, 0x0000000080008009, 0x000000008000000a,
  0x000000008000808b, 0x800000000000008b, 0x8000000000008089, 0x8000000000008003,
  0x8000000000008002, 0x8000000000000080, 0x000000000000800a, 0x800000008000000a,
  0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008,
];
const ROT: StaticArray<i32> = [
  0, 1, 62, 28, 27, 36, 44, 6, 55, 20, 3, 10, 43, 25, 39, 41, 45, 15, 21, 8, 18, 2, 61, 56, 14,
];

function keccakF(s: StaticArray<u64>): void {
  const c = new StaticArray<u64>(5);
  const b = new StaticArray<u64>(25);
  for (let round = 0; round < 24; round++) {
    for (let x = 0; x < 5; x++) c[x] = s[x] ^ s[x + 5] ^ s[x + 10] ^ s[x + 15] ^ s[x + 20];
    for (let x = 0; x < 5; x++) {
      const d = c[(x + 4) % 5] ^ rotl<u64>(c[(x + 1) % 5], 1);
      for (let y = 0; y < 25; y += 5) s[y + x] ^= d;
    }
    // rho and pi: b[y, 2x + 3y] = rot(s[x, y], r[x, y])
    for (let x = 0; x < 5; x++) {
      for (let y = 0; y < 5; y++) {
        const i = x + 5 * y;
        b[y + 5 * ((2 * x + 3 * y) % 5)] = rotl<u64>(s[i], <u64>ROT[i]);
      }
    }
    for (let y = 0; y < 25; y += 5) {
      for (let x = 0; x < 5; x++)
        s[y + x] = b[y + x] ^ (~b[y + ((x + 1) % 5)] & b[y + ((x + 2) % 5)]);
    }
    s[0] ^= RC[round];
  }
}

/** keccak256 of bytes (32-byte digest). */
export function keccak256(data: Uint8Array): Uint8Array {
  const rate = 136;
  const s = new StaticArray<u64>(25);
  const padded = new Uint8Array((data.length / rate + 1) * rate);
  padded.set(data);
  padded[data.length] ^= 0x01;
  padded[padded.length - 1] ^= 0x80;
  for (let off = 0; off < padded.length; off += rate) {
    for (let i = 0; i < rate / 8; i++) {
      let lane: u64 = 0;
      for (let k = 7; k >= 0; k--) lane = (lane << 8) | (<u64>padded[off + i * 8 + k]);
      s[i] ^= lane;
    }
    keccakF(s);
  }
  const out = new Uint8Array(32);
  for (let i = 0; i < 4; i++) {
    let lane = s[i];
    for (let k = 0; k < 8; k++) {
      out[i * 8 + k] = <u8>(lane & 0xff);
      lane >>= 8;
    }
  }
  return out;
}

/** The 4-byte selector of a function signature, e.g. selector("transfer(address,uint256)"). */
export function selector(signature: string): Uint8Array {
  const h = keccak256(Uint8Array.wrap(String.UTF8.encode(signature)));
  return h.slice(0, 4);
}
