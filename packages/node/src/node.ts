// One node program, three roles: principal, worker, gateway (a node can be a worker and a
// gateway at once). `EnigmaNode` builds the node's services from its resolved config, starts
// them in dependency order and stops them in reverse.
import { join } from "node:path";
import {
  EnigmaError,
  ErrorCode,
  SignerVerifier,
  TaskResultStatus,
  receiptBatchDigest,
  bytesToHex,
  checkRegistrationBinding,
  concatBytes,
  engToGrains,
  getEpochPolicy,
  getSelectionStrategy,
  hexToBytes,
  isEnigmaError,
  keccak256,
  parseTrustRoot,
  toRpcHex,
  type Hex,
} from "@enigma/protocol";
import {
  PrincipalEnclave,
  WorkerEnclave,
  devnetAttestationPolicy,
  fetchTrustRoot,
  remoteAttester,
} from "@enigma/enclave";
import type { z } from "zod";
import { AdminServer } from "./admin/server.js";
import { adminMethods } from "./admin/methods.js";
import { EnigmaChain, type ChainEvent } from "./chain/enigma-chain.js";
import type { NodeConfig } from "./config.js";
import { recordOfEvent, type NodeContext, type NodePolicy, type RecordInfo } from "./context.js";
import { PeerDirectory } from "./directory.js";
import { Gateway } from "./gateway.js";
import {
  PROTOCOLS,
  TOPICS,
  checkResultShape,
  decodeMessage,
  decodePreCode,
  receiptOf,
  taskInputSchema,
  taskResultSchema,
  type TaskInput,
  type TaskResult,
} from "./messages.js";
import { FaultPoints } from "./faults.js";
import { NodeMetrics, createLogger, type Logger } from "./observability.js";
import { inspectionMethods } from "./rpc/inspect.js";
import { TaskTraceLog } from "./trace/trace.js";
import { stageObserver } from "./trace/trace-metrics.js";
import { TracedAdmission, TracedExecution, TracedPublisher } from "./trace/traced-stages.js";
import { P2PNetwork, type GossipVerdict } from "./p2p/network.js";
import { PrincipalService } from "./principal.js";
import { AheadResults } from "./recovery/ahead-results.js";
import { PredecessorDeltas } from "./recovery/predecessors.js";
import { InputRedelivery } from "./recovery/redelivery.js";
import { ResultRecovery } from "./recovery/results.js";
import { RpcServer } from "./rpc/server.js";
import { NodeStore } from "./store/store.js";
import { NodeSelection } from "./selection.js";
import { DeltaSync } from "./sync.js";
import { InputDelivery } from "./tasks/delivery.js";
import { HeldInputs } from "./tasks/held-inputs.js";
import { RecordBook, type KnownRecord } from "./tasks/record-book.js";
import { ReadBudget, TaskValidator } from "./tasks/validator.js";
import { nodeContractSource } from "./worker/contract-source.js";
import type { Execution } from "./worker/execution.js";
import { TaskPipeline, resultData } from "./worker/pipeline.js";
import { ReceiptBatcher } from "./worker/receipts.js";
import { StateKeyClient } from "./worker/state-keys.js";

export interface EnigmaNodeOptions {
  /** A logger to use instead of one built from `config.logLevel`. */
  logger?: Logger;
}

/** Where a started node can be reached. */
export interface NodeEndpoints {
  peerId: string;
  multiaddrs: string[];
  rpcUrl: string | undefined;
  /** The admin endpoint (config `admin`), never the public one. */
  adminUrl?: string;
  signer: Hex | undefined;
  roles: NodeConfig["roles"];
}

const CURSOR = "chainCursor";
const ZERO_HASH: Hex = `0x${"00".repeat(32)}`;
/** Gossip messages carry inputs with pre-code up to the RPC limit (8 MiB of base64). */
const MAX_GOSSIP_BYTES = 10 * 1024 * 1024;
const LOCAL_FAILURES: ReadonlySet<number> = new Set([
  ErrorCode.ChainError,
  ErrorCode.NodeNotReady,
  ErrorCode.StoreNotOpen,
]);

/**
 * @example
 * const node = new EnigmaNode(resolveNodeConfig(json));
 * await node.start();
 * console.log(node.endpoints());
 * await node.stop();
 */
export class EnigmaNode {
  readonly config: NodeConfig;
  readonly metrics: NodeMetrics;
  readonly log: Logger;
  /** What this node saw of each task and when (bounded; `getTaskTrace`, `getTraceEvents`). */
  readonly trace: TaskTraceLog;
  #ctx: NodeContext | undefined;
  #worker: WorkerEnclave | undefined;
  #principalEnclave: PrincipalEnclave | undefined;
  #sync: DeltaSync | undefined;
  #pipeline: TaskPipeline | undefined;
  #execution: Execution | undefined;
  #batcher: ReceiptBatcher | undefined;
  #principal: PrincipalService | undefined;
  #rpc: RpcServer | undefined;
  #admin: AdminServer | undefined;
  /** Test fault points (only with `admin.faults`). */
  readonly #faults: FaultPoints | undefined;
  #watcher: { stop(): Promise<void> } | undefined;
  #stops: (() => Promise<void>)[] = [];
  /** Task records heard from the watcher (or read once): the validator's first source. */
  readonly #book = new RecordBook();
  /** The one check of task inputs, whose record lookup results use too (set by start). */
  #validator: TaskValidator | undefined;
  #admission: TracedAdmission | undefined;
  /** Inputs a worker missed, pulled from peers (`recovery/redelivery.ts`). */
  #redelivery: InputRedelivery | undefined;
  /** A worker's fetch of other workers' deltas it lacks (`recovery/predecessors.ts`). */
  #predecessors: PredecessorDeltas | undefined;
  /** Chain reads for result checks of tasks whose record the watcher has not delivered. */
  readonly #resultReads = new ReadBudget(50, 100);
  /** Result signatures (libsecp256k1: microseconds, where every node checks every result). */
  readonly #signers = new SignerVerifier();
  /** Verified results whose delta came ahead of its predecessors (`recovery/ahead-results.ts`). */
  readonly #ahead = new AheadResults();
  readonly #parsedMessages = new WeakMap<Uint8Array, unknown>();
  #state: "new" | "starting" | "started" | "stopped" = "new";

