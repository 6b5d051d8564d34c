// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title Test double: an Ethereum contract that a secret contract calls back
/// @notice A voting secret contract tallies encrypted votes and, when a poll closes, asks the
/// Enigma contract to publish the result here. Only the Enigma contract may publish.
contract VotingTally {
    error OnlyEnigma(address caller);
    error PollAlreadyPublished(uint256 pollId);

    address public immutable ENIGMA;
    mapping(uint256 pollId => uint256) public yes;
    mapping(uint256 pollId => uint256) public no;
    mapping(uint256 pollId => bool) public published;

    // solhint-disable-next-line gas-indexed-events
    event TallyPublished(uint256 indexed pollId, uint256 yes, uint256 no);

    constructor(address enigma) {
        ENIGMA = enigma;
    }

    /// @notice The voting example's callback (`pollClosed(uint256,uint256)`): publishes poll 0.
    function pollClosed(uint256 yesVotes, uint256 noVotes) external {
        publish(0, yesVotes, noVotes);
    }

    function publish(uint256 pollId, uint256 yesVotes, uint256 noVotes) public {
        if (msg.sender != ENIGMA) revert OnlyEnigma(msg.sender);
        if (published[pollId]) revert PollAlreadyPublished(pollId);
        published[pollId] = true;
        yes[pollId] = yesVotes;
        no[pollId] = noVotes;
        emit TallyPublished(pollId, yesVotes, noVotes);
    }

    /// @notice Burns all the gas it is given (a target that can never finish).
    function burn() external pure {
        uint256 x;
        while (true) {
            unchecked {
                ++x;
            }
        }
    }
}
