// The explorer's view of the network, built only from what anyone running a devnet can reach:
// the chain (events from block 0, worker and contract reads) and each node's own endpoints
// (`getTraceEvents`, `getContractDeltas`, `/metrics`; `debugTaskData` / `debugContractState`
// when the devnet turned the enclaves' debug interface on). A poll every `pollMs` refreshes it;
// every change becomes a new `ExplorerState` for the page.
import { verifyWorkerAttestation } from "@enigma/client";
import { EnigmaChain, WorkerStatus, type ChainEvent } from "@enigma/node/chain";
import type { SequencedTraceEvent } from "@enigma/node/trace";
import {
  base64Decode,
  bytesToHex,
  decodeQuote,
  getEpochPolicy,
  getSelectionStrategy,
  grainsToEng,
  isEnigmaError,
  parseAttestationReport,
  selectGroup,
  type AttestationPolicy,
  type RsaTrustRoot,
} from "@enigma/protocol";
import { JsonRpcProvider } from "ethers";
import type {
  AttestationView,
  ContractView,
  EpochView,
  ExplorerState,
  GodContractView,
  GodTaskView,
  NodeView,
  StageView,
  TaskView,
  WorkerView,
} from "./model.js";
import { byLabel, parseMetrics, total } from "./prometheus.js";

export interface ExplorerNode {
  name: string;
  role: "principal" | "worker";
  signer: string;
  custodian: string;
  rpcUrl?: string | undefined;
}

export interface CollectorOptions {
  chain: {
    rpcUrl: string;
    chainId: number;
    enigmaAddress: string;
    tokenAddress: string;
    epochBlocks?: number;
    /** The network's selection strategy and epoch policy by registry name (default Discovery's). */
    selection?: string;
    epochPolicy?: string;
  };
  nodes: readonly ExplorerNode[];
  trustRoot: RsaTrustRoot;
  attestationPolicy: AttestationPolicy;
  /** Whether the devnet turned the enclaves' debug interface on. */
  godMode: boolean;
  /** How often nodes and chain are polled (ms); 1000 by default. */
  pollMs?: number;
}

/** Bounds: a long-running devnet keeps the explorer's memory flat. */
const MAX_TASKS = 2_000;
const SHOWN_TASKS = 300;
const MAX_EPOCHS = 500;
const SHOWN_EPOCHS = 40;
const MAX_CONTRACTS = 50;
const MAX_STAGES_PER_TASK = 64;
const SERIES_POINTS = 300;
const STATUS_NAMES = [
  "undefined",
  "record created",
  "receipt verified",
  "receipt failed",
  "Ethereum call failed",
  "fee returned",
];
const WORKER_STATUS: Record<number, string> = {
  [WorkerStatus.Unregistered]: "unregistered",
  [WorkerStatus.LoggedIn]: "logged in",
  [WorkerStatus.LoggedOut]: "logged out",
};

interface TaskRow {
  taskId: string;
  sender: string;
  block: number;
  gasLimit: bigint;
  gasPx: bigint;
  status: number;
  contract: string | null;
  gasUsed: bigint | null;
  worker: string | null;
}

interface EpochRow {
  index: number;
  firstBlock: number;
  seed: bigint;
  workers: string[];
  stakes: bigint[];
}

interface ContractRow {
  address: string;
  deployedBlock: number;
  view: ContractView | undefined;
}

async function rpc(url: string, method: string, params: unknown, timeoutMs = 3_000) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const body = (await res.json()) as {
    result?: unknown;
    error?: { code: number; message: string; data?: { code?: number } };
  };
  if (body.error !== undefined) {
    const e = new Error(body.error.message) as Error & { code?: number };
    e.code = body.error.data?.code ?? body.error.code;
    throw e;
  }
  return body.result;
}

