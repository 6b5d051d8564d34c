import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli as run } from "./cli.fixture.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "enigma-sim-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const small = [
  "--workers",
  "30",
  "--contracts",
  "200",
  "--epochs",
  "15",
  "--adversary",
  "0.2",
  "--joins",
  "1",
  "--leaves",
  "1",
];

describe("enigma sim", () => {
  it("prints the same JSON for the same seed, byte for byte, and other JSON for another", async () => {
    const a = await run("sim", ...small, "--seed", "7", "--selection", "rotation:3", "--json");
    const b = await run("sim", ...small, "--seed", "7", "--selection", "rotation:3", "--json");
    const c = await run("sim", ...small, "--seed", "8", "--selection", "rotation:3", "--json");
    expect(a.code).toBe(0);
    expect(a.out).toBe(b.out);
    expect(c.out).not.toBe(a.out);
    const r = JSON.parse(a.out) as { selection: string; perEpoch: { handOvers: number[] } };
    expect(r.selection).toBe("rotation:3");
    expect(r.perEpoch.handOvers).toHaveLength(15);
  });

  it("compares two policies on the same scenario, in JSON and in a self-contained HTML report", async () => {
    const report = join(dir, "report.html");
    const r = await run(
      "sim",
      ...small,
      "--compare",
      "discovery",
      "group:2/capped:20",
      "--json",
      "--report",
      report,
    );
    expect(r.code).toBe(0);
    const { compare } = JSON.parse(r.out) as {
      compare: { selection: string; epochPolicy: string }[];
    };
    expect(compare.map((x) => `${x.selection}/${x.epochPolicy}`)).toEqual([
      "discovery/discovery",
      "group:2/capped:20",
    ]);
    expect(r.err).toContain(`report written to ${report}`);
    const html = await readFile(report, "utf8");
    expect(html).toContain("discovery vs group:2 / capped:20");
    expect(html).not.toMatch(/<script[^>]+src=/);
  });

  it("reads a scenario file, with flags over its fields, and prints a table without --json", async () => {
    const file = join(dir, "scenario.json");
    await writeFile(
      file,
      JSON.stringify({
        workers: { count: 12, stake: { distribution: "whale", share: 0.6 } },
        contracts: 50,
        epochs: 6,
        seed: "s",
      }),
    );
    const json = await run("sim", "--scenario", file, "--epochs", "4", "--json");
    const r = JSON.parse(json.out) as {
      scenario: { epochs: number; workers: { stake: { distribution: string } } };
    };
    expect(r.scenario.epochs).toBe(4);
    expect(r.scenario.workers.stake.distribution).toBe("whale");
    const text = await run("sim", "--scenario", file);
    expect(text.code).toBe(0);
    expect(text.out).toMatch(/^selection \/ epoch policy\s+discovery \/ discovery$/m);
    expect(text.out).toMatch(/hand-overs per epoch/);
  });

  it("refuses bad flags and bad scenarios with one clear line, naming the flag or the path", async () => {
    const cases: [string[], RegExp][] = [
      [
        ["--workers", "abc"],
        /^enigma: invalid scenario: --workers: workers.count must be a number\n$/,
      ],
      [["--workers", "0"], /--workers: workers.count must be at least 1/],
      [
        ["--selection", "lottery"],
        /--selection: unknown selection strategy "lottery" \(known: discovery, group\[:N\], rotation\[:N\]\)/,
      ],
      [
        ["--epoch-policy", "capped:101"],
        /--epoch-policy: capped: percent must be an integer from 1 to 100/,
      ],
      [["--stake", "pareto"], /--stake: expected equal, zipf\[:EXPONENT\] or whale\[:SHARE\]/],
      [
        ["--stake", "whale:2"],
        /--stake: workers.stake.share must be a number between 0 and 1 \(exclusive\)/,
      ],
      [["--adversary", "2"], /--adversary: adversary.stakeShare must be a number from 0 to 1/],
      [["--joins", "1.5"], /--joins: churn.joins must be an integer from 0 to 100000/],
      [["--compare", "discovery"], /--compare takes two policies/],
      [
        ["--compare", "discovery", "nope"],
        /^enigma: --compare nope: unknown selection strategy "nope"/,
      ],
      [
        ["--compare", "discovery", "group:2/fixed"],
        /^enigma: --compare group:2\/fixed: unknown epoch policy "fixed"/,
      ],
      [["--selections"], /--selections lists groups in the JSON output: add --json/],
      [["--scenario", join(dir, "missing.json")], /cannot read the scenario file/],
    ];
    for (const [args, message] of cases) {
      const r = await run("sim", ...args);
      expect(r.code, args.join(" ")).toBe(1);
      expect(r.out, args.join(" ")).toBe("");
      expect(r.err, args.join(" ")).toMatch(message);
    }
    const file = join(dir, "bad.json");
    await writeFile(
      file,
      JSON.stringify({ workers: { count: 5 }, contracts: 10, epochs: 3, churn: { joins: -1 } }),
    );
    const r = await run("sim", "--scenario", file);
    expect(r.err).toBe(
      `enigma: invalid scenario: ${file}: churn.joins: churn.joins must be an integer from 0 to 100000\n`,
    );
    await writeFile(file, "{ not json");
    expect((await run("sim", "--scenario", file)).err).toMatch(/is not JSON/);
  });

  it("lists the registered policies", async () => {
    const r = await run("sim", "--list");
    expect(r.out).toMatch(/^ {2}rotation\[:maxEpochs\] +term limits/m);
    expect(r.out).toMatch(/^ {2}capped\[:percent\]/m);
  });
});
