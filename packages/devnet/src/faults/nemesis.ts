// The devnet's nemesis (issue 16): faults on demand against a running devnet, `devnet.faults`.
//
//   kill / restart        SIGKILL a node's process / start it again on its data and ports
//   pause / resume        SIGSTOP / SIGCONT: alive, silent
//   partition / heal      groups of nodes cannot reach each other (the chain stays reachable)
//   isolate               one node alone against the rest
//   chainOutage / slowChain / restoreChain
//                         one node's Ethereum endpoint refuses, hangs or lags (its proxy)
//   killAt                a node dies at an exact point: `task-stored` (a worker stored a task's
//                         input and is about to run it: the node's own fault point) or
//                         `receipt-in-flight` (its receipt batch reached the chain and the
//                         answer has not: seen on its chain proxy, then SIGKILL)
//
// How a partition is made depends on the hosts: with network namespaces, packets between the
// groups' addresses are dropped (`netns.ts`); otherwise every node is told, on its admin
// endpoint, to refuse the other groups' peers (libp2p's connection gater: dials, redials and
// inbound connections all fail), which a node that restarts is told again. Every fault is
// recorded (`history`) with its time, so that the checker can name the faults around a task.
import { EnigmaError, ErrorCode, ENIGMA_ABI } from "@enigma/protocol";
import { adminCall } from "@enigma/node/admin-client";
import { Interface } from "ethers";
import type { ChainProxy } from "./chain-proxy.js";
import type { NetnsNetwork } from "./netns.js";
import { KILL_POINTS, type FaultKind, type KillPoint } from "./kinds.js";

/** What the nemesis needs of a devnet node. */
export interface FaultableNode {
  readonly name: string;
  readonly role: "principal" | "worker";
  readonly peerId: string;
  readonly pid: number | undefined;
  readonly running: boolean;
  readonly adminUrl: string | undefined;
  /** Sends a signal to the node's process (process nodes only). */
  signal(sig: NodeJS.Signals): void;
  /** Resolves when the node's current run ends (at once when it is not running). */
  exited(): Promise<string>;
  restart(): Promise<void>;
  /** The next exit is the nemesis's doing: not reported as a crash. */
  expectExit(): void;
}

export { FAULT_KINDS, KILL_POINTS, type FaultKind, type KillPoint } from "./kinds.js";

/** One fault applied (or undone), as the history and the checker's report show it. */
export interface FaultEvent {
  seq: number;
  /** Wall time (ms since the epoch). */
  at: number;
  kind: FaultKind | "fired" | "chaos";
  /** Node names (a partition: its groups, joined with `|`). */
  target: string;
  detail?: string;
}

export interface NemesisOptions {
  nodes: readonly FaultableNode[];
  /** Each node's chain proxy (devnets started with `faults: true`). */
  proxies?: ReadonlyMap<string, ChainProxy>;
  /** Namespace hosts (`hosts: "netns"`): partitions drop packets. */
  netns?: NetnsNetwork;
  /** Nodes run in this process (no signals). */
  inProcess: boolean;
  /** Told of each fault as it happens. */
  onEvent?: (e: FaultEvent) => void;
}

const COMMIT_SELECTOR = new Interface(ENIGMA_ABI).getFunction("commitReceipts")?.selector ?? "";

export class Nemesis {
  readonly #o: NemesisOptions;
  readonly #history: FaultEvent[] = [];
  readonly #paused = new Set<string>();
  /** The current partition's groups (admin mode re-applies it to a restarted node). */
  #groups: string[][] | undefined;
  #seq = 0;

  constructor(o: NemesisOptions) {
    this.#o = o;
  }

  /** Every fault so far, oldest first. */
  get history(): readonly FaultEvent[] {
    return this.#history;
  }

  /** Node names, principal first. */
  get names(): string[] {
    return this.#o.nodes.map((n) => n.name);
  }

  /** The current partition (groups of node names), if any. */
  get partitioned(): string[][] | undefined {
    return this.#groups?.map((g) => [...g]);
  }

