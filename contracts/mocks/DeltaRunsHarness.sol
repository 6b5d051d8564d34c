// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {DeltaRuns} from "../libraries/DeltaRuns.sol";

/// @title Test double: exposes the packed delta-run list
contract DeltaRunsHarness {
    using DeltaRuns for DeltaRuns.List;

    DeltaRuns.List internal list;
    uint256 public count;

    function push(uint256 log, uint256 at, uint256 n, uint256 first) external {
        list.put(count, DeltaRuns.Run(log, at, n, first));
        ++count;
    }

    function get(uint256 k) external view returns (DeltaRuns.Run memory) {
        return list.get(k);
    }

    function total() external view returns (uint256) {
        return list.total(count);
    }

    function find(uint256 index) external view returns (uint256) {
        return list.find(count, index);
    }
}
