// A counter kept in secret state: the smallest contract that uses state, dispatch and output.
import {
  bytesToU64,
  functionName,
  readState,
  ret,
  u64ToBytes,
  unknownFunction,
  writeState,
} from "../assembly";

const KEY = "count";

function current(): u64 {
  const v = readState(KEY);
  return v == null ? 0 : bytesToU64(v);
}

export function deploy(): void {
  writeState(KEY, u64ToBytes(0));
}

export function call(): void {
  const f = functionName();
  if (f == "increment()") {
    const next = current() + 1;
    writeState(KEY, u64ToBytes(next));
    ret(u64ToBytes(next));
  } else if (f == "get()") {
    ret(u64ToBytes(current()));
  } else {
    unknownFunction(); // the runtime reports the typed failure UnknownFunction
  }
}
