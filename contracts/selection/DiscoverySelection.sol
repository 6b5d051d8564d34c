// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {EpochSnapshot} from "./IWorkerSelection.sol";
import {SelectionDraws} from "./SelectionDraws.sol";
import {WorkerSelectionBase} from "./WorkerSelectionBase.sol";

/// @title Discovery's selection (the default): the worker of draw 0, a group of one
/// @notice Gives exactly `WorkerSelection.drawStored(seed, scAddr, 0, ...)`, which `Enigma`
/// inlines today (a harness test checks it on random epochs). TypeScript twin:
/// `discoverySelection` (`packages/protocol/src/policy/discovery.ts`).
contract DiscoverySelection is WorkerSelectionBase {
    function name() external pure returns (string memory) {
        return "discovery";
    }

    function groupSize() external pure returns (uint256) {
        return 1;
    }

    function lookback() external pure returns (uint256) {
        return 0;
    }

    /// @notice A receipt check without building the one-element group.
    function isSelected(
        uint256 epochsSlot,
        uint256 index,
        bytes32 scAddr,
        address worker
    ) external view override returns (bool) {
        EpochSnapshot storage e = SelectionDraws.epochsAt(epochsSlot)[index];
        uint256 i = SelectionDraws.draw(e, scAddr, 0);
        return i != SelectionDraws.NONE && e.workers[i] == worker;
    }

    function _select(
        mapping(uint256 => EpochSnapshot) storage epochs,
        uint256 index,
        bytes32 scAddr
    ) internal view override returns (address[] memory group) {
        EpochSnapshot storage e = epochs[index];
        uint256 i = SelectionDraws.draw(e, scAddr, 0);
        if (i == SelectionDraws.NONE) return new address[](0);
        group = new address[](1);
        group[0] = e.workers[i];
    }
}
