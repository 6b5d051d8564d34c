// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {EpochSnapshot, IWorkerSelection} from "../IWorkerSelection.sol";
import {SelectionStrategyHarness} from "./SelectionStrategyHarness.sol";
import {WorkerSelection} from "../../libraries/WorkerSelection.sol";
import {CalldataDiscovery} from "./CalldataDiscovery.sol";

/// @title Bench double: the gas of one receipt's selection check, four ways
/// @notice Each `measure` runs the check for two contracts in one call and returns the gas of
/// each: the first with cold state (the strategy's address, the epoch's slots), the second
/// warm (a later receipt of the same batch for another contract). Call each with eth_call so
/// that every variant starts cold. Variants: 0 the library inlined (Enigma today), 1 the host
/// path (STATICCALL to self, then DELEGATECALL to the strategy), 2 a bare DELEGATECALL from
/// the view (no write protection), 3 a STATICCALL to `CalldataDiscovery` with the snapshot
/// copied out of storage.
contract SelectionGasProbe is SelectionStrategyHarness {
    CalldataDiscovery internal immutable COPY_TARGET;

    error DelegateFailed();

    constructor(
        IWorkerSelection selection,
        CalldataDiscovery copyTarget
    ) SelectionStrategyHarness(selection) {
        COPY_TARGET = copyTarget;
    }

    function measure(
        uint8 variant,
        uint256 index,
        bytes32 sc1,
        bytes32 sc2,
        address worker
    ) external view returns (uint256 cold, uint256 warm, bool first, bool second) {
        uint256 g = gasleft();
        first = _check(variant, index, sc1, worker);
        cold = g - gasleft();
        g = gasleft();
        second = _check(variant, index, sc2, worker);
        warm = g - gasleft();
    }

    function _check(
        uint8 variant,
        uint256 index,
        bytes32 scAddr,
        address worker
    ) internal view returns (bool) {
        if (variant == 0) {
            EpochSnapshot storage e = epochs[index];
            address selected = WorkerSelection.drawStored(
                e.seed,
                scAddr,
                0,
                e.workers,
                e.stakes,
                e.totalStake
            );
            return selected == worker;
        }
        if (variant == 1) return _isSelected(index, scAddr, worker);
        if (variant == 2) {
            bytes memory ret = _delegateAsView()(
                abi.encodeCall(IWorkerSelection.isSelected, (_epochsSlot(), index, scAddr, worker))
            );
            return abi.decode(ret, (bool));
        }
        EpochSnapshot storage s = epochs[index];
        return COPY_TARGET.isSelected(s.seed, scAddr, s.workers, s.stakes, s.totalStake, worker);
    }

    function _delegate(bytes memory call) internal returns (bytes memory) {
        // solhint-disable-next-line avoid-low-level-calls
        (bool ok, bytes memory ret) = address(SELECTION).delegatecall(call);
        if (!ok) revert DelegateFailed();
        return ret;
    }

    /// @dev The usual cast that lets a view function DELEGATECALL (the compiler cannot see that
    /// the callee only reads): what the host path avoids by going through a STATICCALL.
    function _delegateAsView()
        internal
        pure
        returns (function(bytes memory) internal view returns (bytes memory) g)
    {
        function(bytes memory) internal returns (bytes memory) f = _delegate;
        // solhint-disable-next-line no-inline-assembly
        assembly {
            g := f
        }
    }
}
