// The invariant checker (issue 16): run against a devnet's chain and nodes after a workload,
// it proves that nothing was lost or counted twice, whatever faults happened meanwhile.
//
//   tasks-settled     every task recorded is committed (status 2, 3 or 4), or was refunded (5)
//                     after its timeout; none is left pending past its timeout
//   settled-once      no task has two settlements (receipt events and refunds)
//   no-stale-receipts no node keeps a receipt queued for a task the chain settled
//   deltas-match      every node stores every contract's code and exactly the deltas on chain
//   state-rebuilds    every worker holding a contract's state key rebuilds its state from the
//                     deltas it stores, checked against the chain's hashes (and at least one can)
//   eng-conserved     minted ENG = the holders' balances; the Enigma contract's ENG = the
//                     workers' stakes + the fees held for pending tasks
//   outputs-correct   a decrypted output equals what the function gives for its inputs (the
//                     workload knows); a counter's committed increments count 1, 2, 3... in
//                     delta order
//
// Tasks still inside their timeout are waited for (`settleMs`); with `refundKey`, tasks past
// their timeout are refunded first, as their senders would (anyone may call returnFeesForTask).
// The report names each violation with its task ids, node, contract, and the faults recorded
// around it.
import {
  ENIGMA_ABI,
  ENIGMA_TOKEN_ABI,
  EnigmaError,
  ErrorCode,
  isEnigmaError,
  type Hex,
} from "@enigma/protocol";
import { adminCall } from "@enigma/node/admin-client";
import { EnigmaChain } from "@enigma/node/chain";
import { Contract, JsonRpcProvider, Wallet } from "ethers";

export const INVARIANTS = [
  "tasks-settled",
  "settled-once",
  "no-stale-receipts",
  "deltas-match",
  "state-rebuilds",
  "eng-conserved",
  "outputs-correct",
] as const;
export type InvariantName = (typeof INVARIANTS)[number];

/** A fault as the devnet's nemesis records it (`FaultEvent`): only what the report shows. */
export interface FaultRecord {
  at: number;
  kind: string;
  target: string;
  detail?: string;
}

/** What the workload knows of one task it ran. */
export interface TaskExpectation {
  taskId: Hex;
  contract: Hex;
  /** The function's signature, e.g. `add(uint256,uint256)`. */
  fn: string;
  /**
   * What the function gives: `value`, the exact output bytes (hex) for these inputs; `counter`,
   * a counter's increment, whose output (a big-endian u64) equals the delta index it was
   * committed at.
   */
  expect: { kind: "value"; output: Hex } | { kind: "counter" };
  /** The decrypted output the user got (hex), when it got one. */
  output?: Hex;
}

export interface CheckTarget {
  rpcUrl: string;
  enigmaAddress: string;
  tokenAddress: string;
  /** The nodes to ask (their admin endpoints). */
  nodes: readonly { name: string; role?: string; adminUrl?: string }[];
}

export interface CheckOptions {
  expectations?: readonly TaskExpectation[];
  /** Faults that happened (the nemesis's history), to name those around a violation. */
  faults?: readonly FaultRecord[];
  /** Refunds tasks pending past their timeout with this key before judging. */
  refundKey?: string;
  /** Waits up to this long for pending tasks inside their timeout to settle (ms). Default 120000. */
  settleMs?: number;
  /** Waits up to this long for nodes to catch up (receipts dropped, deltas synced) (ms). Default 30000. */
  quiesceMs?: number;
  /** Faults within this much of a task's record and settlement are "around" it (ms). Default 15000. */
  faultWindowMs?: number;
  onProgress?: (message: string) => void;
}

export interface Violation {
  invariant: InvariantName;
  message: string;
  taskIds?: string[];
  node?: string;
  contract?: string;
  /** Faults recorded around the tasks named. */
  faults?: FaultRecord[];
}

export interface InvariantResult {
  name: InvariantName;
  passed: boolean;
  /** How many things were checked (tasks, node x contract pairs...). */
  checked: number;
  violations: Violation[];
}

