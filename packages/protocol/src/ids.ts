import { keccak_256 } from "@noble/hashes/sha3.js";
import { EnigmaError, ErrorCode } from "./errors.js";
import { bytesToHex, hexToBytes, type Hex } from "./hex.js";

/**
 * `taskId = keccak256(abi.encodePacked(address sender, uint256 nonce))` (DESIGN.md section 5),
 * where `nonce` is the sender's task counter. A deployment's task id is the new secret
 * contract's address.
 */
export function taskId(sender: string, nonce: bigint | number): Hex {
  const addr = hexToBytes(sender, "sender");
  if (addr.length !== 20) {
    throw new EnigmaError(ErrorCode.InvalidArgument, "sender must be a 20-byte address", {
      details: { sender },
    });
  }
  const n = BigInt(nonce);
  if (n < 0n || n >= 2n ** 256n) {
    throw new EnigmaError(ErrorCode.InvalidArgument, "nonce must fit in uint256", {
      details: { nonce: n.toString() },
    });
  }
  const packed = new Uint8Array(52);
  packed.set(addr, 0);
  packed.set(hexToBytes(n.toString(16).padStart(64, "0")), 20);
  return bytesToHex(keccak_256(packed));
}
