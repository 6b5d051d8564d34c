/** One validation problem: where (a dotted path, "" for the root) and what. */
export interface ValidationIssue {
  path: string;
  message: string;
}

/**
 * Flattens a schema validator's issues (zod's `error.issues`) into `{ path, message }`
 * pairs, the form every `details.issues` of the error catalog uses.
 */
export function validationIssues(error: {
  issues: readonly { path: readonly PropertyKey[]; message: string }[];
}): ValidationIssue[] {
  return error.issues.map((i) => ({ path: i.path.map(String).join("."), message: i.message }));
}
