import {
  aesDecrypt,
  aesEncrypt,
  decodeValues,
  deploymentInputsHash,
  deriveSharedKey,
  encodeArgs,
  inputsHash,
  type BytesLike,
  type Hex,
  type KeyPair,
} from "@enigma/protocol";

/** A call encrypted for one worker, with the hash its task record commits to. */
export interface EncryptedCall {
  encryptedFn: Uint8Array;
  encryptedArgs: Uint8Array;
  inputsHash: Hex;
}

const utf8 = new TextEncoder();

/**
 * Encrypts a call to a worker's enclave key (DESIGN.md section 5): the function as its UTF-8
 * signature, the arguments ABI-encoded, both AES-256-GCM under the user/worker ECDH key.
 * `target` is the secret contract address, or for a deployment `{ preCode }` (the hash then
 * covers keccak256 of the un-gzipped pre-code).
 *
 * @example
 * const call = encryptCall(user, workerKey, "add(uint256,uint256)", [1, 2], scAddr);
 */
export function encryptCall(
  user: KeyPair,
  workerKey: BytesLike,
  fnSig: string,
  args: readonly unknown[],
  target: Hex | { preCode: Uint8Array },
  iv?: { fn: Uint8Array; args: Uint8Array },
): EncryptedCall {
  return encryptCallWith(
    deriveSharedKey(user.privateKey, workerKey),
    user.publicKey,
    fnSig,
    args,
    target,
    iv,
  );
}

/**
 * `encryptCall` under a shared key derived once (`deriveSharedKey(user.privateKey, workerKey)`):
 * the ECDH is most of a task's client-side CPU (about 2.4 ms here), and a task needs the key
 * three times (function, arguments, output).
 */
export function encryptCallWith(
  sharedKey: Uint8Array,
  userPublicKey: Uint8Array,
  fnSig: string,
  args: readonly unknown[],
  target: Hex | { preCode: Uint8Array },
  iv?: { fn: Uint8Array; args: Uint8Array },
): EncryptedCall {
  const encodedArgs = encodeArgs(fnSig, args);
  const encryptedFn = aesEncrypt(sharedKey, utf8.encode(fnSig), iv?.fn);
  const encryptedArgs = aesEncrypt(sharedKey, encodedArgs, iv?.args);
  const hash =
    typeof target === "string"
      ? inputsHash(encryptedFn, encryptedArgs, target, userPublicKey)
      : deploymentInputsHash(encryptedFn, encryptedArgs, target.preCode, userPublicKey);
  return { encryptedFn, encryptedArgs, inputsHash: hash };
}

/**
 * Decrypts a task output the worker encrypted back to the user; ABI-decodes it when
 * `returnTypes` is given. An empty output stays empty. Throws `DecryptionFailed` when the
 * output was not encrypted to this key pair, `AbiDecodingFailed` when it does not decode.
 */
export function decryptOutput(
  user: KeyPair,
  workerKey: BytesLike,
  output: Uint8Array,
  returnTypes?: readonly string[],
): { plain: Uint8Array; values?: unknown[] } {
  if (output.length === 0) return decryptOutputWith(new Uint8Array(32), output, returnTypes);
  return decryptOutputWith(deriveSharedKey(user.privateKey, workerKey), output, returnTypes);
}

/** `decryptOutput` under the task's shared key (see `encryptCallWith`). */
export function decryptOutputWith(
  sharedKey: Uint8Array,
  output: Uint8Array,
  returnTypes?: readonly string[],
): { plain: Uint8Array; values?: unknown[] } {
  const plain = output.length === 0 ? output : aesDecrypt(sharedKey, output);
  if (returnTypes === undefined) return { plain };
  return { plain, values: decodeValues(returnTypes, plain) };
}