export interface CheckReport {
  ok: boolean;
  head: number;
  tasks: {
    recorded: number;
    committed: number;
    failed: number;
    ethFailed: number;
    refunded: number;
    /** Refunded by this check (pending past their timeout). */
    refundedByCheck: number;
    pending: number;
    /** Tasks whose user got an output that was never committed (refunded after all). */
    outputsNotCommitted: number;
    /** Their ids. */
    outputsNotCommittedIds: string[];
  };
  contracts: number;
  nodes: number;
  faults: number;
  invariants: InvariantResult[];
  durationMs: number;
}

interface TaskFacts {
  taskId: string;
  recordBlock: number;
  fee: bigint;
  status: number;
  settlements: { type: string; block: number }[];
  /** ReceiptVerified: the contract and delta index it committed. */
  scAddr?: string;
  deltaIndex?: number;
  hasDelta?: boolean;
}

const ZERO32 = /^0x0*$/;

/**
 * Runs every invariant against the chain and nodes of `target`.
 *
 * @example
 * const report = await runChecks(
 *   { rpcUrl, enigmaAddress, tokenAddress, nodes: info.nodes },
 *   { expectations: workload.expectations, faults: devnet.faults.history, refundKey },
 * );
 * if (!report.ok) console.log(formatReport(report));
 */
export async function runChecks(target: CheckTarget, o: CheckOptions = {}): Promise<CheckReport> {
  const started = Date.now();
  const progress = o.onProgress ?? (() => undefined);
  const chain = await EnigmaChain.connect({
    rpcUrl: target.rpcUrl,
    enigmaAddress: target.enigmaAddress,
    tokenAddress: target.tokenAddress,
  });
  const provider = new JsonRpcProvider(target.rpcUrl, undefined, {
    staticNetwork: true,
    cacheTimeout: -1,
  });
  try {
    const ctx = new Context(chain, provider, target, o);
    progress("reading task records");
    await ctx.load();
    await ctx.settle(progress);
    progress("checking nodes");
    const results: InvariantResult[] = [
      ctx.tasksSettled(),
      ctx.settledOnce(),
      await ctx.noStaleReceipts(),
      ...(await ctx.deltasAndRebuilds()),
      await ctx.engConserved(),
      ctx.outputsCorrect(),
    ];
    await ctx.attachFaults(results);
    const t = ctx.taskCounts();
    return {
      ok: results.every((r) => r.passed),
      head: ctx.head,
      tasks: t,
      contracts: ctx.contracts.length,
      nodes: target.nodes.length,
      faults: o.faults?.length ?? 0,
      invariants: results,
      durationMs: Date.now() - started,
    };
  } finally {
    provider.destroy();
    await chain.close();
  }
}

class Context {
  readonly chain: EnigmaChain;
  readonly provider: JsonRpcProvider;
  readonly target: CheckTarget;
  readonly o: CheckOptions;
  readonly tasks = new Map<string, TaskFacts>();
  contracts: string[] = [];
  head = 0;
  refundedByCheck = 0;
  readonly #blockTimes = new Map<number, number>();

  constructor(chain: EnigmaChain, provider: JsonRpcProvider, target: CheckTarget, o: CheckOptions) {
    this.chain = chain;
    this.provider = provider;
    this.target = target;
    this.o = o;
  }

  /** Reads every task record and settlement from the chain's events, then each task's status. */
  async load(): Promise<void> {
    this.tasks.clear();
    this.head = await this.chain.blockNumber();
    const events = await this.chain.getEvents(0, this.head);
    for (const e of events) {
      if (e.type === "TaskRecordCreated") {
        this.tasks.set(e.taskId.toLowerCase(), {
          taskId: e.taskId.toLowerCase(),
          recordBlock: e.blockNumber,
          fee: e.gasLimit * e.gasPx,
          status: 1,
          settlements: [],
        });
        continue;
      }
      if (
        e.type !== "ReceiptVerified" &&
        e.type !== "ReceiptFailed" &&
        e.type !== "ReceiptFailedETH" &&
        e.type !== "TaskFeeReturned"
      ) {
        continue;
      }
      const t = this.tasks.get(e.taskId.toLowerCase());
      if (t === undefined) continue;
      t.settlements.push({ type: e.type, block: e.blockNumber });
      if (e.type === "ReceiptVerified") {
        t.scAddr = e.scAddr.toLowerCase();
        t.deltaIndex = e.deltaHashIndex;
        t.hasDelta = !ZERO32.test(e.stateDeltaHash);
      }
    }
    // Statuses as of the same block as the events (tasks still settle while this reads).
    const enigma = new Contract(this.target.enigmaAddress, ENIGMA_ABI, this.provider);
    const getTaskRecord = enigma.getFunction("getTaskRecord");
    await inBatches([...this.tasks.values()], 16, async (t) => {
      const r = (await getTaskRecord(t.taskId, { blockTag: this.head })) as { status: bigint };
      t.status = Number(r.status);
    });
    this.contracts = (await this.chain.secretContractAddresses()).map((c) => c.toLowerCase());
  }

