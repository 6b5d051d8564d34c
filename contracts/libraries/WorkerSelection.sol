// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

// "Zero or below" (r <= stake) is the specified rule; a strict comparison would change it.
/* solhint-disable gas-strict-inequalities */

/// @title Worker selection (DESIGN.md section 5), the one Solidity implementation
/// @notice Stake-weighted draw of the worker of a secret contract for one epoch. The same
/// function lives in the protocol package (selection.ts); a property test checks they agree.
/// @dev Discovery draws `n = 0, 1, ...` until it holds `groupSize` distinct workers. The
/// network runs with a group size of 1, so only the draw `n = 0` is ever made here; `draw`
/// takes `n` so that a larger group can be built by the caller the way Discovery did.
library WorkerSelection {
    /// @notice The worker picked by draw `n`: `r = keccak256(abi.encode(seed, scAddr, n)) % total`,
    /// then walk the workers subtracting each stake; the first that takes `r` to zero or below
    /// wins, else the last. Returns address(0) when there is no worker or no stake.
    function draw(
        uint256 seed,
        bytes32 scAddr,
        uint256 n,
        address[] memory workers,
        uint256[] memory stakes,
        uint256 total
    ) internal pure returns (address) {
        uint256 count = workers.length;
        if (count == 0 || total == 0) return address(0);
        uint256 r = uint256(keccak256(abi.encode(seed, scAddr, n))) % total;
        for (uint256 i = 0; i < count; ++i) {
            uint256 stake = stakes[i];
            // "r - stake <= 0" in Discovery's signed arithmetic.
            if (r <= stake) return workers[i];
            r -= stake;
        }
        return workers[count - 1];
    }

    /// @notice `draw` over an epoch snapshot kept in storage: reads stakes only up to the
    /// chosen worker, with the total stored at snapshot time (same result as `draw`).
    function drawStored(
        uint256 seed,
        bytes32 scAddr,
        uint256 n,
        address[] storage workers,
        uint256[] storage stakes,
        uint256 total
    ) internal view returns (address) {
        uint256 count = workers.length;
        if (count == 0 || total == 0) return address(0);
        uint256 r = uint256(keccak256(abi.encode(seed, scAddr, n))) % total;
        for (uint256 i = 0; i < count; ++i) {
            uint256 stake = stakes[i];
            if (r <= stake) return workers[i];
            r -= stake;
        }
        return workers[count - 1];
    }

    /// @notice Sum of stakes (what `total` must be).
    function totalStake(uint256[] memory stakes) internal pure returns (uint256 total) {
        for (uint256 i = 0; i < stakes.length; ++i) total += stakes[i];
    }

    /// @notice The group of size 1 for `scAddr` (draw n = 0 only; see the library's note).
    function select(
        uint256 seed,
        bytes32 scAddr,
        address[] memory workers,
        uint256[] memory stakes
    ) internal pure returns (address) {
        return draw(seed, scAddr, 0, workers, stakes, totalStake(stakes));
    }
}
