export { INVARIANTS, admin, assertNoViolations, formatReport, runChecks } from "./check.js";
export type {
  CheckOptions,
  CheckReport,
  CheckTarget,
  FaultRecord,
  InvariantName,
  InvariantResult,
  TaskExpectation,
  Violation,
} from "./check.js";
