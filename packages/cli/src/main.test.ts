import { describe, expect, it } from "vitest";
import { VERSION } from "./main.js";
import { runCli as run } from "./cli.fixture.js";

describe("enigma CLI", () => {
  it("prints its version and help, exit 0", async () => {
    expect(await run("--version")).toEqual({ code: 0, out: `${VERSION}\n`, err: "" });
    const help = await run("--help");
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/devnet/);
  });

  it("resolves a devnet configuration from a preset and flags, as JSON on stdout only", async () => {
    const r = await run(
      "devnet",
      "config",
      "--preset",
      "fast",
      "--workers",
      "5",
      "--block-time",
      "250",
      "--json",
    );
    expect(r.code).toBe(0);
    expect(r.err).toBe("");
    expect(JSON.parse(r.out)).toMatchObject({ workers: 5, blockTime: 250, epochBlocks: 10 });
  });

  it("exits non-zero with a one-line reason on bad input", async () => {
    const unknown = await run("frobnicate");
    expect(unknown.code).not.toBe(0);
    expect(unknown.err).toMatch(/unknown command/);

    const badInt = await run("devnet", "config", "--workers", "three");
    expect(badInt.code).not.toBe(0);
    expect(badInt.err).toMatch(/--workers must be a whole number/);

    const badPreset = await run("devnet", "config", "--preset", "slow");
    expect(badPreset).toMatchObject({ code: 1, out: "" });
    expect(badPreset.err).toBe('enigma: unknown preset "slow" (use one of: fast, realistic)\n');
  });
});