  constructor(config: NodeConfig, options: EnigmaNodeOptions = {}) {
    this.config = config;
    this.metrics = new NodeMetrics();
    this.trace = new TaskTraceLog({ observe: stageObserver(this.metrics.registry) });
    this.log = options.logger ?? createLogger({ level: config.logLevel, name: "enigma-node" });
    this.#faults = config.admin?.faults === true ? new FaultPoints() : undefined;
    if (this.#faults !== undefined) {
      this.#faults.onFire = (fault, context) => {
        this.log.warn({ ...fault, context }, "TEST FAULT: fault point reached");
      };
    }
  }

  has(role: NodeConfig["roles"][number]): boolean {
    return this.config.roles.includes(role);
  }

  /** The enclave signer of a worker or principal. */
  get signer(): Hex | undefined {
    return this.#worker?.signer ?? this.#principalEnclave?.signer;
  }

  endpoints(): NodeEndpoints {
    const ctx = this.#live();
    return {
      peerId: ctx.p2p.peerId,
      multiaddrs: ctx.p2p.multiaddrs,
      rpcUrl: this.#rpc?.url,
      ...(this.#admin?.url === undefined ? {} : { adminUrl: this.#admin.url }),
      signer: this.signer,
      roles: this.config.roles,
    };
  }

  /** What this node stores of a secret contract (code hash and its delta chain). */
  async contract(
    address: string,
  ): Promise<{ codeHash: Hex | undefined; deltas: number; lastDeltaHash: Hex | undefined }> {
    const { store } = this.#live();
    const code = await store.getCode(address);
    const last = await store.lastDelta(address);
    return {
      codeHash: code === undefined ? undefined : bytesToHex(code.codeHash),
      deltas: last === undefined ? 0 : last.index + 1,
      lastDeltaHash: last === undefined ? undefined : bytesToHex(last.hash),
    };
  }

  /** Hashes of the deltas this node stores of a secret contract, `[from, to)`. */
  async deltaHashes(address: string, from = 0, to?: number): Promise<Hex[]> {
    const deltas = await this.#live().store.getDeltas(address, from, to);
    return deltas.map((d) => bytesToHex(d.hash));
  }

  async start(): Promise<void> {
    if (this.#state !== "new") {
      throw new EnigmaError(ErrorCode.NodeNotReady, `a node can start once (it is ${this.#state})`);
    }
    this.#state = "starting";
    try {
      await this.#start();
      // stop() may have run while starting: then the services started since are stopped too.
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- stop() changes it meanwhile
      if (this.#state !== "starting") {
        await this.#stopAll();
        throw new EnigmaError(ErrorCode.NodeNotReady, "the node was stopped while starting");
      }
      this.#state = "started";
    } catch (e) {
      await this.stop();
      throw e;
    }
  }

  /** Stops every service this node started, in reverse order. Idempotent. */
  async stop(): Promise<void> {
    if (this.#state === "stopped") return;
    this.#state = "stopped";
    await this.#stopAll();
  }

  async #stopAll(): Promise<void> {
    const stops = this.#stops.reverse();
    this.#stops = [];
    for (const stop of stops) {
      try {
        await stop();
      } catch (e) {
        this.log.warn({ err: String(e) }, "error while stopping");
      }
    }
  }

  async #start(): Promise<void> {
    const c = this.config;
    const derive = (label: string) =>
      c.seed === undefined ? undefined : deriveSeed(c.seed, label);

    const store = new NodeStore({ dir: join(c.dataDir, "db") });
    await store.start();
    this.#stops.push(() => store.stop());

    const chain = await EnigmaChain.connect({
      rpcUrl: c.ethereum.rpcUrl,
      enigmaAddress: c.ethereum.enigmaAddress,
      tokenAddress: c.ethereum.tokenAddress,
      pollIntervalMs: c.ethereum.pollIntervalMs,
      ...(c.ethereum.wsUrl === undefined ? {} : { wsUrl: c.ethereum.wsUrl }),
      ...(c.ethereum.privateKey === undefined ? {} : { privateKey: c.ethereum.privateKey }),
    });
    this.#stops.push(() => chain.close());
    const policy = await checkPolicy(c, chain);

    // The enclave's quote goes to the attestation service, which alone holds its key; the
    // report that comes back is checked against the trust root.
    const trustRoot =
      c.attestation.trustRoot === undefined
        ? await fetchTrustRoot(c.attestation.url)
        : parseTrustRoot(c.attestation.trustRoot);
    const attest = remoteAttester(c.attestation.url, { trustRoot });
    const enclaveDir = join(c.dataDir, "enclave");
    const enclaveSeed = derive("enclave");
    if (this.has("worker")) {
      const execution = this.config.worker.execution;
      this.#worker = await WorkerEnclave.open({
        dir: enclaveDir,
        attest,
        chainId: chain.chainId,
        enigmaAddress: chain.enigmaAddress,
        // Its attestation names who may register it (the custodian), here and nowhere else.
        ...(chain.account === undefined ? {} : { custodian: chain.account }),
        ...(enclaveSeed === undefined ? {} : { seed: enclaveSeed }),
        ...(execution?.threads === undefined ? {} : { threads: execution.threads }),
        ...(execution?.maxGasLimit === undefined
          ? {}
          : { runtime: { maxGasLimit: execution.maxGasLimit } }),
        // DEVNET ONLY (config debug.enclave, off by default): the enclave's debug interface.
        debug: c.debug.enclave,
        deadline: {
          ...(execution?.deadlineBaseMs === undefined ? {} : { baseMs: execution.deadlineBaseMs }),
          ...(execution?.deadlineMsPerMgas === undefined
            ? {}
            : { msPerMgas: execution.deadlineMsPerMgas }),
        },
      });
      const worker = this.#worker;
      this.#stops.push(() => worker.close());
    }
    if (this.has("principal")) {
      this.#principalEnclave = await PrincipalEnclave.open({
        dir: enclaveDir,
        attest,
        chainId: chain.chainId,
        enigmaAddress: chain.enigmaAddress,
        ...(chain.account === undefined ? {} : { custodian: chain.account }),
        trustRoot,
        policy: devnetAttestationPolicy(),
        ...(enclaveSeed === undefined ? {} : { seed: enclaveSeed }),
      });
    }
    const enclaveSigner = this.#worker ?? this.#principalEnclave;

    const p2pSeed = derive("p2p");
    const p2p = new P2PNetwork({
      host: c.p2p.host,
      port: c.p2p.port,
      bootstrap: [...c.p2p.bootstrap],
      ...(c.p2p.announce === undefined ? {} : { announce: [...c.p2p.announce] }),
      maxMessageBytes: MAX_GOSSIP_BYTES,
      // A gateway's two requests per task it does not run itself share one stream per peer.
      channelProtocols: [PROTOCOLS.workerKey, PROTOCOLS.taskInput],
      logger: this.log.child({ module: "p2p" }),
      ...(p2pSeed === undefined ? {} : { privateKeySeed: p2pSeed }),
    });
    const ctx: NodeContext = {
      config: c,
      store,
      chain,
      p2p,
      metrics: this.metrics,
      log: this.log.child({
        ...(enclaveSigner === undefined ? {} : { worker: enclaveSigner.signer }),
      }),
      policy,
      selection: new NodeSelection(policy.selection, chain),
    };
    this.#ctx = ctx;

    const directory = new PeerDirectory({
      p2p,
      roles: c.roles,
      log: ctx.log,
      ...(enclaveSigner === undefined
        ? {}
        : {
            enclave: {
              signer: enclaveSigner.signer,
              signPeerIdentity: (p: string) => enclaveSigner.signPeerIdentity(p),
            },
          }),
    });
    const sync = new DeltaSync(ctx);
    // Deltas removed from the store (not the chain's): the enclave copy reloads before next use.
    sync.onTruncated = (contract) => this.#execution?.markStale(contract);
    this.#sync = sync;
    const validator = new TaskValidator({
      book: this.#book,
      readRecord: (taskId) => this.#readRecord(taskId),
      epoch: (block) => chain.getEpoch(block),
      group: (contract, epoch) => ctx.selection.group(contract, epoch),
      watcherWaitMs: 2 * c.ethereum.pollIntervalMs + 20,
    });
    this.#validator = validator;
    // Recovery after faults (issue 16): every node serves the inputs and results it holds; a
    // worker also pulls what it missed.
    const redelivery = new InputRedelivery({
      p2p,
      store,
      chain,
      deliver: async (input) => {
        await this.#admission?.handedOver(input);
      },
      hear: (record) => {
        this.#hearRecord(record);
      },
      log: ctx.log.child({ module: "redelivery" }),
      firstAfterMs: Math.min(1_000, Math.floor(c.worker.orderingDeadlineMs / 4)),
    });
    await redelivery.serve();
    const predecessors = new PredecessorDeltas({
      p2p,
      store,
      epoch: (block) => chain.getEpoch(block),
      workerPeers: () => directory.peersWithRole("worker"),
      accept: (r) => this.#acceptResult(r),
      log: ctx.log.child({ module: "predecessors" }),
    });
    await predecessors.serve();
    if (this.has("worker")) this.#predecessors = predecessors;
    await p2p.start();
    this.#stops.push(() => p2p.stop());
    await directory.start();
    this.#stops.push(() => directory.stop());
    await sync.start();
    this.#stops.push(() => {
      sync.stopRetries();
      return Promise.resolve();
    });

    if (this.#worker !== undefined) {
      const batcher = new ReceiptBatcher(ctx, this.#worker, {
        truncateDeltas: (contract, from) => sync.truncate(contract, from),
      });
      batcher.onCommitted = (outcome) => {
        for (const [taskId, status] of outcome)
          this.trace.event(taskId, "receipt-sent", { status });
        return this.#onCommitted(outcome);
      };
      this.#batcher = batcher;
      const worker = this.#worker;
      const execution = new TracedExecution(
        worker,
        {
          ...nodeContractSource({
            store,
            chain,
            sync,
            stateKeys: new StateKeyClient(ctx, worker, directory),
            fetchCode: (contract) => this.#fetchDeployedCode(contract, redelivery),
          }),
          beforeCompute: (contract, record) => predecessors.ensure(contract, record.blockNumber),
        },
        {
          onRetry: (attempt, e) => {
            ctx.log.warn({ attempt, err: e.message }, "task deferred");
          },
        },
        this.trace,
      );
      this.#execution = execution;
      this.#pipeline = new TaskPipeline({
        signer: worker.signer,
        store,
        validate: (input, record) => validator.checkAgainst(input, record),
        readRecord: (taskId) => this.#readRecordWithIndex(taskId),
        execution,
        publisher: new TracedPublisher(
          {
            store,
            publish: async (topic, data) => {
              await p2p.publish(topic, data, { minPeers: 1, timeoutMs: 2_000 });
            },
            notify: (taskId, status, output) => {
              this.#notifyDone(taskId, status, output);
            },
            commitNow: () => batcher.trigger("ethereum-call"),
            signer: worker.signer,
            metrics: this.metrics,
            log: ctx.log,
          },
          this.trace,
        ),
        deadlineMs: c.worker.orderingDeadlineMs,
        ...(this.#faults === undefined ? {} : { faults: this.#faults }),
        metrics: this.metrics,
        log: ctx.log,
      });
      this.#stops.push(() => batcher.stop());
      this.#stops.push(() => this.#pipeline?.stop() ?? Promise.resolve());
    }
    if (this.#principalEnclave !== undefined) {
      const principal = new PrincipalService(ctx, this.#principalEnclave);
      await principal.start();
      this.#principal = principal;
      this.#stops.push(() => principal.stop());
    }

    const delivery = new InputDelivery(p2p, directory, ctx.log);
    const pipeline = this.#pipeline;
    const admission = new TracedAdmission(
      {
        validator,
        held: new HeldInputs(),
        store,
        ...(pipeline === undefined
          ? {}
          : {
              pipeline: {
                onInput: (input, verdict) => {
                  redelivery.onInput(input.taskId);
                  pipeline.onInput(input, verdict);
                },
                skipped: (taskId, contract) => pipeline.skipped(taskId, contract),
              },
            }),
        ...(this.#worker === undefined ? {} : { self: this.#worker.signer.toLowerCase() as Hex }),
        publish: (input) => {
          delivery.publish(input);
          this.trace.event(input.taskId, "input-gossiped");
        },
        handOver: (input) => delivery.handOver(input),
        keptDeployment: (input) =>
          this.#storeDeployedCode(input.taskId, input.contractAddress, undefined, input),
        notify: (taskId, status) => this.#rpc?.notifyTaskStatus(taskId, status),
        // Ids the watcher has not told: one read each, and a bounded rate per path.
        reads: {
          client: new ReadBudget(100, 200),
          handOver: new ReadBudget(100, 200),
          gossip: new ReadBudget(50, 100),
        },
        deadlineMs: c.worker.orderingDeadlineMs,
        metrics: this.metrics,
        log: ctx.log,
      },
      this.trace,
    );
    this.#admission = admission;
    const sweep = setInterval(() => {
      admission.sweep();
    }, 10_000);
    sweep.unref();
    this.#stops.push(() => {
      clearInterval(sweep);
      return Promise.resolve();
    });

    // Every worker and gateway hears every task input and every result. A principal-only node
    // does not: it has no part in running a task (Discovery's principal is a key manager and
    // epoch provider that talks to Ethereum and answers `getStateKeys` over JSON-RPC, never on
    // the task path: enigma-core, enigma-principal/app/src/controller/km_http_server.rs), and
    // relaying, checking and storing every task cost it about 2 ms a task, a tenth of the whole
    // network's CPU under load (`pnpm bench:e2e`). It follows the committed deltas by sync.
    if (this.has("worker") || this.has("gateway")) this.#subscribeTasks(admission);

    // Chain: register, stake and log in (worker), or register (principal).
    await this.#joinChain();

    const gateway = new Gateway(ctx, {
      directory,
      ...(this.#worker === undefined ? {} : { enclave: this.#worker }),
      admission,
      acceptResult: (r) => this.#acceptResult(r),
      notify: (taskId, status) => this.#rpc?.notifyTaskStatus(taskId, status),
      info: () => this.#info(),
    });
    await gateway.start();
    if (this.has("gateway")) {
      const rpc = new RpcServer({
        host: c.rpc.host,
        port: c.rpc.port,
        ...stripUndefined(c.rpc.bounds ?? {}),
        handlers: gateway.handlers(),
        extraMethods: inspectionMethods({
          trace: this.trace,
          store,
          node: () => ({ signer: this.signer ?? null, peerId: p2p.peerId, roles: c.roles }),
          ...(this.#worker === undefined ? {} : { enclave: this.#worker }),
        }),
        metrics: this.metrics,
        logger: ctx.log.child({ module: "rpc" }),
      });
      await rpc.start();
      this.#rpc = rpc;
      this.#stops.push(() => rpc.stop());
    }
    if (c.admin !== undefined) await this.#startAdmin(c.admin);

    const head = await chain.blockNumber();
    const cursor = await store.getMeta(CURSOR);
    const window = policy.epochs.rescanBlocks(chain.taskTimeout, chain.epochSize);
    const fromBlock = typeof cursor === "number" ? cursor + 1 : Math.max(0, head - window);
    // Records heard before a restart whose inputs never came are heard again (the watcher
    // starts past them), and then tasks heard but not finished go back in line: in that order,
    // so that a later task of a contract still waits for an earlier record's input.
    if (this.#pipeline !== undefined) {
      this.#redelivery = redelivery;
      if (typeof cursor === "number") await redelivery.recover(cursor);
    }
    await this.#pipeline?.start();
    if (this.#pipeline !== undefined) {
      redelivery.start();
      const pipeline = this.#pipeline;
      const results = new ResultRecovery({
        p2p: ctx.p2p,
        waitingOn: (ms) => pipeline.foreignWaits(ms),
        accept: (r) => this.#acceptResult(r),
        log: ctx.log.child({ module: "results" }),
      });
      results.start();
      this.#stops.push(() => {
        redelivery.stop();
        results.stop();
        return Promise.resolve();
      });
    }
    this.#watcher = chain.watch({
      fromBlock,
      confirmations: c.ethereum.confirmations,
      onEvents: (events, toBlock) => this.#onChain(events, toBlock),
      onError: (e) => {
        ctx.log.warn({ err: String(e) }, "chain watcher error");
      },
    });
    this.#stops.push(() => this.#watcher?.stop() ?? Promise.resolve());
    if (await store.hasPendingReceipts()) void this.#batcher?.trigger("restart");
    void sync.catchUpAll().catch((e: unknown) => {
      ctx.log.warn({ err: String(e) }, "delta sync at start failed");
    });
    ctx.log.info({ ...this.endpoints(), fromBlock }, "node started");
  }

  async #startAdmin(a: NonNullable<NodeConfig["admin"]>): Promise<void> {
    const { store, p2p, log } = this.#live();
    const worker = this.#worker;
    const faults = this.#faults;
    const admin = new AdminServer({
      host: a.host,
      port: a.port,
      logger: log.child({ module: "admin" }),
      methods: adminMethods({
        info: () => ({
          roles: this.config.roles,
          peerId: p2p.peerId,
          signer: this.signer,
          multiaddrs: p2p.multiaddrs,
          peers: p2p.peers(),
          refusedPeers: p2p.refusedPeers,
        }),
        store,
        ...(worker === undefined
          ? {}
          : {
              enclave: {
                hasStateKey: (c) => worker.hasStateKey(c),
                rebuildCheck: (c, code, deltas, expected) =>
                  worker.rebuildCheck(c, code, deltas, expected),
              },
            }),
        ...(faults === undefined
          ? {}
          : { faults: { points: faults, refusePeers: (peers) => p2p.refusePeers(peers) } }),
      }),
    });
    await admin.start();
    this.#admin = admin;
    this.#stops.push(() => admin.stop());
  }

  #live(): NodeContext {
    if (this.#ctx === undefined)
      throw new EnigmaError(ErrorCode.NodeNotReady, "the node is not started");
    return this.#ctx;
  }

  #info(): Record<string, unknown> {
    const ctx = this.#live();
    return {
      name: "enigma-node",
      roles: this.config.roles,
      peerId: ctx.p2p.peerId,
      peers: ctx.p2p.peers().length,
      signer: this.signer ?? null,
      chainId: ctx.chain.chainId.toString(),
      enigmaAddress: ctx.chain.enigmaAddress,
    };
  }

  async #joinChain(): Promise<void> {
    const { chain, log } = this.#live();
    // The contract registers an enclave only for the custodian its report names, on this
    // chain and deployment: check before spending a transaction (AttestationBindingMismatch).
    const bound = (signer: string, report: string) => {
      const custodian = chain.account;
      if (custodian === undefined) return;
      checkRegistrationBinding(report, {
        signer,
        custodian,
        chainId: chain.chainId,
        enigmaAddress: chain.enigmaAddress,
      });
    };
    if (this.#worker !== undefined) {
      const a = this.#worker.attestation;
      bound(this.#worker.signer, a.report);
      const done = await chain.ensureWorker({
        signer: this.#worker.signer,
        report: new TextEncoder().encode(a.report),
        signature: a.signature,
        stake: engToGrains(this.config.worker.stake),
      });
      log.info(done, "worker registered, staked and logged in");
    }
    if (this.#principalEnclave !== undefined) {
      const custodian = chain.account;
      if (custodian === undefined) {
        throw new EnigmaError(ErrorCode.InvalidConfig, "the principal needs ethereum.privateKey");
      }
      const w = await chain.getWorker(custodian);
      if (w.status === 0) {
        const a = this.#principalEnclave.attestation;
        bound(this.#principalEnclave.signer, a.report);
        await chain.register(
          this.#principalEnclave.signer,
          new TextEncoder().encode(a.report),
          a.signature,
        );
        log.info({ signer: this.#principalEnclave.signer }, "principal registered");
      }
    }
  }

  async #onChain(events: ChainEvent[], toBlock: number): Promise<void> {
    const { store, chain, log } = this.#live();
    for (const e of events) {
      switch (e.type) {
        case "TaskRecordCreated":
          this.trace.event(e.taskId, "recorded", { block: e.blockNumber, sender: e.sender });
          this.#hearRecord(recordOfEvent(e));
          break;
        case "ReceiptFailed":
          this.trace.event(e.taskId, "receipt-committed", { status: 3, block: e.blockNumber });
          this.#settled(e.taskId);
          break;
        case "TaskFeeReturned":
          this.trace.event(e.taskId, "fee-returned", { block: e.blockNumber });
          this.#settled(e.taskId);
          await this.#dropRefundedDelta(e.taskId as Hex);
          break;
        case "WorkersParameterized":
          // The epoch's receipts commit once the next epoch has started, never in the block
          // that ends it: a client that waits for its receipt and then records its next task
          // records it for the new epoch, not for the one ending (issue 19).
          void this.#batcher?.trigger("epoch-end");
          break;
        case "ReceiptFailedETH":
          this.trace.event(e.taskId, "receipt-committed", { status: 4, block: e.blockNumber });
          this.#settled(e.taskId);
          await this.#setStatus(e.taskId as Hex, TaskResultStatus.EthereumFailure);
          break;
        case "ReceiptVerified":
          this.trace.event(e.taskId, "receipt-committed", {
            status: 2,
            block: e.blockNumber,
            worker: e.workerAddress.toLowerCase(),
            gasUsed: e.gasUsed.toString(),
          });
          this.#settled(e.taskId);
          await this.#checkCommittedDelta(e.scAddr as Hex, e.deltaHashIndex, e.stateDeltaHash);
          break;
        default:
          break;
      }
    }
    await store.putMeta(CURSOR, toBlock);
    this.#book.heard(toBlock);
    if (this.#principal !== undefined) await this.#principal.onBlock(toBlock);
    if (this.#batcher !== undefined && (await store.hasPendingReceipts())) {
      // Receipts commit once the next epoch has started (above, when its event is confirmed
      // here). Once the scanned epoch is over by blocks, the chain's head is asked too: with
      // confirmations on a chain that stands still, the switch may never get blocks on top of
      // it. Should the principal be a whole epoch late, they commit anyway, before their tasks
      // time out.
      const epoch = await chain.getEpoch(toBlock);
      const { epochs } = this.#live().policy;
      if (
        epoch !== undefined &&
        toBlock >= epochs.lastEpochBlock(epoch.firstBlockNumber, chain.epochSize)
      ) {
        // A whole epoch late: the epoch after this one would be over too.
        const next = epochs.nextEpochBlock(epoch.firstBlockNumber, chain.epochSize);
        const late = toBlock >= epochs.nextEpochBlock(next, chain.epochSize);
        if (late || ((await chain.currentEpoch())?.index ?? 0) > epoch.index) {
          void this.#batcher.trigger("epoch-end");
        }
      }
    }
    log.trace({ toBlock, events: events.length }, "chain events");
  }

  /**
   * A refunded task's delta never counts: a node that stored it (its worker, or anyone who heard
   * its result) drops it, with the deltas built on it, which the chain cannot take either
   * (issue 16: the checker found them left behind a node's committed history).
   */
  async #dropRefundedDelta(taskId: Hex): Promise<void> {
    const { store, chain } = this.#live();
    const task = await store.getTask(taskId);
    const delta = task?.result?.delta;
    if (task === undefined || delta === undefined) return;
    const [stored] = await store.getDeltas(task.contract, delta.index, delta.index + 1);
    if (stored === undefined || bytesToHex(stored.hash) !== bytesToHex(delta.hash)) return;
    if (delta.index < (await chain.countStateDeltas(task.contract))) return;
    // This worker's own receipts built on it are its receipt batcher's to settle: it drops them
    // with the deltas from the gap on. Dropping the deltas here first would leave the batcher
    // not knowing who wrote the missing one, and it would hold them (and every later receipt
    // of the contract) for a minute.
    if (this.#batcher !== undefined) {
      const contract = task.contract.toLowerCase();
      const pending = await store.pendingReceipts();
      if (pending.some((r) => r.scAddr.toLowerCase() === contract && r.deltaIndex > delta.index))
        return;
    }
    await this.#sync?.truncate(task.contract, delta.index);
  }

  /** The task topics: inputs (judged by admission) and results (checked, then stored). */
  #subscribeTasks(admission: TracedAdmission): void {
    const { p2p } = this.#live();
    p2p.subscribe(
      TOPICS.tasks,
      (data) =>
        this.#verdict(TOPICS.tasks, () =>
          admission.gossipVerdict(this.#parsed(data, taskInputSchema, "task input")),
        ),
      (data) => admission.heard(this.#parsed(data, taskInputSchema, "task input")),
    );
    p2p.subscribe(
      TOPICS.results,
      (data) => this.#verdict(TOPICS.results, () => this.#checkResult(data)),
      (data) => this.#acceptVerified(this.#parsed(data, taskResultSchema, "task result")),
    );
  }

  /** A task record heard from the watcher (or again after a restart). */
  #hearRecord(record: RecordInfo): void {
    this.#book.add(record);
    this.#pipeline?.onRecord(record);
    this.#admission?.onRecord(record);
    this.#redelivery?.onRecord(record);
  }

  /**
   * Every node checks its copy of a committed delta against the chain. A missing one is
   * fetched; one that differs (a conflicting or replayed delta heard on gossip) is removed with
   * everything built on it, and the committed one fetched from peers.
   */
  async #checkCommittedDelta(contract: Hex, index: number, hash: string): Promise<void> {
    if (/^0x0*$/.test(hash)) return;
    const { store, log } = this.#live();
    const sync = this.#sync;
    if (sync === undefined) return;
    // A node that missed the deployment (down or cut off when it was gossiped) has the deltas
    // it heard since but no code: fetch it (issue 16; the deltas below would not trigger it).
    if ((await store.getCode(contract)) === undefined) {
      void sync.catchUp(contract).catch((e: unknown) => {
        log.warn({ contract, err: String(e) }, "code sync failed");
      });
    }
    const [stored] = await store.getDeltas(contract, index, index + 1);
    if (stored !== undefined && bytesToHex(stored.hash) === hash.toLowerCase()) return;
    if (stored !== undefined) {
      log.warn({ contract, index }, "stored delta differs from the hash committed on Ethereum");
      await sync.truncate(contract, index);
    }
    void sync.catchUp(contract).catch((e: unknown) => {
      log.warn({ contract, err: String(e) }, "delta sync failed");
    });
  }

  async #onCommitted(outcome: Map<string, number>): Promise<void> {
    for (const [taskId, status] of outcome) {
      if (status === 4) await this.#setStatus(taskId as Hex, TaskResultStatus.EthereumFailure);
    }
  }

  async #setStatus(taskId: Hex, status: TaskResultStatus): Promise<void> {
    const { store, log } = this.#live();
    const task = await store.getTask(taskId);
    if (task === undefined || task.status === status) return;
    try {
      await store.updateTask(taskId, { status });
      this.#rpc?.notifyTaskStatus(taskId, status);
    } catch (e) {
      if (!isEnigmaError(e, ErrorCode.TaskStatusTransition)) throw e;
      return;
    }
    // The Ethereum call failed: the contract recorded no delta for the task, so the node
    // drops it too (and any delta built on it, which the chain will refuse), and the enclave
    // reloads the contract from the deltas that count.
    const delta = task.result?.delta;
    if (status === TaskResultStatus.EthereumFailure && delta !== undefined) {
      const [stored] = await store.getDeltas(task.contract, delta.index, delta.index + 1);
      if (stored !== undefined && bytesToHex(stored.hash) === bytesToHex(delta.hash)) {
        const removed = (await this.#sync?.truncate(task.contract, delta.index)) ?? 0;
        if (removed > 1) {
          log.warn(
            { taskId, contract: task.contract, index: delta.index, removed },
            "dropped the delta of a failed Ethereum call and the deltas built on it",
          );
        }
      }
    }
  }

  async #verdict(
    topic: string,
    check: () => Promise<GossipVerdict> | GossipVerdict,
  ): Promise<GossipVerdict> {
    let verdict: GossipVerdict;
    try {
      verdict = await check();
    } catch (e) {
      // This node's own trouble (the chain unreachable) is no fault of the sender.
      const local = isEnigmaError(e) && LOCAL_FAILURES.has(e.code);
      this.#live().log.debug(
        { topic, err: String(e) },
        local ? "gossip message ignored" : "gossip message rejected",
      );
      verdict = local ? "ignore" : "reject";
    }
    this.metrics.gossipMessages.inc({ topic, verdict });
    return verdict;
  }

  /**
   * A gossip message parsed once: the validator's parse (schemas check curve points, which is
   * not cheap) is kept for the handler that gets the same bytes.
   */
  #parsed<S extends z.ZodType>(data: Uint8Array, schema: S, what: string): z.output<S> {
    const kept = this.#parsedMessages.get(data);
    if (kept !== undefined) return kept as z.output<S>;
    const value = decodeMessage(schema, data, what);
    this.#parsedMessages.set(data, value);
    return value;
  }

  #settled(taskId: string): void {
    this.#book.settle(taskId);
    this.#pipeline?.onSettled(taskId);
    this.#redelivery?.onSettled(taskId);
  }

  /** A task record read from the chain (for ids the watcher has not delivered). */
  async #readRecord(taskId: string): Promise<KnownRecord | undefined> {
    const r = await this.#live().chain.getTaskRecord(taskId);
    if (r === undefined) return undefined;
    return {
      taskId: r.taskId as Hex,
      inputsHash: r.inputsHash as Hex,
      gasLimit: r.gasLimit,
      gasPx: r.gasPx,
      sender: r.sender as Hex,
      blockNumber: r.blockNumber,
      logIndex: 0,
      seenAt: Date.now(),
      pending: r.status === 1,
      exact: false,
    };
  }

  /** A pending record with its log index (restart recovery of inputs heard before a stop). */
  async #readRecordWithIndex(taskId: Hex): Promise<RecordInfo | undefined> {
    const { chain } = this.#live();
    const r = await chain.getTaskRecord(taskId);
    if (r?.status !== 1) return undefined;
    const events = await chain.getEvents(r.blockNumber, r.blockNumber);
    const e = events.find((x) => x.type === "TaskRecordCreated" && x.taskId === taskId);
    return e?.type === "TaskRecordCreated" ? recordOfEvent(e) : undefined;
  }

  async #checkResult(data: Uint8Array): Promise<GossipVerdict> {
    return this.#verifyResult(this.#parsed(data, taskResultSchema, "task result"));
  }

  /**
   * A result is accepted when it is consistent, signed by the worker it names, and that worker
   * was in the group selected for the contract in the epoch of the task's record. A result whose
   * record this node cannot see yet is ignored (not penalised).
   */
  async #verifyResult(r: TaskResult): Promise<GossipVerdict> {
    const { chain, selection } = this.#live();
    checkResultShape(r);
    const digest = receiptBatchDigest(chain.chainId, chain.enigmaAddress, [receiptOf(r)]);
    if (!this.#signers.isSignedBy(digest, r.signature, r.workerAddress)) return "reject";
    // A result usually outruns this node's watcher by a little (its record was mined before the
    // worker ran it): waited for, as an input is, rather than read from the chain.
    const record = await this.#validator?.record(r.taskId, this.#resultReads);
    if (record === undefined) return "ignore";
    if (!(await selection.isSelectedAt(r.contractAddress, record.blockNumber, r.workerAddress)))
      return "reject";
    return "accept";
  }

  /** A result from a peer outside gossip (fetched): verified like a gossip one. */
  async #acceptResult(r: TaskResult): Promise<void> {
    const verdict = await this.#verifyResult(r);
    if (verdict !== "accept") {
      throw new EnigmaError(
        ErrorCode.ResultRejected,
        `result of ${r.taskId} rejected (${verdict})`,
      );
    }
    await this.#acceptVerified(r);
  }

  /**
   * Tells RPC subscribers that a task is done, with its encrypted output (what `getTaskStatus`
   * would answer), so that a client needs no request for it.
   */
  #notifyDone(taskId: string, status: "SUCCESS" | "FAILED", output?: Uint8Array): void {
    this.#rpc?.notifyTaskStatus(
      taskId,
      status,
      output === undefined ? {} : { output: toRpcHex(output) },
    );
  }

  /**
   * Stores a deployed contract's code once this node has both the deployment's input (its
   * pre-code) and its verified, successful result (the code hash), whichever came second:
   * gossip does not keep their order.
   */
  async #storeDeployedCode(
    taskId: string,
    contract: string,
    result?: TaskResult,
    input?: TaskInput,
  ): Promise<void> {
    const { store } = this.#live();
    if ((await store.getCode(contract)) !== undefined) return;
    const r = await this.#deploymentResult(taskId, result);
    if (r === undefined) return;
    const i = input ?? taskInputSchema.safeParse(await store.getMessage("input", taskId)).data;
    if (i?.preCode === undefined) return;
    const code = decodePreCode(i.preCode);
    if (bytesToHex(keccak256(code)) === r.codeHash) await store.putCode(r.contractAddress, code);
  }

  /** A deployment's result (`given`, else the stored one) when it succeeded and names its code. */
  async #deploymentResult(
    taskId: string,
    given?: TaskResult,
  ): Promise<(TaskResult & { codeHash: Hex }) | undefined> {
    const r =
      given ??
      taskResultSchema.safeParse(await this.#live().store.getMessage("result", taskId)).data;
    if (r?.success !== true || r.preCodeHash === null || r.codeHash === null) return undefined;
    return { ...r, codeHash: r.codeHash };
  }

  /**
   * The code of a deployment whose verified result this node holds but whose input it missed
   * (it was down or cut off when the input went out, or could not keep it): until the
   * deployment's receipt is committed no chain sync brings the code, so the input is asked of
   * peers. Its pre-code must hash to the result's code hash (a peer cannot slip in other code).
   */
  async #fetchDeployedCode(
    contract: Hex,
    redelivery: InputRedelivery,
  ): Promise<Uint8Array | undefined> {
    const { store, log } = this.#live();
    // A contract's address is its deployment task's id.
    const r = await this.#deploymentResult(contract);
    if (r === undefined) return undefined;
    const got = await redelivery.fetchInput(contract, async (input) => {
      try {
        await this.#storeDeployedCode(contract, contract, r, input);
      } catch (e) {
        log.debug({ contract, err: String(e) }, "a peer's deployment input is unusable");
      }
      return (await store.getCode(contract)) !== undefined;
    });
    if (got) log.info({ contract }, "deployment's code fetched from a peer");
    return (await store.getCode(contract))?.code;
  }

  /**
   * Stores a verified result of another worker: the task, its code, its delta, its status.
   * `again`: a held result whose delta can go in now (it was announced when first heard).
   */
  async #acceptVerified(r: TaskResult, again = false): Promise<void> {
    const { store, log } = this.#live();
    if (r.preCodeHash !== null) await this.#storeDeployedCode(r.taskId, r.contractAddress, r);
    let delta: { index: number; hash: Uint8Array; data: Uint8Array } | undefined;
    /** Its delta waits here for its predecessors. */
    let held = false;
    if (r.delta !== null) {
      // The index and the predecessor are signed with the receipt: a delta is stored only at
      // its own index, on the delta it was built on (a replay or a fork is not).
      const count = await store.deltaCount(r.contractAddress);
      const base =
        r.delta.index === 0
          ? undefined
          : (await store.getDeltas(r.contractAddress, r.delta.index - 1, r.delta.index))[0];
      const baseHash = base === undefined ? ZERO_HASH : bytesToHex(base.hash);
      if (r.delta.index > count) {
        // Gossip does not keep order: under load this is routine (debug, not warn). Committed
        // deltas come by sync, the others from the workers that hold them (issue 16).
        // It is held and stored once the delta before it is; meanwhile a gap that gossip does
        // not fill is asked for.
        log.debug(
          { contract: r.contractAddress, index: r.delta.index, have: count },
          "delta arrived ahead of its predecessors; held until they are stored",
        );
        this.#ahead.hold(r);
        held = true;
        void this.#sync?.catchUp(r.contractAddress).catch(() => undefined);
        this.#predecessors?.behind(r.contractAddress);
      } else if (baseHash !== r.prevDeltaHash) {
        log.warn(
          { contract: r.contractAddress, index: r.delta.index, taskId: r.taskId },
          "delta built on another predecessor than the one stored: not stored (the chain decides)",
        );
      } else {
        delta = {
          index: r.delta.index,
          hash: hexToBytes(r.delta.hash),
          data: hexToBytes(r.delta.data),
        };
      }
    }
    try {
      // One batch: the task recorded when this node did not know it, and its result.
      await store.updateTask(r.taskId, {
        contract: r.contractAddress,
        status: r.success ? TaskResultStatus.Success : TaskResultStatus.Failed,
        result: resultData(r),
        ...(delta === undefined ? {} : { delta }),
        messages: { result: r },
      });
    } catch (e) {
      if (!isEnigmaError(e)) throw e;
      if (e.code === ErrorCode.TaskConflict) {
        log.warn(
          { taskId: r.taskId },
          "result for a task recorded under another contract: ignored",
        );
        return;
      }
      log.debug({ taskId: r.taskId, err: e.message }, "result not applied");
      await store.addTask(r.taskId, r.contractAddress);
      await store.putMessage("result", r.taskId, r);
    }
    if (delta !== undefined) this.#execution?.markStale(r.contractAddress);
    // A held delta still holds the contract's later tasks on this worker: they would run on
    // the state before it (a fork).
    this.#pipeline?.onResult(r.taskId, held ? { contract: r.contractAddress } : undefined);
    if (!again) {
      this.trace.event(r.taskId, "result-heard", {
        worker: r.workerAddress.toLowerCase(),
        success: r.success,
      });
      this.#redelivery?.onSettled(r.taskId);
      this.#notifyDone(r.taskId, r.success ? "SUCCESS" : "FAILED", hexToBytes(r.output));
    }
    // The next held delta may now go in (or the gap closed while this one was read).
    if (delta !== undefined || held) {
      this.#applyAhead(r.contractAddress).catch((e: unknown) => {
        log.warn({ contract: r.contractAddress, err: String(e) }, "held delta not stored");
      });
    }
  }

  /** Stores the held result whose delta is next for `contract`, if there is one. */
  async #applyAhead(contract: Hex): Promise<void> {
    if (this.#ahead.size === 0) return;
    const next = this.#ahead.take(contract, await this.#live().store.deltaCount(contract));
    if (next !== undefined) await this.#acceptVerified(next, true);
  }
}

