import { z } from "zod";
import { toBytes, type BytesLike } from "./bytes.js";
import { concatBytes, keccak256, u64be } from "./crypto.js";
import type { Hex } from "./hex.js";
import {
  addressSchema,
  bytes32Schema,
  hexSchema,
  publicKey64Schema,
  signatureSchema,
} from "./schemas.js";
import { normalizePublicKey } from "./keys.js";

/**
 * State-key transfer between enclaves (DESIGN.md section 4, epoch change): a worker's enclave
 * asks the principal's enclave for the state keys of some secret contracts. The request
 * carries the worker's attestation and its key-exchange public key, signed by the attested
 * signer (which binds the key to the attested enclave); the answer carries each state key
 * encrypted to that key, signed by the principal.
 */
export interface StateKeyRequest {
  /** The requesting enclave's signed attestation report (report_data = its signer). */
  attestation: { report: string; signature: Hex };
  /** The requesting enclave's key-exchange public key, 64 bytes. */
  keyExchangePublicKey: Hex;
  /** Secret contract addresses (bytes32). */
  contractAddresses: Hex[];
  /** The attested signer's signature over `stateKeyRequestDigest`. */
  signature: Hex;
}

export interface StateKeyResponse {
  /** The principal enclave's signer address. */
  principal: Hex;
  /** The principal's key-exchange public key, 64 bytes (the ECDH peer for decryption). */
  principalKeyExchangePublicKey: Hex;
  /** The signer address the keys are for. */
  recipient: Hex;
  keys: { contractAddress: Hex; encryptedKey: Hex }[];
  /** The principal's signature over `stateKeyResponseDigest`. */
  signature: Hex;
}

/** At most this many contracts per request, so that one request cannot make unbounded work. */
export const MAX_STATE_KEYS_PER_REQUEST = 1024;

const enc = new TextEncoder();
const REQUEST_TAG = enc.encode("Enigma State Key Request");
const RESPONSE_TAG = enc.encode("Enigma State Key Response");

function framed(...items: Uint8Array[]): Uint8Array {
  return concatBytes(...items.flatMap((b) => [u64be(b.length), b]));
}

/**
 * `keccak256` of, each as `u64be(len) || bytes`: "Enigma State Key Request", the
 * key-exchange public key (64), then the contract addresses (32 each) in order.
 */
export function stateKeyRequestDigest(
  keyExchangePublicKey: BytesLike,
  contractAddresses: readonly BytesLike[],
): Uint8Array {
  return keccak256(
    framed(
      REQUEST_TAG,
      normalizePublicKey(keyExchangePublicKey, "keyExchangePublicKey"),
      ...contractAddresses.map((a) => toBytes(a, "contractAddress", 32)),
    ),
  );
}

/**
 * `keccak256` of, each framed: "Enigma State Key Response", recipient (20), the principal's
 * key-exchange public key (64), then per key its contract address (32) and encrypted key.
 */
export function stateKeyResponseDigest(response: {
  recipient: BytesLike;
  principalKeyExchangePublicKey: BytesLike;
  keys: readonly { contractAddress: BytesLike; encryptedKey: BytesLike }[];
}): Uint8Array {
  return keccak256(
    framed(
      RESPONSE_TAG,
      toBytes(response.recipient, "recipient", 20),
      normalizePublicKey(response.principalKeyExchangePublicKey, "principalKeyExchangePublicKey"),
      ...response.keys.flatMap((k) => [
        toBytes(k.contractAddress, "contractAddress", 32),
        toBytes(k.encryptedKey, "encryptedKey"),
      ]),
    ),
  );
}

export const stateKeyRequestSchema = z.object({
  attestation: z.object({
    report: z.string().max(16 * 1024),
    signature: hexSchema(undefined, 1024),
  }),
  keyExchangePublicKey: publicKey64Schema,
  contractAddresses: z.array(bytes32Schema).min(1).max(MAX_STATE_KEYS_PER_REQUEST),
  signature: signatureSchema,
});

export const stateKeyResponseSchema = z.object({
  principal: addressSchema,
  principalKeyExchangePublicKey: publicKey64Schema,
  recipient: addressSchema,
  keys: z
    .array(z.object({ contractAddress: bytes32Schema, encryptedKey: hexSchema(32 + 16 + 12) }))
    .max(MAX_STATE_KEYS_PER_REQUEST),
  signature: signatureSchema,
});
