// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title Test double: a callback target that re-enters the Enigma contract
/// @notice When called back it replays `payload` against Enigma (for example
/// `returnFeesForTask` of the task being committed, or a whole `commitReceipts`) and
/// bubbles the outcome up, so a blocked re-entry makes the callback fail.
contract ReentrantCallback {
    error ReentryFailed(bytes reason);

    address public immutable ENIGMA;
    bytes public payload;
    bool public reentered;

    constructor(address enigma) {
        ENIGMA = enigma;
    }

    function setPayload(bytes calldata data) external {
        payload = data;
    }

    function attack() external {
        // The point of this double is a raw re-entry.
        // solhint-disable-next-line avoid-low-level-calls
        (bool ok, bytes memory reason) = ENIGMA.call(payload);
        if (!ok) revert ReentryFailed(reason);
        reentered = true;
    }
}