  /**
   * Waits for tasks inside their timeout to settle (the devnet keeps mining), refunds those
   * past it when a key is given, and reads everything again.
   */
  async settle(progress: (m: string) => void): Promise<void> {
    const until = Date.now() + (this.o.settleMs ?? 120_000);
    const timeout = this.chain.taskTimeout;
    for (;;) {
      const pending = [...this.tasks.values()].filter((t) => t.status === 1);
      const due = pending.filter((t) => this.head >= t.recordBlock + timeout + 1);
      const inTime = pending.filter((t) => this.head < t.recordBlock + timeout + 1);
      if (due.length > 0 && this.o.refundKey !== undefined) {
        progress(`refunding ${due.length} tasks pending past their timeout`);
        await this.#refund(due);
        await this.load();
        continue;
      }
      if (inTime.length === 0 || Date.now() > until) return;
      progress(`waiting for ${inTime.length} pending tasks to settle or time out`);
      await sleep(1_000);
      await this.load();
    }
  }

  async #refund(tasks: readonly TaskFacts[]): Promise<void> {
    const key = this.o.refundKey;
    if (key === undefined) return;
    const enigma = new Contract(
      this.target.enigmaAddress,
      ENIGMA_ABI,
      new Wallet(key, this.provider),
    );
    for (const t of tasks) {
      try {
        const tx = (await enigma.getFunction("returnFeesForTask")(t.taskId)) as {
          wait(): Promise<unknown>;
        };
        await tx.wait();
        this.refundedByCheck++;
      } catch {
        // Settled meanwhile (a late receipt): the next read says so.
      }
    }
  }

  taskCounts(): CheckReport["tasks"] {
    const all = [...this.tasks.values()];
    const outputs = new Set(
      (this.o.expectations ?? [])
        .filter((e) => e.output !== undefined)
        .map((e) => e.taskId.toLowerCase()),
    );
    return {
      recorded: all.length,
      committed: all.filter((t) => t.status === 2).length,
      failed: all.filter((t) => t.status === 3).length,
      ethFailed: all.filter((t) => t.status === 4).length,
      refunded: all.filter((t) => t.status === 5).length,
      refundedByCheck: this.refundedByCheck,
      pending: all.filter((t) => t.status === 1).length,
      outputsNotCommitted: all.filter((t) => t.status === 5 && outputs.has(t.taskId)).length,
      outputsNotCommittedIds: all
        .filter((t) => t.status === 5 && outputs.has(t.taskId))
        .map((t) => t.taskId),
    };
  }

  tasksSettled(): InvariantResult {
    const timeout = this.chain.taskTimeout;
    const violations: Violation[] = [];
    for (const t of this.tasks.values()) {
      if (t.status === 2 || t.status === 3 || t.status === 4) continue;
      if (t.status === 5) {
        const refund = t.settlements.find((s) => s.type === "TaskFeeReturned");
        if (refund !== undefined && refund.block >= t.recordBlock + timeout + 1) continue;
        violations.push(
          this.#violation("tasks-settled", `refunded before its timeout`, [t.taskId]),
        );
        continue;
      }
      const past = this.head >= t.recordBlock + timeout + 1;
      violations.push(
        this.#violation(
          "tasks-settled",
          past
            ? `pending ${this.head - t.recordBlock} blocks after its record, past its timeout (${timeout}): stuck, not refunded`
            : `still pending inside its timeout when the check gave up waiting`,
          [t.taskId],
        ),
      );
    }
    return result("tasks-settled", this.tasks.size, violations);
  }

  settledOnce(): InvariantResult {
    const violations: Violation[] = [];
    for (const t of this.tasks.values()) {
      if (t.settlements.length > 1) {
        violations.push(
          this.#violation(
            "settled-once",
            `settled ${t.settlements.length} times (${t.settlements.map((s) => `${s.type}@${s.block}`).join(", ")})`,
            [t.taskId],
          ),
        );
      } else if ((t.status === 1) !== (t.settlements.length === 0)) {
        violations.push(
          this.#violation(
            "settled-once",
            `status ${t.status} disagrees with its ${t.settlements.length} settlement events`,
            [t.taskId],
          ),
        );
      }
    }
    return result("settled-once", this.tasks.size, violations);
  }

  async noStaleReceipts(): Promise<InvariantResult> {
    const nodes = this.target.nodes.filter((n) => n.adminUrl !== undefined);
    const stale = async () => {
      const out: Violation[] = [];
      for (const n of nodes) {
        let pending: { taskId: string }[];
        try {
          const s = (await admin(n.adminUrl ?? "", "admin_status", {})) as {
            pendingReceipts: { taskId: string }[];
          };
          pending = s.pendingReceipts;
        } catch (e) {
          out.push({
            invariant: "no-stale-receipts",
            message: `admin endpoint does not answer: ${errText(e)}`,
            node: n.name,
          });
          continue;
        }
        const settled = pending.filter(
          (r) => (this.tasks.get(r.taskId.toLowerCase())?.status ?? 1) !== 1,
        );
        if (settled.length > 0) {
          out.push(
            this.#violation(
              "no-stale-receipts",
              `${settled.length} receipts queued for tasks settled on chain`,
              settled.map((r) => r.taskId),
              { node: n.name },
            ),
          );
        }
      }
      return out;
    };
    // A node drops a receipt of a settled task at its next commit (the end of an epoch).
    const violations = await until(stale, this.o.quiesceMs ?? 30_000);
    return result("no-stale-receipts", nodes.length, violations);
  }

  async deltasAndRebuilds(): Promise<InvariantResult[]> {
    const nodes = this.target.nodes.filter((n) => n.adminUrl !== undefined);
    const onChain = new Map<string, { codeHash: string; hashes: string[] }>();
    for (const c of this.contracts) {
      const sc = await this.chain.getSecretContract(c);
      if (sc === undefined) continue;
      const hashes = await this.chain.getStateDeltaHashes(c);
      onChain.set(c, {
        codeHash: sc.codeHash.toLowerCase(),
        hashes: hashes.map((h) => h.toLowerCase()),
      });
    }
    const mismatches = async () => {
      const out: Violation[] = [];
      for (const n of nodes) {
        for (const [c, want] of onChain) {
          let got: { codeHash: string | null; deltaCount: number; deltaHashes: string[] };
          try {
            got = await contractOf(n.adminUrl ?? "", c);
          } catch (e) {
            out.push({
              invariant: "deltas-match",
              message: `admin endpoint does not answer: ${errText(e)}`,
              node: n.name,
              contract: c,
            });
            break;
          }
          const problems: string[] = [];
          if (got.codeHash !== want.codeHash) {
            problems.push(got.codeHash === null ? "no code" : "code hash differs from the chain's");
          }
          const firstDiff = want.hashes.findIndex((h, i) => got.deltaHashes[i] !== h);
          if (got.deltaCount < want.hashes.length) {
            problems.push(`${got.deltaCount} of ${want.hashes.length} committed deltas`);
          } else if (firstDiff !== -1) {
            problems.push(`delta ${firstDiff} differs from the chain's`);
          }
          if (got.deltaCount > want.hashes.length) {
            problems.push(
              `${got.deltaCount - want.hashes.length} deltas beyond the ${want.hashes.length} on chain`,
            );
          }
          if (problems.length > 0) {
            out.push({
              invariant: "deltas-match",
              message: problems.join("; "),
              node: n.name,
              contract: c,
            });
          }
        }
      }
      return out;
    };
    const deltaViolations = await until(mismatches, this.o.quiesceMs ?? 30_000);
    const rebuildViolations: Violation[] = [];
    let rebuildChecks = 0;
    for (const [c, want] of onChain) {
      let rebuilt = 0;
      for (const n of nodes) {
        rebuildChecks++;
        let r: { rebuilt: boolean; reason?: string; message?: string; deltas: number };
        try {
          r = (await admin(n.adminUrl ?? "", "admin_rebuild", {
            address: c,
            expectedHashes: want.hashes,
          })) as typeof r;
        } catch (e) {
          rebuildViolations.push({
            invariant: "state-rebuilds",
            message: `admin endpoint does not answer: ${errText(e)}`,
            node: n.name,
            contract: c,
          });
          continue;
        }
        if (r.rebuilt) rebuilt++;
        else if (r.reason === "failed") {
          rebuildViolations.push({
            invariant: "state-rebuilds",
            message: `rebuilding failed: ${r.message ?? ""}`,
            node: n.name,
            contract: c,
          });
        }
      }
      if (rebuilt === 0 && nodes.some((n) => n.role !== "principal")) {
        rebuildViolations.push({
          invariant: "state-rebuilds",
          message:
            "no node could rebuild the contract's state (no worker holds its state key and deltas)",
          contract: c,
        });
      }
    }
    return [
      result("deltas-match", nodes.length * onChain.size, deltaViolations),
      result("state-rebuilds", rebuildChecks, rebuildViolations),
    ];
  }

  async engConserved(): Promise<InvariantResult> {
    const violations: Violation[] = [];
    const token = new Contract(this.target.tokenAddress, ENIGMA_TOKEN_ABI, this.provider);
    const enigma = new Contract(this.target.enigmaAddress, ENIGMA_ABI, this.provider);
    const head = this.head;
    const transfers = await token.queryFilter(token.getEvent("Transfer"), 0, head);
    const holders = new Set<string>();
    let minted = 0n;
    for (const l of transfers) {
      if (!("args" in l)) continue;
      const [from, to, value] = l.args as unknown as [string, string, bigint];
      if (/^0x0{40}$/i.test(from)) minted += value;
      holders.add(to.toLowerCase());
      holders.add(from.toLowerCase());
    }
    holders.delete("0x0000000000000000000000000000000000000000");
    const at = { blockTag: head };
    const balanceOf = token.getFunction("balanceOf");
    const balances: bigint[] = [];
    await inBatches([...holders], 16, async (h) => {
      balances.push((await balanceOf(h, at)) as bigint);
    });
    const held = balances.reduce((a, b) => a + b, 0n);
    const supply = (await token.getFunction("totalSupply")(at)) as bigint;
    if (supply !== minted) {
      violations.push({
        invariant: "eng-conserved",
        message: `total supply ${supply} differs from the ENG minted (${minted})`,
      });
    }
    if (held !== supply) {
      violations.push({
        invariant: "eng-conserved",
        message: `holders' balances add up to ${held}, the supply is ${supply}`,
      });
    }
    // The Enigma contract holds exactly the workers' stakes and the pending tasks' fees.
    const registered = await enigma.queryFilter(enigma.getEvent("Registered"), 0, head);
    const custodians = new Set<string>();
    for (const l of registered) {
      if ("args" in l) custodians.add((l.args as unknown as [string])[0].toLowerCase());
    }
    let stakes = 0n;
    const getWorker = enigma.getFunction("getWorker");
    for (const c of custodians) {
      const w = (await getWorker(c, at)) as { balance: bigint };
      stakes += w.balance;
    }
    let escrow = 0n;
    for (const t of this.tasks.values()) if (t.status === 1) escrow += t.fee;
    const contractBalance = (await balanceOf(this.target.enigmaAddress, at)) as bigint;
    if (contractBalance !== stakes + escrow) {
      violations.push({
        invariant: "eng-conserved",
        message: `the Enigma contract holds ${contractBalance} grains; stakes ${stakes} + open escrows ${escrow} = ${stakes + escrow}`,
      });
    }
    return result("eng-conserved", holders.size + custodians.size, violations);
  }

  outputsCorrect(): InvariantResult {
    const violations: Violation[] = [];
    let checked = 0;
    for (const e of this.o.expectations ?? []) {
      if (e.output === undefined) continue;
      const t = this.tasks.get(e.taskId.toLowerCase());
      if (e.expect.kind === "value") {
        checked++;
        if (e.output.toLowerCase() !== e.expect.output.toLowerCase()) {
          violations.push(
            this.#violation(
              "outputs-correct",
              `${e.fn} gave ${e.output}, the function gives ${e.expect.output}`,
              [e.taskId],
              { contract: e.contract },
            ),
          );
        }
        continue;
      }
      // A counter: its committed increments must count in delta order.
      if (t?.status !== 2 || t.deltaIndex === undefined) continue;
      checked++;
      const got = u64(e.output);
      if (got !== BigInt(t.deltaIndex)) {
        violations.push(
          this.#violation(
            "outputs-correct",
            `the increment committed as delta ${t.deltaIndex} answered ${got === undefined ? e.output : got.toString()}`,
            [e.taskId],
            { contract: e.contract },
          ),
        );
      }
    }
    return result("outputs-correct", checked, violations);
  }

  #violation(
    invariant: InvariantName,
    message: string,
    taskIds: string[],
    extra: { node?: string; contract?: string } = {},
  ): Violation {
    return { invariant, message, taskIds, ...extra };
  }

  /** Names the faults recorded around each violation's tasks (block times read as needed). */
  async attachFaults(results: readonly InvariantResult[]): Promise<void> {
    if ((this.o.faults?.length ?? 0) === 0) return;
    const blocks = new Set<number>();
    for (const v of results.flatMap((r) => r.violations)) {
      for (const id of v.taskIds ?? []) {
        const t = this.tasks.get(id.toLowerCase());
        if (t === undefined) continue;
        blocks.add(t.recordBlock);
        const last = t.settlements.at(-1)?.block;
        if (last !== undefined) blocks.add(last);
      }
    }
    await this.timeBlocks(blocks);
    for (const v of results.flatMap((r) => r.violations)) {
      if (v.taskIds === undefined) continue;
      const faults = this.#faultsAround(v.taskIds);
      if (faults.length > 0) v.faults = faults;
    }
  }

  /** Faults recorded between a task's record and its settlement (or now), with a margin. */
  #faultsAround(taskIds: readonly string[]): FaultRecord[] {
    const faults = this.o.faults ?? [];
    if (faults.length === 0) return [];
    const margin = this.o.faultWindowMs ?? 15_000;
    const out = new Set<FaultRecord>();
    for (const id of taskIds) {
      const t = this.tasks.get(id.toLowerCase());
      if (t === undefined) continue;
      const from = this.#blockTimes.get(t.recordBlock);
      const last = t.settlements.at(-1)?.block;
      const to = last === undefined ? Date.now() : this.#blockTimes.get(last);
      for (const f of faults) {
        if (
          (from === undefined || f.at >= from - margin) &&
          (to === undefined || f.at <= to + margin)
        ) {
          out.add(f);
        }
      }
    }
    return [...out].sort((a, b) => a.at - b.at);
  }

  /** Block timestamps of the tasks named in violations (for `#faultsAround`). */
  async timeBlocks(blocks: Iterable<number>): Promise<void> {
    for (const b of blocks) {
      if (this.#blockTimes.has(b)) continue;
      const block = await this.provider.getBlock(b);
      if (block !== null) this.#blockTimes.set(b, block.timestamp * 1000);
    }
  }
}

