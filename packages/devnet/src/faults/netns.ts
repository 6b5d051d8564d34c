// Several hosts on one machine (issue 16): every node runs in its own Linux network namespace
// with its own address on a bridge, so announce addresses, bootstrap across hosts and a
// partition as a real packet drop are exercised for real. Needs root (this machine and CI run
// as root) and iproute2 (`ip`, `tc`).
//
//   root namespace:  bridge eb-<tag>  10.213.<n>.1/24   (the chain's proxies, the attestation
//                                                          service and the devnet listen here)
//   node k:          namespace enigma-<pid>-<seq>-<k>, eth0 10.213.<n>.<k+2>/24 (veth on the bridge)
//
// Each node's eth0 gets an htb root qdisc with a class whose leaf is a zero-length fifo:
// `partition` adds u32 filters that steer packets to the other groups' addresses into it, so
// they are dropped (`tc -s qdisc` counts them); `heal` removes the filters. No netfilter
// (iptables/nft are not installed here, and tc's drop action module is not in this kernel).
//
// Only what this code created is touched: namespaces, the bridge and /etc/netns/<ns>/ files
// named with this process's id, removed by `destroy()`, at process exit, and, for a process
// that died without either, by the next one (`sweepStale`).
import { execFile, execFileSync } from "node:child_process";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { rmSync } from "node:fs";
import { promisify } from "node:util";
import { EnigmaError, ErrorCode } from "@enigma/protocol";

const run = promisify(execFile);
const SUBNET_A = 213;
let sequence = 0;

export interface NetnsHost {
  /** The devnet's name for it (principal, worker-1...). */
  name: string;
  /** The namespace (`ip netns exec <ns>`). */
  ns: string;
  /** Its address on the bridge. */
  ip: string;
}

export interface NetnsOptions {
  /** Host names, in order (each gets the next address). */
  names: readonly string[];
  /** Extra names every host resolves (e.g. `chain` -> the bridge), as /etc/hosts lines. */
  aliases?: Record<string, string>;
  onProgress?: (message: string) => void;
}

async function ip(args: string[]): Promise<string> {
  try {
    return (await run("ip", args, { maxBuffer: 4 * 1024 * 1024 })).stdout;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new EnigmaError(
      ErrorCode.NetnsUnavailable,
      `ip ${args.join(" ")} failed: ${(err.stderr ?? err.message).trim()}`,
      { details: { args }, cause: e },
    );
  }
}

