// A steady workload that knows its answers (issue 16): users send tasks to counter contracts
// (`increment()`: the committed increments must count 1, 2, 3... in delta order) and to a
// calculator (`add(a, b)` must give a + b), spread over the devnet's gateways, while faults
// happen. Every task that reached the chain is remembered with what its function gives, and
// with the output its user decrypted when one came: the checker's `expectations`.
//
// A user whose gateway fails (killed, paused, cut off) moves to the next one. A task whose
// result does not come in time is left to the checker (committed later, or refunded).
import { EnigmaClient, type EnigmaClientOptions } from "@enigma/client";
import {
  EnigmaError,
  ErrorCode,
  bytesToHex,
  encodeValues,
  errorName,
  isEnigmaError,
  type AttestationPolicy,
  type Hex,
  type RsaTrustRoot,
} from "@enigma/protocol";
import { JsonRpcProvider, Wallet } from "ethers";
import type { TaskExpectation } from "./check.js";

export interface WorkloadTarget {
  rpcUrl: string;
  enigmaAddress: string;
  tokenAddress: string;
  trustRoot: RsaTrustRoot;
  attestationPolicy: AttestationPolicy;
  /** Gateways' JSON-RPC URLs (a user moves to the next when one fails). */
  gateways: readonly string[];
  /** Funded accounts: one user each. */
  accounts: readonly { privateKey: string }[];
}

export interface WorkloadOptions {
  /** Counter and calculator contracts' code (`packages/secret-contract/build/examples/`). */
  counter: Uint8Array;
  calculator: Uint8Array;
  /** Counter contracts (default 2); one calculator. */
  counters?: number;
  /** Users sending at once (default: every account). */
  users?: number;
  /** Stop after this many tasks were sent (all users together). */
  tasks?: number;
  /** Most tasks started per second, all users together (default: as fast as they go). */
  ratePerSecond?: number;
  /** How long a task's result is waited for (default 60 s). */
  resultTimeoutMs?: number;
  seed?: string;
  onProgress?: (message: string) => void;
}

export interface WorkloadStats {
  /** Tasks started (a record was attempted). */
  started: number;
  /** Tasks whose record is on chain. */
  recorded: number;
  /** Tasks whose user decrypted an output. */
  outputs: number;
  /** Tasks that failed before their record was mined (no task on chain). */
  notRecorded: number;
  /** Recorded tasks whose result did not come (left to the checker). */
  noResult: number;
  /** Failures by catalog name. */
  errors: Record<string, number>;
}

const GAS = { gasLimit: 2_000_000n, gasPx: 1n };

