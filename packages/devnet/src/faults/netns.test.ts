// Namespace hosts (root only: this machine and CI): each host has its address, reaches the
// others and the bridge; a partition drops packets between the groups (counted by tc), the
// bridge stays reachable; heal restores; destroy leaves nothing behind.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { NetnsNetwork } from "./netns.js";

const run = promisify(execFile);
const ROOT = process.getuid?.() === 0;
const children: ChildProcess[] = [];
let net: NetnsNetwork | undefined;

afterAll(async () => {
  for (const c of children) c.kill("SIGKILL");
  await net?.destroy();
});

/** A TCP server on a host that answers "hi". */
function serve(host: string): Promise<void> {
  if (net === undefined) throw new Error("no net");
  const [cmd = "ip", ...args] = net.exec(host);
  const child = spawn(
    cmd,
    [
      ...args,
      process.execPath,
      "-e",
      `require("net").createServer(s=>s.end("hi")).listen(7000,"0.0.0.0",()=>console.log("up"))`,
    ],
    { stdio: ["ignore", "pipe", "ignore"] },
  );
  children.push(child);
  return new Promise((r) =>
    child.stdout.once("data", () => {
      r();
    }),
  );
}

/** Whether `from` (a host, or undefined: this namespace) reaches `ip`:7000 within 1 s. */
async function reaches(from: string | undefined, ip: string): Promise<boolean> {
  const script = `const s=require("net").connect({host:"${ip}",port:7000});s.setTimeout(1000);s.on("data",()=>process.exit(0));s.on("timeout",()=>process.exit(1));s.on("error",()=>process.exit(1))`;
  const prefix = from === undefined || net === undefined ? [] : net.exec(from);
  const [cmd, ...args] = [...prefix, process.execPath, "-e", script];
  return run(cmd, args).then(
    () => true,
    () => false,
  );
}

describe.skipIf(!ROOT)("network namespace hosts", () => {
  it("gives each host an address, drops packets across a partition, heals, and cleans up", async () => {
    net = await NetnsNetwork.create({ names: ["a", "b", "c"] });
    const [a, b, c] = net.hosts;
    if (a === undefined || b === undefined || c === undefined) throw new Error("hosts");
    expect(new Set(net.hosts.map((h) => h.ip)).size).toBe(3);
    await serve("b");
    await serve("c");
    expect(await reaches("a", b.ip)).toBe(true);
    expect(await reaches(undefined, c.ip)).toBe(true);

    await net.partition([["a"], ["b", "c"]]);
    expect(await reaches("a", b.ip)).toBe(false);
    expect(await reaches("c", b.ip)).toBe(true);
    // This namespace (the bridge: the chain's side) still reaches everyone.
    expect(await reaches(undefined, b.ip)).toBe(true);
    expect((await net.dropped())["a"]).toBeGreaterThan(0);

    await net.heal();
    expect(await reaches("a", b.ip)).toBe(true);

    const { bridge } = net;
    const nss = net.hosts.map((h) => h.ns);
    for (const ch of children.splice(0)) ch.kill("SIGKILL");
    await net.destroy();
    const list = (await run("ip", ["netns", "list"])).stdout;
    for (const ns of nss) {
      expect(list).not.toContain(ns);
      expect(existsSync(`/etc/netns/${ns}`)).toBe(false);
    }
    expect((await run("ip", ["-o", "link", "show"])).stdout).not.toContain(bridge);
    net = undefined;
  }, 60_000);
});
