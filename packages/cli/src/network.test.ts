import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isEnigmaError, ErrorCode } from "@enigma/protocol";
import {
  connect,
  parseAddress,
  parseBytes32,
  parseHttpUrl,
  parseWhole,
  resolveNetwork,
} from "./network.js";
import { statusName } from "./lifecycle.js";
import { runCli as run } from "./cli.fixture.js";

/** A local URL nothing listens on (a port just freed). */
async function closedUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return `http://127.0.0.1:${port}`;
}

const KEY0 = `0x${"11".repeat(32)}`;
const KEY1 = `0x${"22".repeat(32)}`;
const ENIGMA = `0x${"e1".repeat(20)}`;
const TOKEN = `0x${"70".repeat(20)}`;

let dir: string;
let empty: string;
let chainUrl: string;

function record(pid = process.pid) {
  return {
    pid,
    dir,
    inProcess: false,
    chain: { rpcUrl: chainUrl, chainId: 31337, enigmaAddress: ENIGMA, tokenAddress: TOKEN },
    trustRoot: { modulus: "0x01", exponent: "0x010001" },
    attestationPolicy: {
      acceptedStatuses: ["OK"],
      allowDebug: false,
      mrenclaves: "any",
      mrsigners: "any",
      minIsvSvn: 0,
    },
    nodes: [
      { name: "principal", role: "principal", signer: `0x${"aa".repeat(20)}`, peerId: "p" },
      {
        name: "worker-1",
        role: "worker",
        signer: `0x${"AB".repeat(20)}`,
        rpcUrl: "http://127.0.0.1:4001",
        peerId: "w",
      },
    ],
    accounts: [
      { address: `0x${"01".repeat(20)}`, privateKey: KEY0 },
      { address: `0x${"02".repeat(20)}`, privateKey: KEY1 },
    ],
  };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "enigma-cli-net-"));
  empty = await mkdtemp(join(tmpdir(), "enigma-cli-net-empty-"));
  chainUrl = await closedUrl();
  await writeFile(join(dir, "devnet.json"), JSON.stringify(record()));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await rm(empty, { recursive: true, force: true });
});

describe("flag parsers", () => {
  it("accept what they should, normalised", () => {
    expect(parseAddress("--enigma", `0x${"Ab".repeat(20)}`)).toBe(`0x${"ab".repeat(20)}`);
    expect(parseBytes32("id", "CD".repeat(32))).toBe(`0x${"cd".repeat(32)}`);
    expect(parseHttpUrl("--rpc", "https://x.example:8545/rpc")).toBe("https://x.example:8545/rpc");
    expect(parseWhole("--gas-limit", "5000000", 1n)).toBe(5_000_000n);
  });

  it("refuse the rest with InvalidArgument naming the flag", () => {
    const cases: [() => unknown, RegExp][] = [
      [() => parseAddress("--enigma", "0x12"), /--enigma must be a 20-byte 0x address/],
      [() => parseAddress("--token", "ab".repeat(20)), /--token must be/],
      [() => parseBytes32("the task id", `0x${"zz".repeat(32)}`), /the task id must be 32 bytes/],
      [() => parseHttpUrl("--rpc", "localhost:8545"), /--rpc must be an http\(s\) URL/],
      [() => parseHttpUrl("--gateway", "ws://x"), /--gateway must be an http\(s\) URL/],
      [() => parseWhole("--gas-px", "1.5"), /--gas-px must be a whole number/],
      [() => parseWhole("--gas-px", "0", 1n), /--gas-px must be from 1/],
      [() => parseWhole("--gas-limit", (2n ** 64n).toString()), /must be from 0 to/],
    ];
    for (const [f, reason] of cases) {
      let caught: unknown;
      try {
        f();
      } catch (e) {
        caught = e;
      }
      expect(isEnigmaError(caught, ErrorCode.InvalidArgument)).toBe(true);
      expect((caught as Error).message).toMatch(reason);
    }
  });

  it("name on-chain task statuses", () => {
    expect([0, 1, 2, 3, 4, 5].map(statusName)).toEqual([
      "none",
      "pending",
      "verified",
      "failed",
      "eth-call-failed",
      "fee-returned",
    ]);
    expect(statusName(9)).toBe("unknown (9)");
  });
});

