// Yao's millionaires' problem: each millionaire submits their net worth in secret; only the
// richest one's address is ever revealed.
import {
  AbiWriter,
  U256,
  abiArgs,
  functionName,
  mapKey,
  readStateAt,
  readU64State,
  retAbi,
  u64ToBytes,
  unknownFunction,
  writeStateAt,
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
  const entry = new Uint8Array(64);
  entry.set(who);
  entry.set(worth.toBytes32(), 32);
  writeStateAt(mapKey("m", u64ToBytes(n)), entry);
  writeU64State(COUNT, n + 1);
  retAbi(new AbiWriter().u64(n + 1));
}

function computeRichest(): void {
  const n = readU64State(COUNT);
  let best = new Uint8Array(32);
  let bestWorth = U256.zero();
  for (let i: u64 = 0; i < n; i++) {
    const e = readStateAt(mapKey("m", u64ToBytes(i)));
    if (e == null) unreachable();
    const entry = e!;
    const worth = U256.fromBytes32(entry, 32);
    if (i == 0 || worth.gt(bestWorth)) {
      bestWorth = worth;
      best = entry.slice(0, 32);
    }
  }
  retAbi(new AbiWriter().bytes32(best));
}

export function call(): void {
  const f = functionName();
  if (f == "add_millionaire(bytes32,uint256)") addMillionaire();
  else if (f == "compute_richest()") computeRichest();
  else unknownFunction();
}
