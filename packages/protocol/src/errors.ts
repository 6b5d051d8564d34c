/**
 * The error catalog shared by contracts, node, client and CLI. Codes are stable: a code is
 * never reused for another meaning. Ranges: 1xx input and configuration, 2xx chain, 3xx
 * enclave and execution, 4xx network and node, 5xx client-side checks.
 */
export const ErrorCode = {
  InvalidArgument: 100,
  InvalidConfig: 101,
  InvalidAmount: 102,
  // 120-139: policies (worker-selection strategies, epoch policies) and the simulator
  UnknownPolicy: 120,
  SelectionHistoryMissing: 121,
  InvalidScenario: 122,
  // 123-139: policies wired into the network (wire helper)
  /** The selection strategy configured here is not the one the Enigma contract was deployed with. */
  SelectionMismatch: 123,
  /** An epoch policy the Enigma contract does not implement, asked of a real network (devnet). */
  PolicyNotOnChain: 124,
  ChainError: 200,
  // 201-249: the Enigma contract's custom errors (mapped in abi/contract-errors.ts)
  RegistrationPaused: 201,
  AttestationRejectedOnChain: 202,
  SignerAlreadyRegistered: 203,
  WorkerNotRegistered: 204,
  WorkerStatusInvalid: 205,
  StakeTooLow: 206,
  WithdrawTooEarly: 207,
  TooManyWorkers: 208,
  EpochRejected: 209,
  NoEpoch: 210,
  WrongEpoch: 211,
  TaskNonceMismatch: 212,
  TaskNotPending: 213,
  TaskNotTimedOut: 214,
  NotSelectedWorker: 215,
  ReceiptRejected: 216,
  DeltaOutOfOrder: 217,
  SecretContractNotDeployed: 218,
  // 219-249: wave 2, receipts bound to their record, task limits (chain helper)
  ReceiptInputsMismatch: 219,
  DeltaBaseMismatch: 220,
  TaskGasLimitTooHigh: 221,
  GasPriceTooLow: 222,
  SealedDataRejected: 300,
  DecryptionFailed: 301,
  // 302-319: crypto and attestation
  InvalidPublicKey: 302,
  InvalidSignature: 303,
  SignerMismatch: 304,
  AttestationSignatureInvalid: 305,
  AttestationMalformed: 306,
  AttestationStatusRejected: 307,
  AttestationDebugRejected: 308,
  AttestationMrenclaveRejected: 309,
  AttestationMrsignerRejected: 310,
  AttestationIsvSvnTooLow: 311,
  AttestationSignerMismatch: 312,
  InvalidAttestationPolicy: 313,
  InvalidTrustRoot: 314,
  KeyExchangeKeyUnknown: 315,
  StateKeyRequestRefused: 316,
  StateKeyUnknown: 317,
  IdentityMismatch: 318,
  // An attestation whose report_data does not bind the registering custodian, chain and contract
  AttestationBindingMismatch: 319,
  // 320-399: secret-contract execution and state
  OutOfGas: 320,
  ContractTrap: 321,
  UnknownFunction: 322,
  MalformedModule: 323,
  StateTooLarge: 324,
  OutputTooLarge: 325,
  CallDepthExceeded: 326,
  HostCallFailed: 327,
  EthereumCallLimit: 328,
  DeltaChainBroken: 329,
  DeltaTampered: 330,
  MalformedDelta: 331,
  InvalidExecutionRequest: 332,
  // 333-349: the runtime's interface (Discovery's) and its limits against hostile contracts
  StateValueNotJson: 333,
  InvalidStateKey: 334,
  ModuleLimitExceeded: 335,
  ExecutionTimeout: 336,
  GasLimitTooHigh: 337,
  RpcError: 400,
  RpcTransport: 401,
  // 402-449: RPC and messages
  InvalidFunctionSignature: 402,
  AbiEncodingFailed: 403,
  AbiDecodingFailed: 404,
  InvalidMessage: 405,
  InvalidRpcParams: 406,
  InvalidRpcResult: 407,
  // 408-449: node network and task pipeline
  PeerUnreachable: 408,
  PeerRequestFailed: 409,
  PeerTimeout: 410,
  MessageTooLarge: 411,
  WorkerUnknown: 412,
  WorkerNotSelected: 413,
  TaskRecordNotFound: 414,
  InputsHashMismatch: 415,
  TaskInputRejected: 416,
  TaskOutOfOrder: 417,
  MethodNotFound: 418,
  NodeNotReady: 419,
  ReceiptCommitFailed: 420,
  DeltaSyncFailed: 421,
  ResultRejected: 422,
  // 423-434: public endpoint bounds and the attestation service (ops)
  /** Too many calls from this address are waiting: retry later (JSON-RPC). */
  ServerBusy: 423,
  /** The node holds its maximum of connections (overall or from this address). */
  ConnectionLimit: 424,
  /** The attestation service could not be reached or answered something that is not a report. */
  AttestationServiceUnavailable: 425,
  /** The attestation service refused the quote (not a well-formed quote). */
  AttestationQuoteRejected: 426,
  // 435-442: task admission and ordering
  /** The task's turn passed while its input was missing (a later task of its contract ran). */
  TaskSkipped: 435,
  /** The gateway holds too many inputs whose task records are not mined yet. */
  InputHoldFull: 436,
  // 450-469: node storage
  StoreNotOpen: 450,
  StoreOpenFailed: 451,
  StoreCorrupt: 452,
  DeltaIndexGap: 453,
  DeltaConflict: 454,
  ContractCodeConflict: 455,
  TaskUnknown: 456,
  TaskStatusTransition: 457,
  TaskConflict: 458,
  ReceiptAlreadyQueued: 459,
  ReceiptAlreadyCommitted: 460,
  ReceiptNotPending: 461,
  // 470-489: faults on demand, several hosts, the invariant checker (faults helper, issue 16)
  /** The fault cannot be applied to that target on this devnet (in-process nodes, no --faults). */
  FaultUnsupported: 470,
  /** No node of the devnet has that name (or a group names it twice). */
  FaultTargetUnknown: 471,
  /** Network namespaces could not be set up (not root, `ip`/`tc` missing, addresses taken). */
  NetnsUnavailable: 472,
  /** The checker found a violated invariant (the report lists each, with task ids). */
  InvariantViolated: 473,
  /** A node's admin endpoint is not enabled or does not answer. */
  AdminUnavailable: 474,
  /** A fault point, action or chaos schedule that does not exist or does not parse. */
  FaultSpecInvalid: 475,
  // 490-499: the devnet explorer, task traces, the enclave's debug interface, snapshots (explorer)
  /** The enclave's debug interface is off: only a devnet turns it on; a real deployment never. */
  EnclaveDebugDisabled: 490,
  /** What the debug interface was asked about is not on this node (no input, no state key...). */
  EnclaveDebugUnavailable: 491,
  /** No devnet snapshot of that name in the devnet's folder. */
  SnapshotNotFound: 492,
  /** A snapshot could not be taken or restored (the chain refused its state, a copy failed). */
  SnapshotFailed: 493,
  /** The devnet's node logs are not where they should be (no devnet folder, no node of that name). */
  LogsNotFound: 494,
  UnknownCommand: 500,
  // 501-509: the client SDK's transactions (client helper, issue 13)
  /** A transaction of the client was mined but reverted, and its replay names no reason. */
  TransactionReverted: 501,
  /** A transaction of the client was not mined in time. */
  TransactionTimeout: 502,
  /** The sender's ENG balance does not cover the fee (the token's ERC20InsufficientBalance). */
  FeeBalanceTooLow: 503,
  /** The sender's allowance to Enigma does not cover the fee (ERC20InsufficientAllowance). */
  FeeAllowanceTooLow: 504,
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export type ErrorName = keyof typeof ErrorCode;

const codeNames = new Map<number, ErrorName>(
  Object.entries(ErrorCode).map(([name, code]) => [code, name as ErrorName]),
);

// A registered symbol, so that the guard works across packages and duplicated copies of
// this module (instanceof would not).
const BRAND = Symbol.for("enigma.error");

export interface EnigmaErrorOptions {
  /** Structured context: what was wrong and where (a field path, a task id...). */
  details?: Record<string, unknown>;
  cause?: unknown;
}

/**
 * An error with a stable code from the catalog, a short message saying what went wrong and
 * what to do, structured details and the cause chain.
 *
 * @example
 * throw new EnigmaError(ErrorCode.InvalidAmount, "amount must be a decimal ENG value", { details: { input } });
 */
export class EnigmaError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>>;
  readonly [BRAND] = true;

  constructor(code: ErrorCode, message: string, options: EnigmaErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = `EnigmaError(${errorName(code)})`;
    this.code = code;
    this.details = options.details ?? {};
  }

  /** A JSON form for RPC replies and `--json` output. */
  toJSON(): {
    code: ErrorCode;
    name: ErrorName;
    message: string;
    details: Record<string, unknown>;
  } {
    return {
      code: this.code,
      name: errorName(this.code),
      message: this.message,
      details: { ...this.details },
    };
  }
}

/** The catalog name of a code (`InvalidArgument` for 100). */
export function errorName(code: ErrorCode): ErrorName {
  const name = codeNames.get(code);
  if (name === undefined) throw new RangeError(`unknown error code ${code}`);
  return name;
}

/** True when `e` is an EnigmaError (from any copy of this package), optionally of one code. */
export function isEnigmaError(e: unknown, code?: ErrorCode): e is EnigmaError {
  if (typeof e !== "object" || e === null || (e as Record<symbol, unknown>)[BRAND] !== true)
    return false;
  return code === undefined || (e as EnigmaError).code === code;
}
