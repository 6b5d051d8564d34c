import { ErrorCode, isEnigmaError, MAX_RECEIPTS_PER_BATCH } from "@enigma/protocol";
import { describe, expect, it } from "vitest";
import { applyDeployment, resolveNodeConfig } from "./config.js";

const ethereum = {
  enigmaAddress: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
  tokenAddress: "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512",
};

const attestation = { url: "http://127.0.0.1:8546" };

function problemsOf(input: unknown): string[] {
  try {
    resolveNodeConfig(input);
  } catch (e) {
    if (isEnigmaError(e, ErrorCode.InvalidConfig)) return e.details["problems"] as string[];
    throw e;
  }
  throw new Error("expected InvalidConfig");
}

describe("resolveNodeConfig", () => {
  it("fills in defaults for a minimal worker config and freezes the result", () => {
    const c = resolveNodeConfig({ dataDir: "/tmp/w1", ethereum, attestation });
    expect(c.roles).toEqual(["worker", "gateway"]);
    expect(c.ethereum.rpcUrl).toBe("http://127.0.0.1:8545");
    expect(c.ethereum.confirmations).toBe(0);
    expect(c.p2p).toEqual({ host: "127.0.0.1", port: 0, bootstrap: [] });
    expect(c.worker).toEqual({ stake: "100", orderingDeadlineMs: 5_000, maxBatch: 100 });
    expect(c.seed).toBeUndefined();
    expect(Object.isFrozen(c)).toBe(true);
  });

  it("takes the policies by registry name: Discovery's by default, unknown names and sim-only epoch policies refused with their path", () => {
    const base = { dataDir: "/d", ethereum, attestation };
    expect(resolveNodeConfig(base).policy).toEqual({
      selection: "discovery",
      epochPolicy: "discovery",
    });
    expect(resolveNodeConfig({ ...base, policy: { selection: "group:3" } }).policy.selection).toBe(
      "group:3",
    );
    const problems = problemsOf({
      ...base,
      policy: { selection: "grup:3", epochPolicy: "capped:10" },
    });
    expect(problems.some((p) => p.startsWith("policy.selection:") && p.includes("known:"))).toBe(
      true,
    );
    expect(problems.some((p) => p.startsWith("policy.epochPolicy:") && p.includes("sim"))).toBe(
      true,
    );
    expect(
      problemsOf({ ...base, policy: { selection: "rotation:1" } }).some((p) =>
        p.startsWith("policy.selection:"),
      ),
    ).toBe(true);
  });

  it("validates keys, seeds and stakes, and requires the attestation service", () => {
    const problems = problemsOf({
      dataDir: "/d",
      seed: "0x1234",
      ethereum: { ...ethereum, privateKey: "0xzz" },
      worker: { stake: "1.123456789" },
    });
    expect(problems.some((p) => p.startsWith("seed:"))).toBe(true);
    expect(problems.some((p) => p.startsWith("ethereum.privateKey:"))).toBe(true);
    expect(problems.some((p) => p.startsWith("worker.stake:"))).toBe(true);
    expect(problems.some((p) => p.startsWith("attestation:"))).toBe(true);
  });

  it("fills a preset's timing under what the config sets, and names an unknown preset", () => {
    const base = { dataDir: "/d", ethereum, attestation };
    const fast = resolveNodeConfig({ ...base, preset: "fast" });
    expect([fast.ethereum.confirmations, fast.ethereum.pollIntervalMs]).toEqual([0, 50]);
    expect(fast.worker.orderingDeadlineMs).toBe(5_000);
    const real = resolveNodeConfig({
      ...base,
      preset: "realistic",
      ethereum: { ...ethereum, pollIntervalMs: 500 },
    });
    // The config's own value wins; the rest come from the preset.
    expect([real.ethereum.confirmations, real.ethereum.pollIntervalMs]).toEqual([2, 500]);
    expect(real.worker).toEqual({ stake: "100", orderingDeadlineMs: 10_000, maxBatch: 100 });
    // Without a preset, the schema's defaults.
    const none = resolveNodeConfig(base);
    expect([none.ethereum.confirmations, none.ethereum.pollIntervalMs]).toEqual([0, 250]);
    expect(problemsOf({ ...base, preset: "slow" }).some((p) => p.startsWith("preset:"))).toBe(true);
  });

  it("bounds worker.maxBatch by what one commitReceipts accepts", () => {
    const ok = { dataDir: "/d", ethereum, attestation };
    const max = resolveNodeConfig({ ...ok, worker: { maxBatch: MAX_RECEIPTS_PER_BATCH } });
    expect(max.worker.maxBatch).toBe(256);
    const problems = problemsOf({ ...ok, worker: { maxBatch: MAX_RECEIPTS_PER_BATCH + 1 } });
    expect(problems.some((p) => p.startsWith("worker.maxBatch:"))).toBe(true);
  });

  it("reports every problem with its path at once", () => {
    const problems = problemsOf({
      dataDir: "",
      ethereum: { ...ethereum, enigmaAddress: "0x1234", confirmations: -1 },
      rpc: { port: 70_000 },
    });
    expect(problems.some((p) => p.startsWith("dataDir:"))).toBe(true);
    expect(
      problems.some(
        (p) => p.startsWith("ethereum.enigmaAddress:") && p.includes("20-byte address"),
      ),
    ).toBe(true);
    expect(problems.some((p) => p.startsWith("ethereum.confirmations:"))).toBe(true);
    expect(problems.some((p) => p.startsWith("rpc.port:"))).toBe(true);
  });

  it("refuses the attestation service's private key, saying where reports come from now", () => {
    const legacy = { dataDir: "/d", ethereum, attestation: { serviceKeyFile: "/ias.pem" } };
    expect(() => resolveNodeConfig(legacy)).toThrow(
      /attestation\.serviceKeyFile: a node no longer holds the attestation service's key; set attestation\.url/,
    );
    expect(problemsOf({ dataDir: "/d", ethereum, attestation: { url: "ias" } }).join()).toMatch(
      /attestation\.url/,
    );
    const trustRoot = { modulus: "0xc0ffee", exponent: "0x010001" };
    expect(
      resolveNodeConfig({ dataDir: "/d", ethereum, attestation: { ...attestation, trustRoot } })
        .attestation.trustRoot,
    ).toEqual(trustRoot);
  });

  it("takes the JSON-RPC endpoint's bounds, within their ranges", () => {
    const base = { dataDir: "/d", ethereum, attestation };
    const c = resolveNodeConfig({ ...base, rpc: { bounds: { maxConnectionsPerAddress: 16 } } });
    expect(c.rpc).toEqual({ host: "127.0.0.1", port: 0, bounds: { maxConnectionsPerAddress: 16 } });
    expect(
      problemsOf({ ...base, rpc: { bounds: { maxConcurrentCalls: 0, maxSockets: 1 } } }).join(),
    ).toMatch(/rpc\.bounds\.maxConcurrentCalls.*maxSockets|rpc\.bounds/);
  });

  it("rejects unknown keys (typos) and a principal sharing its process", () => {
    expect(problemsOf({ dataDir: "/d", ethereum, attestation, rpcPort: 1 }).join()).toMatch(
      /rpcPort/,
    );
    expect(
      problemsOf({ dataDir: "/d", ethereum, attestation, roles: ["principal", "worker"] }).join(),
    ).toMatch(/principal role runs alone/);
    expect(problemsOf(null)).toHaveLength(1);
  });
});

