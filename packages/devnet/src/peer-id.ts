// A node's libp2p peer id from its config seed, without starting it: a chain started alone
// (`enigma chain start`) writes the principal's bootstrap address into the deployment file.
// It mirrors @enigma/node: the p2p key is Ed25519 with the private seed keccak256(seed ||
// "p2p"); the peer id is base58btc of the identity multihash of the protobuf public key.
import { createPrivateKey, createPublicKey } from "node:crypto";
import { concatBytes, hexToBytes, keccak256, type Hex } from "@enigma/protocol";

const PKCS8_ED25519 = Buffer.from("302e020100300506032b657004220420", "hex");
// identity multihash (0x00, 36 bytes) of protobuf { Type: Ed25519 (1), Data: 32 bytes }
const PREFIX = Uint8Array.from([0x00, 0x24, 0x08, 0x01, 0x12, 0x20]);
const ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/** The peer id (`12D3KooW...`) of the node whose config `seed` is `seed`. */
export function peerIdOfSeed(seed: Hex): string {
  const p2pSeed = keccak256(concatBytes(hexToBytes(seed), new TextEncoder().encode("p2p")));
  const key = createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519, p2pSeed]),
    format: "der",
    type: "pkcs8",
  });
  const jwk = createPublicKey(key).export({ format: "jwk" });
  const pub = Buffer.from(jwk.x ?? "", "base64url");
  return base58(concatBytes(PREFIX, pub));
}

function base58(bytes: Uint8Array): string {
  let n = BigInt(`0x${Buffer.from(bytes).toString("hex")}`);
  let out = "";
  while (n > 0n) {
    out = `${ALPHABET.charAt(Number(n % 58n))}${out}`;
    n /= 58n;
  }
  for (const b of bytes) {
    if (b !== 0) break;
    out = `1${out}`;
  }
  return out;
}
