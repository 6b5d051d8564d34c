// A private ERC20-like token: balances live in secret state; only the holder learns their
// balance. The host interface has no caller identity, so `from` is an argument: a real
// deployment would check a signature of `from` over the call (left out of this example).
import {
  AbiWriter,
  U256,
  abiArgs,
  functionName,
  mapKey,
  readState,
  readU256At,
  retAbi,
  unknownFunction,
  writeState,
  writeU256At,
} from "../assembly";

// constructor: construct(address owner, uint256 supply)
export function deploy(): void {
  const a = abiArgs();
  const owner = a.address();
  const supply = a.u256();
  writeU256At(mapKey("bal", owner), supply);
  writeState("supply", supply.toBytes32());
}

function transfer(): void {
  const a = abiArgs();
  const from = a.address();
  const to = a.address();
  const amount = a.u256();
  const fromKey = mapKey("bal", from);
  const balance = readU256At(fromKey);
  if (balance.lt(amount)) unreachable(); // insufficient balance
  writeU256At(fromKey, balance.sub(amount));
  const toKey = mapKey("bal", to);
  writeU256At(toKey, readU256At(toKey).add(amount));
  retAbi(new AbiWriter().bool(true));
}

export function call(): void {
  const f = functionName();
  if (f == "transfer(address,address,uint256)") transfer();
  else if (f == "balance_of(address)")
    retAbi(new AbiWriter().u256(readU256At(mapKey("bal", abiArgs().address()))));
  else if (f == "total_supply()")
    retAbi(new AbiWriter().u256(U256.fromBytes32(readState("supply")!)));
  else unknownFunction();
}
