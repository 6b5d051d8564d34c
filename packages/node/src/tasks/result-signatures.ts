// Every node checks every gossiped result's EIP-712 signature. With noble (pure JavaScript) a
// check took 0.4-1 ms of a single-threaded node's time per result; libsecp256k1 (the enclave's
// `secp256k1Native`) recovers a key in about 50 us on this machine.
import { secp256k1Native } from "@enigma/enclave";
import { bytesToHex, keccak256, sameAddress, type Hex } from "@enigma/protocol";

/**
 * Whether a 65-byte `r || s || v` signature over `digest` recovers to `address`: exactly what
 * `recoverAddress` + comparison (and the chain's ecrecover) accept, recovery bit included.
 * Recovered keys map to their address through a small cache (keccak per key, not per check).
 */
export class ResultSignatures {
  readonly #addresses = new Map<string, string>();

  isSignedBy(digest: Uint8Array, signature: Hex, address: string): boolean {
    if (digest.length !== 32) return false;
    let pub: Uint8Array;
    try {
      pub = secp256k1Native.recoverPublicKey(digest, signature);
    } catch {
      return false;
    }
    const key = bytesToHex(pub);
    let signer = this.#addresses.get(key);
    if (signer === undefined) {
      signer = bytesToHex(keccak256(pub).subarray(12));
      if (this.#addresses.size >= 1024) this.#addresses.clear();
      this.#addresses.set(key, signer);
    }
    return sameAddress(signer, address);
  }
}
