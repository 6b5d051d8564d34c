// A private ERC20-like token: balances live in secret state (U256 values in ethereum-types' hex
// form, keyed by the holder's address); only the holder learns their balance. The host
// interface has no caller identity, so `from` is an argument: a real deployment would check a
// signature of `from` over the call (left out of this example).
import {
  AbiWriter,
  abiArgs,
  functionName,
  mapKey,
  readU256State,
  retAbi,
  unknownFunction,
  writeU256State,
} from "../assembly";

// constructor: construct(address owner, uint256 supply)
export function deploy(): void {
  const a = abiArgs();
  const owner = a.address();
  const supply = a.u256();
  writeU256State(mapKey("bal", owner), supply);
  writeU256State("supply", supply);
}

function transfer(): void {
  const a = abiArgs();
  const from = a.address();
  const to = a.address();
  const amount = a.u256();
  const fromKey = mapKey("bal", from);
  const balance = readU256State(fromKey);
  if (balance.lt(amount)) unreachable(); // insufficient balance
  writeU256State(fromKey, balance.sub(amount));
  const toKey = mapKey("bal", to);
  writeU256State(toKey, readU256State(toKey).add(amount));
  retAbi(new AbiWriter().bool(true));
}

export function call(): void {
  const f = functionName();
  if (f == "transfer") transfer();
  else if (f == "balance_of")
    retAbi(new AbiWriter().u256(readU256State(mapKey("bal", abiArgs().address()))));
  else if (f == "total_supply") retAbi(new AbiWriter().u256(readU256State("supply")));
  else unknownFunction();
}
