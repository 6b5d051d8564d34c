// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {WorkerSelection} from "../libraries/WorkerSelection.sol";

/// @title Test double: exposes the selection library for the TypeScript parity property test
contract SelectionHarness {
    function select(
        uint256 seed,
        bytes32 scAddr,
        address[] calldata workers,
        uint256[] calldata stakes
    ) external pure returns (address) {
        return WorkerSelection.select(seed, scAddr, workers, stakes);
    }

    function draw(
        uint256 seed,
        bytes32 scAddr,
        uint256 n,
        address[] calldata workers,
        uint256[] calldata stakes
    ) external pure returns (address) {
        return
            WorkerSelection.draw(
                seed,
                scAddr,
                n,
                workers,
                stakes,
                WorkerSelection.totalStake(stakes)
            );
    }
}
