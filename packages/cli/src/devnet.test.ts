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
