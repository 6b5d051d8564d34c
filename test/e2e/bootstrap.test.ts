import { execFile } from "node:child_process";
import { readlink, realpath } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const root = fileURLToPath(new URL("../../", import.meta.url));
const toolsBin = join(root, ".tools/bin");

describe("scripts/bootstrap.sh", () => {
  it("is idempotent with its own .tools/bin already first on PATH (it once linked node to itself)", async () => {
    const env = {
      ...process.env,
      PATH: `${toolsBin}:${process.env["PATH"] ?? ""}`,
      BOOTSTRAP_QUIET: "1",
    };
    for (let i = 0; i < 2; i++) {
      const { stdout } = await run("bash", [join(root, "scripts/bootstrap.sh"), "--print-env"], {
        env,
      });
      expect(stdout).toContain(`export PATH="${toolsBin}:$PATH"`);
    }
    // The link names a real binary outside .tools/bin, and that binary is a Node >= 22.13.
    const target = await readlink(join(toolsBin, "node"));
    expect(target.startsWith(toolsBin)).toBe(false);
    const { stdout: version } = await run(await realpath(join(toolsBin, "node")), ["-v"]);
    const [major = 0, minor = 0] = version.trim().slice(1).split(".").map(Number);
    expect(major > 22 || (major === 22 && minor >= 13)).toBe(true);
    const { stdout: pnpmVersion } = await run(join(toolsBin, "pnpm"), ["-v"], { env });
    expect(pnpmVersion.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  }, 60_000);
});
