// The nemesis against stand-in nodes (their admin endpoint is a small HTTP server recording
// what it is told): validation, partitions told to every node (and again after a restart or a
// resume), signals, and the history the checker reads.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode, isEnigmaError } from "@enigma/protocol";
import { Nemesis, type FaultableNode } from "./nemesis.js";

let admin: Server;
let adminUrl = "";
/** What each node was told to refuse, by node name (the URL path). */
const refused = new Map<string, string[]>();

beforeAll(async () => {
  admin = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = JSON.parse(Buffer.concat(chunks).toString()) as {
        method: string;
        params: { peers: string[] };
      };
      if (body.method === "admin_refusePeers")
        refused.set(req.url?.slice(1) ?? "", body.params.peers);
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ jsonrpc: "2.0", id: 1, result: true }));
    });
  });
  await new Promise<void>((r) => admin.listen(0, "127.0.0.1", r));
  adminUrl = `http://127.0.0.1:${(admin.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((r) =>
    admin.close(() => {
      r();
    }),
  );
});

class FakeNode implements FaultableNode {
  readonly name: string;
  readonly role: "principal" | "worker";
  readonly peerId: string;
  readonly pid = 1234;
  running = true;
  signals: string[] = [];
  expected = 0;
  restarts = 0;
  #exit: (how: string) => void = () => undefined;
  #exited = new Promise<string>((r) => (this.#exit = r));

  constructor(name: string) {
    this.name = name;
    this.role = name === "principal" ? "principal" : "worker";
    this.peerId = `peer-${name}`;
  }
  get adminUrl() {
    return `${adminUrl}/${this.name}`;
  }
  signal(sig: NodeJS.Signals): void {
    this.signals.push(sig);
    if (sig === "SIGKILL") {
      this.running = false;
      this.#exit(`signal ${sig}`);
    }
  }
  exited(): Promise<string> {
    return this.#exited;
  }
  restart(): Promise<void> {
    this.running = true;
    this.restarts++;
    this.#exited = new Promise<string>((r) => (this.#exit = r));
    return Promise.resolve();
  }
  expectExit(): void {
    this.expected++;
  }
}

function codeOf(e: unknown): number | undefined {
  return isEnigmaError(e) ? e.code : undefined;
}

describe("Nemesis", () => {
  const names = ["principal", "worker-1", "worker-2", "worker-3"];

  it("kills, restarts, pauses and resumes by signal, and records each fault", async () => {
    const nodes = names.map((n) => new FakeNode(n));
    const nemesis = new Nemesis({ nodes, inProcess: false });
    await nemesis.kill("worker-1");
    expect(nodes[1]?.signals).toEqual(["SIGKILL"]);
    expect(nodes[1]?.expected).toBe(1);
    await nemesis.restart("worker-1");
    await nemesis.pause("worker-2");
    expect(nemesis.paused).toEqual(["worker-2"]);
    await nemesis.resume("worker-2");
    expect(nodes[2]?.signals).toEqual(["SIGSTOP", "SIGCONT"]);
    expect(nemesis.history.map((e) => `${e.kind} ${e.target}`)).toEqual([
      "kill worker-1",
      "restart worker-1",
      "pause worker-2",
      "resume worker-2",
    ]);
    expect(codeOf(await nemesis.kill("worker-9").catch((e: unknown) => e))).toBe(
      ErrorCode.FaultTargetUnknown,
    );
  });

  it("needs processes for signals and chain proxies for chain faults", async () => {
    const nodes = names.map((n) => new FakeNode(n));
    const inProcess = new Nemesis({ nodes, inProcess: true });
    expect(codeOf(await inProcess.kill("worker-1").catch((e: unknown) => e))).toBe(
      ErrorCode.FaultUnsupported,
    );
    const plain = new Nemesis({ nodes, inProcess: false });
    expect(codeOf(await plain.chainOutage("worker-1").catch((e: unknown) => e))).toBe(
      ErrorCode.FaultUnsupported,
    );
    expect(codeOf(await plain.partition([["worker-1"]]).catch((e: unknown) => e))).toBe(
      ErrorCode.FaultUnsupported,
    );
  });

  it("tells every node which peers to refuse, again after a restart, and heals", async () => {
    const nodes = names.map((n) => new FakeNode(n));
    const nemesis = new Nemesis({ nodes, inProcess: false, proxies: new Map() });
    await nemesis.partition([["principal", "worker-1"]]);
    expect(nemesis.partitioned).toEqual([
      ["principal", "worker-1"],
      ["worker-2", "worker-3"],
    ]);
    expect(refused.get("principal")).toEqual(["peer-worker-2", "peer-worker-3"]);
    expect(refused.get("worker-3")).toEqual(["peer-principal", "peer-worker-1"]);
    refused.clear();
    await nemesis.kill("worker-2");
    await nemesis.restart("worker-2");
    expect(refused.get("worker-2")).toEqual(["peer-principal", "peer-worker-1"]);
    await nemesis.heal();
    expect(names.map((n) => refused.get(n))).toEqual([[], [], [], []]);
    expect(
      codeOf(await nemesis.partition([["worker-1"], ["worker-1"]]).catch((e: unknown) => e)),
    ).toBe(ErrorCode.FaultTargetUnknown);
    expect(codeOf(await nemesis.partition([names]).catch((e: unknown) => e))).toBe(
      ErrorCode.FaultSpecInvalid,
    );
  });
});
