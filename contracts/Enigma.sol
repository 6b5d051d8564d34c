// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

// Event parameters stay unindexed and getter structs keep their field order: Discovery's
// client decodes them with its own ABI (DESIGN.md section 5). Typehash strings are EIP-712's.
// Non-strict comparisons below are the specified semantics (timeouts, epochs, selection).
/* solhint-disable gas-indexed-events, gas-struct-packing, gas-small-strings, gas-strict-inequalities */

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Attestation} from "./libraries/Attestation.sol";
import {DeltaHashes} from "./libraries/DeltaHashes.sol";
import {DeltaRuns} from "./libraries/DeltaRuns.sol";
import {ReceiptLog} from "./libraries/ReceiptLog.sol";
import {TaskRecord} from "./libraries/TaskRecord.sol";
import {Workers} from "./libraries/Workers.sol";
import {EpochSnapshot, IWorkerSelection} from "./selection/IWorkerSelection.sol";
import {WorkerSelectionHost} from "./selection/WorkerSelectionHost.sol";

/// @title Enigma: worker registry and stake, epochs, worker selection, secret contracts,
/// task records with fee escrow, batched receipts and refunds
/// @notice The client-facing ABI is Discovery's (`enigma-js@0.3.0`); the worker-facing receipt
/// batch (`commitReceipts`) is ours. Amounts are ENG grains (8 decimals).
contract Enigma is Ownable, EIP712, ReentrancyGuardTransient, WorkerSelectionHost {
    using SafeERC20 for IERC20;
    using TaskRecord for TaskRecord.Stored;
    using DeltaRuns for DeltaRuns.List;
    using Attestation for Attestation.Policy;

    // ============================================ Types ============================================

    /// @notice Discovery's secret contract status values.
    enum SecretContractStatus {
        Undefined,
        Deployed
    }

    /// @notice Discovery's worker log entry (kept for the getter's layout; see `getWorker`).
    struct WorkerLog {
        uint8 workerEventType;
        uint256 blockNumber;
        uint256 balance;
    }

    /// @notice What `getWorker` returns, in Discovery's layout.
    struct Worker {
        address signer;
        uint8 status;
        bytes report;
        uint256 balance;
        WorkerLog[] workerLogs;
    }

    /// @notice What `getSecretContract` returns, in Discovery's layout.
    struct SecretContract {
        address owner;
        bytes32 preCodeHash;
        bytes32 codeHash;
        bytes32[] stateDeltaHashes;
        uint8 status;
    }

    /// @notice One result in a receipt batch (EIP-712 type `Receipt`).
    /// @param taskId the task record's id
    /// @param scAddr the secret contract; for a deployment, equal to `taskId`
    /// @param inputsHash the inputs hash the enclave computed from the inputs it ran (encrypted
    /// function and arguments, contract address or pre-code hash, user key): must be the record's
    /// @param prevDeltaHash hash of the state delta the task ran on (zero for a deployment): on
    /// success, the contract's last delta (committed, or earlier in the batch)
    /// @param deltaIndex the number of deltas that state holds (the new delta's index): on
    /// success, the contract's delta count
    /// @param stateDeltaHash the new state delta's hash, zero for none (must be zero on failure)
    /// @param outputHash hash of the encrypted output
    /// @param gasUsed enclave gas used, at most the record's `gasLimit`
    /// @param success false for a failed task (status 3)
    /// @param preCodeHash deployments only: hash of the pre-deployment code
    /// @param codeHash deployments only: hash of the deployed code (non-zero on success)
    /// @param ethAddress optional Ethereum call target (zero for none)
    /// @param ethCalldata the call's data
    struct Receipt {
        bytes32 taskId;
        bytes32 scAddr;
        bytes32 inputsHash;
        bytes32 prevDeltaHash;
        uint64 deltaIndex;
        bytes32 stateDeltaHash;
        bytes32 outputHash;
        uint64 gasUsed;
        bool success;
        bytes32 preCodeHash;
        bytes32 codeHash;
        address ethAddress;
        bytes ethCalldata;
    }

    /// @notice Deployment parameters.
    struct Config {
        address token;
        /// The worker-selection strategy (`contracts/selection/`), fixed for good.
        IWorkerSelection selection;
        /// The principal node's enclave signer: signs epoch seeds, is never selected.
        address principal;
        uint64 epochSize;
        /// Blocks after its record after which a pending task can be refunded.
        uint64 taskTimeout;
        /// Minimum stake to log in and to be part of an epoch.
        uint256 stakingThreshold;
        /// Gas handed to a task's Ethereum call.
        uint32 callbackGasLimit;
        /// Maximum number of logged-in workers (bounds the epoch snapshot).
        uint32 maxWorkers;
        /// Lowest `gasPx` a task record may offer (grains per gas unit, at least 1).
        uint64 minGasPx;
        /// Highest `gasLimit` a task record may ask for.
        uint64 maxGasLimit;
        /// Oldest an attestation report may be when it is registered (seconds).
        uint64 maxReportAge;
    }

    /// @notice Attestation policy at deployment (every field owner-settable later).
    struct AttestationConfig {
        bytes rsaModulus;
        bytes rsaExponent;
        string[] acceptedStatuses;
        bool allowDebug;
        bytes32[] mrEnclaves;
        bytes32[] mrSigners;
        uint16 minIsvSvn;
    }

    /// @dev slot 0: owner | status | lastDeltaSeq | runCount; the delta hashes themselves live
    /// in receipt logs, located by `runs` (one run per batch that added deltas, two per slot).
    struct StoredContract {
        address owner;
        SecretContractStatus status;
        uint48 lastDeltaSeq; // record order of the task that wrote the last delta
        uint40 runCount;
        bytes32 preCodeHash;
        bytes32 codeHash;
        DeltaRuns.List runs;
    }

    // An epoch is an `EpochSnapshot` (selection/IWorkerSelection.sol), the layout the strategy reads
    // in place. The worker set (`workers`, `stakes`, `totalStake`) of epoch n + 1 is written when
    // epoch n starts, under attestation policy `policyVersion` (see `setWorkersParams`).

    /// @dev The fields every task record reads and writes, packed in one slot.
    struct Head {
        uint64 currentFirstBlock;
        uint32 epochCount;
        uint48 taskCount;
        uint48 logCount; // receipt logs created (one per committed batch)
    }

    // ============================================ Events ===========================================

    // Registered, Unregistered, DepositSuccessful, WithdrawSuccessful, LoggedIn, LoggedOut and
    // WorkerNotAttested are emitted by the Workers library, in this contract's logs.
    event Registered(address custodian, address signer);
    event WorkersParameterized(
        uint256 seed,
        uint256 firstBlockNumber,
        uint256 inclusionBlockNumber,
        address[] workers,
        uint256[] stakes,
        uint256 nonce
    );
    event TaskRecordCreated(
        bytes32 taskId,
        bytes32 inputsHash,
        uint64 gasLimit,
        uint64 gasPx,
        address sender,
        uint256 blockNumber
    );
    event ReceiptVerified(
        bytes32 taskId,
        bytes32 stateDeltaHash,
        bytes32 outputHash,
        bytes32 scAddr,
        uint256 gasUsed,
        uint256 deltaHashIndex,
        bytes optionalEthereumData,
        address optionalEthereumContractAddress,
        address workerAddress,
        bytes sig
    );
    event ReceiptFailed(bytes32 taskId, bytes sig);
    event ReceiptFailedETH(bytes32 taskId, bytes sig);
    event TaskFeeReturned(bytes32 taskId);
    event DepositSuccessful(address from, uint256 value);
    event WithdrawSuccessful(address to, uint256 value);
    event SecretContractDeployed(bytes32 scAddr, bytes32 codeHash, bytes32 initStateDeltaHash);
    /// @notice Ours: one per committed batch, with the worker paid and its fee total.
    event ReceiptsCommitted(address indexed workerSigner, uint256 count, uint256 fees);
    event LoggedIn(address indexed custodian);
    event LoggedOut(address indexed custodian);
    event Unregistered(address indexed custodian, address signer);
    event WorkerNotAttested(address indexed custodian, uint8 reason);
    event RegistrationPaused(bool paused);
    event AttestationPolicyChanged();

    // ============================================ Errors ===========================================
    // The worker registry's errors are raised by the Workers library (same signatures).

    error ZeroAddress();
    error InvalidConfig();
    error ZeroAmount();
    error RegistrationIsPaused();
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
    error InvalidPrincipalSignature(address recovered);
    error PrincipalNotRegistered();
    error EpochTooEarly(uint256 nextAllowedBlock);
    error InvalidEpochBlockNumber(uint256 blockNumber);
    error NoEpoch();
    error NonceMismatch(uint256 expected, uint256 given);
    error ZeroGasLimit();
    error GasLimitTooHigh(uint64 gasLimit, uint64 max);
    error GasPriceTooLow(uint64 gasPx, uint64 min);
    error EmptyBatch();
    error UnknownSigner(address signer);
    error TaskNotPending(bytes32 taskId, uint8 status);
    error NotSelectedWorker(bytes32 taskId, address selected);
    error GasUsedAboveLimit(bytes32 taskId, uint64 gasUsed, uint64 gasLimit);
    error InvalidReceipt(bytes32 taskId);
    error InputsHashMismatch(bytes32 taskId, bytes32 recorded);
    error DeltaBaseMismatch(bytes32 taskId, uint256 deltaCount, bytes32 lastDeltaHash);
    error SecretContractNotDeployed(bytes32 scAddr);
    error SecretContractAlreadyDeployed(bytes32 scAddr);
    error DeltaOutOfOrder(bytes32 scAddr, bytes32 taskId);
    error InsufficientGasForCallback();
    error TaskNotTimedOut(bytes32 taskId, uint256 refundableFromBlock);
    error BatchTooLarge(uint256 count, uint256 max);

    // ============================================ State ============================================

    bytes32 public constant RECEIPT_TYPEHASH = keccak256(
        "Receipt(bytes32 taskId,bytes32 scAddr,bytes32 inputsHash,bytes32 prevDeltaHash,uint64 deltaIndex,bytes32 stateDeltaHash,bytes32 outputHash,uint64 gasUsed,bool success,bytes32 preCodeHash,bytes32 codeHash,address ethAddress,bytes ethCalldata)"
    );
    bytes32 public constant RECEIPT_BATCH_TYPEHASH = keccak256(
        "ReceiptBatch(Receipt[] receipts)Receipt(bytes32 taskId,bytes32 scAddr,bytes32 inputsHash,bytes32 prevDeltaHash,uint64 deltaIndex,bytes32 stateDeltaHash,bytes32 outputHash,uint64 gasUsed,bool success,bytes32 preCodeHash,bytes32 codeHash,address ethAddress,bytes ethCalldata)"
    );
    bytes32 public constant WORKERS_PARAMS_TYPEHASH = keccak256(
        "WorkersParams(uint256 blockNumber,uint256 seed,uint256 nonce)"
    );

    /// @notice Receipts one `commitReceipts` may carry (its receipt log holds up to two words per
    /// receipt: the output hash and a delta hash).
    uint256 public constant MAX_RECEIPTS_PER_BATCH = 256;

    /// @notice What `createTaskRecord` reverts with when the record names another epoch than the
    /// current one: Discovery's contract reverted with this string, and its client (enigma-js)
    /// retries exactly on it.
    string public constant WRONG_EPOCH_REASON = "Wrong epoch for this task";

    IERC20 public immutable TOKEN;
    address public immutable PRINCIPAL;
    uint256 internal immutable EPOCH_SIZE;
    uint256 internal immutable TASK_TIMEOUT;
    uint256 public immutable STAKING_THRESHOLD;
    uint256 public immutable CALLBACK_GAS_LIMIT;
    uint256 public immutable MAX_WORKERS;
    uint64 public immutable MIN_GAS_PX;
    uint64 public immutable MAX_GAS_LIMIT;
    uint256 public immutable MAX_REPORT_AGE;

    Head internal head;
    bool public registrationPaused;
    Attestation.Policy internal policy;
    Workers.Registry internal registry;

    mapping(uint256 index => EpochSnapshot) internal epochs;

    mapping(bytes32 taskId => TaskRecord.Stored) internal tasks;
    mapping(address sender => uint256) internal userTaskDeployments;

    mapping(bytes32 scAddr => StoredContract) internal contracts;
    bytes32[] internal scAddresses;

    // ========================================= Constructor =========================================

    constructor(
        Config memory config,
        AttestationConfig memory attestation
    ) Ownable(msg.sender) EIP712("Enigma", "1") WorkerSelectionHost(config.selection) {
        if (config.token == address(0) || config.principal == address(0)) revert ZeroAddress();
        // A strategy without code would make every receipt check fail.
        if (address(config.selection).code.length == 0) revert InvalidConfig();
        if (
            config.epochSize == 0 ||
            config.stakingThreshold == 0 ||
            config.maxWorkers == 0 ||
            config.maxWorkers > type(uint16).max ||
            config.minGasPx == 0 ||
            config.maxGasLimit == 0 ||
            config.maxReportAge == 0
        ) {
            revert InvalidConfig();
        }
        TOKEN = IERC20(config.token);
        PRINCIPAL = config.principal;
        EPOCH_SIZE = config.epochSize;
        TASK_TIMEOUT = config.taskTimeout;
        STAKING_THRESHOLD = config.stakingThreshold;
        CALLBACK_GAS_LIMIT = config.callbackGasLimit;
        MAX_WORKERS = config.maxWorkers;
        MIN_GAS_PX = config.minGasPx;
        MAX_GAS_LIMIT = config.maxGasLimit;
        MAX_REPORT_AGE = config.maxReportAge;
        policy.rsaModulus = attestation.rsaModulus;
        policy.rsaExponent = attestation.rsaExponent;
        policy.allowDebug = attestation.allowDebug;
        policy.minIsvSvn = attestation.minIsvSvn;
        for (uint256 i = 0; i < attestation.acceptedStatuses.length; ++i) {
            policy.acceptedStatus[keccak256(bytes(attestation.acceptedStatuses[i]))] = true;
        }
        for (uint256 i = 0; i < attestation.mrEnclaves.length; ++i) {
            policy.mrEnclave[attestation.mrEnclaves[i]] = true;
        }
        for (uint256 i = 0; i < attestation.mrSigners.length; ++i) {
            policy.mrSigner[attestation.mrSigners[i]] = true;
        }
    }

    // ==================================== Owner: policy as data ====================================

    function setRegistrationPaused(bool paused) external onlyOwner {
        registrationPaused = paused;
        emit RegistrationPaused(paused);
    }

    function setAttestationRoot(
        bytes calldata modulus,
        bytes calldata exponent
    ) external onlyOwner {
        policy.rsaModulus = modulus;
        policy.rsaExponent = exponent;
        // Reports signed under the old root no longer count: workers register fresh ones.
        ++policy.rootVersion;
        _policyChanged();
    }

    function setQuoteStatusAccepted(string calldata status, bool accepted) external onlyOwner {
        policy.acceptedStatus[keccak256(bytes(status))] = accepted;
        _policyChanged();
    }

    function setMrEnclaveAllowed(bytes32 mrenclave, bool allowed) external onlyOwner {
        policy.mrEnclave[mrenclave] = allowed;
        _policyChanged();
    }

    function setMrSignerAllowed(bytes32 mrsigner, bool allowed) external onlyOwner {
        policy.mrSigner[mrsigner] = allowed;
        _policyChanged();
    }

    function setAllowDebug(bool allowed) external onlyOwner {
        policy.allowDebug = allowed;
        _policyChanged();
    }

    function setMinIsvSvn(uint16 minIsvSvn) external onlyOwner {
        policy.minIsvSvn = minIsvSvn;
        _policyChanged();
    }

    /// @dev Registered workers are re-checked against the new policy at log-in and when an epoch's
    /// set is taken (see `Workers`).
    function _policyChanged() internal {
        ++policy.version;
        emit AttestationPolicyChanged();
    }

    // ==================================== Workers and stake ========================================

    /// @notice Registers the caller as the custodian of enclave `signer` after checking the
    /// attestation report on chain: it must pass the policy, name `signer`, the caller and this
    /// chain and contract in its report_data, and be at most `MAX_REPORT_AGE` old (see
    /// `Workers.register`). The worker starts logged out.
    function register(address signer, bytes calldata report, bytes calldata signature) external {
        if (registrationPaused) revert RegistrationIsPaused();
        Workers.register(registry, policy, _limits(), signer, report, signature);
    }

    /// @notice Removes a logged-out worker whose stake has been withdrawn.
    function unregister() external {
        Workers.unregister(registry);
    }

    /// @notice Deposits `amount` ENG from the caller into `custodian`'s stake (ERC20 allowance
    /// needed). It counts for selection from the epoch after next (see `setWorkersParams`).
    function deposit(address custodian, uint256 amount) external nonReentrant {
        Workers.deposit(registry, TOKEN, custodian, amount);
    }

    /// @notice Withdraws stake: logged out, and no epoch in force can hold the worker any more
    /// (two epochs have started since the log-out).
    function withdraw(uint256 amount) external nonReentrant {
        Workers.withdraw(registry, TOKEN, head.epochCount, amount);
    }

    /// @notice Joins the active set: the set captured when the next epoch starts includes the
    /// caller (it is drawn from the epoch after next). Re-checks the attestation when the policy
    /// changed since it last passed.
    function login() external {
        Workers.login(registry, policy, _limits());
    }

    /// @notice Leaves the active set; the worker stays in the sets already captured (the current
    /// and the next epoch's) and commits their receipts as usual.
    function logout() external {
        Workers.logout(registry, head.epochCount);
    }

    function _limits() internal view returns (Workers.Limits memory) {
        return Workers.Limits(PRINCIPAL, STAKING_THRESHOLD, MAX_WORKERS, MAX_REPORT_AGE);
    }

    // ============================================ Epochs ===========================================

    /// @notice Starts a new epoch at this block with `seed`, signed by the principal's enclave
    /// (EIP-712 `WorkersParams(blockNumber, seed, nonce)`, nonce = the new epoch's index).
    /// The new epoch draws from the worker set captured when the previous epoch started; this
    /// call captures the set of the next epoch: the logged-in workers with at least the staking
    /// threshold whose attestation passes the policy, with their stakes. So the set an epoch
    /// draws from is fixed before its seed exists (the seed is public in this pending
    /// transaction, and a deposit or log-in sent after seeing it counts only for the epoch after
    /// next). The first epoch draws from the set of its own start (no contract exists yet).
    /// Workers whose attestation fails a policy changed since their set was captured are
    /// dropped from it.
    /// @dev Loops over the active set, bounded by `MAX_WORKERS`; paid by the principal. A
    /// worker's attestation is re-checked only after a policy change.
    function setWorkersParams(uint256 blockNumber, uint256 seed, bytes calldata sig) external {
        Head memory h = head;
        if (h.epochCount != 0 && block.number < h.currentFirstBlock + EPOCH_SIZE) {
            revert EpochTooEarly(h.currentFirstBlock + EPOCH_SIZE);
        }
        if (blockNumber > block.number) revert InvalidEpochBlockNumber(blockNumber);
        uint256 nonce = h.epochCount;
        bytes32 digest = _hashTypedDataV4(
            keccak256(abi.encode(WORKERS_PARAMS_TYPEHASH, blockNumber, seed, nonce))
        );
        address recovered = ECDSA.recover(digest, sig);
        if (recovered != PRINCIPAL) revert InvalidPrincipalSignature(recovered);
        if (
            registry.workers[registry.custodianOf[PRINCIPAL]].status == Workers.Status.Unregistered
        ) {
            revert PrincipalNotRegistered();
        }

        EpochSnapshot storage e = epochs[nonce];
        uint32 version = policy.version;
        if (nonce == 0) {
            e.totalStake = uint96(_capture(e));
        } else if (e.policyVersion != version) {
            e.totalStake = uint96(Workers.refilter(registry, policy, e.workers, e.stakes));
        }
        EpochSnapshot storage next = epochs[nonce + 1];
        next.totalStake = uint96(_capture(next));
        next.policyVersion = version;
        e.firstBlockNumber = uint64(block.number);
        e.inclusionBlockNumber = uint64(blockNumber);
        e.seed = seed;
        head.currentFirstBlock = uint64(block.number);
        head.epochCount = uint32(nonce + 1);
        emit WorkersParameterized(seed, block.number, blockNumber, e.workers, e.stakes, nonce);
    }

    function _capture(EpochSnapshot storage e) internal returns (uint256) {
        return Workers.capture(registry, policy, e.workers, e.stakes, STAKING_THRESHOLD);
    }

    // ===================================== Task records ============================================

    /// @notice Records a deployment task: escrows `gasLimit * gasPx`, checks the epoch and that
    /// `nonce` is the caller's task counter (the new contract's address is this task's id).
    function createDeploymentTaskRecord(
        bytes32 inputsHash,
        uint64 gasLimit,
        uint64 gasPx,
        uint256 firstBlockNumber,
        uint256 nonce
    ) external nonReentrant {
        uint256 expected = userTaskDeployments[msg.sender];
        if (nonce != expected) revert NonceMismatch(expected, nonce);
        uint256 fee = _createTaskRecord(inputsHash, gasLimit, gasPx, firstBlockNumber, true);
        TOKEN.safeTransferFrom(msg.sender, address(this), fee);
    }

    /// @notice Records a task: escrows `gasLimit * gasPx` ENG (allowance needed), checks that
    /// `firstBlockNumber` is the current epoch's, bumps the caller's nonce.
    function createTaskRecord(
        bytes32 inputsHash,
        uint64 gasLimit,
        uint64 gasPx,
        uint256 firstBlockNumber
    ) external nonReentrant {
        uint256 fee = _createTaskRecord(inputsHash, gasLimit, gasPx, firstBlockNumber, false);
        TOKEN.safeTransferFrom(msg.sender, address(this), fee);
    }

    /// @notice Records many tasks in one transaction (one token transfer for all fees).
    function createTaskRecords(
        bytes32[] calldata inputsHashes,
        uint64 gasLimit,
        uint64 gasPx,
        uint256 firstBlockNumber
    ) external nonReentrant {
        uint256 total;
        for (uint256 i = 0; i < inputsHashes.length; ++i) {
            total += _createTaskRecord(inputsHashes[i], gasLimit, gasPx, firstBlockNumber, false);
        }
        TOKEN.safeTransferFrom(msg.sender, address(this), total);
    }

    function _createTaskRecord(
        bytes32 inputsHash,
        uint64 gasLimit,
        uint64 gasPx,
        uint256 firstBlockNumber,
        bool isDeployment
    ) internal returns (uint256 fee) {
        Head memory h = head;
        if (h.epochCount == 0) revert NoEpoch();
        // A reason string, not a custom error: Discovery's client retries on exactly this text.
        // solhint-disable-next-line gas-custom-errors
        if (firstBlockNumber != h.currentFirstBlock) revert(WRONG_EPOCH_REASON);
        if (gasLimit == 0) revert ZeroGasLimit();
        if (gasLimit > MAX_GAS_LIMIT) revert GasLimitTooHigh(gasLimit, MAX_GAS_LIMIT);
        if (gasPx < MIN_GAS_PX) revert GasPriceTooLow(gasPx, MIN_GAS_PX);
        uint256 nonce = userTaskDeployments[msg.sender];
        bytes32 taskId = keccak256(abi.encodePacked(msg.sender, nonce));
        userTaskDeployments[msg.sender] = nonce + 1;
        // A fresh (sender, nonce) pair can never name an existing record.
        tasks[taskId] = TaskRecord.Stored({
            sender: msg.sender,
            status: TaskRecord.RECORD_CREATED,
            isDeployment: isDeployment,
            log: 0,
            logIndex: 0,
            gasLimit: gasLimit,
            gasPx: gasPx,
            seq: h.taskCount,
            epoch: h.epochCount - 1,
            // A block number needs 48 bits for the next nine million years at one block a second.
            blockNumber: uint48(block.number),
            inputsHash: inputsHash
        });
        head.taskCount = h.taskCount + 1;
        emit TaskRecordCreated(taskId, inputsHash, gasLimit, gasPx, msg.sender, block.number);
        return uint256(gasLimit) * uint256(gasPx);
    }

    /// @notice Refunds a task's whole fee to its sender once it has been pending for more than
    /// `getTaskTimeoutSize()` blocks. Anyone may call it. Status becomes 5.
    function returnFeesForTask(bytes32 taskId) external nonReentrant {
        TaskRecord.Stored storage t = tasks[taskId];
        if (t.status != TaskRecord.RECORD_CREATED) revert TaskNotPending(taskId, t.status);
        uint256 refundableFrom = uint256(t.blockNumber) + TASK_TIMEOUT + 1;
        if (block.number < refundableFrom) revert TaskNotTimedOut(taskId, refundableFrom);
        t.status = TaskRecord.RECEIPT_FAILED_RETURN;
        emit TaskFeeReturned(taskId);
        TOKEN.safeTransfer(t.sender, t.fee());
    }

    // ======================================= Receipts ==============================================

    /// @dev Per-batch working memory (keeps the loop's stack small).
    struct BatchCtx {
        address signer;
        uint32 selEpoch;
        bytes32 selScAddr;
        uint256 workerFees;
        address[] payees;
        uint256[] refunds;
        uint256 payeeCount;
        // The receipt log being built: word i is receipt i's output hash; the batch's deltas
        // follow, grouped by contract (one `DeltaRun` per contract and batch).
        uint48 logId;
        bytes log;
        bytes32[] deltas; // in commit order
        uint256[] deltaRun; // the run of each delta
        uint256 deltaCount;
        bytes32[] runScAddr;
        uint256[] runFirst; // the contract's index of the run's first delta
        uint256[] runCount;
        bytes32[] runLast; // the run's last delta hash
        uint256 runTotal;
    }

    /// @dev Tags the transient slots that map a contract to its run in the current batch.
    bytes32 private constant RUN_SLOT_TAG = keccak256("Enigma.commitReceipts.run");
    /// @dev Tags the transient slots holding the output hashes of the batch being committed, for
    /// views made from its Ethereum call (the batch's log is written after it).
    bytes32 private constant OUTPUT_SLOT_TAG = keccak256("Enigma.commitReceipts.output");

    /// @notice Commits a batch of task results signed once by the selected worker's enclave
    /// (EIP-712 `ReceiptBatch(Receipt[] receipts)`, domain `Enigma`/`1` with chain id and this
    /// contract). Anyone may submit it. Every task must be pending and selected to the signer
    /// in its epoch (the signer may have logged out since: it commits what it served); each
    /// receipt names the task's inputs hash as recorded; a successful task names the delta its
    /// state was built on, which must be the contract's last (committed, or earlier in the
    /// batch), so no other inputs can be settled under a task id and no state rolled back or
    /// skipped; deltas of a contract must come in task-record order. Fees: `gasUsed * gasPx`
    /// to the worker's stake, the rest back to each sender. Output and delta hashes are
    /// written once, to the batch's receipt log (see `ReceiptLog`).
    /// @dev A task's Ethereum call gets `CALLBACK_GAS_LIMIT` gas; if it fails the task ends
    /// with status 4 and no delta, and the rest of the batch still commits.
    function commitReceipts(Receipt[] calldata receipts, bytes calldata sig) external nonReentrant {
        uint256 count = receipts.length;
        if (count == 0) revert EmptyBatch();
        if (count > MAX_RECEIPTS_PER_BATCH) revert BatchTooLarge(count, MAX_RECEIPTS_PER_BATCH);
        BatchCtx memory c;
        c.signer = ECDSA.recover(_hashBatch(receipts), sig);
        address custodian = registry.custodianOf[c.signer];
        if (custodian == address(0)) revert UnknownSigner(c.signer);
        Workers.Worker storage w = registry.workers[custodian];
        c.selEpoch = type(uint32).max;
        c.payees = new address[](count);
        c.refunds = new uint256[](count);
        c.logId = head.logCount;
        c.log = ReceiptLog.alloc(2 * count);
        c.deltas = new bytes32[](count);
        c.deltaRun = new uint256[](count);
        c.runScAddr = new bytes32[](count);
        c.runFirst = new uint256[](count);
        c.runCount = new uint256[](count);
        c.runLast = new bytes32[](count);

        for (uint256 i = 0; i < count; ++i) {
            _commitOne(c, i, receipts[i], sig);
        }
        _writeLog(c, count);

        w.balance += c.workerFees;
        emit ReceiptsCommitted(c.signer, count, c.workerFees);
        for (uint256 i = 0; i < c.payeeCount; ++i) {
            if (c.refunds[i] != 0) TOKEN.safeTransfer(c.payees[i], c.refunds[i]);
        }
    }

    // One receipt's checks then effects, in the order the README gives them; a helper per step
    // would cost code size, which EIP-170 leaves little of.
    // solhint-disable-next-line function-max-lines
    function _commitOne(
        BatchCtx memory c,
        uint256 index,
        Receipt calldata r,
        bytes calldata sig
    ) internal {
        TaskRecord.Stored storage t = tasks[r.taskId];
        if (t.status != TaskRecord.RECORD_CREATED) revert TaskNotPending(r.taskId, t.status);
        if (r.gasUsed > t.gasLimit) revert GasUsedAboveLimit(r.taskId, r.gasUsed, t.gasLimit);
        if (r.inputsHash != t.inputsHash) revert InputsHashMismatch(r.taskId, t.inputsHash);
        if (!r.success && (r.stateDeltaHash != bytes32(0) || r.ethAddress != address(0))) {
            revert InvalidReceipt(r.taskId);
        }
        if (t.isDeployment && r.scAddr != r.taskId) revert InvalidReceipt(r.taskId);
        _checkSelected(c, t.epoch, r.scAddr, r.taskId);

        StoredContract storage sc = contracts[r.scAddr];
        uint8 status = r.success ? TaskRecord.RECEIPT_VERIFIED : TaskRecord.RECEIPT_FAILED;
        if (t.isDeployment) {
            if (sc.status != SecretContractStatus.Undefined)
                revert SecretContractAlreadyDeployed(r.scAddr);
            if (r.success && r.codeHash == bytes32(0)) revert InvalidReceipt(r.taskId);
        } else if (r.success && sc.status != SecretContractStatus.Deployed) {
            // A failure may name a contract that does not exist (Discovery's node settled such
            // a task with `commitTaskFailure`); it changes nothing of it.
            revert SecretContractNotDeployed(r.scAddr);
        }
        uint256 run;
        uint256 deltaIndex;
        if (r.success) {
            bytes32 last;
            (run, deltaIndex, last) = _deltaHead(c, sc, r.scAddr);
            if (r.deltaIndex != deltaIndex || r.prevDeltaHash != last) {
                revert DeltaBaseMismatch(r.taskId, deltaIndex, last);
            }
        }

        // Effects first; the optional call comes last and can only downgrade this task to 4.
        t.status = status;
        t.log = c.logId;
        t.logIndex = uint16(index);
        ReceiptLog.set(c.log, index, r.outputHash);
        bytes32 outputSlot = _outputSlot(r.taskId);
        bytes32 outputHash = r.outputHash;
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            tstore(outputSlot, outputHash)
        }
        uint256 workerFee = uint256(r.gasUsed) * t.gasPx;
        c.workerFees += workerFee;
        _addRefund(c, t.sender, t.fee() - workerFee);

        if (!r.success) {
            emit ReceiptFailed(r.taskId, sig);
            return;
        }
        if (r.ethAddress != address(0) && !_callback(r.ethAddress, r.ethCalldata)) {
            t.status = TaskRecord.RECEIPT_FAILED_ETH;
            emit ReceiptFailedETH(r.taskId, sig);
            return;
        }
        _applySuccess(c, t, sc, r, sig, run, deltaIndex);
    }

    /// @dev Where a contract's delta chain ends now: its run in this batch (0: none; else 1 +
    /// its index), its delta count and last delta hash (this batch's, or the last committed).
    function _deltaHead(
        BatchCtx memory c,
        StoredContract storage sc,
        bytes32 scAddr
    ) internal view returns (uint256 run, uint256 count, bytes32 last) {
        bytes32 slot = _runSlot(scAddr);
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            run := tload(slot)
        }
        if (run != 0) return (run, c.runFirst[run - 1] + c.runCount[run - 1], c.runLast[run - 1]);
        uint256 runs = sc.runCount;
        if (runs == 0) return (0, 0, bytes32(0));
        DeltaRuns.Run memory r = sc.runs.get(runs - 1);
        address log = ReceiptLog.addressOf(address(this), r.log);
        return (0, r.first + r.count, ReceiptLog.word(log, r.at + r.count - 1));
    }

    /// @dev A verified task: registers a deployed contract, appends the delta in record order.
    /// `run` and `deltaIndex` are the contract's `_deltaHead` before this receipt.
    function _applySuccess(
        BatchCtx memory c,
        TaskRecord.Stored storage t,
        StoredContract storage sc,
        Receipt calldata r,
        bytes calldata sig,
        uint256 run,
        uint256 deltaIndex
    ) internal {
        if (t.isDeployment) {
            sc.owner = t.sender;
            sc.status = SecretContractStatus.Deployed;
            sc.preCodeHash = r.preCodeHash;
            sc.codeHash = r.codeHash;
            scAddresses.push(r.scAddr);
            emit SecretContractDeployed(r.scAddr, r.codeHash, r.stateDeltaHash);
        }
        if (r.stateDeltaHash != bytes32(0)) {
            if (deltaIndex != 0 && t.seq <= sc.lastDeltaSeq)
                revert DeltaOutOfOrder(r.scAddr, r.taskId);
            sc.lastDeltaSeq = t.seq;
            _addDelta(c, run, r.scAddr, deltaIndex, r.stateDeltaHash);
        }
        _emitVerified(r, deltaIndex, c.signer, sig);
    }

    /// @dev The transient slot holding 1 + the index of a contract's run in the current batch
    /// (0: none yet); `_writeLog` clears it.
    function _runSlot(bytes32 scAddr) internal pure returns (bytes32) {
        return _tagged(RUN_SLOT_TAG, scAddr);
    }

    function _outputSlot(bytes32 taskId) internal pure returns (bytes32) {
        return _tagged(OUTPUT_SLOT_TAG, taskId);
    }

    /// @dev `keccak256(abi.encode(tag, key))` in scratch space (no memory allocated per call).
    function _tagged(bytes32 tag, bytes32 key) private pure returns (bytes32 h) {
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            mstore(0, tag)
            mstore(0x20, key)
            h := keccak256(0, 0x40)
        }
    }

    /// @dev Files a delta under its contract's run of this batch (`run` as `_deltaHead` read it).
    function _addDelta(
        BatchCtx memory c,
        uint256 run,
        bytes32 scAddr,
        uint256 index,
        bytes32 hash
    ) internal {
        if (run == 0) {
            run = c.runTotal;
            c.runScAddr[run] = scAddr;
            c.runFirst[run] = index;
            c.runTotal = run + 1;
            bytes32 slot = _runSlot(scAddr);
            // solhint-disable-next-line no-inline-assembly
            assembly ("memory-safe") {
                tstore(slot, add(run, 1))
            }
        } else {
            --run;
        }
        ++c.runCount[run];
        c.runLast[run] = hash;
        c.deltas[c.deltaCount] = hash;
        c.deltaRun[c.deltaCount] = run;
        ++c.deltaCount;
    }

    /// @dev Writes the batch's receipt log: the outputs (already in place), then each contract's
    /// deltas as one run, in order of the contracts' first delta in the batch.
    function _writeLog(BatchCtx memory c, uint256 outputs) internal {
        uint256[] memory next = new uint256[](c.runTotal);
        uint256 at = outputs;
        for (uint256 run = 0; run < c.runTotal; ++run) {
            bytes32 scAddr = c.runScAddr[run];
            uint256 n = c.runCount[run];
            next[run] = at;
            StoredContract storage sc = contracts[scAddr];
            uint256 k = sc.runCount;
            sc.runs.put(k, DeltaRuns.Run(c.logId, at, n, c.runFirst[run]));
            sc.runCount = uint40(k + 1);
            at += n;
            bytes32 slot = _runSlot(scAddr);
            // solhint-disable-next-line no-inline-assembly
            assembly ("memory-safe") {
                tstore(slot, 0)
            }
        }
        for (uint256 j = 0; j < c.deltaCount; ++j) {
            uint256 run = c.deltaRun[j];
            ReceiptLog.set(c.log, next[run], c.deltas[j]);
            ++next[run];
        }
        head.logCount = c.logId + 1;
        ReceiptLog.deploy(c.log, at, c.logId);
    }

    function _emitVerified(
        Receipt calldata r,
        uint256 deltaIndex,
        address signer,
        bytes calldata sig
    ) internal {
        emit ReceiptVerified(
            r.taskId,
            r.stateDeltaHash,
            r.outputHash,
            r.scAddr,
            r.gasUsed,
            deltaIndex,
            r.ethCalldata,
            r.ethAddress,
            signer,
            sig
        );
    }

    /// @dev Asks the strategy whether the signer is in the task's group; consecutive receipts of
    /// one contract and epoch share the answer (a wrong one reverts the whole batch).
    function _checkSelected(
        BatchCtx memory c,
        uint32 epoch,
        bytes32 scAddr,
        bytes32 taskId
    ) internal view {
        if (epoch == c.selEpoch && scAddr == c.selScAddr) return;
        if (!_isSelected(epoch, scAddr, c.signer)) {
            bytes memory group = _selectGroupEncoded(epoch, scAddr);
            address first;
            // The encoded `address[]`: offset, length, then the members (first at word 2).
            // solhint-disable-next-line no-inline-assembly
            assembly ("memory-safe") {
                if gt(mload(add(group, 0x40)), 0) {
                    first := mload(add(group, 0x60))
                }
            }
            revert NotSelectedWorker(taskId, first);
        }
        c.selEpoch = epoch;
        c.selScAddr = scAddr;
    }

    /// @dev Sums refunds of consecutive receipts of one sender into one transfer.
    function _addRefund(BatchCtx memory c, address sender, uint256 amount) internal pure {
        uint256 n = c.payeeCount;
        if (n != 0 && c.payees[n - 1] == sender) {
            c.refunds[n - 1] += amount;
        } else {
            c.payees[n] = sender;
            c.refunds[n] = amount;
            c.payeeCount = n + 1;
        }
    }

    /// @dev The task's Ethereum call: bounded gas, no return data copied (no return bomb), never
    /// the token or this contract (which would let a secret contract move escrowed ENG): such
    /// a call fails without being made.
    function _callback(address target, bytes calldata data) internal returns (bool ok) {
        // Counted as a failed call (status 4), so a secret contract cannot block a batch with it.
        if (target == address(TOKEN) || target == address(this)) return false;
        uint256 budget = CALLBACK_GAS_LIMIT;
        // A worker must not be able to make the call fail by starving it (EIP-150 keeps 1/64).
        if (gasleft() < budget + budget / 63 + 5_000) revert InsufficientGasForCallback();
        bytes memory payload = data;
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            ok := call(budget, target, 0, add(payload, 0x20), mload(payload), 0, 0)
        }
    }

    function _hashBatch(Receipt[] calldata receipts) internal view returns (bytes32) {
        bytes32[] memory hashes = new bytes32[](receipts.length);
        for (uint256 i = 0; i < receipts.length; ++i) {
            Receipt calldata r = receipts[i];
            hashes[i] = keccak256(
                abi.encode(
                    RECEIPT_TYPEHASH,
                    r.taskId,
                    r.scAddr,
                    r.inputsHash,
                    r.prevDeltaHash,
                    r.deltaIndex,
                    r.stateDeltaHash,
                    r.outputHash,
                    r.gasUsed,
                    r.success,
                    r.preCodeHash,
                    r.codeHash,
                    r.ethAddress,
                    keccak256(r.ethCalldata)
                )
            );
        }
        return
            _hashTypedDataV4(
                keccak256(abi.encode(RECEIPT_BATCH_TYPEHASH, keccak256(abi.encodePacked(hashes))))
            );
    }

    // ======================================== Getters ==============================================

    function getEpochSize() external view returns (uint256) {
        return EPOCH_SIZE;
    }

    function getTaskTimeoutSize() external view returns (uint256) {
        return TASK_TIMEOUT;
    }

    function getUserTaskDeployments(address sender) external view returns (uint256) {
        return userTaskDeployments[sender];
    }

    function getTaskRecord(bytes32 taskId) external view returns (TaskRecord.View memory v) {
        TaskRecord.Stored storage t = tasks[taskId];
        uint256 logs = head.logCount;
        v = t.toView(logs);
        if (TaskRecord.hasReceipt(v.status) && t.log == logs) {
            // Committed by the batch in progress (a view from its Ethereum call).
            bytes32 slot = _outputSlot(taskId);
            bytes32 outputHash;
            // solhint-disable-next-line no-inline-assembly
            assembly ("memory-safe") {
                outputHash := tload(slot)
            }
            v.outputHash = outputHash;
        }
    }

    function getSecretContract(bytes32 scAddr) external view returns (SecretContract memory) {
        StoredContract storage s = contracts[scAddr];
        bytes32[] memory deltas = _deltaHashes(s, 0, type(uint256).max);
        return SecretContract(s.owner, s.preCodeHash, s.codeHash, deltas, uint8(s.status));
    }

    /// @notice `getSecretContract` without the delta hashes, which a long-lived contract has too
    /// many of for one call: their count instead (ours; page them with `getStateDeltaHashes`).
    function getSecretContractInfo(
        bytes32 scAddr
    )
        external
        view
        returns (
            address owner,
            bytes32 preCodeHash,
            bytes32 codeHash,
            uint256 deltaCount,
            uint8 status
        )
    {
        StoredContract storage s = contracts[scAddr];
        return (s.owner, s.preCodeHash, s.codeHash, s.runs.total(s.runCount), uint8(s.status));
    }

    /// @notice Number of committed state deltas of `scAddr` (ours; Discovery's client counts
    /// `getSecretContract(..).stateDeltaHashes`).
    function countStateDeltas(bytes32 scAddr) external view returns (uint256) {
        StoredContract storage s = contracts[scAddr];
        return s.runs.total(s.runCount);
    }

    /// @notice State delta hashes `[start, stop)` of `scAddr`, clamped to the list (ours).
    function getStateDeltaHashes(
        bytes32 scAddr,
        uint256 start,
        uint256 stop
    ) external view returns (bytes32[] memory) {
        return _deltaHashes(contracts[scAddr], start, stop);
    }

    function countSecretContracts() external view returns (uint256) {
        return scAddresses.length;
    }

    /// @notice Deployed secret contracts `[start, stop)`, clamped to the list.
    function getSecretContractAddresses(
        uint256 start,
        uint256 stop
    ) external view returns (bytes32[] memory out) {
        uint256 len = scAddresses.length;
        if (stop > len) stop = len;
        if (start >= stop) return new bytes32[](0);
        out = new bytes32[](stop - start);
        for (uint256 i = start; i < stop; ++i) out[i - start] = scAddresses[i];
    }

    function getAllSecretContractAddresses() external view returns (bytes32[] memory) {
        return scAddresses;
    }

    /// @notice A worker by custodian. `workerLogs` is always empty: stakes are snapshotted per
    /// epoch instead of replayed from logs.
    function getWorker(address custodian) public view returns (Worker memory) {
        Workers.Worker storage w = registry.workers[custodian];
        return Worker(w.signer, uint8(w.status), w.report, w.balance, new WorkerLog[](0));
    }

    function getWorkerFromSigningAddress(
        address signer
    ) external view returns (address, Worker memory) {
        address custodian = registry.custodianOf[signer];
        return (custodian, getWorker(custodian));
    }

    /// @notice The caller's enclave signer.
    function getSigningAddress() external view returns (address) {
        return registry.workers[msg.sender].signer;
    }

    function getReport(address custodian) external view returns (address, bytes memory) {
        Workers.Worker storage w = registry.workers[custodian];
        if (w.status == Workers.Status.Unregistered) revert WorkerNotRegistered(custodian);
        return (w.signer, w.report);
    }

    /// @notice 0 when the report passes signature and policy, else an `Attestation.Result`.
    function verifyReport(
        bytes calldata data,
        bytes calldata signature
    ) external view returns (uint256) {
        return uint256(policy.check(address(0), data, signature));
    }

    /// @notice The logged-in workers and their stakes now: what the next epoch start captures
    /// (for the epoch after it). Discovery took a block number; only the present is kept, so
    /// `blockNumber` is ignored.
    function getActiveWorkers(uint256) external view returns (address[] memory, uint256[] memory) {
        Workers.returnActive(registry);
        // The library's return data is this function's, already encoded (see `returnActive`).
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            let p := mload(0x40)
            returndatacopy(p, 0, returndatasize())
            return(p, returndatasize())
        }
    }

    /// @notice First block of the epoch in force at `blockNumber` (0 before the first epoch).
    function getFirstBlockNumber(uint256 blockNumber) external view returns (uint256) {
        (bool found, uint256 index) = _epochAt(blockNumber);
        return found ? epochs[index].firstBlockNumber : 0;
    }

    /// @notice The epoch in force at `blockNumber`: first block, seed, worker signers, stakes.
    function getWorkerParams(
        uint256 blockNumber
    ) external view returns (uint256, uint256, address[] memory, uint256[] memory) {
        (bool found, uint256 index) = _epochAt(blockNumber);
        if (!found) return (0, 0, new address[](0), new uint256[](0));
        EpochSnapshot storage e = epochs[index];
        return (e.firstBlockNumber, e.seed, e.workers, e.stakes);
    }

    /// @notice The group the strategy (`SELECTION`) selects for `scAddr` in the epoch at
    /// `blockNumber`, in draw order (one worker under Discovery's rule); empty before the first
    /// epoch or when nobody holds stake.
    function getWorkerGroup(
        uint256 blockNumber,
        bytes32 scAddr
    ) external view returns (address[] memory) {
        (bool found, uint256 index) = _epochAt(blockNumber);
        if (!found) return new address[](0);
        bytes memory group = _selectGroupEncoded(index, scAddr);
        // Handed on as the strategy encoded it (its `selectGroup` returns `address[]` too).
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            return(add(group, 0x20), mload(group))
        }
    }

    function _epochsSlot() internal pure override returns (uint256 slot) {
        // solhint-disable-next-line no-inline-assembly
        assembly {
            slot := epochs.slot
        }
    }

    /// @dev Delta hashes `[start, stop)` (clamped) read from the receipt logs of the runs.
    function _deltaHashes(
        StoredContract storage s,
        uint256 start,
        uint256 stop
    ) internal view returns (bytes32[] memory) {
        return DeltaHashes.read(s.runs, s.runCount, start, stop);
    }

    /// @dev Binary search for the last epoch whose first block is at or before `blockNumber`.
    function _epochAt(uint256 blockNumber) internal view returns (bool found, uint256 index) {
        uint256 lo = 0;
        uint256 hi = head.epochCount;
        while (lo < hi) {
            uint256 mid = (lo + hi) / 2;
            if (epochs[mid].firstBlockNumber <= blockNumber) lo = mid + 1;
            else hi = mid;
        }
        if (lo == 0) return (false, 0);
        return (true, lo - 1);
    }
}