describe("applyDeployment", () => {
  const seed = `0x${"11".repeat(32)}`;
  const key = `0x${"22".repeat(32)}`;
  const trustRoot = { modulus: "0xc0ffee", exponent: "0x010001" };
  // Nothing secret: addresses, the service's URL and public key, the bootstrap address.
  const deployment = {
    rpcUrl: "http://chain:8545",
    ...ethereum,
    attestationUrl: "http://chain:8546",
    trustRoot,
    bootstrap: ["/dns4/principal/tcp/4001/p2p/12D3KooWPrincipal"],
  };
  const secrets = { index: 1, seed, custodian: { privateKey: key } };

  it("fills what the config leaves out; what the config gives wins", () => {
    const raw = {
      roles: ["worker", "gateway"],
      dataDir: "/data",
      ethereum: { rpcUrl: "http://my-own-chain:8545" },
      deployment: { file: "/shared/deployment.json", node: 1, secrets: "/secrets/node.json" },
    };
    const c = resolveNodeConfig(applyDeployment(raw, deployment, secrets));
    expect(c.ethereum.rpcUrl).toBe("http://my-own-chain:8545"); // the config's
    expect(c.ethereum.enigmaAddress.toLowerCase()).toBe(ethereum.enigmaAddress.toLowerCase());
    expect(c.attestation).toEqual({ url: "http://chain:8546", trustRoot });
    expect(c.seed).toBe(seed); // from the node's own secrets file
    expect(c.ethereum.privateKey).toBe(key);
    expect(c.p2p.bootstrap).toEqual(deployment.bootstrap);
  });

  it("takes the chain's policies from the deployment unless the config names them", () => {
    const raw = { dataDir: "/data", deployment: { file: "/d.json" } };
    const withPolicy = { ...deployment, selection: "group:3", epochPolicy: "discovery" };
    expect(resolveNodeConfig(applyDeployment(raw, withPolicy)).policy).toEqual({
      selection: "group:3",
      epochPolicy: "discovery",
    });
    const own = { ...raw, policy: { selection: "discovery" } };
    expect(resolveNodeConfig(applyDeployment(own, withPolicy)).policy.selection).toBe("discovery");
    // A file from before policies existed: the defaults.
    expect(resolveNodeConfig(applyDeployment(raw, deployment)).policy.selection).toBe("discovery");
  });

  it("does not make the principal bootstrap to itself", () => {
    const raw = { roles: ["principal"], dataDir: "/data", deployment: { file: "/d.json" } };
    const c = resolveNodeConfig(applyDeployment(raw, deployment));
    expect(c.p2p.bootstrap).toEqual([]);
    expect(c.seed).toBeUndefined(); // no node index: no seed or key
  });

  it("takes a node's seed and key only from its own secrets file", () => {
    // A deployment file that still carries other nodes' secrets gives none of them.
    const raw = { dataDir: "/data", deployment: { file: "/d.json", node: 1, secrets: "/s.json" } };
    const old = { ...deployment, nodes: [{ index: 1, seed, custodian: { privateKey: key } }] };
    const c = resolveNodeConfig(applyDeployment(raw, old));
    expect([c.seed, c.ethereum.privateKey]).toEqual([undefined, undefined]);
    // Another node's secrets file is refused.
    expect(() => applyDeployment(raw, deployment, { ...secrets, index: 2 })).toThrow(
      /the secrets file is node 2's, but deployment\.node is 1/,
    );
    // A node index without a secrets file is a config problem.
    expect(
      problemsOf({
        dataDir: "/d",
        ethereum,
        attestation,
        deployment: { file: "/d.json", node: 1 },
      }).join(),
    ).toMatch(/deployment\.secrets: deployment\.node needs deployment\.secrets/);
  });

  it("refuses a malformed deployment or secrets file, naming the problem", () => {
    const raw = { dataDir: "/data", deployment: { file: "/d.json", node: 1, secrets: "/s.json" } };
    const problems = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        if (!isEnigmaError(e, ErrorCode.InvalidConfig)) throw e;
        return e.details["problems"] as string[];
      }
      return [];
    };
    expect(
      problems(() => applyDeployment(raw, { ...deployment, enigmaAddress: "0x12" })).some((p) =>
        p.startsWith("enigmaAddress"),
      ),
    ).toBe(true);
    expect(
      problems(() => applyDeployment(raw, deployment, { ...secrets, seed: "0x1" })).some((p) =>
        p.startsWith("seed"),
      ),
    ).toBe(true);
  });
});