export class Workload {
  readonly #t: WorkloadTarget;
  readonly #o: WorkloadOptions;
  readonly #expectations = new Map<string, TaskExpectation>();
  readonly #stats: WorkloadStats = {
    started: 0,
    recorded: 0,
    outputs: 0,
    notRecorded: 0,
    noResult: 0,
    errors: {},
  };
  readonly #provider: JsonRpcProvider;
  #contracts: { counters: Hex[]; calculator: Hex } | undefined;
  #stopping = false;
  #loops: Promise<void>[] = [];
  #rnd: () => number;
  #nextStart = 0;

  constructor(target: WorkloadTarget, options: WorkloadOptions) {
    if (target.gateways.length === 0 || target.accounts.length === 0) {
      throw new EnigmaError(ErrorCode.InvalidArgument, "a workload needs gateways and accounts");
    }
    this.#t = target;
    this.#o = options;
    this.#provider = new JsonRpcProvider(target.rpcUrl, undefined, {
      staticNetwork: true,
      batchMaxCount: 1,
      cacheTimeout: -1,
    });
    this.#rnd = lcg(options.seed ?? "workload");
  }

  /** What the checker compares with the chain (every recorded task). */
  get expectations(): TaskExpectation[] {
    return [...this.#expectations.values()];
  }

  get stats(): WorkloadStats {
    return structuredClone(this.#stats);
  }

  get contracts(): { counters: Hex[]; calculator: Hex } | undefined {
    return this.#contracts;
  }

  /** Deploys the contracts (waiting for their deployments to commit), then starts the users. */
  async start(): Promise<void> {
    const progress = this.#o.onProgress ?? (() => undefined);
    const client = this.#client(0, 0);
    try {
      const deploy = async (wasm: Uint8Array) => {
        const d = client.deploySecretContract(wasm, "construct()", [], GAS);
        const address = await d.submitted();
        await d.result();
        await d.waitForReceipt();
        return address;
      };
      const counters: Hex[] = [];
      for (let i = 0; i < (this.#o.counters ?? 2); i++)
        counters.push(await deploy(this.#o.counter));
      const calculator = await deploy(this.#o.calculator);
      this.#contracts = { counters, calculator };
      progress(`deployed ${counters.length} counters and a calculator`);
    } finally {
      client.close();
    }
    const users = Math.min(this.#o.users ?? this.#t.accounts.length, this.#t.accounts.length);
    this.#loops = Array.from({ length: users }, (_, u) => this.#user(u));
  }

  /** Stops starting tasks and waits for the ones in flight (their results or time-outs). */
  async stop(): Promise<void> {
    this.#stopping = true;
    await Promise.allSettled(this.#loops);
    this.#provider.destroy();
  }

  /** Resolves once `tasks` tasks were started (or at once without `tasks`). */
  async done(): Promise<void> {
    await Promise.allSettled(this.#loops);
  }

  #client(user: number, gateway: number): EnigmaClient {
    const a = this.#t.accounts[user];
    const url = this.#t.gateways[gateway % this.#t.gateways.length];
    if (a === undefined || url === undefined) throw new Error("no such user or gateway");
    const options: EnigmaClientOptions = {
      signer: new Wallet(a.privateKey, this.#provider),
      enigmaAddress: this.#t.enigmaAddress,
      tokenAddress: this.#t.tokenAddress,
      nodeUrl: url,
      trustRoot: this.#t.trustRoot,
      attestationPolicy: this.#t.attestationPolicy,
      approve: "max",
      pollIntervalMs: 100,
      resultTimeoutMs: this.#o.resultTimeoutMs ?? 60_000,
      txTimeoutMs: 60_000,
    };
    return new EnigmaClient(options);
  }

  async #user(u: number): Promise<void> {
    const contracts = this.#contracts;
    if (contracts === undefined) return;
    let gateway = u;
    let client = this.#client(u, gateway);
    try {
      while (!this.#stopping) {
        if (this.#o.tasks !== undefined && this.#stats.started >= this.#o.tasks) break;
        await this.#pace();
        if (this.#stopped()) break;
        this.#stats.started++;
        const ok = await this.#one(client, contracts);
        if (!ok) {
          // The gateway may be down: the next one, with a fresh client.
          client.close();
          gateway++;
          client = this.#client(u, gateway);
          await sleep(200 + Math.floor(this.#rnd() * 300));
        }
      }
    } finally {
      client.close();
    }
  }

  /** Runs one task; false when the failure looks like the gateway's. */
  async #one(
    client: EnigmaClient,
    contracts: { counters: Hex[]; calculator: Hex },
  ): Promise<boolean> {
    const useCounter = this.#rnd() < 0.7;
    let expectation: Omit<TaskExpectation, "taskId">;
    let task;
    if (useCounter) {
      const contract = contracts.counters[
        Math.floor(this.#rnd() * contracts.counters.length)
      ] as Hex;
      expectation = { contract, fn: "increment()", expect: { kind: "counter" } };
      task = client.computeTask(contract, "increment()", [], GAS);
    } else {
      const a = BigInt(Math.floor(this.#rnd() * 1_000_000));
      const b = BigInt(Math.floor(this.#rnd() * 1_000_000));
      const fn = "add(uint256,uint256)";
      expectation = {
        contract: contracts.calculator,
        fn,
        expect: { kind: "value", output: bytesToHex(encodeValues(["uint256"], [a + b])) },
      };
      task = client.computeTask(contracts.calculator, fn, [a, b], GAS);
    }
    let taskId: Hex | undefined;
    task.on("recorded", (e) => {
      taskId = e.taskId;
      this.#stats.recorded++;
      this.#expectations.set(e.taskId.toLowerCase(), { ...expectation, taskId: e.taskId });
    });
    try {
      const r = await task.result();
      const id = (taskId ?? r.taskId).toLowerCase();
      const e = this.#expectations.get(id) ?? { ...expectation, taskId: r.taskId };
      this.#expectations.set(id, { ...e, output: bytesToHex(r.output) });
      this.#stats.outputs++;
      return true;
    } catch (e) {
      const name = isEnigmaError(e) ? errorName(e.code) : "other";
      this.#stats.errors[name] = (this.#stats.errors[name] ?? 0) + 1;
      if (taskId === undefined) this.#stats.notRecorded++;
      else this.#stats.noResult++;
      // A task the node refused for its own reasons (skipped...) is no gateway trouble.
      return isEnigmaError(e) && !GATEWAY_TROUBLE.has(e.code);
    }
  }

  /** Read through a method: `stop()` flips it while this loop awaits. */
  #stopped(): boolean {
    return this.#stopping;
  }

  async #pace(): Promise<void> {
    const rate = this.#o.ratePerSecond;
    if (rate === undefined || rate <= 0) return;
    const now = Date.now();
    const at = Math.max(now, this.#nextStart);
    this.#nextStart = at + 1000 / rate;
    if (at > now) await sleep(at - now);
  }
}

/** Failures that say the gateway (not the task) is the trouble: try another gateway. */
const GATEWAY_TROUBLE: ReadonlySet<number> = new Set([
  ErrorCode.RpcError,
  ErrorCode.RpcTransport,
  ErrorCode.NodeNotReady,
  ErrorCode.WorkerUnknown,
  ErrorCode.PeerUnreachable,
  ErrorCode.PeerTimeout,
  ErrorCode.PeerRequestFailed,
  ErrorCode.ServerBusy,
  ErrorCode.ConnectionLimit,
]);

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A small seeded generator (the workload's choices, not security). */
function lcg(seed: string): () => number {
  let h = 2166136261;
  for (const ch of seed) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
  let s = h || 1;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}