async function batch(tool: "ip" | "tc", lines: string[], ns?: string): Promise<void> {
  const args = [...(ns === undefined ? [] : ["-n", ns]), "-batch", "-"];
  await new Promise<void>((resolve, reject) => {
    const child = execFile(tool, args, (e, _out, stderr) => {
      if (e === null) {
        resolve();
        return;
      }
      reject(
        new EnigmaError(
          ErrorCode.NetnsUnavailable,
          `${tool} ${args.join(" ")} failed: ${stderr.trim() || e.message}`,
          { details: { tool, lines }, cause: e },
        ),
      );
    });
    child.stdin?.end(`${lines.join("\n")}\n`);
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Removes namespaces, bridges and /etc/netns folders left by devnets whose process is gone
 * (killed before it could clean up). Only names this module makes are looked at.
 */
export async function sweepStale(): Promise<number> {
  let removed = 0;
  const list = await ip(["netns", "list"]).catch(() => "");
  for (const line of list.split("\n")) {
    const m = /^enigma-(\d+)-\d+-\d+\b/.exec(line.trim());
    if (m === null || isAlive(Number(m[1]))) continue;
    const ns = line.trim().split(/\s/)[0] ?? "";
    await ip(["netns", "del", ns]).catch(() => undefined);
    await rm(`/etc/netns/${ns}`, { recursive: true, force: true });
    removed++;
  }
  const links = await ip(["-o", "link", "show", "type", "bridge"]).catch(() => "");
  for (const line of links.split("\n")) {
    const m = /^\d+:\s+(eb-([0-9a-z]+)-[0-9a-z]+)[:@]/.exec(line);
    if (m === null || isAlive(parseInt(m[2] ?? "", 36))) continue;
    await ip(["link", "del", m[1] ?? ""]).catch(() => undefined);
    removed++;
  }
  return removed;
}

/** A bridge and one namespace per host; see the file's header. */
export class NetnsNetwork {
  readonly bridge: string;
  readonly bridgeIp: string;
  readonly subnet: string;
  readonly hosts: readonly NetnsHost[];
  #destroyed = false;
  readonly #onExit: () => void;

  private constructor(bridge: string, n: number, hosts: NetnsHost[]) {
    this.bridge = bridge;
    this.bridgeIp = `10.${SUBNET_A}.${n}.1`;
    this.subnet = `10.${SUBNET_A}.${n}.0/24`;
    this.hosts = hosts;
    // A devnet process that ends without destroy() (an exception, process.exit) still removes
    // what it made; synchronous, as exit handlers must be.
    this.#onExit = () => {
      this.#destroySync();
    };
    process.once("exit", this.#onExit);
  }

  /**
   * Creates the bridge and the hosts' namespaces.
   * @throws NetnsUnavailable when not root, `ip`/`tc` is missing, or the kernel refuses.
   */
  static async create(o: NetnsOptions): Promise<NetnsNetwork> {
    if (process.getuid?.() !== 0) {
      throw new EnigmaError(
        ErrorCode.NetnsUnavailable,
        "network namespaces need root (ip netns add, veth pairs, tc)",
      );
    }
    if (o.names.length === 0 || o.names.length > 200) {
      throw new EnigmaError(ErrorCode.InvalidConfig, "between 1 and 200 hosts", {
        details: { hosts: o.names.length },
      });
    }
    const swept = await sweepStale();
    if (swept > 0) o.onProgress?.(`removed ${swept} namespaces or bridges of dead devnets`);
    const seq = ++sequence;
    const tag = `${process.pid.toString(36)}-${seq.toString(36)}`;
    const n = await freeSubnet();
    const bridge = `eb-${tag}`;
    const hosts = o.names.map((name, k) => ({
      name,
      ns: `enigma-${process.pid}-${seq}-${k}`,
      ip: `10.${SUBNET_A}.${n}.${k + 2}`,
    }));
    const net = new NetnsNetwork(bridge, n, hosts);
    try {
      o.onProgress?.(`creating ${hosts.length} network namespaces on ${net.subnet}`);
      await batch("ip", [
        `link add ${bridge} type bridge`,
        `addr add ${net.bridgeIp}/24 dev ${bridge}`,
        `link set ${bridge} up`,
        ...hosts.map((h) => `netns add ${h.ns}`),
      ]);
      const aliases = Object.entries(o.aliases ?? {}).map(([name, addr]) => `${addr}\t${name}`);
      const hostsFile = [
        "127.0.0.1\tlocalhost",
        ...hosts.map((h) => `${h.ip}\t${h.name}`),
        ...aliases,
      ].join("\n");
      await batch(
        "ip",
        hosts.flatMap((h, k) => [
          `link add ev${tag}.${k} type veth peer name eth0 netns ${h.ns}`,
          `link set ev${tag}.${k} master ${bridge} up`,
        ]),
      );
      for (const h of hosts) {
        await batch(
          "ip",
          [
            `addr add ${h.ip}/24 dev eth0`,
            "link set eth0 up",
            "link set lo up",
            `route add default via ${net.bridgeIp}`,
          ],
          h.ns,
        );
        // The drop class for partitions (see the header); normal traffic takes class 1:10.
        await batch(
          "tc",
          [
            "qdisc add dev eth0 root handle 1: htb default 10 r2q 100000",
            "class add dev eth0 parent 1: classid 1:10 htb rate 10gbit",
            "class add dev eth0 parent 1: classid 1:20 htb rate 10gbit",
            "qdisc add dev eth0 parent 1:20 handle 20: pfifo limit 0",
          ],
          h.ns,
        );
        // `ip netns exec` mounts /etc/netns/<ns>/hosts over /etc/hosts: names resolve per host.
        await mkdir(`/etc/netns/${h.ns}`, { recursive: true });
        await writeFile(`/etc/netns/${h.ns}/hosts`, `${hostsFile}\n`);
      }
      return net;
    } catch (e) {
      await net.destroy();
      throw e;
    }
  }

  host(name: string): NetnsHost {
    const h = this.hosts.find((x) => x.name === name);
    if (h === undefined) {
      throw new EnigmaError(ErrorCode.FaultTargetUnknown, `no host named ${name}`, {
        details: { name, hosts: this.hosts.map((x) => x.name) },
      });
    }
    return h;
  }

  /** The command prefix that runs a program on `name`'s host. */
  exec(name: string): string[] {
    return ["ip", "netns", "exec", this.host(name).ns];
  }

  /**
   * Drops every packet between hosts of different groups (hosts not named form one more group
   * together); the bridge (chain, attestation service, devnet) stays reachable for all.
   */
  async partition(groups: readonly (readonly string[])[]): Promise<void> {
    await this.heal();
    const groupOf = new Map<string, number>();
    groups.forEach((g, i) => {
      for (const name of g) groupOf.set(this.host(name).name, i);
    });
    for (const h of this.hosts) {
      const mine = groupOf.get(h.name) ?? -1;
      const others = this.hosts.filter((x) => (groupOf.get(x.name) ?? -1) !== mine);
      if (others.length === 0) continue;
      await batch(
        "tc",
        others.map(
          (x) =>
            `filter add dev eth0 parent 1: protocol ip prio 1 u32 match ip dst ${x.ip}/32 flowid 1:20`,
        ),
        h.ns,
      );
    }
  }

  /** Removes every partition filter. */
  async heal(): Promise<void> {
    for (const h of this.hosts) {
      // No filter at prio 1 is fine: nothing to remove.
      await batch("tc", ["filter del dev eth0 parent 1: prio 1"], h.ns).catch(() => undefined);
    }
  }

  /** Packets each host dropped for partitions so far (`tc -s qdisc`), by host name. */
  async dropped(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const h of this.hosts) {
      const text = await run("tc", ["-n", h.ns, "-s", "qdisc", "show", "dev", "eth0"])
        .then((r) => r.stdout)
        .catch(() => "");
      const m = /qdisc pfifo 20:[\s\S]*?dropped (\d+)/.exec(text);
      out[h.name] = Number(m?.[1] ?? 0);
    }
    return out;
  }

  /** Deletes the namespaces, the bridge and the hosts files. Idempotent. */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    process.off("exit", this.#onExit);
    for (const h of this.hosts) {
      await ip(["netns", "del", h.ns]).catch(() => undefined);
      await rm(`/etc/netns/${h.ns}`, { recursive: true, force: true });
    }
    await ip(["link", "del", this.bridge]).catch(() => undefined);
  }

  #destroySync(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    for (const h of this.hosts) {
      try {
        execFileSync("ip", ["netns", "del", h.ns], { stdio: "ignore" });
      } catch {
        // gone already
      }
      rmSync(`/etc/netns/${h.ns}`, { recursive: true, force: true });
    }
    try {
      execFileSync("ip", ["link", "del", this.bridge], { stdio: "ignore" });
    } catch {
      // gone already
    }
  }
}

/** A third octet whose 10.213.<n>.0/24 no interface of this machine uses. */
async function freeSubnet(): Promise<number> {
  const used = new Set<number>();
  const text = await ip(["-o", "-4", "addr", "show"]);
  for (const m of text.matchAll(new RegExp(`inet 10\\.${SUBNET_A}\\.(\\d+)\\.`, "g"))) {
    used.add(Number(m[1]));
  }
  // Start from a spot that differs per process, so that devnets starting at once rarely race.
  const start = (process.pid * 7 + sequence * 13) % 250;
  for (let i = 0; i < 250; i++) {
    const n = ((start + i) % 250) + 1;
    if (!used.has(n)) return n;
  }
  throw new EnigmaError(ErrorCode.NetnsUnavailable, `no free subnet in 10.${SUBNET_A}.0.0/16`);
}
