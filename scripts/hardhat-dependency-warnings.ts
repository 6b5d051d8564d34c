/**
 * Hardhat hook handlers (`solidity` category), loaded by `hardhat.config.ts`: drop solc's note
 * about transient storage when it points into an npm dependency.
 *
 * OpenZeppelin 5's `utils/TransientSlot.sol` uses `tstore` on purpose, and solc warns about
 * every `tstore` it compiles (warning 2394, "Transient storage as defined by EIP-1153 can break
 * the composability of smart contracts..."), whoever wrote it. A newcomer reads it as trouble
 * and cannot act on it: the file is not ours. Solc has no setting that silences one warning and
 * Hardhat 3 has no config option for it (its own suppression list is fixed, see
 * `build-system/warning-suppression.js`); its `getCompilationJobErrors` hook is the place where
 * a plugin filters the diagnostics Hardhat prints, without changing whether a job succeeded.
 * The same warning in one of our own contracts is still printed.
 */
import type { HardhatHooks } from "hardhat/types/hooks";
import { ResolvedFileType, type CompilationJob } from "hardhat/types/solidity";

/** solc's code for "Transient storage as defined by EIP-1153 can break the composability...". */
export const TRANSIENT_STORAGE_WARNING = "2394";

/** What solc's standard-JSON output says about one diagnostic (the fields we read). */
interface SolcDiagnostic {
  severity: string;
  errorCode?: string;
  sourceLocation?: { file?: string };
}

/** True when `error` is the transient-storage warning and points at a file of an npm package. */
export function isDependencyTransientStorageWarning(
  error: SolcDiagnostic,
  job: Pick<CompilationJob, "dependencyGraph">,
): boolean {
  if (error.severity !== "warning" || error.errorCode !== TRANSIENT_STORAGE_WARNING) return false;
  const file = error.sourceLocation?.file;
  if (file === undefined) return false;
  // The job's dependency graph knows where each input source came from.
  return (
    job.dependencyGraph.getFileByInputSourceName(file)?.type === ResolvedFileType.NPM_PACKAGE_FILE
  );
}

const handlers: Partial<HardhatHooks["solidity"]> = {
  async getCompilationJobErrors(context, job, output, next) {
    // A filtered copy: the hook must not mutate what it was given. Hardhat decides success
    // from the original output, so a warning is all this can ever drop.
    const errors = output.errors?.filter((e) => !isDependencyTransientStorageWarning(e, job));
    return next(context, job, errors === undefined ? output : { ...output, errors });
  },
};

export default (): Promise<Partial<HardhatHooks["solidity"]>> => Promise.resolve(handlers);
