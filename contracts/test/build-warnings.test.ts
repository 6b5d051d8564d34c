// A fresh contract build prints nothing a newcomer cannot act on: solc's transient-storage note
// about OpenZeppelin's own `tstore` is dropped by the hook in scripts/hardhat-dependency-warnings.ts,
// and only that (the same note about one of our contracts, and everything else, still shows).
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { HookContext } from "hardhat/types/hooks";
import {
  ResolvedFileType,
  type CompilationJob,
  type CompilerOutput,
  type CompilerOutputError,
} from "hardhat/types/solidity";
import { describe, expect, it } from "vitest";
import quietDependencies, {
  TRANSIENT_STORAGE_WARNING,
} from "../../scripts/hardhat-dependency-warnings.ts";

type Diagnostic = CompilerOutputError & { sourceLocation?: { file: string } };

/** A compilation job whose sources come from npm when their input source name says so. */
const job = {
  dependencyGraph: {
    getFileByInputSourceName: (name: string) => ({
      type: name.startsWith("npm/")
        ? ResolvedFileType.NPM_PACKAGE_FILE
        : ResolvedFileType.PROJECT_FILE,
    }),
  },
} as unknown as CompilationJob;

/** What Hardhat gets to print once our hook handler has run over `errors`. */
async function printed(errors: Diagnostic[]): Promise<Diagnostic[]> {
  const handlers = await quietDependencies();
  const handler = handlers.getCompilationJobErrors;
  if (handler === undefined) throw new Error("no getCompilationJobErrors handler");
  const output: CompilerOutput = { sources: {}, errors };
  // Hardhat's own last step: the output's errors, as they are.
  return await handler({} as HookContext, job, output, (_c, _j, o) =>
    Promise.resolve(o.errors ?? []),
  );
}

const diagnostic = (
  severity: "warning" | "error",
  errorCode: string,
  file: string,
): Diagnostic => ({
  type: severity === "error" ? "TypeError" : "Warning",
  component: "general",
  severity,
  errorCode,
  message: `${errorCode} in ${file}`,
  sourceLocation: { file },
});

describe("contract build warnings", () => {
  it("drops the transient-storage warning only where it points into an npm package", async () => {
    const ours = diagnostic("warning", TRANSIENT_STORAGE_WARNING, "project/contracts/Enigma.sol");
    const theirs = diagnostic(
      "warning",
      TRANSIENT_STORAGE_WARNING,
      "npm/@openzeppelin/contracts@5.7.0/utils/TransientSlot.sol",
    );
    const otherWarning = diagnostic("warning", "2072", "npm/@openzeppelin/contracts@5.7.0/x.sol");
    const error = diagnostic(
      "error",
      TRANSIENT_STORAGE_WARNING,
      "npm/@openzeppelin/contracts@5.7.0/x.sol",
    );
    expect(await printed([ours, theirs, otherWarning, error])).toEqual([ours, otherWarning, error]);
  });

  it("leaves nothing to print from this repository's build (solc's raw output, as built)", async () => {
    const dir = "artifacts/build-info";
    const outputs = (await readdir(dir)).filter((f) => f.endsWith(".output.json"));
    expect(outputs.length).toBeGreaterThan(0);
    for (const f of outputs) {
      const info = JSON.parse(await readFile(join(dir, f), "utf8")) as {
        output: { errors?: Diagnostic[] };
      };
      expect(await printed(info.output.errors ?? [])).toEqual([]);
    }
  });
});