export class Collector {
  readonly #o: CollectorOptions;
  readonly #names = new Map<string, string>();
  readonly #tasks = new Map<string, TaskRow>();
  readonly #stages = new Map<string, StageView[]>();
  readonly #epochs: EpochRow[] = [];
  readonly #contracts = new Map<string, ContractRow>();
  readonly #fees = new Map<string, bigint>();
  readonly #cursors = new Map<string, number>();
  readonly #up = new Map<string, boolean>();
  readonly #metrics = new Map<string, { executed: number; pending: number }>();
  /** Per node: the per-stage sums and counts of `enigma_task_stage_seconds`. */
  readonly #stageTotals = new Map<
    string,
    { sums: Map<string, number>; counts: Map<string, number> }
  >();
  readonly #attestations = new Map<string, { report: string; view: AttestationView }>();
  readonly #workers = new Map<string, WorkerView>();
  readonly #series: ExplorerState["series"] = { t: [], tasksPerSecond: [], stageSeconds: {} };
  #previousTotals:
    { at: number; executed: number; sums: Map<string, [number, number]> } | undefined;
  #chain: EnigmaChain | undefined;
  #provider: JsonRpcProvider | undefined;
  #watch: { stop(): Promise<void> } | undefined;
  #timer: NodeJS.Timeout | undefined;
  #block = 0;
  #polling: Promise<void> | undefined;
  #stopped = false;
  /** Told after every poll that changed something. */
  onChange: ((state: ExplorerState) => void) | undefined;

  constructor(o: CollectorOptions) {
    this.#o = o;
    for (const n of o.nodes) this.#names.set(n.signer.toLowerCase(), n.name);
  }

