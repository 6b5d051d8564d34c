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
        SignerMismatch,
        CustodianMismatch,
        ChainMismatch,
        ReportTooOld,
        ReportFromFuture,
        RootChanged
    }

    /// @notice Policy as data, owner-settable on `Enigma`. `version` counts policy changes (so
    /// that registered workers are re-checked only after one), `rootVersion` changes of the
    /// trust root (a report signed under an earlier root no longer counts).
    struct Policy {
        bytes rsaModulus;
        bytes rsaExponent;
        bool allowDebug;
        uint16 minIsvSvn;
        uint32 version;
        uint32 rootVersion;
        mapping(bytes32 statusHash => bool) acceptedStatus;
        mapping(bytes32 mrenclave => bool) mrEnclave;
        mapping(bytes32 mrsigner => bool) mrSigner;
    }

    /// @notice What a registered report attested, kept so that a policy change can be applied
    /// to registered workers without their report's signature (no RSA, no parsing).
    struct Facts {
        bytes32 statusHash;
        bytes32 mrEnclave;
        bytes32 mrSigner;
        uint16 isvSvn;
        bool debug;
        uint32 rootVersion;
    }

    /// @notice Who a report may register: report_data is `signer (20) | custodian (20) |
    /// chain (24)`, where `chain` is `chainTag(chainid, enigma)`; the report's timestamp must be
    /// at most `maxAge` seconds before `now` (and not more than `MAX_CLOCK_SKEW` after it).
    struct Binding {
        address signer;
        address custodian;
        bytes24 chain;
        uint256 now;
        uint256 maxAge;
    }

    /// @notice How far a report's timestamp may be ahead of the chain's clock (the attestation
    /// service's clock and the chain's are different machines').
    uint256 internal constant MAX_CLOCK_SKEW = 1 hours;

    uint256 internal constant QUOTE_BYTES = 432;
    uint256 internal constant QUOTE_B64_CHARS = 576; // 432 / 3 * 4, no padding
    uint256 internal constant OFF_FLAGS = 96;
    uint256 internal constant OFF_MRENCLAVE = 112;
    uint256 internal constant OFF_MRSIGNER = 176;
    uint256 internal constant OFF_ISVSVN = 306;
    uint256 internal constant OFF_REPORT_DATA = 368;
    uint256 internal constant OFF_CUSTODIAN = 368 + 20;
    uint256 internal constant OFF_CHAIN = 368 + 40;
    uint256 internal constant SGX_FLAGS_DEBUG = 0x02;

    bytes internal constant BODY_KEY = hex"2c22697376456e636c61766551756f7465426f6479223a22"; // ,"isvEnclaveQuoteBody":"
    bytes internal constant STATUS_KEY = hex"2c22697376456e636c61766551756f7465537461747573223a22"; // ,"isvEnclaveQuoteStatus":"
    bytes internal constant HEAD = hex"7b226964223a22"; // {"id":"
    bytes internal constant TIMESTAMP_KEY = hex"222c2274696d657374616d70223a22"; // ","timestamp":"
    /// @dev The longest `id` searched past for the timestamp (IAS ids are 39 digits).
    uint256 internal constant MAX_ID_CHARS = 128;
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
        (Result result, , bytes memory quote) = _verify(policy, report, signature);
        if (result != Result.Ok) return result;
        if (signer != address(0) && address(bytes20(_word(quote, OFF_REPORT_DATA))) != signer) {
            return Result.SignerMismatch;
        }
        return Result.Ok;
    }

    /// @notice `check` for a registration: also that report_data names `b.custodian` and this
    /// chain and contract after the signer, and that the report is fresh (`b.now`, `b.maxAge`).
    /// Returns what the report attested, for `recheck` after a policy change.
    function checkRegistration(
        Policy storage policy,
        Binding memory b,
        bytes memory report,
        bytes memory signature
    ) public view returns (Result, Facts memory) {
        (Result result, Facts memory facts, bytes memory quote) = _verify(
            policy,
            report,
            signature
        );
        if (result != Result.Ok) return (result, facts);
        if (address(bytes20(_word(quote, OFF_REPORT_DATA))) != b.signer) {
            return (Result.SignerMismatch, facts);
        }
        if (address(bytes20(_word(quote, OFF_CUSTODIAN))) != b.custodian) {
            return (Result.CustodianMismatch, facts);
        }
        if (bytes24(_word(quote, OFF_CHAIN)) != b.chain) return (Result.ChainMismatch, facts);
        (bool ok, uint256 issued) = _timestamp(report);
        if (!ok) return (Result.Malformed, facts);
        if (issued + b.maxAge < b.now) return (Result.ReportTooOld, facts);
        if (issued > b.now + MAX_CLOCK_SKEW) return (Result.ReportFromFuture, facts);
        return (Result.Ok, facts);
    }

    /// @notice Whether what a registered report attested still passes the policy (the root it
    /// was signed under, status, debug flag, MRENCLAVE, MRSIGNER, ISVSVN).
    function recheck(Policy storage policy, Facts storage f) public view returns (Result) {
        if (f.rootVersion != policy.rootVersion) return Result.RootChanged;
        return _quotePolicy(policy, f);
    }

    /// @notice The 24 bytes a report_data names a chain and an `Enigma` contract by.
    function chainTag(uint256 chainId, address enigma) internal pure returns (bytes24) {
        return bytes24(keccak256(abi.encode(chainId, enigma)));
    }

    /// @dev Format, signature, then the policy on the quote; the facts and the decoded quote.
    function _verify(
        Policy storage policy,
        bytes memory report,
        bytes memory signature
    ) private view returns (Result, Facts memory facts, bytes memory quote) {
        (bool ok, uint256 statusStart, uint256 statusEnd, uint256 bodyStart) = _layout(report);
        if (!ok) return (Result.Malformed, facts, quote);
        if (!RSA.pkcs1Sha256(report, signature, policy.rsaExponent, policy.rsaModulus)) {
            return (Result.BadSignature, facts, quote);
        }
        quote = Base64.decode(string(_slice(report, bodyStart, QUOTE_B64_CHARS)));
        if (quote.length != QUOTE_BYTES) return (Result.Malformed, facts, quote);
        facts.statusHash = _hashRange(report, statusStart, statusEnd);
        facts.mrEnclave = _word(quote, OFF_MRENCLAVE);
        facts.mrSigner = _word(quote, OFF_MRSIGNER);
        facts.isvSvn =
            uint16(uint8(quote[OFF_ISVSVN])) | (uint16(uint8(quote[OFF_ISVSVN + 1])) << 8);
        facts.debug = (uint8(quote[OFF_FLAGS]) & SGX_FLAGS_DEBUG) != 0;
        facts.rootVersion = policy.rootVersion;
        return (_quotePolicy(policy, facts), facts, quote);
    }

    /// @dev Where the status string and the quote body are: the last two fields, read anchored
    /// at the end of the text.
    function _layout(
        bytes memory report
    ) private pure returns (bool ok, uint256 statusStart, uint256 statusEnd, uint256 bodyStart) {
        uint256 len = report.length;
        uint256 minLen = HEAD.length + STATUS_KEY.length + BODY_KEY.length + QUOTE_B64_CHARS + 4;
        if (len < minLen || !_hasAt(report, 0, HEAD)) return (false, 0, 0, 0);
        if (report[len - 1] != "}" || report[len - 2] != QUOTE) return (false, 0, 0, 0);
        bodyStart = len - 2 - QUOTE_B64_CHARS;
        uint256 bodyKeyStart = bodyStart - BODY_KEY.length;
        if (!_hasAt(report, bodyKeyStart, BODY_KEY)) return (false, 0, 0, 0);
        // The status string ends at the quote just before `,"isvEnclaveQuoteBody"`.
        if (report[bodyKeyStart - 1] != QUOTE) return (false, 0, 0, 0);
        statusEnd = bodyKeyStart - 1;
        statusStart = statusEnd;
        uint256 floor = statusEnd > MAX_STATUS_CHARS ? statusEnd - MAX_STATUS_CHARS : 0;
        while (statusStart > floor && report[statusStart - 1] != QUOTE) --statusStart;
        if (statusStart < STATUS_KEY.length || statusStart == floor) return (false, 0, 0, 0);
        if (!_hasAt(report, statusStart - STATUS_KEY.length, STATUS_KEY)) return (false, 0, 0, 0);
        ok = true;
    }

    function _quotePolicy(Policy storage policy, Facts memory f) private view returns (Result) {
        if (!policy.acceptedStatus[f.statusHash]) return Result.StatusNotAccepted;
        if (!policy.allowDebug && f.debug) return Result.DebugNotAllowed;
        if (!policy.mrEnclave[f.mrEnclave]) return Result.MrEnclaveNotAllowed;
        if (!policy.mrSigner[f.mrSigner]) return Result.MrSignerNotAllowed;
        if (f.isvSvn < policy.minIsvSvn) return Result.IsvSvnTooLow;
        return Result.Ok;
    }

    /// @dev The report's `timestamp` (IAS format `YYYY-MM-DDTHH:MM:SS[.ffffff]`, UTC) in Unix
    /// seconds. It follows `id`; a JSON serializer escapes every quote inside `id`, so the
    /// first `","timestamp":"` is the key. The signature covers the text.
    function _timestamp(bytes memory report) private pure returns (bool, uint256) {
        uint256 end = HEAD.length + MAX_ID_CHARS;
        if (end > report.length) end = report.length;
        for (uint256 at = HEAD.length; at + TIMESTAMP_KEY.length + 19 <= end; ++at) {
            if (report[at] == QUOTE && _hasAt(report, at, TIMESTAMP_KEY)) {
                return _parseTime(report, at + TIMESTAMP_KEY.length);
            }
        }
        return (false, 0);
    }

    function _parseTime(bytes memory t, uint256 at) private pure returns (bool, uint256) {
        if (
            t[at + 4] != "-" ||
            t[at + 7] != "-" ||
            t[at + 10] != "T" ||
            t[at + 13] != ":" ||
            t[at + 16] != ":"
        ) return (false, 0);
        uint256 year = _digits(t, at, 4);
        uint256 month = _digits(t, at + 5, 2);
        uint256 day = _digits(t, at + 8, 2);
        if (year < 1970 || year > 9999 || month < 1 || month > 12 || day < 1 || day > 31) {
            return (false, 0);
        }
        uint256 hour = _digits(t, at + 11, 2);
        uint256 minute = _digits(t, at + 14, 2);
        uint256 second = _digits(t, at + 17, 2);
        if (hour > 23 || minute > 59 || second > 60) return (false, 0);
        uint256 time = hour * 1 hours + minute * 1 minutes + second;
        return (true, _daysFromCivil(year, month, day) * 1 days + time);
    }

    /// @dev Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
    function _daysFromCivil(uint256 y, uint256 m, uint256 d) private pure returns (uint256) {
        if (m <= 2) --y;
        uint256 era = y / 400;
        uint256 yoe = y - era * 400;
        uint256 doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
        uint256 doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146_097 + doe - 719_468;
    }

    /// @dev `n` decimal digits at `at`; `type(uint256).max` when one is not a digit.
    function _digits(bytes memory t, uint256 at, uint256 n) private pure returns (uint256 v) {
        for (uint256 i = 0; i < n; ++i) {
            uint8 c = uint8(t[at + i]);
            if (c < 0x30 || c > 0x39) return type(uint256).max;
            v = v * 10 + (c - 0x30);
        }
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
