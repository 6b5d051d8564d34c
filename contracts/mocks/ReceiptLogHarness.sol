// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ReceiptLog} from "../libraries/ReceiptLog.sol";

/// @title Test double: exposes the receipt log library (layout, size bound, address derivation)
contract ReceiptLogHarness {
    uint256 public logs;

    event Written(address indexed log);

    /// @notice Writes `words` as this harness's next log (created by nothing else).
    function write(bytes32[] calldata words) external returns (address log) {
        bytes memory buf = ReceiptLog.alloc(words.length);
        for (uint256 i = 0; i < words.length; ++i) ReceiptLog.set(buf, i, words[i]);
        log = ReceiptLog.deploy(buf, words.length, logs);
        ++logs;
        emit Written(log);
    }

    /// @notice Writes `words` claiming to be log `id` (wrong unless `id == logs`).
    function writeAs(bytes32[] calldata words, uint256 id) external returns (address log) {
        bytes memory buf = ReceiptLog.alloc(words.length);
        for (uint256 i = 0; i < words.length; ++i) ReceiptLog.set(buf, i, words[i]);
        log = ReceiptLog.deploy(buf, words.length, id);
    }

    function addressOf(address creator, uint256 id) external pure returns (address) {
        return ReceiptLog.addressOf(creator, id);
    }

    function word(address log, uint256 index) external view returns (bytes32) {
        return ReceiptLog.word(log, index);
    }

    function read(address log, uint256 at, uint256 count) external view returns (bytes32[] memory) {
        bytes32[] memory out = new bytes32[](count);
        ReceiptLog.copy(log, at, count, out, 0);
        return out;
    }
}
