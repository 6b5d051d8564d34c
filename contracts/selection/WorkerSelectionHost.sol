// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IWorkerSelection} from "./IWorkerSelection.sol";

/// @title A contract that keeps epoch snapshots and delegates selection to a strategy
/// @notice What `Enigma` inherits once it delegates: the strategy is fixed at deployment and
/// runs by DELEGATECALL over the host's own `mapping(uint256 => EpochSnapshot)` (read in place,
/// lazily: no copy of the worker list), inside a STATICCALL from the host to itself, so that
/// the EVM forbids the strategy any write, event or value transfer: it can choose workers,
/// nothing else.
/// @dev The self-call carries the strategy's own calldata (`isSelected(...)`, `selectGroup(...)`)
/// and lands in this fallback, since the host has no function with those selectors (a test
/// checks `Enigma`'s ABI for collisions). Measured against the inlined library
/// (`pnpm bench:selection-gas`): 4.2k gas more for a receipt's first check (2.6k of it the
/// strategy's cold address), 1.7k for later checks of other contracts in the same batch; the
/// write guard itself (the self-call) is 0.4k of that.
abstract contract WorkerSelectionHost {
    /// @notice The strategy, fixed at deployment.
    IWorkerSelection public immutable SELECTION;

    error SelectionSelfCallOnly();

    constructor(IWorkerSelection selection) {
        SELECTION = selection;
    }

    /// @notice Runs the calldata on the strategy by DELEGATECALL; only for the host's own
    /// STATICCALL (anyone else is refused).
    // The forwarding is the point of this fallback: it is the strategy's entry.
    // solhint-disable-next-line no-complex-fallback
    fallback() external {
        if (msg.sender != address(this)) revert SelectionSelfCallOnly();
        address strategy = address(SELECTION);
        // Memory from 0 is free to reuse: this frame ends with the strategy's return or revert.
        // solhint-disable-next-line no-inline-assembly
        assembly {
            calldatacopy(0, 0, calldatasize())
            let ok := delegatecall(gas(), strategy, 0, calldatasize(), 0, 0)
            returndatacopy(0, 0, returndatasize())
            if iszero(ok) {
                revert(0, returndatasize())
            }
            return(0, returndatasize())
        }
    }

    /// @notice The storage slot of the host's `mapping(uint256 => EpochSnapshot)`.
    function _epochsSlot() internal pure virtual returns (uint256);

    /// @notice The strategy's group for `scAddr` in epoch `index` (what `getWorkerGroup` returns).
    function _selectGroup(uint256 index, bytes32 scAddr) internal view returns (address[] memory) {
        return abi.decode(_selectGroupEncoded(index, scAddr), (address[]));
    }

    /// @notice The same group as the strategy returned it, ABI-encoded (`address[]`), for a host
    /// that hands it on as it is: decoding and encoding it again would cost code size.
    function _selectGroupEncoded(
        uint256 index,
        bytes32 scAddr
    ) internal view returns (bytes memory) {
        return
            _staticSelf(
                abi.encodeCall(IWorkerSelection.selectGroup, (_epochsSlot(), index, scAddr))
            );
    }

    /// @notice Whether `worker` is in that group (what a receipt check asks).
    function _isSelected(
        uint256 index,
        bytes32 scAddr,
        address worker
    ) internal view returns (bool) {
        return
            abi.decode(
                _staticSelf(
                    abi.encodeCall(
                        IWorkerSelection.isSelected,
                        (_epochsSlot(), index, scAddr, worker)
                    )
                ),
                (bool)
            );
    }

    function _staticSelf(bytes memory call) private view returns (bytes memory ret) {
        bool ok;
        // solhint-disable-next-line avoid-low-level-calls
        (ok, ret) = address(this).staticcall(call);
        if (!ok) {
            // Bubble the strategy's revert data up unchanged.
            // solhint-disable-next-line no-inline-assembly
            assembly {
                revert(add(ret, 32), mload(ret))
            }
        }
    }
}
