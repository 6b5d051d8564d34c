// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

// Clamping a requested range compares inclusively on purpose.
/* solhint-disable gas-strict-inequalities */

import {DeltaRuns} from "./DeltaRuns.sol";
import {ReceiptLog} from "./ReceiptLog.sol";

/// @title Reading a secret contract's delta hashes back from its receipt logs
/// @notice An external library (it runs in `Enigma`'s context through DELEGATECALL, so
/// `address(this)` is the creator of the receipt logs): the read path of the getters, kept out
/// of `Enigma`'s code for EIP-170's size limit.
library DeltaHashes {
    using DeltaRuns for DeltaRuns.List;

    /// @notice Delta hashes `[start, stop)` (clamped to the list) of the contract whose first
    /// `runCount` runs are in `runs`.
    function read(
        DeltaRuns.List storage runs,
        uint256 runCount,
        uint256 start,
        uint256 stop
    ) external view returns (bytes32[] memory out) {
        uint256 total = runs.total(runCount);
        if (stop > total) stop = total;
        if (start >= stop) return new bytes32[](0);
        out = new bytes32[](stop - start);
        uint256 filled = 0;
        for (uint256 k = runs.find(runCount, start); filled < out.length; ++k) {
            DeltaRuns.Run memory run = runs.get(k);
            uint256 skip = start + filled - run.first;
            uint256 take = run.count - skip;
            if (take > out.length - filled) take = out.length - filled;
            address log = ReceiptLog.addressOf(address(this), run.log);
            ReceiptLog.copy(log, run.at + skip, take, out, filled);
            filled += take;
        }
    }
}
