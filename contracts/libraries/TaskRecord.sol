// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title Task records: status codes, the packed storage layout and the client-facing view
/// @notice Status codes are fixed by Discovery's client (DESIGN.md section 5).
library TaskRecord {
    uint8 internal constant UNDEFINED = 0;
    uint8 internal constant RECORD_CREATED = 1;
    uint8 internal constant RECEIPT_VERIFIED = 2;
    uint8 internal constant RECEIPT_FAILED = 3;
    uint8 internal constant RECEIPT_FAILED_ETH = 4;
    uint8 internal constant RECEIPT_FAILED_RETURN = 5;

    /// @notice Storage of one task: three slots at creation, a fourth (`outputHash`) at receipt.
    /// @dev slot 0: sender | blockNumber | status | isDeployment (30 bytes);
    /// slot 1: gasLimit | gasPx | seq | epoch (28 bytes); slot 2: inputsHash; slot 3: outputHash.
    /// `seq` (the global record order) orders state deltas; `epoch` saves a search at receipt.
    struct Stored {
        address sender;
        uint64 blockNumber;
        uint8 status;
        bool isDeployment;
        uint64 gasLimit;
        uint64 gasPx;
        uint64 seq;
        uint32 epoch;
        bytes32 inputsHash;
        bytes32 outputHash;
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

    function toView(Stored storage t) internal view returns (View memory v) {
        v.sender = t.sender;
        v.inputsHash = t.inputsHash;
        v.outputHash = t.outputHash;
        v.gasLimit = t.gasLimit;
        v.gasPx = t.gasPx;
        v.blockNumber = t.blockNumber;
        v.status = t.status;
        // Receipts are proven by one batch signature, carried by the receipt events; storing it
        // per task would cost three slots per task for a value nobody checks on chain.
        v.proof = "";
    }
}