describe("resolveNetwork", () => {
  it("takes the recorded devnet, account 0 and the first gateway by default", async () => {
    const net = await resolveNetwork({ dir }, true);
    expect(net).toMatchObject({
      rpcUrl: chainUrl,
      enigmaAddress: ENIGMA,
      tokenAddress: TOKEN,
      gateway: "http://127.0.0.1:4001",
      privateKey: KEY0,
    });
    expect(net.names.get(`0x${"ab".repeat(20)}`)).toBe("worker-1");
  });

  it("lets flags override the record: --account, --key, --gateway, --rpc", async () => {
    expect((await resolveNetwork({ dir, account: "1" }, true)).privateKey).toBe(KEY1);
    const net = await resolveNetwork(
      { dir, key: "33".repeat(32), gateway: "http://10.0.0.1:3000", rpc: "http://10.0.0.2:8545" },
      true,
    );
    expect(net).toMatchObject({
      privateKey: `0x${"33".repeat(32)}`,
      gateway: "http://10.0.0.1:3000",
      rpcUrl: "http://10.0.0.2:8545",
      // trust root and policy still come from the record
      trustRoot: { modulus: "0x01" },
    });
  });

  it("works from explicit flags alone for reads, not for sending tasks", async () => {
    const flags = { dir: empty, rpc: "http://127.0.0.1:8545", enigma: ENIGMA, token: TOKEN };
    expect((await resolveNetwork(flags, false)).rpcUrl).toBe("http://127.0.0.1:8545");
    await expect(resolveNetwork(flags, true)).rejects.toThrow(/no gateway: give --gateway/);
    await expect(
      resolveNetwork({ ...flags, gateway: "http://127.0.0.1:3000" }, true),
    ).rejects.toThrow(/no key: give --key/);
    await expect(
      resolveNetwork({ ...flags, gateway: "http://127.0.0.1:3000", key: KEY0 }, true),
    ).rejects.toThrow(/verifies the worker's attestation against the devnet's trust root/);
  });

  it("refuses no record, a stopped devnet, a missing account", async () => {
    await expect(resolveNetwork({ dir: empty }, false)).rejects.toThrow(
      /no devnet recorded in .*: start one with `enigma devnet up`/,
    );
    await expect(resolveNetwork({ dir, account: "2" }, true)).rejects.toThrow(
      /no account 2: the devnet has 2 \(0 to 1\)/,
    );
    await expect(resolveNetwork({ dir, account: "-1" }, true)).rejects.toThrow(
      /--account must be a whole number/,
    );
    const stale = await mkdtemp(join(tmpdir(), "enigma-cli-net-stale-"));
    // A pid that cannot exist (above the kernel's pid_max).
    await writeFile(join(stale, "devnet.json"), JSON.stringify(record(2 ** 30)));
    await expect(resolveNetwork({ dir: stale }, false)).rejects.toThrow(
      /the devnet recorded in .* is not running \(pid 1073741824 is gone\)/,
    );
    await rm(stale, { recursive: true, force: true });
  });

  it("connect says in one line that the chain is unreachable", async () => {
    const net = await resolveNetwork({ dir }, false);
    await expect(connect(net)).rejects.toThrow(
      /^cannot reach the chain at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\): is the devnet running\?/,
    );
  });
});

describe("network commands refuse bad input before contacting anything", () => {
  it("with one line `enigma: <reason>` and a non-zero exit", async () => {
    const wasm = join(dir, "x.wasm");
    await writeFile(wasm, Uint8Array.of(0, 0x61, 0x73, 0x6d, 1, 0, 0, 0));
    const addr = `0x${"ab".repeat(32)}`;
    const cases: [string[], RegExp][] = [
      [["deploy"], /^enigma: missing required argument 'contract'\n$/],
      [["deploy", join(dir, "none.wasm")], /cannot read .*none\.wasm: ENOENT/],
      [["deploy", join(dir, "none.ts")], /cannot compile .*none\.ts/],
      [["deploy", wasm, "--ctor", "construct(uint256)", "--args", "[]"], /bad args/],
      [["deploy", wasm, "--gas-px", "0"], /--gas-px must be from 1/],
      [["deploy", wasm, "--timeout", "soon"], /--timeout must be a whole number/],
      [["call"], /^enigma: missing required argument 'scAddr'\n$/],
      [["call", addr], /^enigma: missing required argument 'fnSig'\n$/],
      [["call", "0xab", "f()"], /secret contract address must be 32 bytes/],
      [["call", addr, "f(uint8)", "[300]"], /bad args for f\(uint8\)/],
      [["call", addr, "f()", "{}"], /bad args for f\(\): expected a JSON array/],
      [["call", addr, "f()", "--returns", "bool,nope"], /--returns must be ABI types/],
      [["call", addr, "f()", "--key", "nope"], /--key must be a secp256k1 private key/],
      [["call", addr, "f()", "--gateway", "nope"], /--gateway must be an http\(s\) URL/],
      [["task", "status"], /^enigma: missing required argument 'taskId'\n$/],
      [["task", "status", "0x1"], /task id must be 32 bytes/],
      [["task", "frob"], /unknown command 'frob'/],
      [["epoch", "--token", "x"], /--token must be a 20-byte 0x address/],
      [["worker", "list", "--account", "1"], /unknown option '--account'/],
      [["epoch"], /cannot reach the chain/],
      [["worker", "list"], /cannot reach the chain/],
      [["task", "status", addr], /cannot reach the chain/],
      [["call", addr, "f()"], /cannot reach the chain/],
    ];
    for (const [args, reason] of cases) {
      const r = await run(...args, "--dir", dir);
      const what = args.join(" ");
      expect(r.code, what).not.toBe(0);
      expect(r.out, what).toBe("");
      expect(r.err, what).toMatch(reason);
      expect(r.err, what).toMatch(/^enigma: [^\n]+\n$/);
    }
  }, 30_000);

  it("`devnet up --demo` and the network commands are listed in help", async () => {
    const help = await run("--help");
    for (const c of ["deploy", "call", "task", "epoch", "worker"]) expect(help.out).toContain(c);
    const up = await run("devnet", "up", "--help");
    expect(up.out).toMatch(/--demo/);
    expect(up.out).toMatch(/--exit/);
  });
});
