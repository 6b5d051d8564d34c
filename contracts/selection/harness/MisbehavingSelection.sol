// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title Test double: a strategy that tries to write its host's storage, or reverts
/// @notice Has `IWorkerSelection`'s selectors but not its `view` promise (mode 0 writes slot 0
/// of whatever storage it runs in; mode 1 reverts with `Refused(7)`). The host's STATICCALL
/// must stop the write, and pass the revert through unchanged.
contract MisbehavingSelection {
    uint256 internal immutable MODE;

    error Refused(uint256 code);

    constructor(uint256 mode) {
        MODE = mode;
    }

    function isSelected(uint256, uint256, bytes32, address) external returns (bool) {
        if (MODE == 1) revert Refused(7);
        // solhint-disable-next-line no-inline-assembly
        assembly {
            sstore(0, 1)
        }
        return true;
    }

    function selectGroup(uint256, uint256, bytes32) external returns (address[] memory group) {
        if (MODE == 1) revert Refused(7);
        // solhint-disable-next-line no-inline-assembly
        assembly {
            sstore(0, 1)
        }
        group = new address[](0);
    }
}
