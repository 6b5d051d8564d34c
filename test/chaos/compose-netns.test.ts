// docker/compose.yaml's topology on several hosts of one machine (issue 16): Docker is not
// available here, so every compose service (the chain, the principal, three workers, the
// gateway) runs its own command, from the compose file, in its own network namespace with its
// own address; service names resolve per host (`ip netns exec` mounts a hosts file), nodes
// listen on 0.0.0.0 and announce `/dns4/<service>/tcp/4001`, bootstrap across hosts from the
// deployment file, and a client in this namespace deploys a contract through the gateway and
// runs a task to its receipt. Needs root (skipped otherwise; this machine and CI are root).
import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { JsonRpcProvider, Wallet } from "ethers";
import { EnigmaClient } from "@enigma/client";
import { NetnsNetwork, type ChainDeployment } from "@enigma/devnet";

const ROOT = process.getuid?.() === 0;
const DOCKER = fileURLToPath(new URL("../../docker/", import.meta.url));
const bin = fileURLToPath(new URL("../../packages/cli/bin/enigma.js", import.meta.url));
const SERVICES = ["chain", "principal", "worker-1", "worker-2", "worker-3", "gateway"];

interface Compose {
  services: Record<string, { command?: string[] }>;
}

let net: NetnsNetwork | undefined;
let tmp = "";
const children: ChildProcess[] = [];
const logs = new Map<string, string>();

/** Runs a compose service's command (paths mapped) on its host; resolves with its first line. */
function runOnHost(name: string, args: string[]): Promise<string> {
  if (net === undefined) throw new Error("no namespaces");
  const child = spawn(
    net.exec(name)[0] ?? "ip",
    [...net.exec(name).slice(1), process.execPath, bin, ...args],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  children.push(child);
  logs.set(name, "");
  child.stderr.on("data", (b: Buffer) =>
    logs.set(name, ((logs.get(name) ?? "") + b.toString()).slice(-4000)),
  );
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).once("line", resolve);
    child.once("close", (code) => {
      reject(new Error(`${name} exited (${String(code)}): ${logs.get(name) ?? ""}`));
    });
  });
}

/** A compose argument with the container paths mapped to this test's folders. */
function mapPath(arg: string, name: string): string {
  return arg
    .replaceAll("/shared/", `${tmp}/shared/`)
    .replace(/=\/secrets-out$/, `=${tmp}/secrets`)
    .replaceAll("/var/lib/enigma/", `${tmp}/data/`)
    .replaceAll('"/secrets/', `"${tmp}/secrets/${name}/`);
}

beforeAll(async () => {
  if (!ROOT) return;
  tmp = await mkdtemp(join(tmpdir(), "enigma-compose-netns-"));
  await mkdir(join(tmp, "shared"), { recursive: true });
  await mkdir(join(tmp, "data"), { recursive: true });
  net = await NetnsNetwork.create({ names: SERVICES });
}, 60_000);

afterAll(async () => {
  // Every service this test started stops: SIGTERM, and SIGKILL for one that has not closed
  // within 20 s (a loaded machine; what a stop leaves behind is the node's own restart case).
  await Promise.all(
    children.map(async (c) => {
      if (c.exitCode !== null || c.signalCode !== null) return;
      const closed = new Promise((r) => c.once("close", r));
      c.kill("SIGTERM");
      const late = setTimeout(() => c.kill("SIGKILL"), 20_000);
      await closed;
      clearTimeout(late);
    }),
  );
  await net?.destroy();
  if (tmp !== "") await rm(tmp, { recursive: true, force: true });
}, 60_000);

describe.skipIf(!ROOT)("docker/compose.yaml's topology, one network namespace per service", () => {
  it("comes up across hosts and runs a task from a client to its receipt", async () => {
    const compose = parse(await readFile(join(DOCKER, "compose.yaml"), "utf8"), {
      merge: true,
    }) as Compose;
    const chainArgs = (compose.services["chain"]?.command ?? []).map((a) => mapPath(a, "chain"));
    const printed = JSON.parse(
      await runOnHost("chain", [...chainArgs, "--json"]),
    ) as ChainDeployment;
    expect(printed.rpcUrl).toBe("http://chain:8545");
    const deployment = JSON.parse(
      await readFile(join(tmp, "shared", "deployment.json"), "utf8"),
    ) as ChainDeployment;
    // Each node's own config file, paths mapped: what its container would run.
    const nodes = SERVICES.slice(1);
    const up = await Promise.all(
      nodes.map(async (name) => {
        const command = compose.services[name]?.command ?? [];
        const text = await readFile(join(DOCKER, "config", `${name}.json`), "utf8");
        const file = join(tmp, `${name}.json`);
        await writeFile(file, mapPath(text, name));
        const args = command.map((a) => (a.startsWith("/config/") ? file : a));
        return JSON.parse(await runOnHost(name, [...args, "--json"])) as {
          peerId: string;
          multiaddrs: string[];
          rpcUrl?: string;
        };
      }),
    );
    // Nodes announce their service name, not the 0.0.0.0 they listen on.
    up.forEach((u, i) => {
      expect(u.multiaddrs, nodes[i]).toEqual([`/dns4/${nodes[i] ?? ""}/tcp/4001/p2p/${u.peerId}`]);
    });

    // A client on this host: the chain and the gateway at their hosts' addresses.
    const chainUrl = `http://${net?.host("chain").ip ?? ""}:8545`;
    const gatewayUrl = `http://${net?.host("gateway").ip ?? ""}:3000`;
    const users = JSON.parse(await readFile(join(tmp, "secrets", "users.json"), "utf8")) as {
      accounts: { privateKey: string }[];
    };
    const provider = new JsonRpcProvider(chainUrl, undefined, { staticNetwork: true });
    const client = new EnigmaClient({
      signer: new Wallet(users.accounts[0]?.privateKey ?? "", provider),
      enigmaAddress: deployment.enigmaAddress,
      tokenAddress: deployment.tokenAddress,
      nodeUrl: gatewayUrl,
      trustRoot: deployment.trustRoot,
      attestationPolicy: deployment.attestationPolicy,
      approve: "max",
      pollIntervalMs: 200,
    });
    try {
      // Every worker is in the epoch before tasks go out (workers log in a block or so apart).
      const enigma = deployment.enigmaAddress;
      for (const until = Date.now() + 90_000; ;) {
        const epoch = await client.currentEpoch().catch(() => undefined);
        if (epoch !== undefined && epoch.workers.length === 3) break;
        if (Date.now() > until) throw new Error(`no epoch with the 3 workers (${enigma})`);
        await new Promise((r) => setTimeout(r, 500));
      }
      const counter = new Uint8Array(
        await readFile(
          new URL("../../packages/secret-contract/build/examples/counter.wasm", import.meta.url),
        ),
      );
      const d = client.deploySecretContract(counter, "construct()", [], { gasLimit: 5_000_000n });
      const sc = await d.submitted();
      await d.result();
      const t = client.computeTask(sc, "increment()", [], { gasLimit: 1_000_000n });
      // The counter answers its new value as 8 bytes, big-endian.
      expect(Buffer.from((await t.result()).output).toString("hex")).toBe("0000000000000001");
      expect((await t.waitForReceipt()).chainStatus).toBe(2);
    } finally {
      client.close();
      provider.destroy();
    }
  }, 240_000);
});
