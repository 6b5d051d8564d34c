// A coin flip using the enclave's randomness: nobody (not even the worker) can predict it.
import {
  AbiWriter,
  abiArgs,
  functionName,
  randomBytes,
  readU64State,
  retAbi,
  unknownFunction,
  writeU64State,
} from "../assembly";

export function deploy(): void {
  writeU64State("flips", 0);
}

export function call(): void {
  const f = functionName();
  if (f == "flip") {
    const heads = (randomBytes(1)[0] & 1) == 1;
    writeU64State("flips", readU64State("flips") + 1);
    retAbi(new AbiWriter().bool(heads));
  } else if (f == "bet") {
    const guess = abiArgs().bool();
    const heads = (randomBytes(1)[0] & 1) == 1;
    writeU64State("flips", readU64State("flips") + 1);
    retAbi(new AbiWriter().bool(heads).bool(heads == guess));
  } else if (f == "flips") {
    retAbi(new AbiWriter().u64(readU64State("flips")));
  } else {
    unknownFunction();
  }
}
