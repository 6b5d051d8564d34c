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
  WithdrawInLogoutEpoch: ErrorCode.WithdrawTooEarly,
  TooManyWorkers: ErrorCode.TooManyWorkers,
  InvalidPrincipalSignature: ErrorCode.EpochRejected,
  PrincipalNotRegistered: ErrorCode.EpochRejected,
  EpochTooEarly: ErrorCode.EpochRejected,
  InvalidEpochBlockNumber: ErrorCode.EpochRejected,
  NoEpoch: ErrorCode.NoEpoch,
  WrongEpoch: ErrorCode.WrongEpoch,
  NonceMismatch: ErrorCode.TaskNonceMismatch,
  ZeroGasLimit: ErrorCode.InvalidArgument,
  ZeroAmount: ErrorCode.InvalidAmount,
  ZeroAddress: ErrorCode.InvalidArgument,
  InvalidConfig: ErrorCode.InvalidConfig,
  TaskNotPending: ErrorCode.TaskNotPending,
  TaskNotTimedOut: ErrorCode.TaskNotTimedOut,
  NotSelectedWorker: ErrorCode.NotSelectedWorker,
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

/** The catalog code of a contract error name (`ChainError` when unknown). */
export function contractErrorCode(name: string): ErrorCode {
  return CONTRACT_ERROR_CODES[name] ?? ErrorCode.ChainError;
}