  async start(): Promise<void> {
    const c = this.#o.chain;
    this.#chain = await EnigmaChain.connect({
      rpcUrl: c.rpcUrl,
      enigmaAddress: c.enigmaAddress,
      tokenAddress: c.tokenAddress,
      pollIntervalMs: 250,
    });
    this.#provider = new JsonRpcProvider(c.rpcUrl, undefined, {
      staticNetwork: true,
      cacheTimeout: -1,
    });
    this.#watch = this.#chain.watch({
      fromBlock: 0,
      onEvents: (events, toBlock) => {
        for (const e of events) this.#onEvent(e);
        this.#block = Math.max(this.#block, toBlock);
      },
    });
    await this.poll();
    const tick = () => {
      this.#timer = setTimeout(() => {
        void this.poll().finally(() => {
          if (!this.#stopped) tick();
        });
      }, this.#o.pollMs ?? 1_000);
      this.#timer.unref();
    };
    tick();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#polling?.catch(() => undefined);
    await this.#watch?.stop();
    this.#provider?.destroy();
    await this.#chain?.close();
  }

  /** One round of reads (nodes' traces and metrics, workers, contracts); resolves when done. */
  poll(): Promise<void> {
    this.#polling ??= this.#poll()
      .catch(() => undefined)
      .finally(() => {
        this.#polling = undefined;
      });
    return this.#polling;
  }

  async #poll(): Promise<void> {
    const chain = this.#chain;
    if (chain === undefined || this.#stopped) return;
    this.#block = Math.max(this.#block, await chain.blockNumber());
    await Promise.all(this.#o.nodes.map((n) => this.#pollNode(n)));
    await Promise.all(
      this.#o.nodes.filter((n) => n.role === "worker").map((n) => this.#pollWorker(chain, n)),
    );
    await this.#pollContracts(chain);
    this.#sample();
    this.onChange?.(this.state());
  }

  async #pollNode(n: ExplorerNode): Promise<void> {
    if (n.rpcUrl === undefined) return;
    const url = n.rpcUrl;
    try {
      for (let page = 0; page < 10; page++) {
        const r = (await rpc(url, "getTraceEvents", {
          after: this.#cursors.get(n.name) ?? 0,
          limit: 1_000,
        })) as { events: SequencedTraceEvent[]; next: number };
        // A restarted node counts from 1 again: start over with it.
        if (r.next < (this.#cursors.get(n.name) ?? 0)) this.#cursors.set(n.name, 0);
        for (const e of r.events) this.#onTrace(n.name, e);
        this.#cursors.set(n.name, r.next);
        if (r.events.length < 1_000) break;
      }
      const text = await (
        await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(3_000) })
      ).text();
      const samples = parseMetrics(text);
      this.#metrics.set(n.name, {
        executed: total(samples, "enigma_tasks_executed_total"),
        pending: total(samples, "enigma_pending_receipts"),
      });
      this.#stageTotals.set(n.name, {
        sums: byLabel(samples, "enigma_task_stage_seconds_sum", "stage"),
        counts: byLabel(samples, "enigma_task_stage_seconds_count", "stage"),
      });
      this.#up.set(n.name, true);
    } catch {
      this.#up.set(n.name, false);
    }
  }

  /** One point of the charts: tasks/s and mean seconds per stage since the previous point. */
  #sample(): void {
    const now = Date.now();
    let executed = 0;
    for (const m of this.#metrics.values()) executed += m.executed;
    const sums = new Map<string, [number, number]>();
    for (const t of this.#stageTotals.values()) {
      for (const [stage, sum] of t.sums) {
        const prev = sums.get(stage) ?? [0, 0];
        sums.set(stage, [prev[0] + sum, prev[1] + (t.counts.get(stage) ?? 0)]);
      }
    }
    const before = this.#previousTotals;
    this.#previousTotals = { at: now, executed, sums };
    if (before === undefined) return;
    const dt = (now - before.at) / 1000;
    if (dt <= 0) return;
    const s = this.#series;
    s.t.push(Math.round(now / 100) / 10);
    s.tasksPerSecond.push(Math.max(0, (executed - before.executed) / dt));
    const stages = new Set([...Object.keys(s.stageSeconds), ...sums.keys()]);
    for (const stage of stages) {
      const [sum, count] = sums.get(stage) ?? [0, 0];
      const [sum0, count0] = before.sums.get(stage) ?? [0, 0];
      const column = (s.stageSeconds[stage] ??= s.t.slice(0, -1).map(() => null));
      column.push(count > count0 ? (sum - sum0) / (count - count0) : null);
    }
    if (s.t.length > SERIES_POINTS) {
      s.t.shift();
      s.tasksPerSecond.shift();
      for (const column of Object.values(s.stageSeconds)) column.shift();
    }
  }

  async #pollWorker(chain: EnigmaChain, n: ExplorerNode): Promise<void> {
    try {
      const w = await chain.getWorker(n.custodian);
      const metrics = this.#metrics.get(n.name);
      this.#workers.set(n.name, {
        name: n.name,
        signer: n.signer,
        custodian: n.custodian,
        status: WORKER_STATUS[w.status] ?? String(w.status),
        stake: grainsToEng(w.balance),
        feesEarned: grainsToEng(this.#fees.get(n.signer.toLowerCase()) ?? 0n),
        tasksRun: metrics?.executed ?? 0,
        pendingReceipts: metrics?.pending ?? 0,
        attestation: await this.#attestation(n.signer, w.report),
      });
    } catch {
      // The chain did not answer this time: keep the last view.
    }
  }

  /** The registered report's measurement and whether it passes the devnet's policy (cached per report). */
  async #attestation(signer: string, report: string): Promise<AttestationView> {
    const known = this.#attestations.get(signer);
    if (known?.report === report) return known.view;
    let mrenclave: string | null = null;
    let status: string | null = null;
    try {
      const r = parseAttestationReport(report);
      status = r.isvEnclaveQuoteStatus;
      mrenclave = bytesToHex(
        decodeQuote(base64Decode(r.isvEnclaveQuoteBody, false, "quote")).mrenclave,
      );
    } catch {
      // Shown as unknown; the check below says why it fails.
    }
    let view: AttestationView;
    try {
      if (this.#provider === undefined) throw new Error("not started");
      // What a client does before it sends anything to this worker.
      await verifyWorkerAttestation(
        this.#provider,
        this.#o.chain.enigmaAddress,
        signer,
        this.#o.trustRoot,
        this.#o.attestationPolicy,
      );
      view = { mrenclave, status, passesPolicy: true, reason: null };
    } catch (e) {
      const check = isEnigmaError(e) ? (e.details["check"] as string | undefined) : undefined;
      const why = e instanceof Error ? e.message : String(e);
      view = {
        mrenclave,
        status,
        passesPolicy: false,
        reason: check === undefined ? why : `${check}: ${why}`,
      };
    }
    this.#attestations.set(signer, { report, view });
    return view;
  }

  async #pollContracts(chain: EnigmaChain): Promise<void> {
    const newest = [...this.#contracts.values()].slice(-MAX_CONTRACTS);
    await Promise.all(
      newest.map(async (row) => {
        try {
          const sc = await chain.getSecretContract(row.address);
          if (sc === undefined) return;
          // Paged: a long-lived contract's whole hash list does not fit one eth_call.
          const hashes = await chain.getStateDeltaHashes(row.address);
          const perNode = await Promise.all(
            this.#o.nodes
              .filter((n) => n.role === "worker" && n.rpcUrl !== undefined)
              .map(async (n) => {
                try {
                  return {
                    name: n.name,
                    r: (await rpc(n.rpcUrl ?? "", "getContractDeltas", {
                      contract: row.address,
                    })) as { codeHash: string | null; deltas: { index: number; hash: string }[] },
                  };
                } catch {
                  return { name: n.name, r: undefined };
                }
              }),
          );
          row.view = {
            address: row.address,
            owner: sc.owner,
            codeHash: sc.codeHash,
            deployedBlock: row.deployedBlock,
            deltaCount: sc.deltaCount,
            deltas: hashes.map((hash, index) => ({
              index,
              chain: hash,
              nodes: Object.fromEntries(
                perNode.map((p) => [
                  p.name,
                  p.r?.deltas.find((d) => d.index === index)?.hash ?? null,
                ]),
              ),
            })),
            nodeCodeHashes: Object.fromEntries(perNode.map((p) => [p.name, p.r?.codeHash ?? null])),
          };
        } catch {
          // Kept as it was.
        }
      }),
    );
  }

  #onEvent(e: ChainEvent): void {
    switch (e.type) {
      case "TaskRecordCreated": {
        this.#tasks.set(e.taskId, {
          taskId: e.taskId,
          sender: e.sender,
          block: e.blockNumber,
          gasLimit: e.gasLimit,
          gasPx: e.gasPx,
          status: 1,
          contract: null,
          gasUsed: null,
          worker: null,
        });
        if (this.#tasks.size > MAX_TASKS) {
          const oldest = this.#tasks.keys().next();
          if (oldest.done !== true) {
            this.#tasks.delete(oldest.value);
            this.#stages.delete(oldest.value);
          }
        }
        break;
      }
      case "ReceiptVerified": {
        const t = this.#tasks.get(e.taskId);
        if (t !== undefined) {
          t.status = 2;
          t.contract = e.scAddr;
          t.gasUsed = e.gasUsed;
          t.worker = e.workerAddress;
        }
        break;
      }
      case "ReceiptFailed":
      case "ReceiptFailedETH":
      case "TaskFeeReturned": {
        const t = this.#tasks.get(e.taskId);
        if (t !== undefined) {
          t.status = e.type === "ReceiptFailed" ? 3 : e.type === "ReceiptFailedETH" ? 4 : 5;
        }
        break;
      }
      case "WorkersParameterized":
        this.#epochs.push({
          index: e.nonce,
          firstBlock: e.firstBlockNumber,
          seed: e.seed,
          workers: e.workers,
          stakes: e.stakes,
        });
        if (this.#epochs.length > MAX_EPOCHS) this.#epochs.shift();
        break;
      case "SecretContractDeployed":
        if (!this.#contracts.has(e.scAddr)) {
          this.#contracts.set(e.scAddr, {
            address: e.scAddr,
            deployedBlock: e.blockNumber,
            view: undefined,
          });
          if (this.#contracts.size > MAX_CONTRACTS * 4) {
            const oldest = this.#contracts.keys().next();
            if (oldest.done !== true) this.#contracts.delete(oldest.value);
          }
        }
        break;
      case "ReceiptsCommitted": {
        const k = e.workerSigner.toLowerCase();
        this.#fees.set(k, (this.#fees.get(k) ?? 0n) + e.fees);
        break;
      }
      default:
        break;
    }
  }

  #onTrace(node: string, e: SequencedTraceEvent): void {
    let list = this.#stages.get(e.taskId);
    if (list === undefined) {
      list = [];
      this.#stages.set(e.taskId, list);
      // Traces of tasks the chain never recorded (made-up ids) are bounded too.
      if (this.#stages.size > MAX_TASKS * 2) {
        const oldest = this.#stages.keys().next();
        if (oldest.done !== true) this.#stages.delete(oldest.value);
      }
    }
    if (list.length >= MAX_STAGES_PER_TASK) return;
    list.push({
      node,
      stage: e.stage,
      at: e.at,
      ...(e.detail === undefined ? {} : { detail: e.detail }),
    });
  }

  /**
   * The first member of the group the network's strategy selects for `address` in `e` (undefined
   * when nobody holds stake, or when an epoch it looks back to has left the kept window).
   */
  #holder(address: string, e: EpochRow): string | undefined {
    const strategy = getSelectionStrategy(this.#o.chain.selection ?? "discovery");
    const byIndex = (i: number) => {
      const row = this.#epochs.find((x) => x.index === i);
      return row === undefined ? undefined : { ...row, index: i };
    };
    try {
      return selectGroup(address, { ...e }, strategy, byIndex)[0];
    } catch (err) {
      if (isEnigmaError(err)) return undefined;
      throw err;
    }
  }

  #name(signer: string | null | undefined): string | null {
    if (signer === null || signer === undefined) return null;
    return this.#names.get(signer.toLowerCase()) ?? signer;
  }

  /** The network as the page shows it. */
  state(): ExplorerState {
    const contracts = [...this.#contracts.values()];
    const size = this.#o.chain.epochBlocks;
    const policy = getEpochPolicy(this.#o.chain.epochPolicy ?? "discovery");
    const epochs = this.#epochs.slice(-SHOWN_EPOCHS).map((e): EpochView => {
      const end =
        size === undefined ? Number.MAX_SAFE_INTEGER : policy.nextEpochBlock(e.firstBlock, size);
      const holders: Record<string, string> = {};
      for (const c of contracts) {
        if (c.deployedBlock > end) continue;
        const w = this.#holder(c.address, e);
        if (w !== undefined) holders[c.address] = this.#name(w) ?? w;
      }
      return {
        index: e.index,
        firstBlock: e.firstBlock,
        seed: `0x${e.seed.toString(16).padStart(64, "0")}`,
        workers: e.workers.map((w, i) => ({
          signer: w,
          name: this.#name(w) ?? w,
          stake: grainsToEng(e.stakes[i] ?? 0n),
        })),
        holders,
      };
    });
    const tasks = [...this.#tasks.values()]
      .sort((a, b) => b.block - a.block)
      .slice(0, SHOWN_TASKS)
      .map((t) => this.#task(t));
    const nodes: NodeView[] = this.#o.nodes.map((n) => ({
      name: n.name,
      role: n.role,
      signer: n.signer,
      custodian: n.custodian,
      rpcUrl: n.rpcUrl ?? null,
      up: n.rpcUrl === undefined ? null : (this.#up.get(n.name) ?? false),
    }));
    return {
      updatedAt: Date.now(),
      chain: {
        rpcUrl: this.#o.chain.rpcUrl,
        chainId: this.#o.chain.chainId,
        enigmaAddress: this.#o.chain.enigmaAddress,
        tokenAddress: this.#o.chain.tokenAddress,
        block: this.#block,
        epochBlocks: this.#o.chain.epochBlocks ?? null,
      },
      godMode: this.#o.godMode,
      nodes,
      workers: this.#o.nodes
        .filter((n) => n.role === "worker")
        .map((n) => this.#workers.get(n.name))
        .filter((w): w is WorkerView => w !== undefined),
      epochs,
      contracts: contracts
        .slice(-MAX_CONTRACTS)
        .map((c) => c.view)
        .filter((v): v is ContractView => v !== undefined),
      tasks,
      series: this.#series,
    };
  }

  #task(t: TaskRow): TaskView {
    const stages = [...(this.#stages.get(t.taskId) ?? [])].sort((a, b) => a.at - b.at);
    const input = stages.find((s) => s.stage === "input-accepted" || s.stage === "input-heard");
    const executed = stages.find((s) => s.stage === "executed");
    const contract =
      t.contract ??
      (typeof input?.detail?.["contract"] === "string" ? input.detail["contract"] : null);
    const kind = input?.detail?.["kind"];
    const gasUsed =
      t.gasUsed ??
      (typeof executed?.detail?.["gasUsed"] === "string" && t.status >= 2 && t.status <= 4
        ? BigInt(executed.detail["gasUsed"])
        : null);
    const fee = t.gasLimit * t.gasPx;
    const settled = t.status >= 2 && t.status <= 4 && gasUsed !== null;
    return {
      taskId: t.taskId,
      sender: t.sender,
      contract,
      kind: kind === "deploy" || kind === "compute" ? kind : null,
      block: t.block,
      status: t.status,
      statusName: STATUS_NAMES[t.status] ?? String(t.status),
      gasLimit: t.gasLimit.toString(),
      gasPx: t.gasPx.toString(),
      gasUsed: gasUsed?.toString() ?? null,
      fee: {
        total: fee.toString(),
        worker: settled ? (gasUsed * t.gasPx).toString() : t.status === 5 ? "0" : null,
        refund: settled
          ? (fee - gasUsed * t.gasPx).toString()
          : t.status === 5
            ? fee.toString()
            : null,
      },
      worker: this.#name(t.worker) ?? executed?.node ?? null,
      stages,
    };
  }

  /** A worker's decrypted view of a task (devnets with the debug interface on). */
  async godTask(taskId: string): Promise<GodTaskView> {
    const row = this.#tasks.get(taskId);
    const ran = this.#stages.get(taskId)?.find((s) => s.stage === "executed")?.node;
    const preferred = this.#name(row?.worker) ?? ran;
    return this.#askWorkers(preferred, "debugTaskData", { taskId });
  }

  /** A worker's plaintext state of a contract (devnets with the debug interface on). */
  async godContract(address: string): Promise<GodContractView> {
    const last = this.#epochs.at(-1);
    const holder = last === undefined ? undefined : this.#holder(address, last);
    return this.#askWorkers(this.#name(holder) ?? undefined, "debugContractState", {
      contract: address,
    });
  }

  /** Asks `preferred` first, then the other workers; the last error when none can answer. */
  async #askWorkers<T>(preferred: string | undefined, method: string, params: unknown): Promise<T> {
    const workers = this.#o.nodes
      .filter((n) => n.role === "worker" && n.rpcUrl !== undefined)
      .sort((a, b) => Number(b.name === preferred) - Number(a.name === preferred));
    let last: unknown = new Error("no worker node to ask");
    for (const n of workers) {
      try {
        const r = (await rpc(n.rpcUrl ?? "", method, params)) as Record<string, unknown>;
        return { ...r, node: n.name } as T;
      } catch (e) {
        last = e;
        // A disabled debug interface is the same on every node: say so at once.
        if ((e as { code?: number }).code === 490) break;
      }
    }
    throw last;
  }
}