function deriveSeed(seed: string, label: string): Uint8Array {
  return keccak256(concatBytes(hexToBytes(seed, "seed"), new TextEncoder().encode(label)));
}

/**
 * The enclave seed a node derives from its config `seed`: a devnet uses it to know the
 * principal's enclave signer before the contracts are deployed.
 */
export function enclaveSeedOf(seed: string): Uint8Array {
  return deriveSeed(seed, "enclave");
}

/** An options object without its undefined fields (`exactOptionalPropertyTypes`). */
function stripUndefined<T extends object>(o: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]?: Exclude<T[K], undefined>;
  };
}

/**
 * The policies of `config`, resolved once through the registry, after checking that the Enigma
 * contract selects with the same strategy: a node that selected otherwise would run tasks whose
 * receipts the chain refuses, and refuse the ones it should run (`SelectionMismatch`).
 */
async function checkPolicy(config: NodeConfig, chain: EnigmaChain): Promise<NodePolicy> {
  const selection = getSelectionStrategy(config.policy.selection);
  const deployed = await chain.selectionName();
  if (deployed !== selection.name) {
    throw new EnigmaError(
      ErrorCode.SelectionMismatch,
      `the Enigma contract at ${chain.enigmaAddress} selects workers with "${deployed}", this node's config with "${selection.name}": set policy.selection to "${deployed}"`,
      { details: { chain: deployed, configured: selection.name } },
    );
  }
  return Object.freeze({ selection, epochs: getEpochPolicy(config.policy.epochPolicy) });
}
