// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title Receipt logs: a committed batch's output and delta hashes, kept as contract code
/// @notice A batch writes its 32-byte hashes once, as the runtime code of a small data contract
/// (`0x00` then the words: the leading STOP makes it unrunnable), and the task records and
/// secret contracts point into it. Code costs 200 gas per byte against 22,100 gas per fresh
/// storage slot, so a hash costs ~6,400 gas instead of ~22,100, and the ~32,000 gas of the
/// creation is shared by the whole batch. Logs are never modified or destroyed.
/// Logs are numbered from 0 and found by number: the creating contract must create nothing
/// else, so that log `id` is its CREATE with nonce `id + 1` (a contract's nonce starts at 1,
/// EIP-161) and its address follows from the creator's (`addressOf`); no address is stored.
/// @dev Build: `alloc(capacity)`, `set(buf, i, word)` for each word, then `deploy(buf, count,
/// id)` with the number of words actually used (words `[0, count)` must all be set).
library ReceiptLog {
    /// @dev Init code prefix: PUSH2 size, DUP1, PUSH1 10, PUSH0, CODECOPY, PUSH0, RETURN.
    uint256 private constant PREFIX_BYTES = 10;
    /// @dev Byte offset of word 0 in the buffer's data (the init code: prefix, STOP, words); in
    /// the log's code, word 0 is at byte 1 (after the STOP).
    uint256 private constant BUF_HEADER = PREFIX_BYTES + 1;
    /// @notice Words one log can hold (EIP-170 code size limit, 24,576 bytes, minus the STOP).
    uint256 internal constant MAX_WORDS = 767; // floor((24,576 - 1) / 32)

    error ReceiptLogTooLarge(uint256 words);
    error ReceiptLogNotCreated();
    error ReceiptLogMisplaced(address created, address expected);

    /// @notice A zeroed buffer for up to `capacity` words.
    function alloc(uint256 capacity) internal pure returns (bytes memory) {
        if (capacity > MAX_WORDS) revert ReceiptLogTooLarge(capacity);
        return new bytes(BUF_HEADER + capacity * 32);
    }

    /// @notice Sets word `index` (no bounds check beyond the buffer's: callers own the layout).
    function set(bytes memory buf, uint256 index, bytes32 value) internal pure {
        uint256 at = BUF_HEADER + index * 32;
        if (at + 32 > buf.length) revert ReceiptLogTooLarge(index + 1);
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            mstore(add(add(buf, 0x20), at), value)
        }
    }

    /// @notice Creates log `id`, holding words `[0, count)` of `buf`; returns its address.
    /// @dev Shortens `buf` to the init code it becomes.
    function deploy(bytes memory buf, uint256 count, uint256 id) internal returns (address log) {
        uint256 size = 1 + count * 32;
        uint256 total = PREFIX_BYTES + size;
        if (total > buf.length) revert ReceiptLogTooLarge(count);
        // 0x61 size 0x80 0x60 0x0a 0x5f 0x39 0x5f 0xf3, then the STOP (0x00): the top 11 bytes.
        uint256 prefix = (0x61 << 248) | (size << 232) | (0x80600a5f395ff3 << 176);
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            let data := add(buf, 0x20)
            let keep := and(mload(data), sub(shl(168, 1), 1))
            mstore(data, or(prefix, keep))
            mstore(buf, total)
            log := create(0, data, total)
        }
        if (log == address(0)) revert ReceiptLogNotCreated();
        address expected = addressOf(address(this), id);
        if (log != expected) revert ReceiptLogMisplaced(log, expected);
    }

    /// @notice The address of log `id` created by `creator`: CREATE's
    /// `keccak256(rlp([creator, nonce]))[12:]` with `nonce = id + 1`.
    function addressOf(address creator, uint256 id) internal pure returns (address) {
        uint256 nonce = id + 1;
        bytes memory rlp;
        if (nonce < 0x80) {
            rlp = abi.encodePacked(bytes1(0xd6), bytes1(0x94), creator, uint8(nonce));
        } else {
            uint256 len = 0;
            for (uint256 v = nonce; v != 0; v >>= 8) ++len;
            bytes memory be = new bytes(len);
            for (uint256 i = 0; i < len; ++i) be[len - 1 - i] = bytes1(uint8(nonce >> (8 * i)));
            rlp = abi.encodePacked(
                bytes1(uint8(0xd6 + len)),
                bytes1(0x94),
                creator,
                bytes1(uint8(0x80 + len)),
                be
            );
        }
        return address(uint160(uint256(keccak256(rlp))));
    }

    /// @notice Word `index` of `log` (zero beyond its end).
    function word(address log, uint256 index) internal view returns (bytes32 w) {
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            extcodecopy(log, 0, add(1, mul(index, 32)), 32)
            w := mload(0)
        }
    }

    /// @notice Copies words `[at, at + count)` of `log` into `out` from position `to`.
    function copy(
        address log,
        uint256 at,
        uint256 count,
        bytes32[] memory out,
        uint256 to
    ) internal view {
        if (to + count > out.length) revert ReceiptLogTooLarge(to + count);
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            extcodecopy(log, add(add(out, 0x20), mul(to, 32)), add(1, mul(at, 32)), mul(count, 32))
        }
    }
}
