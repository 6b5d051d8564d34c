import { toBytes, type BytesLike } from "./bytes.js";
import { concatBytes, keccak256, u64be } from "./crypto.js";
import { bytesToHex, type Hex } from "./hex.js";

/**
 * Discovery's `inputsHash` (DESIGN.md section 5), which the task record on Ethereum commits
 * to: keccak256 over, for each of the four items in this order, `u64be(length) || bytes`.
 *
 * @param contractAddressOrPreCodeHash the 32-byte secret contract address, or for a
 *   deployment keccak256 of the pre-code (see `deploymentInputsHash`).
 * @example
 * const h = inputsHash(encFn, encArgs, scAddr, userPubKey); // "0x..." (32 bytes)
 */
export function inputsHash(
  encryptedFn: BytesLike,
  encryptedArgs: BytesLike,
  contractAddressOrPreCodeHash: BytesLike,
  userPubKey: BytesLike,
): Hex {
  const items = [
    toBytes(encryptedFn, "encryptedFn"),
    toBytes(encryptedArgs, "encryptedArgs"),
    toBytes(contractAddressOrPreCodeHash, "contractAddress"),
    toBytes(userPubKey, "userPubKey"),
  ];
  return bytesToHex(keccak256(concatBytes(...items.flatMap((b) => [u64be(b.length), b]))));
}

/** `inputsHash` of a deployment: the third item is keccak256 of the (un-gzipped) pre-code. */
export function deploymentInputsHash(
  encryptedFn: BytesLike,
  encryptedArgs: BytesLike,
  preCode: BytesLike,
  userPubKey: BytesLike,
): Hex {
  return inputsHash(encryptedFn, encryptedArgs, keccak256(toBytes(preCode, "preCode")), userPubKey);
}