function result(name: InvariantName, checked: number, violations: Violation[]): InvariantResult {
  return { name, passed: violations.length === 0, checked, violations };
}

/** Re-runs `probe` until it finds nothing or `ms` passed; returns its last findings. */
async function until(probe: () => Promise<Violation[]>, ms: number): Promise<Violation[]> {
  const end = Date.now() + ms;
  for (;;) {
    const found = await probe();
    if (found.length === 0 || Date.now() > end) return found;
    await sleep(1_000);
  }
}

async function contractOf(
  url: string,
  address: string,
): Promise<{ codeHash: string | null; deltaCount: number; deltaHashes: string[] }> {
  const hashes: string[] = [];
  let first: { codeHash: string | null; deltaCount: number } | undefined;
  for (;;) {
    const r = (await admin(url, "admin_contract", { address, from: hashes.length })) as {
      codeHash: string | null;
      deltaCount: number;
      deltaHashes: string[];
    };
    first ??= r;
    hashes.push(...r.deltaHashes.map((h) => h.toLowerCase()));
    if (r.deltaHashes.length === 0 || hashes.length >= r.deltaCount) break;
  }
  return {
    codeHash: first.codeHash?.toLowerCase() ?? null,
    deltaCount: first.deltaCount,
    deltaHashes: hashes,
  };
}

