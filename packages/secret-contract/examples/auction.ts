// A sealed-bid (first-price) auction: bids stay secret; closing reveals only the winner and
// the winning price. Bidding after the close, or closing twice, fails the task.
import {
  AbiWriter,
  U256,
  abiArgs,
  functionName,
  mapKey,
  readState,
  readStateAt,
  readU64State,
  retAbi,
  u64ToBytes,
  unknownFunction,
  writeState,
  writeStateAt,
  writeU64State,
} from "../assembly";

// constructor: construct(uint256 reservePrice)
export function deploy(): void {
  writeState("reserve", abiArgs().u256().toBytes32());
  writeU64State("bidders", 0);
}

function bid(): void {
  if (readState("closed") != null) unreachable();
  const a = abiArgs();
  const bidder = a.address();
  const amount = a.u256();
  const slotKey = mapKey("slot", bidder);
  const existing = readStateAt(slotKey);
  let slot: Uint8Array;
  if (existing == null) {
    const n = readU64State("bidders");
    slot = u64ToBytes(n);
    writeStateAt(slotKey, slot);
    writeU64State("bidders", n + 1);
  } else {
    slot = existing;
  }
  const entry = new Uint8Array(52);
  entry.set(bidder);
  entry.set(amount.toBytes32(), 20);
  writeStateAt(mapKey("bid", slot), entry);
  retAbi(new AbiWriter().bool(true));
}

function close(): void {
  if (readState("closed") != null) unreachable();
  writeState("closed", u64ToBytes(1));
  const reserve = U256.fromBytes32(readState("reserve")!);
  const n = readU64State("bidders");
  let winner = new Uint8Array(20);
  let best = U256.zero();
  let found = false;
  for (let i: u64 = 0; i < n; i++) {
    const e = readStateAt(mapKey("bid", u64ToBytes(i)))!;
    const amount = U256.fromBytes32(e, 20);
    if (amount.lt(reserve)) continue;
    if (!found || amount.gt(best)) {
      found = true;
      best = amount;
      winner = e.slice(0, 20);
    }
  }
  retAbi(new AbiWriter().bool(found).address(winner).u256(best));
}

export function call(): void {
  const f = functionName();
  if (f == "bid(address,uint256)") bid();
  else if (f == "close()") close();
  else if (f == "bidders()") retAbi(new AbiWriter().u64(readU64State("bidders")));
  else unknownFunction();
}
