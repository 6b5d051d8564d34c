// A sealed-bid (first-price) auction: bids stay secret; closing reveals only the winner and
// the winning price. Bidding after the close, or closing twice, fails the task.
import {
  AbiWriter,
  U256,
  abiArgs,
  functionName,
  hasState,
  mapKey,
  readBytesState,
  readU256State,
  readU64State,
  retAbi,
  unknownFunction,
  writeBoolState,
  writeBytesState,
  writeU256State,
  writeU64State,
} from "../assembly";

// constructor: construct(uint256 reservePrice)
export function deploy(): void {
  writeU256State("reserve", abiArgs().u256());
  writeU64State("bidders", 0);
}

function bid(): void {
  if (hasState("closed")) unreachable();
  const a = abiArgs();
  const bidder = a.address();
  const amount = a.u256();
  const slotKey = mapKey("slot", bidder);
  let slot: u64;
  if (!hasState(slotKey)) {
    slot = readU64State("bidders");
    writeU64State(slotKey, slot);
    writeU64State("bidders", slot + 1);
    writeBytesState("bidder" + slot.toString(), bidder);
  } else {
    slot = readU64State(slotKey);
  }
  writeU256State("bid" + slot.toString(), amount);
  retAbi(new AbiWriter().bool(true));
}

function close(): void {
  if (hasState("closed")) unreachable();
  writeBoolState("closed", true);
  const reserve = readU256State("reserve");
  const n = readU64State("bidders");
  let winner = new Uint8Array(20);
  let best = U256.zero();
  let found = false;
  for (let i: u64 = 0; i < n; i++) {
    const amount = readU256State("bid" + i.toString());
    if (amount.lt(reserve)) continue;
    if (!found || amount.gt(best)) {
      found = true;
      best = amount;
      winner = readBytesState("bidder" + i.toString())!;
    }
  }
  retAbi(new AbiWriter().bool(found).address(winner).u256(best));
}

export function call(): void {
  const f = functionName();
  if (f == "bid") bid();
  else if (f == "close") close();
  else if (f == "bidders") retAbi(new AbiWriter().u64(readU64State("bidders")));
  else unknownFunction();
}
