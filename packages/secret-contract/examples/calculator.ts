// A calculator over uint256: add, sub, mul. Overflow and underflow trap (like Solidity 0.8).
// `call()` dispatches on the function's name, as eng-wasm's generated dispatcher does.
import { AbiWriter, abiArgs, functionName, retAbi, unknownFunction } from "../assembly";

export function deploy(): void {}

export function call(): void {
  const f = functionName();
  const a = abiArgs();
  if (f == "add") {
    retAbi(new AbiWriter().u256(a.u256().add(a.u256())));
  } else if (f == "sub") {
    retAbi(new AbiWriter().u256(a.u256().sub(a.u256())));
  } else if (f == "mul") {
    retAbi(new AbiWriter().u256(a.u256().mul(a.u256())));
  } else {
    unknownFunction();
  }
}
