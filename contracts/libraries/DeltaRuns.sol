// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title Where a secret contract's state delta hashes are: one run per batch, two per slot
/// @notice A run is `count` consecutive deltas of one contract committed by one batch: words
/// `[at, at + count)` of receipt log `log`, the first being the contract's delta `first`. Runs of
/// a contract are contiguous (run k + 1 starts where run k ends), so `first` allows a binary
/// search. A run packs into 120 bits (log u48 | at u16 | count u16 | first u40) and two share
/// a slot: every second batch that touches a contract rewrites a slot instead of creating one.
/// The number of runs is kept by the caller (next to the data it writes anyway).
library DeltaRuns {
    struct Run {
        uint256 log;
        uint256 at;
        uint256 count;
        uint256 first;
    }

    /// @dev Run k lives in `pairs[k / 2]`, bits `[120 * (k % 2), 120 * (k % 2) + 120)`.
    struct List {
        mapping(uint256 pair => uint256) pairs;
    }

    uint256 private constant BITS = 120;
    uint256 private constant MASK = (1 << BITS) - 1;

    error DeltaRunOverflow();

    /// @notice Stores run `k` (which must be the next one: runs are written once, in order).
    function put(List storage list, uint256 k, Run memory r) internal {
        if (
            r.log > type(uint48).max ||
            r.at > type(uint16).max ||
            r.count > type(uint16).max ||
            r.first > type(uint40).max
        ) revert DeltaRunOverflow();
        uint256 packed = r.log | (r.at << 48) | (r.count << 64) | (r.first << 80);
        uint256 shift = (k & 1) * BITS;
        // An odd run joins the even one before it; an even run starts a fresh slot.
        list.pairs[k >> 1] = ((k & 1) == 0 ? 0 : list.pairs[k >> 1]) | (packed << shift);
    }

    function get(List storage list, uint256 k) internal view returns (Run memory r) {
        uint256 packed = (list.pairs[k >> 1] >> ((k & 1) * BITS)) & MASK;
        r.log = uint48(packed);
        r.at = uint16(packed >> 48);
        r.count = uint16(packed >> 64);
        r.first = uint40(packed >> 80);
    }

    /// @notice Number of deltas the first `runs` runs hold.
    function total(List storage list, uint256 runs) internal view returns (uint256) {
        if (runs == 0) return 0;
        Run memory last = get(list, runs - 1);
        return last.first + last.count;
    }

    /// @notice The last of the first `runs` runs whose first delta is at or before `index`.
    function find(List storage list, uint256 runs, uint256 index) internal view returns (uint256) {
        uint256 lo = 0;
        uint256 hi = runs;
        while (hi - lo > 1) {
            uint256 mid = (lo + hi) / 2;
            // solhint-disable-next-line gas-strict-inequalities
            if (get(list, mid).first <= index) lo = mid;
            else hi = mid;
        }
        return lo;
    }
}