/** One call to a node's admin endpoint (30 s: a rebuild of a long history takes a while). */
export function admin(url: string, method: string, params: unknown): Promise<unknown> {
  return adminCall(url, method, params, 30_000);
}

function u64(hex: string): bigint | undefined {
  const h = hex.replace(/^0x/, "");
  if (h.length !== 16) return undefined;
  return BigInt(`0x${h}`);
}

async function inBatches<T>(
  xs: readonly T[],
  n: number,
  fn: (x: T) => Promise<void>,
): Promise<void> {
  for (let i = 0; i < xs.length; i += n) await Promise.all(xs.slice(i, i + n).map(fn));
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function errText(e: unknown): string {
  return isEnigmaError(e) || e instanceof Error ? e.message : String(e);
}

/** The report as a person reads it: one line per invariant, then each violation. */
export function formatReport(r: CheckReport): string {
  const lines: string[] = [];
  const t = r.tasks;
  lines.push(
    `checked at block ${r.head}: ${t.recorded} tasks (${t.committed} committed, ${t.failed} failed, ${t.ethFailed} Ethereum-call failures, ${t.refunded} refunded${t.refundedByCheck > 0 ? `, ${t.refundedByCheck} of them by this check` : ""}, ${t.pending} pending), ${r.contracts} contracts, ${r.nodes} nodes, ${r.faults} faults, in ${(r.durationMs / 1000).toFixed(1)} s`,
  );
  if (t.outputsNotCommitted > 0) {
    lines.push(
      `  ${t.outputsNotCommitted} tasks gave their user an output and were refunded (their work was lost, their fee returned)`,
    );
  }
  for (const inv of r.invariants) {
    lines.push(
      `${inv.passed ? "PASS" : "FAIL"}  ${inv.name.padEnd(18)} ${inv.checked} checked${inv.passed ? "" : `, ${inv.violations.length} violations`}`,
    );
    for (const v of inv.violations.slice(0, 50)) {
      const where = [
        v.node === undefined ? undefined : `node ${v.node}`,
        v.contract === undefined ? undefined : `contract ${v.contract}`,
        v.taskIds === undefined ? undefined : `tasks ${v.taskIds.join(", ")}`,
      ].filter((x) => x !== undefined);
      lines.push(`      - ${v.message}${where.length > 0 ? ` (${where.join("; ")})` : ""}`);
      for (const f of v.faults ?? []) {
        lines.push(
          `          fault ${new Date(f.at).toISOString()} ${f.kind} ${f.target}${f.detail === undefined ? "" : ` (${f.detail})`}`,
        );
      }
    }
    if (inv.violations.length > 50) lines.push(`      ... ${inv.violations.length - 50} more`);
  }
  lines.push(
    r.ok
      ? "no violations"
      : `${r.invariants.reduce((n, i) => n + i.violations.length, 0)} violations`,
  );
  return `${lines.join("\n")}\n`;
}

/** Throws `InvariantViolated` (with the report in its details) when the report has violations. */
export function assertNoViolations(r: CheckReport): void {
  if (r.ok) return;
  throw new EnigmaError(ErrorCode.InvariantViolated, formatReport(r), {
    details: { violations: r.invariants.flatMap((i) => i.violations) },
  });
}
