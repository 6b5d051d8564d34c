// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

// Event parameters stay unindexed where Discovery's client reads them (DESIGN.md section 5).
/* solhint-disable gas-indexed-events, gas-strict-inequalities */

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Attestation} from "./Attestation.sol";

/// @title The worker registry: registration bound to its owner, stake, log-in, and the worker
/// sets of epochs
/// @notice An external library (its code runs in `Enigma`'s storage through DELEGATECALL), so
/// that `Enigma` stays under EIP-170's code size limit. `Enigma` declares the same events and
/// errors, so that they are in its ABI.
/// @dev Stake and membership changes reach selection one epoch late: the worker set of epoch
/// n + 1 is captured when epoch n starts, before epoch n + 1's seed exists. Whoever sees that
/// seed (it is public in the pending `setWorkersParams`) can no longer change the set it draws
/// from: a deposit, a log-in or a log-out made then counts from epoch n + 2 on.
library Workers {
    using SafeERC20 for IERC20;

    /// @notice Discovery's worker status values.
    enum Status {
        Unregistered,
        LoggedIn,
        LoggedOut
    }

    /// @dev slot 0: signer | status | activeIndex | logoutEpoch | checkedVersion; slot 1:
    /// balance; then what the report attested (for policy re-checks), then the report itself.
    /// (Slot 0 holds 31 bytes; the rest are full words, a struct and bytes: nothing to repack.)
    // solhint-disable-next-line gas-struct-packing
    struct Worker {
        address signer;
        Status status;
        uint16 activeIndex; // 1-based position in `active`, 0 when not logged in
        uint32 logoutEpoch; // epochs started when it last logged out
        uint32 checkedVersion; // the policy version its attestation last passed
        uint256 balance;
        Attestation.Facts facts;
        bytes report;
    }

    struct Registry {
        mapping(address custodian => Worker) workers;
        mapping(address signer => address custodian) custodianOf;
        address[] active; // custodians, logged in
    }

    /// @notice Limits fixed at deployment.
    struct Limits {
        address principal;
        uint256 stakingThreshold;
        uint256 maxWorkers;
        uint256 maxReportAge;
    }

    event Registered(address custodian, address signer);
    event Unregistered(address indexed custodian, address signer);
    event DepositSuccessful(address from, uint256 value);
    event WithdrawSuccessful(address to, uint256 value);
    event LoggedIn(address indexed custodian);
    event LoggedOut(address indexed custodian);
    /// @notice A worker left out of an epoch's set: its attestation fails the current policy
    /// (`reason` is an `Attestation.Result`); it is back once it registers a report that passes.
    event WorkerNotAttested(address indexed custodian, uint8 reason);

    error ZeroAddress();
    error ZeroAmount();
    error AttestationRejected(Attestation.Result reason);
    error SignerAlreadyRegistered(address signer);
    error WorkerNotRegistered(address custodian);
    error WorkerNotLoggedIn(address custodian);
    error WorkerNotLoggedOut(address custodian);
    error PrincipalCannotLogIn();
    error StakeBelowThreshold(uint256 balance, uint256 threshold);
    error TooManyWorkers(uint256 max);
    error InsufficientBalance(uint256 balance, uint256 requested);
    error WithdrawTooEarly(uint256 epochs, uint256 allowedFrom);
    error BalanceNotWithdrawn(uint256 balance);

    /// @notice Registers the caller as the custodian of enclave `signer`. The report must pass
    /// the policy, name `signer`, the caller and this chain and contract in its report_data, and
    /// be at most `maxReportAge` seconds old: nobody can register an enclave for somebody else,
    /// or replay a report meant for another custodian, chain or deployment. Re-registering (a
    /// new enclave, or a fresh report) is allowed while logged out.
    function register(
        Registry storage r,
        Attestation.Policy storage policy,
        Limits calldata limits,
        address signer,
        bytes calldata report,
        bytes calldata signature
    ) external {
        if (signer == address(0)) revert ZeroAddress();
        address holder = r.custodianOf[signer];
        if (holder != address(0) && holder != msg.sender) revert SignerAlreadyRegistered(signer);
        Worker storage w = r.workers[msg.sender];
        if (w.status == Status.LoggedIn) revert WorkerNotLoggedOut(msg.sender);
        Attestation.Binding memory b = Attestation.Binding({
            signer: signer,
            custodian: msg.sender,
            chain: Attestation.chainTag(block.chainid, address(this)),
            now: block.timestamp,
            maxAge: limits.maxReportAge
        });
        (Attestation.Result result, Attestation.Facts memory facts) = Attestation.checkRegistration(
            policy,
            b,
            report,
            signature
        );
        if (result != Attestation.Result.Ok) revert AttestationRejected(result);
        if (w.signer != address(0) && w.signer != signer) delete r.custodianOf[w.signer];
        r.custodianOf[signer] = msg.sender;
        w.signer = signer;
        w.status = Status.LoggedOut;
        w.checkedVersion = policy.version;
        w.facts = facts;
        w.report = report;
        emit Registered(msg.sender, signer);
    }

    /// @notice Removes a logged-out worker whose stake has been withdrawn.
    function unregister(Registry storage r) external {
        Worker storage w = r.workers[msg.sender];
        if (w.status != Status.LoggedOut) revert WorkerNotLoggedOut(msg.sender);
        if (w.balance != 0) revert BalanceNotWithdrawn(w.balance);
        address signer = w.signer;
        delete r.custodianOf[signer];
        delete r.workers[msg.sender];
        emit Unregistered(msg.sender, signer);
    }

    /// @notice Deposits `amount` ENG from the caller into `custodian`'s stake.
    function deposit(Registry storage r, IERC20 token, address custodian, uint256 amount) external {
        Worker storage w = r.workers[custodian];
        if (w.status == Status.Unregistered) revert WorkerNotRegistered(custodian);
        if (amount == 0) revert ZeroAmount();
        w.balance += amount;
        emit DepositSuccessful(msg.sender, amount);
        token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @notice Withdraws stake: only when logged out, and once no epoch that can hold the worker
    /// is in force (the set of epoch n + 1 is captured when epoch n starts, so a worker that
    /// logged out while `logoutEpoch` epochs had started is in no set from epoch
    /// `logoutEpoch + 1` on, the one that starts as the count reaches `logoutEpoch + 2`).
    function withdraw(
        Registry storage r,
        IERC20 token,
        uint256 epochCount,
        uint256 amount
    ) external {
        Worker storage w = r.workers[msg.sender];
        if (w.status != Status.LoggedOut) revert WorkerNotLoggedOut(msg.sender);
        if (amount == 0) revert ZeroAmount();
        uint256 allowedFrom = uint256(w.logoutEpoch) + 2;
        if (epochCount < allowedFrom) revert WithdrawTooEarly(epochCount, allowedFrom);
        uint256 balance = w.balance;
        if (balance < amount) revert InsufficientBalance(balance, amount);
        w.balance = balance - amount;
        emit WithdrawSuccessful(msg.sender, amount);
        token.safeTransfer(msg.sender, amount);
    }

    /// @notice Joins the active set (the set captured at the next epoch start includes the
    /// caller). The attestation is re-checked if the policy changed since it last passed.
    function login(
        Registry storage r,
        Attestation.Policy storage policy,
        Limits calldata limits
    ) external {
        Worker storage w = r.workers[msg.sender];
        if (w.status != Status.LoggedOut) revert WorkerNotLoggedOut(msg.sender);
        if (w.signer == limits.principal) revert PrincipalCannotLogIn();
        uint256 balance = w.balance;
        if (balance < limits.stakingThreshold) {
            revert StakeBelowThreshold(balance, limits.stakingThreshold);
        }
        uint256 count = r.active.length;
        if (count >= limits.maxWorkers) revert TooManyWorkers(limits.maxWorkers);
        Attestation.Result result = _attested(w, policy);
        if (result != Attestation.Result.Ok) revert AttestationRejected(result);
        r.active.push(msg.sender);
        w.activeIndex = uint16(count + 1);
        w.status = Status.LoggedIn;
        emit LoggedIn(msg.sender);
    }

    /// @notice Leaves the active set; the sets already captured (the current and the next
    /// epoch's) keep the worker, which commits their receipts as usual.
    function logout(Registry storage r, uint256 epochCount) external {
        Worker storage w = r.workers[msg.sender];
        if (w.status != Status.LoggedIn) revert WorkerNotLoggedIn(msg.sender);
        uint256 index = w.activeIndex - 1;
        uint256 last = r.active.length - 1;
        if (index != last) {
            address moved = r.active[last];
            r.active[index] = moved;
            r.workers[moved].activeIndex = uint16(index + 1);
        }
        r.active.pop();
        w.activeIndex = 0;
        w.status = Status.LoggedOut;
        w.logoutEpoch = uint32(epochCount);
        emit LoggedOut(msg.sender);
    }

    /// @notice Captures the active set into `signers`/`stakes` (empty on entry): logged-in
    /// workers with at least `threshold` stake whose attestation passes the current policy.
    /// Returns the total stake.
    /// @dev Loops over the active set (bounded by `maxWorkers`); a worker's attestation is
    /// re-checked only when the policy changed since it last passed (a few reads, no RSA).
    function capture(
        Registry storage r,
        Attestation.Policy storage policy,
        address[] storage signers,
        uint256[] storage stakes,
        uint256 threshold
    ) external returns (uint256 total) {
        uint256 count = r.active.length;
        for (uint256 i = 0; i < count; ++i) {
            address custodian = r.active[i];
            Worker storage w = r.workers[custodian];
            uint256 stake = w.balance;
            if (stake < threshold) continue;
            Attestation.Result result = _attested(w, policy);
            if (result != Attestation.Result.Ok) {
                emit WorkerNotAttested(custodian, uint8(result));
                continue;
            }
            signers.push(w.signer);
            stakes.push(stake);
            total += stake;
        }
    }

    /// @notice Drops from a set captured earlier the workers whose attestation no longer passes
    /// the policy (it changed since the capture), keeping the others' order. Returns the new
    /// total stake.
    function refilter(
        Registry storage r,
        Attestation.Policy storage policy,
        address[] storage signers,
        uint256[] storage stakes
    ) external returns (uint256 total) {
        uint256 count = signers.length;
        uint256 kept = 0;
        for (uint256 i = 0; i < count; ++i) {
            address signer = signers[i];
            address custodian = r.custodianOf[signer];
            Worker storage w = r.workers[custodian];
            Attestation.Result result =
                w.signer == signer ? _attested(w, policy) : Attestation.Result.SignerMismatch; // re-registered with another enclave
            if (result != Attestation.Result.Ok) {
                emit WorkerNotAttested(custodian, uint8(result));
                continue;
            }
            uint256 stake = stakes[i];
            if (kept != i) {
                signers[kept] = signer;
                stakes[kept] = stake;
            }
            total += stake;
            ++kept;
        }
        for (uint256 i = kept; i < count; ++i) {
            signers.pop();
            stakes.pop();
        }
    }

    /// @notice The logged-in workers' signers and balances, in log-in order: returned from this
    /// frame ABI-encoded as `(address[] signers, uint256[] stakes)`, which
    /// `Enigma.getActiveWorkers` hands on as it is (decoding the arrays there would cost `Enigma`
    /// code size, which EIP-170 leaves little of). Declared without return values for that reason.
    function returnActive(Registry storage r) external view {
        uint256 count = r.active.length;
        address[] memory signers = new address[](count);
        uint256[] memory stakes = new uint256[](count);
        for (uint256 i = 0; i < count; ++i) {
            Worker storage w = r.workers[r.active[i]];
            signers[i] = w.signer;
            stakes[i] = w.balance;
        }
        bytes memory out = abi.encode(signers, stakes);
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            return(add(out, 0x20), mload(out))
        }
    }

    /// @dev Ok when the worker's attestation passed this policy version, or passes it now (then
    /// remembered).
    function _attested(
        Worker storage w,
        Attestation.Policy storage policy
    ) private returns (Attestation.Result result) {
        uint32 version = policy.version;
        if (w.checkedVersion == version) return Attestation.Result.Ok;
        result = Attestation.recheck(policy, w.facts);
        if (result == Attestation.Result.Ok) w.checkedVersion = version;
    }
}
