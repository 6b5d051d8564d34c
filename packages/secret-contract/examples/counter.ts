// A counter kept in secret state (a JSON number): the smallest contract that uses state,
// dispatch and output.
import {
  functionName,
  readU64State,
  ret,
  u64ToBytes,
  unknownFunction,
  writeU64State,
} from "../assembly";

const KEY = "count";

export function deploy(): void {
  writeU64State(KEY, 0);
}

export function call(): void {
  const f = functionName();
  if (f == "increment") {
    const next = readU64State(KEY) + 1;
    writeU64State(KEY, next);
    ret(u64ToBytes(next));
  } else if (f == "get") {
    ret(u64ToBytes(readU64State(KEY)));
  } else {
    unknownFunction(); // the runtime reports the typed failure UnknownFunction
  }
}