  get paused(): string[] {
    return [...this.#paused];
  }

  node(name: string): FaultableNode {
    const n = this.#o.nodes.find((x) => x.name === name);
    if (n === undefined) {
      throw new EnigmaError(
        ErrorCode.FaultTargetUnknown,
        `no node named "${name}" (nodes: ${this.names.join(", ")})`,
        { details: { name, nodes: this.names } },
      );
    }
    return n;
  }

  /** SIGKILL; resolves once the process is gone. */
  async kill(name: string): Promise<FaultEvent> {
    const n = this.#process(name, "kill");
    if (!n.running) throw this.#notRunning(name, "kill");
    this.#paused.delete(name);
    n.expectExit();
    const gone = n.exited();
    n.signal("SIGKILL");
    const how = await gone;
    return this.#record("kill", name, how);
  }

  /** Starts a node again (stops it first when it runs): same data folder, ports and identity. */
  async restart(name: string): Promise<FaultEvent> {
    const n = this.node(name);
    if (this.#paused.has(name)) await this.resume(name);
    if (n.running) n.expectExit();
    await n.restart();
    await this.#reapply(n);
    return this.#record("restart", name);
  }

  /** SIGSTOP: the node is alive and silent until `resume`. */
  async pause(name: string): Promise<FaultEvent> {
    const n = this.#process(name, "pause");
    if (!n.running) throw this.#notRunning(name, "pause");
    n.signal("SIGSTOP");
    this.#paused.add(name);
    return Promise.resolve(this.#record("pause", name));
  }

  async resume(name: string): Promise<FaultEvent> {
    const n = this.#process(name, "resume");
    if (n.running) n.signal("SIGCONT");
    this.#paused.delete(name);
    // A partition made while it was frozen could not be told to it.
    if (n.running) await this.#reapply(n);
    return this.#record("resume", name);
  }

  /**
   * Splits the nodes into groups that cannot reach each other; nodes no group names form one
   * more group together. Replaces any earlier partition.
   */
  async partition(groups: readonly (readonly string[])[]): Promise<FaultEvent> {
    const named = groups.map((g) => g.map((name) => this.node(name).name));
    const seen = new Set<string>();
    for (const name of named.flat()) {
      if (seen.has(name)) {
        throw new EnigmaError(
          ErrorCode.FaultTargetUnknown,
          `${name} is named in two groups of the partition`,
          { details: { name } },
        );
      }
      seen.add(name);
    }
    const rest = this.names.filter((n) => !seen.has(n));
    const all = rest.length > 0 ? [...named, rest] : named;
    if (all.filter((g) => g.length > 0).length < 2) {
      throw new EnigmaError(ErrorCode.FaultSpecInvalid, "a partition needs at least two groups");
    }
    this.#groups = all;
    if (this.#o.netns !== undefined) {
      await this.#o.netns.partition(all);
    } else {
      this.#requireAdmin("partition");
      for (const n of this.#o.nodes) await this.#reapply(n);
    }
    return this.#record("partition", all.map((g) => g.join(",")).join("|"));
  }

  /** One node against all the others. */
  async isolate(name: string): Promise<FaultEvent> {
    await this.partition([[name]]);
    return this.#record("isolate", name);
  }

  /** Ends any partition. */
  async heal(): Promise<FaultEvent> {
    const had = this.#groups !== undefined;
    this.#groups = undefined;
    if (this.#o.netns !== undefined) await this.#o.netns.heal();
    else if (had) for (const n of this.#o.nodes) await this.#reapply(n);
    return this.#record("heal", "all");
  }

  /** The node's Ethereum endpoint refuses connections (`refuse`) or never answers (`hang`). */
  async chainOutage(name: string, mode: "refuse" | "hang" = "refuse"): Promise<FaultEvent> {
    this.#proxy(name, "chain-outage").setMode({ kind: mode });
    return Promise.resolve(this.#record("chain-outage", name, mode));
  }

  /** Adds `latencyMs` to every chunk between the node and the chain, each way. */
  async slowChain(name: string, latencyMs: number): Promise<FaultEvent> {
    if (!Number.isFinite(latencyMs) || latencyMs < 0 || latencyMs > 600_000) {
      throw new EnigmaError(ErrorCode.FaultSpecInvalid, "latency must be 0 to 600000 ms", {
        details: { latencyMs },
      });
    }
    this.#proxy(name, "slow-chain").setMode({ kind: "slow", latencyMs });
    return Promise.resolve(this.#record("slow-chain", name, `${latencyMs} ms`));
  }

  async restoreChain(name: string): Promise<FaultEvent> {
    this.#proxy(name, "restore-chain").setMode({ kind: "pass" });
    return Promise.resolve(this.#record("restore-chain", name));
  }

  /**
   * Arms a kill at `point` on `name` and returns at once; `fired` resolves once the node died
   * there (or with `undefined` when `disarm()` ran first). The node is not restarted.
   */
  async killAt(
    name: string,
    point: KillPoint,
  ): Promise<{ armed: FaultEvent; fired: Promise<FaultEvent | undefined> }> {
    if (!(KILL_POINTS as readonly string[]).includes(point)) {
      throw new EnigmaError(
        ErrorCode.FaultSpecInvalid,
        `unknown kill point "${point}" (known: ${KILL_POINTS.join(", ")})`,
      );
    }
    const n = this.#process(name, "kill-at");
    if (!n.running) throw this.#notRunning(name, "kill-at");
    let fired: Promise<FaultEvent | undefined>;
    if (point === "task-stored") {
      const url = this.#adminOf(n, "kill-at");
      n.expectExit();
      const gone = n.exited();
      await adminCall(url, "admin_armFault", { point, action: "crash" });
      this.#armed.set(name, () => adminCall(url, "admin_disarmFaults", {}).then(() => undefined));
      fired = gone.then((how) => {
        this.#armed.delete(name);
        return this.#record("fired", name, `task-stored (${how})`);
      });
    } else {
      const proxy = this.#proxy(name, "kill-at");
      let cancel: () => void = () => undefined;
      fired = new Promise<FaultEvent | undefined>((resolve) => {
        cancel = () => {
          proxy.watchTransactions(undefined);
          resolve(undefined);
        };
        proxy.watchTransactions((tx) => {
          if (!tx.data.startsWith(COMMIT_SELECTOR)) return "pass";
          proxy.watchTransactions(undefined);
          // After the proxy forwarded the batch (it does before acting): kill at once, before
          // the chain's answer could reach the node by any path.
          queueMicrotask(() => {
            n.expectExit();
            const gone = n.exited();
            try {
              n.signal("SIGKILL");
            } catch {
              // exited meanwhile
            }
            void gone.then((how) => {
              this.#armed.delete(name);
              resolve(
                this.#record("fired", name, `receipt-in-flight tx ${tx.hash ?? "?"} (${how})`),
              );
            });
          });
          return "swallow";
        });
      });
      this.#armed.set(name, () => {
        cancel();
        return Promise.resolve();
      });
    }
    return { armed: this.#record("kill-at", name, point), fired };
  }

  /** Kills armed with `killAt` that have not fired. */
  readonly #armed = new Map<string, () => Promise<void>>();

  /** Cancels every armed `killAt` that has not fired. */
  async disarm(): Promise<void> {
    const all = [...this.#armed.values()];
    this.#armed.clear();
    await Promise.allSettled(all.map((f) => f()));
  }

  /** Undoes every standing fault: disarms, resumes, heals, restores every chain endpoint. */
  async undoAll(): Promise<void> {
    await this.disarm();
    for (const name of [...this.#paused]) await this.resume(name).catch(() => undefined);
    if (this.#groups !== undefined) await this.heal().catch(() => undefined);
    for (const p of this.#o.proxies?.values() ?? []) p.setMode({ kind: "pass" });
  }

  #record(kind: FaultEvent["kind"], target: string, detail?: string): FaultEvent {
    const e: FaultEvent = {
      seq: ++this.#seq,
      at: Date.now(),
      kind,
      target,
      ...(detail === undefined ? {} : { detail }),
    };
    this.#history.push(e);
    this.#o.onEvent?.(e);
    return e;
  }

  /** Tells a node (admin mode) which peers to refuse under the current partition. */
  async #reapply(n: FaultableNode): Promise<void> {
    if (this.#o.netns !== undefined || n.adminUrl === undefined || !n.running) return;
    if (this.#paused.has(n.name)) return;
    const groups = this.#groups;
    let refuse: string[] = [];
    if (groups !== undefined) {
      const mine = groups.find((g) => g.includes(n.name)) ?? [];
      refuse = this.#o.nodes.filter((x) => !mine.includes(x.name)).map((x) => x.peerId);
    }
    if (groups === undefined && this.#o.proxies === undefined) return;
    await adminCall(n.adminUrl, "admin_refusePeers", { peers: refuse });
  }

  #process(name: string, kind: FaultKind): FaultableNode {
    const n = this.node(name);
    if (this.#o.inProcess) {
      throw new EnigmaError(
        ErrorCode.FaultUnsupported,
        `${kind} needs node processes: start the devnet with inProcess: false (enigma devnet up)`,
        { details: { kind, name } },
      );
    }
    return n;
  }

  #proxy(name: string, kind: FaultKind): ChainProxy {
    const p = this.#o.proxies?.get(this.node(name).name);
    if (p === undefined) {
      throw new EnigmaError(
        ErrorCode.FaultUnsupported,
        `${kind} needs the devnet's chain proxies: start it with faults: true (enigma devnet up --faults)`,
        { details: { kind, name } },
      );
    }
    return p;
  }

  #requireAdmin(kind: FaultKind): void {
    if (this.#o.proxies === undefined) {
      throw new EnigmaError(
        ErrorCode.FaultUnsupported,
        `${kind} needs the nodes' fault hooks: start the devnet with faults: true (enigma devnet up --faults)`,
        { details: { kind } },
      );
    }
  }

  #adminOf(n: FaultableNode, kind: FaultKind): string {
    this.#requireAdmin(kind);
    if (n.adminUrl === undefined) {
      throw new EnigmaError(ErrorCode.AdminUnavailable, `${n.name} has no admin endpoint`);
    }
    return n.adminUrl;
  }

  #notRunning(name: string, kind: FaultKind): EnigmaError {
    return new EnigmaError(
      ErrorCode.FaultUnsupported,
      `${name} is not running: cannot ${kind} it`,
      {
        details: { name, kind },
      },
    );
  }
}
