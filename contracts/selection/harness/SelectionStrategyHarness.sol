// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {EpochSnapshot, IWorkerSelection} from "../IWorkerSelection.sol";
import {WorkerSelectionHost} from "../WorkerSelectionHost.sol";
import {WorkerSelection} from "../../libraries/WorkerSelection.sol";

/// @title Test double: a host that stores epochs as `Enigma` does and delegates to a strategy
/// @notice Used by the "Solidity and TypeScript agree" property tests (`contracts/test/selection/`)
/// and, through `drawStored`, to hold `DiscoverySelection` to the library `Enigma` inlines.
contract SelectionStrategyHarness is WorkerSelectionHost {
    mapping(uint256 index => EpochSnapshot) internal epochs;

    error StakeTooLarge();

    constructor(IWorkerSelection selection) WorkerSelectionHost(selection) {}

    /// @notice Replaces epoch `index` (the total is the sum of `stakes`, as `Enigma` keeps it).
    function setEpoch(
        uint256 index,
        uint256 seed,
        address[] calldata workers,
        uint256[] calldata stakes
    ) external {
        delete epochs[index];
        EpochSnapshot storage e = epochs[index];
        uint256 total = 0;
        for (uint256 i = 0; i < workers.length; ++i) {
            e.workers.push(workers[i]);
            e.stakes.push(stakes[i]);
            total += stakes[i];
        }
        if (total > type(uint96).max) revert StakeTooLarge();
        e.totalStake = uint96(total);
        e.seed = seed;
    }

    function selectGroup(uint256 index, bytes32 scAddr) external view returns (address[] memory) {
        return _selectGroup(index, scAddr);
    }

    function isSelected(
        uint256 index,
        bytes32 scAddr,
        address worker
    ) external view returns (bool) {
        return _isSelected(index, scAddr, worker);
    }

    /// @notice What `Enigma` computes today for the epoch (the inlined library).
    function drawStored(uint256 index, bytes32 scAddr) external view returns (address) {
        EpochSnapshot storage e = epochs[index];
        return WorkerSelection.drawStored(e.seed, scAddr, 0, e.workers, e.stakes, e.totalStake);
    }

    function _epochsSlot() internal pure override returns (uint256 slot) {
        // solhint-disable-next-line no-inline-assembly
        assembly {
            slot := epochs.slot
        }
    }
}
