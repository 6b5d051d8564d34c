// The secp256k1 operations behind `keys.ts`, twice: on libsecp256k1 (the `secp256k1`
// package's native binding, where Node runs) and on noble (pure JavaScript, everywhere
// else). `curve` is the one in use. Both take and give the same bytes; `curve.test.ts`
// checks each operation of one against the other, errors included. Input checks and typed
// errors stay in keys.ts.
import { nativeSecp256k1, type NativeSecp256k1 } from "#secp256k1-native";
import { secp256k1 } from "@noble/curves/secp256k1.js";

export interface Curve {
  readonly name: "libsecp256k1" | "noble";
  /** A 32-byte secret key in [1, n-1]. */
  isValidSecretKey(secretKey: Uint8Array): boolean;
  /** 65-byte SEC1 uncompressed public key of a valid secret key. */
  publicKey(secretKey: Uint8Array): Uint8Array;
  /** A 33- or 65-byte SEC1 key (02/03/04 prefix checked by the caller) as 65 bytes; throws off the curve. */
  uncompressed(sec1: Uint8Array): Uint8Array;
  /** Low-s RFC 6979 signature of a 32-byte digest: `r || s` and the recovery id. */
  sign(digest: Uint8Array, secretKey: Uint8Array): { rs: Uint8Array; recovery: number };
  /** The 65-byte SEC1 key behind `r || s` + recovery id over `digest`; throws when none. */
  recover(rs: Uint8Array, recovery: number, digest: Uint8Array): Uint8Array;
  /** `secretKey * point` compressed (33 bytes); throws when `sec1` is off the curve. */
  ecdh(secretKey: Uint8Array, sec1: Uint8Array): Uint8Array;
}

export const nobleCurve: Curve = {
  name: "noble",
  isValidSecretKey: (k) => secp256k1.utils.isValidSecretKey(k),
  publicKey: (k) => secp256k1.getPublicKey(k, false),
  uncompressed: (sec1) => secp256k1.Point.fromBytes(sec1).toBytes(false),
  sign(digest, k) {
    const rec = secp256k1.sign(digest, k, { prehash: false, format: "recovered" });
    return { rs: rec.slice(1), recovery: rec[0] ?? 0 };
  },
  recover(rs, recovery, digest) {
    const rec = new Uint8Array(65);
    rec[0] = recovery;
    rec.set(rs, 1);
    const compressed = secp256k1.recoverPublicKey(rec, digest, { prehash: false });
    return secp256k1.Point.fromBytes(compressed).toBytes(false);
  },
  ecdh: (k, sec1) => secp256k1.getSharedSecret(k, sec1, true),
};

/** `02|parity(y)` then x: what libsecp256k1's ECDH hands back through its `hashfn`. */
function compressedPoint(x: Uint8Array, y: Uint8Array): Uint8Array {
  const out = new Uint8Array(33);
  out[0] = 2 | ((y[31] ?? 0) & 1);
  out.set(x, 1);
  return out;
}

export function nativeCurve(lib: NativeSecp256k1): Curve {
  return {
    name: "libsecp256k1",
    isValidSecretKey: (k) => lib.privateKeyVerify(k),
    publicKey: (k) => lib.publicKeyCreate(k, false),
    uncompressed: (sec1) => lib.publicKeyConvert(sec1, false),
    sign(digest, k) {
      const { signature, recid } = lib.ecdsaSign(digest, k);
      return { rs: signature, recovery: recid };
    },
    recover: (rs, recovery, digest) => lib.ecdsaRecover(rs, recovery, digest, false),
    ecdh: (k, sec1) => lib.ecdh(sec1, k, { hashfn: compressedPoint }, new Uint8Array(33)),
  };
}

/** libsecp256k1 where Node runs, noble elsewhere. */
export const curve: Curve =
  nativeSecp256k1 === undefined ? nobleCurve : nativeCurve(nativeSecp256k1);
