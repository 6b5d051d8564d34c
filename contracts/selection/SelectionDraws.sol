// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {EpochSnapshot} from "./IWorkerSelection.sol";

// "Zero or below" (r <= stake) is the specified rule; a strict comparison would change it.
/* solhint-disable gas-strict-inequalities */

/// @title Discovery's draws over a stored epoch snapshot, for selection strategies
/// @notice The same walk as `libraries/WorkerSelection.sol` (`drawStored`), returning the
/// worker's index so that a strategy can exclude it or compare it. TypeScript reference:
/// `referenceDraws` (packages/protocol/src/policy/draws.ts).
library SelectionDraws {
    /// @notice "Nobody": the epoch has no worker or no stake.
    uint256 internal constant NONE = type(uint256).max;

    /// @notice The host's epochs mapping at `slot`.
    function epochsAt(
        uint256 slot
    ) internal pure returns (mapping(uint256 => EpochSnapshot) storage epochs) {
        // solhint-disable-next-line no-inline-assembly
        assembly {
            epochs.slot := slot
        }
    }

    /// @notice Draw `n`: `r = keccak256(abi.encode(seed, scAddr, n)) % totalStake`; walk the
    /// workers subtracting each stake; the first that takes `r` to zero or below wins, else the
    /// last. Reads stakes only up to the chosen worker.
    function draw(
        EpochSnapshot storage e,
        bytes32 scAddr,
        uint256 n
    ) internal view returns (uint256) {
        uint256 count = e.workers.length;
        uint256 total = e.totalStake;
        if (count == 0 || total == 0) return NONE;
        uint256 r = uint256(keccak256(abi.encode(e.seed, scAddr, n))) % total;
        uint256[] storage stakes = e.stakes;
        for (uint256 i = 0; i < count; ++i) {
            uint256 stake = stakes[i];
            if (r <= stake) return i;
            r -= stake;
        }
        return count - 1;
    }

    /// @notice Draw `n` over the workers other than `excluded` (an index of the snapshot):
    /// `r = hash % (totalStake - its stake)`, and the walk skips it. NONE when the others hold
    /// no stake.
    function drawExcluding(
        EpochSnapshot storage e,
        bytes32 scAddr,
        uint256 n,
        uint256 excluded
    ) internal view returns (uint256) {
        uint256 count = e.workers.length;
        uint256[] storage stakes = e.stakes;
        uint256 total = e.totalStake - stakes[excluded];
        if (total == 0) return NONE;
        uint256 r = uint256(keccak256(abi.encode(e.seed, scAddr, n))) % total;
        for (uint256 i = 0; i < count; ++i) {
            if (i == excluded) continue;
            uint256 stake = stakes[i];
            if (r <= stake) return i;
            r -= stake;
        }
        return excluded == count - 1 ? count - 2 : count - 1;
    }
}
