// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {EpochSnapshot, IWorkerSelection} from "./IWorkerSelection.sol";
import {SelectionDraws} from "./SelectionDraws.sol";

/// @title What every strategy shares: it writes `_select`, the rest follows
abstract contract WorkerSelectionBase is IWorkerSelection {
    /// @inheritdoc IWorkerSelection
    function selectGroup(
        uint256 epochsSlot,
        uint256 index,
        bytes32 scAddr
    ) external view returns (address[] memory group) {
        return _select(SelectionDraws.epochsAt(epochsSlot), index, scAddr);
    }

    /// @inheritdoc IWorkerSelection
    function isSelected(
        uint256 epochsSlot,
        uint256 index,
        bytes32 scAddr,
        address worker
    ) external view virtual returns (bool) {
        address[] memory group = _select(SelectionDraws.epochsAt(epochsSlot), index, scAddr);
        for (uint256 i = 0; i < group.length; ++i) {
            if (group[i] == worker) return true;
        }
        return false;
    }

    /// @notice The group for `scAddr` in `epochs[index]`, in draw order (distinct signers).
    function _select(
        mapping(uint256 => EpochSnapshot) storage epochs,
        uint256 index,
        bytes32 scAddr
    ) internal view virtual returns (address[] memory group);
}
