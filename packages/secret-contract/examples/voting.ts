// Secret voting: ballots stay secret; closing the poll reports only the tally to an Ethereum
// contract, through the bridge (calldata `pollClosed(uint256,uint256)` to the address given
// to the constructor).
import {
  AbiWriter,
  abiArgs,
  callEthereum,
  functionName,
  hasState,
  mapKey,
  readBytesState,
  readU64State,
  retAbi,
  selector,
  unknownFunction,
  writeBoolState,
  writeBytesState,
  writeU64State,
} from "../assembly";

// constructor: construct(address reporter)
export function deploy(): void {
  writeBytesState("reporter", abiArgs().address());
  writeU64State("yes", 0);
  writeU64State("no", 0);
}

function castVote(): void {
  if (hasState("closed")) unreachable(); // the poll is closed
  const a = abiArgs();
  const voter = a.bytes32();
  const inFavour = a.bool();
  const key = mapKey("voted", voter);
  if (hasState(key)) unreachable(); // one vote per voter
  writeBoolState(key, true);
  const which = inFavour ? "yes" : "no";
  writeU64State(which, readU64State(which) + 1);
  retAbi(new AbiWriter().bool(true));
}

function closePoll(): void {
  if (hasState("closed")) unreachable();
  writeBoolState("closed", true);
  const yes = readU64State("yes");
  const no = readU64State("no");
  callEthereum(
    readBytesState("reporter")!,
    selector("pollClosed(uint256,uint256)"),
    new AbiWriter().u64(yes).u64(no),
  );
  retAbi(new AbiWriter().u64(yes).u64(no));
}

export function call(): void {
  const f = functionName();
  if (f == "cast_vote") castVote();
  else if (f == "close_poll") closePoll();
  else unknownFunction();
}
