// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

// Offsets are compared inclusively on purpose; the assembly reads byte ranges in place.
/* solhint-disable gas-strict-inequalities, no-inline-assembly */

import {Base64} from "@openzeppelin/contracts/utils/Base64.sol";
import {RSA} from "@openzeppelin/contracts/utils/cryptography/RSA.sol";

/// @title On-chain check of a simulated IAS attestation report (DESIGN.md section 6)
/// @notice The report is the compact JSON text
/// `{"id":..,"timestamp":..,"version":..,"isvEnclaveQuoteStatus":"..","isvEnclaveQuoteBody":".."}`
/// (keys in that order, no spaces), signed RSA-2048 PKCS#1 v1.5 SHA-256 by the attestation
/// service. The quote body is base64 of the 432-byte quote laid out like SGX's.
/// @dev The two fields that matter are the last two, so they are read anchored at the end of
/// the text: a JSON serializer escapes every `"` inside string values, so text in `id` can never
/// forge them, and the signature covers the whole text anyway.
library Attestation {
    /// @notice Why a report was refused (`0` = accepted); `verifyReport` returns it.
    enum Result {
        Ok,
        Malformed,
        BadSignature,
        StatusNotAccepted,
        DebugNotAllowed,
        MrEnclaveNotAllowed,
        MrSignerNotAllowed,
        IsvSvnTooLow,
        SignerMismatch
    }

    /// @notice Policy as data, owner-settable on `Enigma`.
    struct Policy {
        bytes rsaModulus;
        bytes rsaExponent;
        bool allowDebug;
        uint16 minIsvSvn;
        mapping(bytes32 statusHash => bool) acceptedStatus;
        mapping(bytes32 mrenclave => bool) mrEnclave;
        mapping(bytes32 mrsigner => bool) mrSigner;
    }

    uint256 internal constant QUOTE_BYTES = 432;
    uint256 internal constant QUOTE_B64_CHARS = 576; // 432 / 3 * 4, no padding
    uint256 internal constant OFF_FLAGS = 96;
    uint256 internal constant OFF_MRENCLAVE = 112;
    uint256 internal constant OFF_MRSIGNER = 176;
    uint256 internal constant OFF_ISVSVN = 306;
    uint256 internal constant OFF_REPORT_DATA = 368;
    uint256 internal constant SGX_FLAGS_DEBUG = 0x02;

    bytes internal constant BODY_KEY = hex"2c22697376456e636c61766551756f7465426f6479223a22"; // ,"isvEnclaveQuoteBody":"
    bytes internal constant STATUS_KEY = hex"2c22697376456e636c61766551756f7465537461747573223a22"; // ,"isvEnclaveQuoteStatus":"
    bytes internal constant HEAD = hex"7b226964223a22"; // {"id":"
    uint256 internal constant MAX_STATUS_CHARS = 64;
    bytes1 internal constant QUOTE = 0x22; // a double quote

    /// @notice Checks signature, quote status, debug flag, MRENCLAVE, MRSIGNER, ISVSVN and that
    /// report_data starts with `signer` (skipped when `signer` is zero, for `verifyReport`).
    function check(
        Policy storage policy,
        address signer,
        bytes memory report,
        bytes memory signature
    ) public view returns (Result) {
        uint256 len = report.length;
        uint256 minLen = HEAD.length + STATUS_KEY.length + BODY_KEY.length + QUOTE_B64_CHARS + 4;
        if (len < minLen || !_hasAt(report, 0, HEAD)) return Result.Malformed;
        if (report[len - 1] != "}" || report[len - 2] != QUOTE) return Result.Malformed;
        uint256 bodyStart = len - 2 - QUOTE_B64_CHARS;
        uint256 bodyKeyStart = bodyStart - BODY_KEY.length;
        if (!_hasAt(report, bodyKeyStart, BODY_KEY)) return Result.Malformed;
        // The status string ends at the quote just before `,"isvEnclaveQuoteBody"`.
        if (report[bodyKeyStart - 1] != QUOTE) return Result.Malformed;
        uint256 statusEnd = bodyKeyStart - 1;
        uint256 statusStart = statusEnd;
        uint256 floor = statusEnd > MAX_STATUS_CHARS ? statusEnd - MAX_STATUS_CHARS : 0;
        while (statusStart > floor && report[statusStart - 1] != QUOTE) --statusStart;
        if (statusStart < STATUS_KEY.length || statusStart == floor) return Result.Malformed;
        if (!_hasAt(report, statusStart - STATUS_KEY.length, STATUS_KEY)) return Result.Malformed;

        if (!RSA.pkcs1Sha256(report, signature, policy.rsaExponent, policy.rsaModulus)) {
            return Result.BadSignature;
        }
        if (!policy.acceptedStatus[_hashRange(report, statusStart, statusEnd)]) {
            return Result.StatusNotAccepted;
        }
        bytes memory quote = Base64.decode(string(_slice(report, bodyStart, QUOTE_B64_CHARS)));
        if (quote.length != QUOTE_BYTES) return Result.Malformed;
        if (!policy.allowDebug && (uint8(quote[OFF_FLAGS]) & SGX_FLAGS_DEBUG) != 0) {
            return Result.DebugNotAllowed;
        }
        if (!policy.mrEnclave[_word(quote, OFF_MRENCLAVE)]) return Result.MrEnclaveNotAllowed;
        if (!policy.mrSigner[_word(quote, OFF_MRSIGNER)]) return Result.MrSignerNotAllowed;
        uint16 svn = uint16(uint8(quote[OFF_ISVSVN])) | (uint16(uint8(quote[OFF_ISVSVN + 1])) << 8);
        if (svn < policy.minIsvSvn) return Result.IsvSvnTooLow;
        if (signer != address(0) && address(bytes20(_word(quote, OFF_REPORT_DATA))) != signer) {
            return Result.SignerMismatch;
        }
        return Result.Ok;
    }

    function _hasAt(
        bytes memory data,
        uint256 at,
        bytes memory needle
    ) private pure returns (bool) {
        if (at + needle.length > data.length) return false;
        return _hashRange(data, at, at + needle.length) == keccak256(needle);
    }

    function _hashRange(
        bytes memory data,
        uint256 from,
        uint256 to
    ) private pure returns (bytes32 h) {
        assembly ("memory-safe") {
            h := keccak256(add(add(data, 0x20), from), sub(to, from))
        }
    }

    function _word(bytes memory data, uint256 at) private pure returns (bytes32 w) {
        assembly ("memory-safe") {
            w := mload(add(add(data, 0x20), at))
        }
    }

    function _slice(
        bytes memory data,
        uint256 from,
        uint256 len
    ) private pure returns (bytes memory out) {
        out = new bytes(len);
        assembly ("memory-safe") {
            mcopy(add(out, 0x20), add(add(data, 0x20), from), len)
        }
    }
}
