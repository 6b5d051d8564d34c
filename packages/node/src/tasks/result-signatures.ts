// Every node checks every gossiped result's EIP-712 signature. With noble (pure JavaScript) a
// check took 0.4-1 ms of a single-threaded node's time per result; libsecp256k1 (the
// `secp256k1` package, a prebuilt native binding; it falls back to a JavaScript implementation
// itself where no binary fits) recovers a key in about 50 us on this machine.
import { createRequire } from "node:module";
import { bytesToHex, hexToBytes, keccak256, sameAddress, type Hex } from "@enigma/protocol";

interface Secp256k1 {
  ecdsaRecover(sig: Uint8Array, recid: number, msg32: Uint8Array, compressed?: boolean): Uint8Array;
}
const secp256k1 = createRequire(import.meta.url)("secp256k1") as Secp256k1;

/**
 * Whether a 65-byte `r || s || v` signature over `digest` recovers to `address`: exactly what
 * `recoverAddress` + comparison (and the chain's ecrecover) accept, recovery bit included.
 * Recovered keys map to their address through a small cache (keccak per key, not per check).
 */
export class ResultSignatures {
  readonly #addresses = new Map<string, string>();

  isSignedBy(digest: Uint8Array, signature: Hex, address: string): boolean {
    const sig = hexToBytes(signature);
    if (sig.length !== 65 || digest.length !== 32) return false;
    const v = sig[64] ?? 0;
    const recid = v >= 27 ? v - 27 : v;
    if (recid !== 0 && recid !== 1) return false;
    let pub: Uint8Array;
    try {
      pub = secp256k1.ecdsaRecover(sig.subarray(0, 64), recid, digest, false);
    } catch {
      return false;
    }
    const key = bytesToHex(pub);
    let signer = this.#addresses.get(key);
    if (signer === undefined) {
      signer = bytesToHex(keccak256(pub.subarray(1)).subarray(12));
      if (this.#addresses.size >= 1024) this.#addresses.clear();
      this.#addresses.set(key, signer);
    }
    return sameAddress(signer, address);
  }
}
