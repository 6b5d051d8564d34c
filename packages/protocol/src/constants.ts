/**
 * Task status as stored on Ethereum (DESIGN.md section 5, fixed by Discovery's client).
 */
export const TaskStatus = {
  Undefined: 0,
  RecordCreated: 1,
  ReceiptVerified: 2,
  ReceiptFailed: 3,
  ReceiptFailedEth: 4,
  ReceiptFailedReturn: 5,
} as const;
export type TaskStatus = (typeof TaskStatus)[keyof typeof TaskStatus];

/** ENG has 8 decimals, like Discovery's token: 1 ENG = 10^8 grains. */
export const ENG_DECIMALS = 8;
export const GRAINS_PER_ENG = 10n ** BigInt(ENG_DECIMALS);
