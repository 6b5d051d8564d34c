// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {TaskRecord} from "../libraries/TaskRecord.sol";

interface IEnigmaViews {
    function getTaskRecord(bytes32 taskId) external view returns (TaskRecord.View memory);

    function countStateDeltas(bytes32 scAddr) external view returns (uint256);
}

/// @title Test double: a task's Ethereum call target that reads Enigma mid-commit, and a relay
/// that sends several calls to Enigma in one transaction
contract ReceiptProbe {
    address public immutable ENIGMA;

    bytes32 public seenOutputHash;
    uint8 public seenStatus;
    uint256 public seenDeltaCount;
    bool[] public results;

    constructor(address enigma) {
        ENIGMA = enigma;
    }

    /// @notice Called by Enigma as a task's Ethereum call: records what the views show.
    function probe(bytes32 taskId, bytes32 scAddr) external {
        TaskRecord.View memory t = IEnigmaViews(ENIGMA).getTaskRecord(taskId);
        seenOutputHash = t.outputHash;
        seenStatus = t.status;
        seenDeltaCount = IEnigmaViews(ENIGMA).countStateDeltas(scAddr);
    }

    /// @notice Sends each call to Enigma in this one transaction, recording which succeeded.
    function relay(bytes[] calldata calls) external {
        delete results;
        for (uint256 i = 0; i < calls.length; ++i) {
            // solhint-disable-next-line avoid-low-level-calls
            (bool ok, ) = ENIGMA.call(calls[i]);
            results.push(ok);
        }
    }
}
