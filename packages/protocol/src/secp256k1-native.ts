// libsecp256k1 for `keys.ts` where Node runs (`#secp256k1-native`, the `node` condition of
// this package's `imports`); `secp256k1-native.browser.ts` stands in everywhere else. The
// `secp256k1` package is a prebuilt N-API binding of libsecp256k1 (it falls back to a
// JavaScript implementation itself where no binary fits). Measured on this machine against
// noble (pure JavaScript): ECDH 1,570 -> 41 us, sign 362 -> 29 us, public key 269 -> 20 us,
// recovery ~1,100 -> 50 us. Every client task does one key pair, one ECDH and one recovery;
// every worker task a key, an ECDH and a signature; every node one recovery per result.
import { createRequire } from "node:module";

/** The part of the `secp256k1` package's API that `keys.ts` uses. */
export interface NativeSecp256k1 {
  privateKeyVerify(privateKey: Uint8Array): boolean;
  publicKeyCreate(privateKey: Uint8Array, compressed?: boolean): Uint8Array;
  publicKeyConvert(publicKey: Uint8Array, compressed?: boolean): Uint8Array;
  ecdsaSign(digest: Uint8Array, privateKey: Uint8Array): { signature: Uint8Array; recid: number };
  ecdsaRecover(
    signature: Uint8Array,
    recid: number,
    digest: Uint8Array,
    compressed?: boolean,
  ): Uint8Array;
  /** `hashfn` receives the shared point's coordinates; the default hashes the compressed point. */
  ecdh(
    publicKey: Uint8Array,
    privateKey: Uint8Array,
    options?: { hashfn?: (x: Uint8Array, y: Uint8Array) => Uint8Array },
    output?: Uint8Array,
  ): Uint8Array;
}

export const nativeSecp256k1: NativeSecp256k1 | undefined = createRequire(import.meta.url)(
  "secp256k1",
) as NativeSecp256k1;
