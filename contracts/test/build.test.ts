import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SOLC_VERSION } from "../../hardhat.config.js";

describe("contract build", () => {
  it("used the pinned solc from the npm package (a version mismatch is otherwise silent)", async () => {
    const pkg = JSON.parse(await readFile("node_modules/solc/package.json", "utf8")) as {
      version: string;
    };
    expect(pkg.version).toBe(SOLC_VERSION);
    const dir = "artifacts/build-info";
    const infos = (await readdir(dir)).filter(
      (f) => f.endsWith(".json") && !f.endsWith(".output.json"),
    );
    expect(infos.length).toBeGreaterThan(0);
    for (const f of infos) {
      const info = JSON.parse(await readFile(join(dir, f), "utf8")) as {
        solcVersion: string;
        solcLongVersion: string;
        input: { settings: { evmVersion: string } };
      };
      expect(info.solcVersion).toBe(SOLC_VERSION);
      expect(info.solcLongVersion.startsWith(SOLC_VERSION)).toBe(true);
      expect(info.input.settings.evmVersion).toBe("prague");
    }
  });
});
