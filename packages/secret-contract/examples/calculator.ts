// A calculator over uint256: add, sub, mul. Overflow and underflow trap (like Solidity 0.8).
import { AbiWriter, abiArgs, functionName, retAbi, unknownFunction } from "../assembly";

export function deploy(): void {}

export function call(): void {
  const f = functionName();
  const a = abiArgs();
  if (f == "add(uint256,uint256)") {
    retAbi(new AbiWriter().u256(a.u256().add(a.u256())));
  } else if (f == "sub(uint256,uint256)") {
    retAbi(new AbiWriter().u256(a.u256().sub(a.u256())));
  } else if (f == "mul(uint256,uint256)") {
    retAbi(new AbiWriter().u256(a.u256().mul(a.u256())));
  } else {
    unknownFunction();
  }
}
