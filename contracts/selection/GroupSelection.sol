// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";
import {EpochSnapshot} from "./IWorkerSelection.sol";
import {SelectionDraws} from "./SelectionDraws.sol";
import {WorkerSelectionBase} from "./WorkerSelectionBase.sol";

/// @title Groups of k workers per contract, drawn as Discovery's `workerGroupSize` did
/// @notice Draws n = 0, 1, ... keeping each signer not already held, until k are held (k is
/// clamped to the epoch's worker count, as in Discovery's `getWorkerGroupImpl`) or MAX_DRAWS
/// draws were made (Discovery looped forever there). TypeScript twin: `groupSelection(k)`.
contract GroupSelection is WorkerSelectionBase {
    /// @notice Same bound as `GROUP_MAX_DRAWS` in TypeScript.
    uint256 public constant MAX_DRAWS = 1024;

    uint256 internal immutable K;

    error InvalidGroupSize(uint256 k);

    constructor(uint256 k) {
        if (k == 0 || k > 64) revert InvalidGroupSize(k);
        K = k;
    }

    function name() external view returns (string memory) {
        return string.concat("group:", Strings.toString(K));
    }

    function groupSize() external view returns (uint256) {
        return K;
    }

    function lookback() external pure returns (uint256) {
        return 0;
    }

    function _select(
        mapping(uint256 => EpochSnapshot) storage epochs,
        uint256 index,
        bytes32 scAddr
    ) internal view override returns (address[] memory group) {
        EpochSnapshot storage e = epochs[index];
        uint256 count = e.workers.length;
        uint256 size = K < count ? K : count;
        group = new address[](size);
        uint256 filled = 0;
        for (uint256 n = 0; filled < size && n < MAX_DRAWS; ++n) {
            uint256 i = SelectionDraws.draw(e, scAddr, n);
            if (i == SelectionDraws.NONE) return new address[](0);
            address w = e.workers[i];
            bool held = false;
            for (uint256 j = 0; j < filled; ++j) {
                if (group[j] == w) {
                    held = true;
                    break;
                }
            }
            if (!held) {
                group[filled] = w;
                ++filled;
            }
        }
        // Shrink to the members found (memory array length word).
        // solhint-disable-next-line no-inline-assembly
        assembly {
            mstore(group, filled)
        }
    }
}
