// Outside Node (`#secp256k1-native` without the `node` condition: browsers, bundles) there is
// no native binding: `keys.ts` uses noble.
import type { NativeSecp256k1 } from "./secp256k1-native.js";

export const nativeSecp256k1: NativeSecp256k1 | undefined = undefined;
