// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ReceiptLog} from "./ReceiptLog.sol";

/// @title Task records: status codes, the packed storage layout and the client-facing view
/// @notice Status codes are fixed by Discovery's client (DESIGN.md section 5).
library TaskRecord {
    uint8 internal constant UNDEFINED = 0;
    uint8 internal constant RECORD_CREATED = 1;
    uint8 internal constant RECEIPT_VERIFIED = 2;
    uint8 internal constant RECEIPT_FAILED = 3;
    uint8 internal constant RECEIPT_FAILED_ETH = 4;
    uint8 internal constant RECEIPT_FAILED_RETURN = 5;

    /// @notice Storage of one task: three slots, written at creation; a receipt rewrites slot 0.
    /// @dev slot 0: sender | status | isDeployment | log | logIndex (30 bytes);
    /// slot 1: gasLimit | gasPx | seq | epoch | blockNumber (32 bytes); slot 2: inputsHash.
    /// The output hash is not in storage: it is word `logIndex` of receipt log `log` (the code of
    /// the data contract its batch wrote, see `ReceiptLog`), set once the status is 2, 3 or 4.
    /// `seq` (the global record order) orders state deltas; `epoch` saves a search at receipt.
    struct Stored {
        address sender;
        uint8 status;
        bool isDeployment;
        uint48 log;
        uint16 logIndex;
        uint64 gasLimit;
        uint64 gasPx;
        uint48 seq;
        uint32 epoch;
        uint48 blockNumber;
        bytes32 inputsHash;
    }

    /// @notice What `getTaskRecord` returns, in Discovery's layout.
    // solhint-disable-next-line gas-struct-packing
    struct View {
        address sender;
        bytes32 inputsHash;
        bytes32 outputHash;
        uint64 gasLimit;
        uint64 gasPx;
        uint256 blockNumber;
        uint8 status;
        bytes proof;
    }

    /// @notice The fee held in escrow for a task.
    function fee(Stored storage t) internal view returns (uint256) {
        return uint256(t.gasLimit) * uint256(t.gasPx);
    }

    /// @notice Whether a receipt committed this task (and so wrote its output hash).
    function hasReceipt(uint8 status) internal pure returns (bool) {
        return
            status == RECEIPT_VERIFIED || status == RECEIPT_FAILED || status == RECEIPT_FAILED_ETH;
    }

    /// @param logCount the number of receipt logs created so far
    function toView(Stored storage t, uint256 logCount) internal view returns (View memory v) {
        v.sender = t.sender;
        v.inputsHash = t.inputsHash;
        v.gasLimit = t.gasLimit;
        v.gasPx = t.gasPx;
        v.blockNumber = t.blockNumber;
        v.status = t.status;
        // A view made from within the committing batch (its Ethereum call) runs before the batch's
        // log exists: the output hash reads zero until the commit ends.
        if (hasReceipt(v.status) && t.log < logCount) {
            v.outputHash = ReceiptLog.word(ReceiptLog.addressOf(address(this), t.log), t.logIndex);
        }
        // Receipts are proven by one batch signature, carried by the receipt events; storing it
        // per task would cost three slots per task for a value nobody checks on chain.
        v.proof = "";
    }
}
