import { ErrorCode } from "../errors.js";

/**
 * The `Enigma` contract's custom errors (contracts/Enigma.sol) and their catalog codes, so that
 * node, client and CLI report a revert with a stable code. OpenZeppelin's ECDSA and ERC20
 * errors map to the closest code.
 */
export const CONTRACT_ERROR_CODES: Readonly<Record<string, ErrorCode>> = Object.freeze({
  RegistrationIsPaused: ErrorCode.RegistrationPaused,
  AttestationRejected: ErrorCode.AttestationRejectedOnChain,
  SignerAlreadyRegistered: ErrorCode.SignerAlreadyRegistered,
  WorkerNotRegistered: ErrorCode.WorkerNotRegistered,
  WorkerNotLoggedIn: ErrorCode.WorkerStatusInvalid,
  WorkerNotLoggedOut: ErrorCode.WorkerStatusInvalid,
  PrincipalCannotLogIn: ErrorCode.WorkerStatusInvalid,
  StakeBelowThreshold: ErrorCode.StakeTooLow,
  InsufficientBalance: ErrorCode.StakeTooLow,
  BalanceNotWithdrawn: ErrorCode.StakeTooLow,
  WithdrawTooEarly: ErrorCode.WithdrawTooEarly,
  TooManyWorkers: ErrorCode.TooManyWorkers,
  InvalidPrincipalSignature: ErrorCode.EpochRejected,
  PrincipalNotRegistered: ErrorCode.EpochRejected,
  EpochTooEarly: ErrorCode.EpochRejected,
  InvalidEpochBlockNumber: ErrorCode.EpochRejected,
  NoEpoch: ErrorCode.NoEpoch,
  WrongEpoch: ErrorCode.WrongEpoch,
  NonceMismatch: ErrorCode.TaskNonceMismatch,
  ZeroGasLimit: ErrorCode.InvalidArgument,
  GasLimitTooHigh: ErrorCode.TaskGasLimitTooHigh,
  GasPriceTooLow: ErrorCode.GasPriceTooLow,
  InputsHashMismatch: ErrorCode.ReceiptInputsMismatch,
  DeltaBaseMismatch: ErrorCode.DeltaBaseMismatch,
  ZeroAmount: ErrorCode.InvalidAmount,
  ZeroAddress: ErrorCode.InvalidArgument,
  InvalidConfig: ErrorCode.InvalidConfig,
  TaskNotPending: ErrorCode.TaskNotPending,
  TaskNotTimedOut: ErrorCode.TaskNotTimedOut,
  NotSelectedWorker: ErrorCode.NotSelectedWorker,
  // Someone but Enigma itself called the entry that runs the selection strategy.
  SelectionSelfCallOnly: ErrorCode.InvalidArgument,
  EmptyBatch: ErrorCode.ReceiptRejected,
  UnknownSigner: ErrorCode.ReceiptRejected,
  GasUsedAboveLimit: ErrorCode.ReceiptRejected,
  InvalidReceipt: ErrorCode.ReceiptRejected,
  SecretContractAlreadyDeployed: ErrorCode.ReceiptRejected,
  InsufficientGasForCallback: ErrorCode.ReceiptRejected,
  BatchTooLarge: ErrorCode.ReceiptRejected,
  ReceiptLogTooLarge: ErrorCode.ReceiptRejected,
  ReceiptLogNotCreated: ErrorCode.ReceiptRejected,
  ReceiptLogMisplaced: ErrorCode.ReceiptRejected,
  DeltaRunOverflow: ErrorCode.ReceiptRejected,
  ECDSAInvalidSignature: ErrorCode.ReceiptRejected,
  ECDSAInvalidSignatureS: ErrorCode.ReceiptRejected,
  ECDSAInvalidSignatureLength: ErrorCode.ReceiptRejected,
  DeltaOutOfOrder: ErrorCode.DeltaOutOfOrder,
  SecretContractNotDeployed: ErrorCode.SecretContractNotDeployed,
  ERC20InsufficientBalance: ErrorCode.InvalidAmount,
  ERC20InsufficientAllowance: ErrorCode.InvalidAmount,
});

/**
 * Reverts the `Enigma` contract raises with a reason string instead of a custom error, by the
 * error name they stand for: `createTaskRecord`'s wrong epoch keeps Discovery's wording, on which
 * Discovery's client (enigma-js) retries.
 */
export const CONTRACT_REVERT_REASONS: Readonly<Record<string, string>> = Object.freeze({
  "Wrong epoch for this task": "WrongEpoch",
});

/**
 * The contract error name of a decoded revert: a custom error's own name, or for Solidity's
 * `Error(string)` the name its reason stands for (`WrongEpoch`); undefined for other reasons.
 *
 * @example
 * const parsed = new Interface(ENIGMA_ABI).parseError(data);
 * const name = parsed && contractErrorName(parsed.name, parsed.args);
 */
export function contractErrorName(name: string, args: readonly unknown[]): string | undefined {
  if (name !== "Error") return name;
  const reason = args[0];
  return typeof reason === "string" ? CONTRACT_REVERT_REASONS[reason] : undefined;
}

/** The catalog code of a contract error name (`ChainError` when unknown). */
export function contractErrorCode(name: string): ErrorCode {
  return CONTRACT_ERROR_CODES[name] ?? ErrorCode.ChainError;
}
