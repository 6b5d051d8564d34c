// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @notice One epoch as `Enigma` stores it (its `epochs` mapping holds these), so that a strategy
/// reads it in place. Slot 0: firstBlockNumber | inclusionBlockNumber | totalStake (the sum of
/// `stakes`, kept at snapshot time) | policyVersion (the attestation policy the set was taken
/// under; `Enigma`'s business, not a strategy's).
struct EpochSnapshot {
    uint64 firstBlockNumber;
    uint64 inclusionBlockNumber;
    uint96 totalStake;
    uint32 policyVersion;
    uint256 seed;
    address[] workers;
    uint256[] stakes;
}

/// @title A worker-selection strategy: the Solidity twin of a TypeScript `WorkerSelectionStrategy`
/// @notice A strategy is fixed when its host (the `Enigma` contract) is deployed. The host keeps
/// every epoch in a `mapping(uint256 index => EpochSnapshot)` and runs the strategy by
/// DELEGATECALL inside a STATICCALL to itself (`WorkerSelectionHost`): the strategy reads the
/// host's snapshots in place, lazily, as the inlined library did (no copy of the worker list),
/// and cannot write anything. `epochsSlot` is the storage slot of that mapping; a strategy that
/// looks back reads `epochs[index - 1]` and so on, which the host keeps anyway.
/// @dev Results must equal the TypeScript twin's for every input: `contracts/test/selection/`
/// checks it with random epochs on the in-process chain.
interface IWorkerSelection {
    /// @notice The registry name of the TypeScript twin, with its parameter (`"group:3"`).
    function name() external view returns (string memory);

    /// @notice Workers per contract (a group may be shorter when fewer workers hold stake).
    function groupSize() external view returns (uint256);

    /// @notice How many earlier epochs a selection reads (0: the current one only).
    function lookback() external view returns (uint256);

    /// @notice The group selected for `scAddr` in epoch `index`, in draw order; empty when
    /// nobody holds stake.
    function selectGroup(
        uint256 epochsSlot,
        uint256 index,
        bytes32 scAddr
    ) external view returns (address[] memory group);

    /// @notice Whether `worker` is in that group (what a receipt check asks; a strategy may
    /// answer it cheaper than by building the group).
    function isSelected(
        uint256 epochsSlot,
        uint256 index,
        bytes32 scAddr,
        address worker
    ) external view returns (bool);
}
