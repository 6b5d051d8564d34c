// Everything random in a simulation comes from its seed: epoch seeds and contract addresses by
// hashing, population choices (churn, the coalition) from a seeded generator.
import { keccak_256 } from "@noble/hashes/sha3.js";
import { uniformInt } from "pure-rand/distribution/uniformInt";
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";
import type { RandomGenerator } from "pure-rand/types/RandomGenerator";

const text = new TextEncoder();

/** 32 bytes derived from the scenario seed, a label and an index. */
export function derive(seed: string, label: string, index: number): Uint8Array {
  const head = text.encode(`enigma-sim/${seed}/${label}/`);
  const msg = new Uint8Array(head.length + 8);
  msg.set(head);
  new DataView(msg.buffer).setBigUint64(head.length, BigInt(index));
  return keccak_256(msg);
}

export function toWord(bytes: Uint8Array): bigint {
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return v;
}

/** A seeded generator of integers (xoroshiro128+ from pure-rand). */
export class Rng {
  readonly #g: RandomGenerator;

  constructor(seed: string, label: string) {
    const b = derive(seed, label, 0);
    this.#g = xoroshiro128plus(new DataView(b.buffer).getInt32(0));
  }

  /** An integer in [0, n). */
  below(n: number): number {
    return uniformInt(this.#g, 0, n - 1);
  }

  /** A number in [0, 1) with 32 bits of resolution. */
  unit(): number {
    return uniformInt(this.#g, 0, 0xffffffff) / 0x100000000;
  }
}
