// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

// "Zero or below" (r <= stake) is the specified rule.
/* solhint-disable gas-strict-inequalities */

/// @title Bench double: Discovery's check over a snapshot passed as calldata
/// @notice The alternative design (a STATICCALL that receives the whole worker list): the host
/// must copy the snapshot out of storage for every call. Measured, not used.
contract CalldataDiscovery {
    function isSelected(
        uint256 seed,
        bytes32 scAddr,
        address[] calldata workers,
        uint256[] calldata stakes,
        uint256 total,
        address worker
    ) external pure returns (bool) {
        uint256 count = workers.length;
        if (count == 0 || total == 0) return false;
        uint256 r = uint256(keccak256(abi.encode(seed, scAddr, uint256(0)))) % total;
        for (uint256 i = 0; i < count; ++i) {
            if (r <= stakes[i]) return workers[i] == worker;
            r -= stakes[i];
        }
        return workers[count - 1] == worker;
    }
}
