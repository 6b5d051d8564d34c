// Secret voting: ballots stay secret; closing the poll reports only the tally to an Ethereum
// contract, through the bridge (calldata `pollClosed(uint256,uint256)` to the address given
// to the constructor).
import {
  AbiWriter,
  abiArgs,
  callEthereum,
  functionName,
  mapKey,
  readState,
  readStateAt,
  readU64State,
  retAbi,
  selector,
  unknownFunction,
  writeState,
  writeStateAt,
  writeU64State,
} from "../assembly";

// constructor: construct(address reporter)
export function deploy(): void {
  writeState("reporter", abiArgs().address());
  writeU64State("yes", 0);
  writeU64State("no", 0);
}

function castVote(): void {
  if (readState("closed") != null) unreachable(); // the poll is closed
  const a = abiArgs();
  const voter = a.bytes32();
  const inFavour = a.bool();
  const key = mapKey("voted", voter);
  if (readStateAt(key) != null) unreachable(); // one vote per voter
  writeStateAt(key, Uint8Array.wrap(String.UTF8.encode("1")));
  const which = inFavour ? "yes" : "no";
  writeU64State(which, readU64State(which) + 1);
  retAbi(new AbiWriter().bool(true));
}

function closePoll(): void {
  if (readState("closed") != null) unreachable();
  writeState("closed", Uint8Array.wrap(String.UTF8.encode("1")));
  const yes = readU64State("yes");
  const no = readU64State("no");
  callEthereum(
    readState("reporter")!,
    selector("pollClosed(uint256,uint256)"),
    new AbiWriter().u64(yes).u64(no),
  );
  retAbi(new AbiWriter().u64(yes).u64(no));
}

export function call(): void {
  const f = functionName();
  if (f == "cast_vote(bytes32,bool)") castVote();
  else if (f == "close_poll()") closePoll();
  else unknownFunction();
}
