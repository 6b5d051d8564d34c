import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { devnetOptionsFromFlags } from "./devnet.js";
import { runCli as run } from "./cli.fixture.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "enigma-cli-devnet-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("devnet flags", () => {
  it("resolve into validated devnet options", () => {
    expect(devnetOptionsFromFlags({ preset: "fast", workers: 2, blockTime: "250" })).toMatchObject({
      workers: 2,
      blockTime: 250,
      epochBlocks: 10,
    });
    expect(devnetOptionsFromFlags({ preset: "fast", blockTime: "auto" }).blockTime).toBe("auto");
    expect(devnetOptionsFromFlags({ preset: "fast", confirmations: 3 }).confirmations).toBe(3);
    expect(devnetOptionsFromFlags({ preset: "realistic" }).confirmations).toBe(2);
    expect(() => devnetOptionsFromFlags({ preset: "fast", confirmations: 65 })).toThrow(
      /confirmations must be an integer from 0 to 64, got 65/,
    );
    expect(() => devnetOptionsFromFlags({ preset: "fast", blockTime: "soon" })).toThrow(
      /--block-time must be "auto" or milliseconds/,
    );
  });

  // Every combination the CLI accepts resolves to options that agree with each other; the
  // ones it refuses say which field and why, in one line.
  const combinations: [string[], Record<string, unknown> | RegExp][] = [
    [[], { epochBlocks: 10, taskTimeoutBlocks: 50, epochSeconds: 5, blockTime: "auto" }],
    // Refused before ("taskTimeoutBlocks (50) must exceed epochBlocks"): the timeout follows.
    [["--epoch-blocks", "100"], { epochBlocks: 100, taskTimeoutBlocks: 500, epochSeconds: 5 }],
    [["--epoch-blocks", "100", "--task-timeout", "120"], { taskTimeoutBlocks: 120 }],
    [["--task-timeout", "12"], { epochBlocks: 10, taskTimeoutBlocks: 12 }],
    [["--epoch-seconds", "0"], { epochSeconds: 0 }],
    [["--epoch-seconds", "2.5", "--block-time", "250"], { epochSeconds: 2.5, blockTime: 250 }],
    [["--epoch-blocks", "2", "--confirmations", "5"], { taskTimeoutBlocks: 14 }],
    [["--preset", "realistic"], { taskTimeoutBlocks: 300, epochSeconds: 102, blockTime: 1000 }],
    [
      ["--preset", "realistic", "--epoch-blocks", "10"],
      { taskTimeoutBlocks: 30, epochSeconds: 12 },
    ],
    [["--preset", "realistic", "--block-time", "auto"], { epochSeconds: 102 }],
    [["--preset", "realistic", "--epoch-seconds", "10"], { epochSeconds: 10, blockTime: 1000 }],
    [
      ["--epoch-blocks", "100", "--task-timeout", "50"],
      /^taskTimeoutBlocks \(50\) must be at least 102 /,
    ],
    [["--epoch-seconds", "0.5"], /^epochSeconds must be 0 \(off\) or seconds from 1 to 86400/],
    [["--epoch-seconds", "soon"], /--epoch-seconds must be a number of seconds/],
    [["--task-timeout", "-3"], /--task-timeout must be a whole number/],
  ];
  it.each(combinations)("devnet config %j", async (flags, expected) => {
    const r = await run("devnet", "config", ...flags, "--json");
    if (expected instanceof RegExp) {
      expect(r.code).not.toBe(0);
      expect(r.out).toBe("");
      expect(
        r.err.replace(/^(enigma: |error: option '[^']*' argument '[^']*' is invalid\. )/, ""),
      ).toMatch(expected);
      expect(r.err.trim().split("\n")).toHaveLength(1);
    } else {
      expect(r).toMatchObject({ code: 0, err: "" });
      expect(JSON.parse(r.out)).toMatchObject(expected);
    }
  });

  it("`devnet up` refuses bad input with one line, before starting anything", async () => {
    const workers = await run("devnet", "up", "--workers", "0", "--dir", dir);
    expect(workers).toMatchObject({ code: 1, out: "" });
    expect(workers.err).toBe("enigma: workers must be an integer from 1 to 64, got 0\n");
    const level = await run("devnet", "up", "--log-level", "loud", "--dir", dir);
    expect(level.code).toBe(1);
    expect(level.err).toMatch(/^enigma: --log-level must be one of .*\n$/);
    const users = await run("devnet", "up", "--users", "101", "--dir", dir);
    expect(users).toMatchObject({ code: 1, out: "" });
    expect(users.err).toBe("enigma: users must be an integer from 0 to 100, got 101\n");
    const notNumber = await run("devnet", "up", "--users", "-3", "--dir", dir);
    expect(notNumber.code).not.toBe(0);
    expect(notNumber.err).toMatch(/--users must be a whole number/);
    const demo = await run("devnet", "up", "--users", "1", "--demo", "--dir", dir);
    expect(demo.err).toBe(
      "enigma: --demo runs tasks from two accounts: --users must be at least 2, got 1\n",
    );
    const port = await run("devnet", "up", "--chain-port", "x", "--dir", dir);
    expect(port.code).not.toBe(0);
    expect(port.err).toMatch(/--chain-port must be a whole number/);
  });
});

describe("devnet status and down", () => {
  it("say so when no devnet is recorded in the folder", async () => {
    const status = await run("devnet", "status", "--dir", dir);
    expect(status.code).toBe(1);
    expect(status.err).toMatch(/^enigma: no devnet recorded in .*enigma devnet up/);
    const down = await run("devnet", "down", "--dir", dir);
    expect(down.code).toBe(1);
    expect(down.err).toMatch(/^enigma: no devnet recorded/);
  });

  it("refuse a broken devnet.json", async () => {
    await writeFile(join(dir, "devnet.json"), "{");
    expect((await run("devnet", "status", "--dir", dir)).err).toMatch(/not valid JSON/);
    await writeFile(join(dir, "devnet.json"), JSON.stringify({ pid: "x" }));
    expect((await run("devnet", "down", "--dir", dir)).err).toMatch(/not a devnet record/);
    await rm(join(dir, "devnet.json"));
  });

  it("`down` removes the record of a devnet whose process is gone", async () => {
    // A pid that cannot exist (above the kernel's pid_max).
    const record = { pid: 2 ** 30, chain: { rpcUrl: "http://127.0.0.1:1" }, nodes: [] };
    await writeFile(join(dir, "devnet.json"), JSON.stringify(record));
    const down = await run("devnet", "down", "--dir", dir);
    expect(down.code).toBe(0);
    expect(down.err).toMatch(/is not running; removed the stale devnet\.json/);
    expect((await run("devnet", "status", "--dir", dir)).err).toMatch(/no devnet recorded/);
  });
});
