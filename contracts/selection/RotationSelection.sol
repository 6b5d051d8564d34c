// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";
import {EpochSnapshot} from "./IWorkerSelection.sol";
import {SelectionDraws} from "./SelectionDraws.sol";
import {WorkerSelectionBase} from "./WorkerSelectionBase.sol";

/// @title Term limits: a worker keeps a contract at most `maxEpochs` epochs in a row
/// @notice A contract's terms start at the epochs where `(index + uint32(uint256(scAddr))) %
/// maxEpochs == 0`. Inside a term the worker is Discovery's (draw 0). At a term's first epoch,
/// when draw 0 picks the worker of draw 0 in the previous epoch (the holder: that epoch is never
/// a term start), the same hash is drawn over the others' stake; when they hold none, the
/// holder stays. Reads the previous epoch's snapshot, which the host keeps (lookback 1).
/// TypeScript twin: `rotationSelection(maxEpochs)`.
contract RotationSelection is WorkerSelectionBase {
    uint256 internal immutable TERM;

    error InvalidTerm(uint256 maxEpochs);

    constructor(uint256 maxEpochs) {
        if (maxEpochs < 2 || maxEpochs > 1_000_000) revert InvalidTerm(maxEpochs);
        TERM = maxEpochs;
    }

    function name() external view returns (string memory) {
        return string.concat("rotation:", Strings.toString(TERM));
    }

    function groupSize() external pure returns (uint256) {
        return 1;
    }

    function lookback() external pure returns (uint256) {
        return 1;
    }

    function _select(
        mapping(uint256 => EpochSnapshot) storage epochs,
        uint256 index,
        bytes32 scAddr
    ) internal view override returns (address[] memory group) {
        EpochSnapshot storage e = epochs[index];
        uint256 chosen = SelectionDraws.draw(e, scAddr, 0);
        if (chosen == SelectionDraws.NONE) return new address[](0);
        if (index != 0 && (index + uint32(uint256(scAddr))) % TERM == 0) {
            EpochSnapshot storage p = epochs[index - 1];
            uint256 held = SelectionDraws.draw(p, scAddr, 0);
            if (held != SelectionDraws.NONE && p.workers[held] == e.workers[chosen]) {
                uint256 other = SelectionDraws.drawExcluding(e, scAddr, 0, chosen);
                if (other != SelectionDraws.NONE) chosen = other;
            }
        }
        group = new address[](1);
        group[0] = e.workers[chosen];
    }
}
