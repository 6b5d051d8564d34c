// Yao's millionaires' problem: each millionaire submits their net worth in secret; only the
// richest one's address is ever revealed. Each entry is kept as two JSON values: the
// millionaire's id (a hex string) and their worth (a U256 in ethereum-types' hex form).
import {
  AbiWriter,
  U256,
  abiArgs,
  functionName,
  readBytesState,
  readU256State,
  readU64State,
  retAbi,
  unknownFunction,
  writeBytesState,
  writeU256State,
  writeU64State,
} from "../assembly";

const COUNT = "count";

export function deploy(): void {
  writeU64State(COUNT, 0);
}

function addMillionaire(): void {
  const a = abiArgs();
  const who = a.bytes32();
  const worth = a.u256();
  const n = readU64State(COUNT);
  writeBytesState("who" + n.toString(), who);
  writeU256State("worth" + n.toString(), worth);
  writeU64State(COUNT, n + 1);
  retAbi(new AbiWriter().u64(n + 1));
}

function computeRichest(): void {
  const n = readU64State(COUNT);
  let best = new Uint8Array(32);
  let bestWorth = U256.zero();
  for (let i: u64 = 0; i < n; i++) {
    const worth = readU256State("worth" + i.toString());
    if (i == 0 || worth.gt(bestWorth)) {
      bestWorth = worth;
      best = readBytesState("who" + i.toString())!;
    }
  }
  retAbi(new AbiWriter().bytes32(best));
}

export function call(): void {
  const f = functionName();
  if (f == "add_millionaire") addMillionaire();
  else if (f == "compute_richest") computeRichest();
  else unknownFunction();
}
