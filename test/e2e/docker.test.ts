// docker/: no Docker engine runs here, so this checks what can be checked without one. The
// compose file parses and hangs together (services, image/build, volumes, config files), and
// every service's command is accepted by the built CLI in a dry run (`--check-config`), with
// the container paths mapped to this checkout or a temporary folder. Then the chain service's
// command runs for real and the node configs are resolved against the deployment file it
// writes: the addresses, seeds, custodians and bootstrap address come from it.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { Contract, JsonRpcProvider } from "ethers";
import { loadNodeConfig } from "@enigma/node";
import { ENIGMA_ABI } from "@enigma/protocol";
import type { ChainDeployment, NodeSecretsFile } from "../../packages/devnet/src/index.js";

const DOCKER = fileURLToPath(new URL("../../docker/", import.meta.url));
const bin = fileURLToPath(new URL("../../packages/cli/bin/enigma.js", import.meta.url));

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  volumes?: string[];
  depends_on?: string[];
  ports?: string[];
}
interface Compose {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

let tmp: string;
let compose: Compose;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "enigma-docker-"));
  compose = parse(await readFile(join(DOCKER, "compose.yaml"), "utf8"), { merge: true }) as Compose;
});

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    child.on("close", (code) => {
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * A service's command with container paths mapped: configs copied with /shared -> `shared` and
 * /secrets -> the node's own folder under `<shared>-secrets` (what its container mounts), the
 * chain's `/secrets-out` -> that folder's parent.
 */
async function mapped(command: string[], shared: string): Promise<string[]> {
  const secrets = `${shared}-secrets`;
  const out: string[] = [];
  for (const arg of command) {
    if (arg.startsWith("/config/")) {
      const name = arg.slice("/config/".length);
      const text = await readFile(join(DOCKER, "config", name), "utf8");
      const file = join(tmp, `mapped-${name}`);
      await writeFile(
        file,
        text
          .replaceAll("/shared/", `${shared}/`)
          .replaceAll('"/secrets/', `"${secrets}/${name.replace(/\.json$/, "")}/`),
      );
      out.push(file);
    } else {
      out.push(arg.replace("=/shared/", `=${shared}/`).replace("=/secrets-out", `=${secrets}`));
    }
  }
  return out;
}

const NODES = ["principal", "worker-1", "worker-2", "worker-3", "gateway"];

describe("docker/compose.yaml", () => {
  it("parses and is well-formed: services, one image built from docker/Dockerfile, volumes, configs", () => {
    expect(Object.keys(compose.services).sort()).toEqual(["chain", ...NODES].sort());
    const build = compose.services["chain"]?.build;
    expect(build).toEqual({ context: "..", dockerfile: "docker/Dockerfile" });
    expect(existsSync(join(DOCKER, "..", build?.dockerfile ?? ""))).toBe(true);
    const image = compose.services["chain"]?.image;
    for (const [name, s] of Object.entries(compose.services)) {
      expect(s.image, name).toBe(image);
      expect(Array.isArray(s.command), name).toBe(true);
      for (const dep of s.depends_on ?? []) expect(Object.keys(compose.services)).toContain(dep);
      for (const v of s.volumes ?? []) {
        const [source = ""] = v.split(":");
        if (source.startsWith(".")) expect(existsSync(join(DOCKER, source)), v).toBe(true);
        else expect(Object.keys(compose.volumes ?? {}), v).toContain(source);
      }
    }
    expect(compose.services["chain"]?.command?.slice(0, 2)).toEqual(["chain", "start"]);
    for (const name of NODES) {
      const cmd = compose.services[name]?.command ?? [];
      expect(cmd.slice(0, 4), name).toEqual(["node", "start", "--config", `/config/${name}.json`]);
      expect(existsSync(join(DOCKER, "config", `${name}.json`)), name).toBe(true);
    }
    // The image runs the CLI: a service's command is the CLI's arguments.
  });

  it("has an image whose entrypoint is the enigma CLI", async () => {
    const dockerfile = await readFile(join(DOCKER, "Dockerfile"), "utf8");
    expect(dockerfile).toMatch(
      /^ENTRYPOINT \["node", "\/enigma\/packages\/cli\/bin\/enigma\.js"\]$/m,
    );
    expect(dockerfile).toMatch(/scripts\/bootstrap\.sh/);
  });

  it("runs every service's command in a dry run (--check-config), before the chain is up", async () => {
    const shared = join(tmp, "dry");
    const runs = await Promise.all(
      Object.entries(compose.services).map(async ([name, s]) => ({
        name,
        ...(await run([...(await mapped(s.command ?? [], shared)), "--check-config"])),
      })),
    );
    for (const { name, code, stdout, stderr } of runs) {
      expect({ name, code, stderr }).toEqual({ name, code: 0, stderr: "" });
      expect(stdout, name).toMatch(/^config ok/);
      if (name !== "chain") expect(stdout, name).toMatch(/once it appears/);
    }
  }, 60_000);

  it("refuses a broken config or flag with a one-line error and a non-zero exit", async () => {
    const bad = join(tmp, "bad.json");
    const worker = JSON.parse(await readFile(join(DOCKER, "config", "worker-1.json"), "utf8")) as {
      deployment: Record<string, unknown>;
    };
    await writeFile(
      bad,
      JSON.stringify({ ...worker, deployment: { ...worker.deployment, node: "one" } }),
    );
    // A deployment file that is there but not JSON is refused, not waited for.
    const brokenDeployment = join(tmp, "broken-deployment.json");
    await writeFile(brokenDeployment, "{");
    const badDeployment = join(tmp, "bad-deployment.json");
    await writeFile(
      badDeployment,
      JSON.stringify({ ...worker, deployment: { ...worker.deployment, file: brokenDeployment } }),
    );
    const cases = [
      ["node", "start", "--config", bad, "--check-config"],
      ["node", "start", "--config", badDeployment, "--check-config"],
      ["chain", "start", "--workers", "0", "--check-config"],
      ["chain", "start", "--principal-p2p", "principal:4001", "--check-config"],
      [
        "node",
        "start",
        "--config",
        join(DOCKER, "config", "worker-1.json"),
        "--preset",
        "slow",
        "--check-config",
      ],
    ];
    const runs = await Promise.all(cases.map((args) => run(args)));
    runs.forEach((r, i) => {
      const what = cases[i]?.join(" ");
      expect(r.code, what).not.toBe(0);
      expect(r.stderr.trim().split("\n"), what).toHaveLength(1);
      expect(r.stderr, what).toMatch(/^enigma: /);
    });
    expect(runs[0]?.stderr).toMatch(/deployment\.node/);
    expect(runs[1]?.stderr).toMatch(/not valid JSON/);
    expect(runs[4]?.stderr).toMatch(/preset/);
  }, 30_000);
});

describe("the compose network in miniature (processes on this machine)", () => {
  const shared = () => join(tmp, "shared");
  const file = () => join(shared(), "deployment.json");
  let chain: ChildProcess | undefined;
  let chainExited: Promise<number | null> | undefined;
  let localRpcUrl = "";
  let localAttestationUrl = "";
  const secretsOf = async (name: string) =>
    JSON.parse(
      await readFile(join(`${shared()}-secrets`, name, "secrets.json"), "utf8"),
    ) as NodeSecretsFile;
  let d: ChainDeployment;
  const nodes: ChildProcess[] = [];

  beforeAll(async () => {
    const command = (await mapped(compose.services["chain"]?.command ?? [], shared())).map((a) =>
      // The test must not take this machine's ports 8545 and 8546 nor listen beyond them.
      a.startsWith("--port=")
        ? "--port=0"
        : a.startsWith("--attestation-port=")
          ? "--attestation-port=0"
          : a.startsWith("--host=")
            ? "--host=127.0.0.1"
            : a,
    );
    const child = spawn(process.execPath, [bin, ...command, "--json"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    chain = child;
    let stderr = "";
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
    chainExited = exited;
    const printed = await new Promise<ChainDeployment>((resolve, reject) => {
      createInterface({ input: child.stdout }).once("line", (l) => {
        resolve(JSON.parse(l) as ChainDeployment);
      });
      void exited.then(() => {
        reject(new Error(`chain start exited early: ${stderr}`));
      });
    });
    localRpcUrl = /up in [\d.]+ s at (\S+);/.exec(stderr)?.[1] ?? "";
    localAttestationUrl = /attestation service at (\S+)/.exec(stderr)?.[1] ?? "";
    d = JSON.parse(await readFile(file(), "utf8")) as ChainDeployment;
    expect(d).toEqual(printed);
  }, 90_000);

  afterAll(async () => {
    for (const n of nodes) n.kill("SIGTERM");
    chain?.kill("SIGTERM");
    await chainExited;
  }, 60_000);

  it("writes the deployment file the compose file's chain command asks for", () => {
    expect(localRpcUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(d.rpcUrl).toBe("http://chain:8545");
    expect(d.nodes.map((n) => n.role)).toEqual(["principal", "worker", "worker", "worker"]);
    expect(d.bootstrap).toEqual([`/dns4/principal/tcp/4001/p2p/${d.nodes[0]?.peerId ?? ""}`]);
    expect(d.attestationUrl).toBe("http://chain:8546");
    expect(localAttestationUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it("shares nothing secret: the attestation key stays in the chain's process, each node's seed and key in its own folder", async () => {
    // The shared folder every container mounts holds the deployment file only; it names no
    // seed, no private key, no key file.
    expect(await readdir(shared())).toEqual(["deployment.json"]);
    const text = await readFile(file(), "utf8");
    expect(text).not.toMatch(/seed|privateKey|PRIVATE KEY|\.pem/);
    // One folder per node, mode 0600 files, each with that node's secrets only.
    const names = ["principal", "worker-1", "worker-2", "worker-3"];
    // (and the user accounts' keys for whoever drives clients, in users.json)
    expect((await readdir(`${shared()}-secrets`)).sort()).toEqual([...names, "users.json"].sort());
    for (const [index, name] of names.entries()) {
      const s = await secretsOf(name);
      expect(s).toMatchObject({ index, role: index === 0 ? "principal" : "worker" });
      expect(s.custodian.address).toBe(d.nodes[index]?.custodian);
      const mode = (await stat(join(`${shared()}-secrets`, name, "secrets.json"))).mode & 0o777;
      expect(mode).toBe(0o600);
    }
    // Each node container mounts only its own secrets folder (and the gateway none).
    for (const [name, svc] of Object.entries(compose.services)) {
      const mounts = (svc.volumes ?? []).filter((v) => v.includes("secrets"));
      if (name === "chain") expect(mounts).toEqual(["./secrets:/secrets-out"]);
      else if (name === "gateway") expect(mounts).toEqual([]);
      else expect(mounts).toEqual([`./secrets/${name}:/secrets:ro`]);
    }
  });

  it("resolves every node config from the deployment file", async () => {
    // The CLI finds the deployment there now (no "once it appears")...
    const worker = await mapped(compose.services["worker-1"]?.command ?? [], shared());
    expect(await run([...worker, "--check-config"])).toMatchObject({
      code: 0,
      stdout: "config ok\n",
    });
    // ...and every node takes its chain fields from it (what `node start` resolves).
    for (const [k, name] of NODES.entries()) {
      const cmd = await mapped(compose.services[name]?.command ?? [], shared());
      const c = await loadNodeConfig(cmd[3] ?? "");
      expect(c.ethereum).toMatchObject({
        rpcUrl: d.rpcUrl,
        enigmaAddress: d.enigmaAddress,
        tokenAddress: d.tokenAddress,
      });
      expect(c.attestation).toEqual({ url: d.attestationUrl, trustRoot: d.trustRoot });
      const secrets = name === "gateway" ? undefined : await secretsOf(name);
      expect(secrets?.index, name).toBe(name === "gateway" ? undefined : k);
      expect(c.seed, name).toBe(secrets?.seed);
      expect(c.ethereum.privateKey, name).toBe(secrets?.custodian.privateKey);
      expect(c.p2p.bootstrap, name).toEqual(name === "principal" ? [] : d.bootstrap);
    }
  });

  it("lets the principal and a worker join from their compose configs", async () => {
    // Only what differs outside containers is overridden: the chain's and the principal's
    // addresses (`chain`, `principal` resolve inside the compose network only) and ports.
    const start = async (name: string, override: Record<string, unknown>) => {
      const cmd = await mapped(compose.services[name]?.command ?? [], shared());
      const config = JSON.parse(await readFile(cmd[3] ?? "", "utf8")) as Record<string, unknown>;
      await writeFile(
        cmd[3] ?? "",
        JSON.stringify({
          ...config,
          dataDir: join(tmp, "data", name),
          ethereum: { ...(config["ethereum"] as object), rpcUrl: localRpcUrl },
          attestation: { url: localAttestationUrl },
          logLevel: "warn",
          ...override,
        }),
      );
      const child = spawn(process.execPath, [bin, ...cmd, "--json"], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      nodes.push(child);
      let stderr = "";
      child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
      return new Promise<{ signer: string; multiaddrs: string[] }>((resolve, reject) => {
        createInterface({ input: child.stdout }).once("line", (l) => {
          resolve(JSON.parse(l) as { signer: string; multiaddrs: string[] });
        });
        child.once("close", () => {
          reject(new Error(`${name} exited: ${stderr}`));
        });
      });
    };
    const principal = await start("principal", { p2p: { host: "127.0.0.1", port: 0 } });
    const worker = await start("worker-1", {
      p2p: { host: "127.0.0.1", port: 0, bootstrap: principal.multiaddrs },
    });
    // The principal runs the epochs: one soon holds the worker (blocks come every second).
    const provider = new JsonRpcProvider(localRpcUrl, undefined, { staticNetwork: true });
    try {
      const enigma = new Contract(d.enigmaAddress, ENIGMA_ABI, provider);
      const until = Date.now() + 60_000;
      let workers: string[] = [];
      while (!workers.some((w) => w.toLowerCase() === worker.signer.toLowerCase())) {
        if (Date.now() > until) throw new Error("no epoch with the worker within 60 s");
        await new Promise((r) => setTimeout(r, 500));
        const params = (await enigma.getFunction("getWorkerParams")(
          await provider.getBlockNumber(),
        )) as [bigint, bigint, string[]];
        workers = params[2];
      }
    } finally {
      provider.destroy();
    }
  }, 120_000);

  it("stops on SIGTERM and removes the deployment file and the nodes' secrets", async () => {
    for (const n of nodes.splice(0)) {
      if (n.exitCode !== null || n.signalCode !== null) continue;
      const closed = new Promise((r) => n.once("close", r));
      n.kill("SIGTERM");
      expect(await closed).toBe(0);
    }
    chain?.kill("SIGTERM");
    expect(await chainExited).toBe(0);
    // A stopped chain's addresses are not left for nodes to pick up, nor its keys.
    expect(existsSync(file())).toBe(false);
    expect(existsSync(join(`${shared()}-secrets`, "worker-1", "secrets.json"))).toBe(false);
  }, 60_000);
});
