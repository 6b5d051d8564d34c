import {
  DEFAULT_EPOCH_POLICY,
  DEFAULT_SELECTION,
  EnigmaError,
  ErrorCode,
  MAX_RECEIPTS_PER_BATCH,
  getEpochPolicy,
  getSelectionStrategy,
  isEnigmaError,
  validationIssues,
} from "@enigma/protocol";
import { z } from "zod";

const port = z.number().int().min(0).max(65_535);
const hexAddress = z.string().regex(/^0x[0-9a-fA-F]{40}$/, "must be a 0x-prefixed 20-byte address");
const privateKey = z
  .string()
  .regex(/^0x[0-9a-fA-F]{64}$/, "must be a 0x-prefixed 32-byte hex private key");
const hexBytes = z.string().regex(/^0x([0-9a-fA-F]{2})+$/, "must be 0x-prefixed hex bytes");
const engAmount = z
  .string()
  .regex(/^\d+(\.\d{1,8})?$/, "must be a decimal ENG amount (8 decimals)");

/**
 * Timing presets. A preset fills the fields it names unless the config sets them; without a
 * preset the schema's defaults apply (confirmations 0, 250 ms polls, a 5 s ordering deadline).
 * `fast` is for tests and instant-mining devnets; `realistic` for a chain with real block times
 * (`enigma devnet up --preset realistic` mines a block a second).
 */
export const NODE_PRESETS = Object.freeze({
  fast: Object.freeze({
    ethereum: { confirmations: 0, pollIntervalMs: 50 },
    worker: { orderingDeadlineMs: 5_000 },
  }),
  realistic: Object.freeze({
    ethereum: { confirmations: 2, pollIntervalMs: 1000 },
    worker: { orderingDeadlineMs: 10_000 },
  }),
});
export type NodePreset = keyof typeof NODE_PRESETS;

/** A policy name checked against the registry (`UnknownPolicy`'s message, with the known names). */
function policyName(lookup: (spec: string) => unknown) {
  return z.string().superRefine((spec, ctx) => {
    try {
      lookup(spec);
    } catch (e) {
      if (!isEnigmaError(e)) throw e;
      ctx.addIssue({ code: "custom", message: e.message });
    }
  });
}

/** What a user may write in a node's config file or pass on the command line. */
export const NodeUserConfigSchema = z
  .object({
    /** Timing preset (`NODE_PRESETS`): fills what the config leaves out. */
    preset: z.enum(["fast", "realistic"]).optional(),
    /** A node can be a gateway and a worker at once; the principal runs alone. */
    roles: z
      .array(z.enum(["principal", "worker", "gateway"]))
      .nonempty()
      .default(["worker", "gateway"])
      .refine((r) => !r.includes("principal") || r.length === 1, "the principal role runs alone"),
    dataDir: z.string().min(1),
    ethereum: z
      .object({
        rpcUrl: z.url().default("http://127.0.0.1:8545"),
        enigmaAddress: hexAddress,
        tokenAddress: hexAddress,
        confirmations: z.number().int().min(0).max(64).default(0),
        /** The custodian account: pays gas, holds the worker's stake, sends the principal's epochs. */
        privateKey: privateKey.optional(),
        pollIntervalMs: z.number().int().min(10).max(60_000).default(250),
        /**
         * The endpoint's WebSocket for new-head pushes (the watcher reads a block as soon as it
         * is announced; polling stays the fallback). Default: `rpcUrl` with `ws:`; `false`
         * polls only.
         */
        wsUrl: z.union([z.url({ protocol: /^wss?$/ }), z.literal(false)]).optional(),
      })
      .strict(),
    /**
     * Deterministic devnets: a 32-byte hex seed from which the enclave identity, the libp2p
     * peer id, epoch seeds and task randomness are derived. Random when absent.
     */
    seed: z
      .string()
      .regex(/^0x[0-9a-fA-F]{64}$/, "must be 0x-prefixed 32 bytes")
      .optional(),
    attestation: z
      .object({
        /**
         * The attestation service (a devnet's harness or `enigma chain start` runs it): the
         * node posts its enclave's quote there and gets the signed report back. Only the
         * service holds its key; no node config or data folder does.
         */
        url: z.url(),
        /**
         * The service's public key (the trust root the Enigma contract was deployed with):
         * reports are checked against it, and the principal checks workers' reports with it.
         * When absent, the node asks the service for it at start.
         */
        trustRoot: z.object({ modulus: hexBytes, exponent: hexBytes }).strict().optional(),
      })
      .strict(),
    worker: z
      .object({
        /** Stake the node tops its balance up to at start, in ENG. */
        stake: engAmount.default("100"),
        /**
         * How long a task record whose input this worker has not heard holds the later tasks
         * (its input may be for any contract), counted from when the worker heard the record,
         * in ms. After it, later tasks run; the record's task is skipped (TaskSkipped,
         * refundable) only if a later task of its own contract ran before its input came.
         * Clients send the input when they send the record's transaction, so this only has to
         * cover a client's network and processing delay, not block times (README).
         */
        orderingDeadlineMs: z.number().int().min(100).max(600_000).default(5_000),
        /** Most receipts committed in one transaction. */
        maxBatch: z.number().int().min(1).max(MAX_RECEIPTS_PER_BATCH).default(100),
        /**
         * Where contracts run (the enclave's execution threads): how many threads, and the
         * deadline of a task, `deadlineBaseMs + deadlineMsPerMgas * gasLimit / 10^6` (default
         * the enclave's DEFAULT_DEADLINE); a contract past it is stopped (ExecutionTimeout).
         */
        execution: z
          .object({
            threads: z.number().int().min(1).max(16).optional(),
            deadlineBaseMs: z.number().int().min(1).max(3_600_000).optional(),
            deadlineMsPerMgas: z.number().min(0).max(1_000_000).optional(),
            /** Largest gas limit a task runs with (default the enclave's MAX_TASK_GAS_LIMIT). */
            maxGasLimit: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
          })
          .strict()
          .optional(),
      })
      .strict()
      .default({ stake: "100", orderingDeadlineMs: 5_000, maxBatch: 100 }),
    p2p: z
      .object({
        host: z.string().default("127.0.0.1"),
        port: port.default(0),
        bootstrap: z.array(z.string().min(1)).default([]),
        /**
         * The multiaddrs peers are told to dial (identify, peer exchange), when they differ
         * from the listen address: a node listening on 0.0.0.0 in a container or namespace
         * announces `/ip4/<its address>/tcp/<port>` or `/dns4/<its name>/tcp/<port>`. Default:
         * the listen addresses. Needs a fixed `port` (an ephemeral one is not known beforehand).
         */
        announce: z.array(z.string().min(1)).max(16).optional(),
      })
      .strict()
      .refine((p) => p.announce === undefined || p.port !== 0, {
        message:
          "p2p.announce needs a fixed p2p.port (the announced port must be the listened one)",
        path: ["announce"],
      })
      .default({ host: "127.0.0.1", port: 0, bootstrap: [] }),
    rpc: z
      .object({
        host: z.string().default("127.0.0.1"),
        port: port.default(0),
        /**
         * The endpoint's bounds (`RpcServerOptions`; defaults in `RPC_SERVER_BOUNDS`): open
         * connections and WebSockets overall and per address, handlers running overall and per
         * address, calls waiting per address, bytes a WebSocket may leave unread, messages of
         * one WebSocket answered at once.
         */
        bounds: z
          .object({
            maxConnections: z.number().int().min(1).max(1_000_000).optional(),
            maxConnectionsPerAddress: z.number().int().min(1).max(1_000_000).optional(),
            maxWebSockets: z.number().int().min(1).max(1_000_000).optional(),
            maxWebSocketsPerAddress: z.number().int().min(1).max(1_000_000).optional(),
            maxConcurrentCalls: z.number().int().min(1).max(100_000).optional(),
            maxConcurrentCallsPerAddress: z.number().int().min(1).max(100_000).optional(),
            maxQueuedCallsPerAddress: z.number().int().min(1).max(1_000_000).optional(),
            maxWsBufferedBytes: z
              .number()
              .int()
              .min(1024)
              .max(1 << 30)
              .optional(),
            maxWsMessagesInFlight: z.number().int().min(1).max(10_000).optional(),
          })
          .strict()
          .optional(),
      })
      .strict()
      .default({ host: "127.0.0.1", port: 0 }),
    /**
     * The admin endpoint (absent: off): JSON-RPC on its own port, never on the public gateway,
     * for operators and the invariant checker (pending receipts, stored code and delta hashes,
     * a rebuild check). `faults: true` adds the test-fault methods a devnet's nemesis uses
     * (fault points, refusing peers); never set outside tests.
     */
    admin: z
      .object({
        host: z.string().default("127.0.0.1"),
        port: port.default(0),
        faults: z.boolean().default(false),
      })
      .strict()
      .optional(),
    logLevel: z
      .enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"])
      .default("info"),
    /**
     * The policies this node runs, by registry name (`@enigma/protocol`'s `policy/registry.ts`):
     * `selection` must be the strategy the Enigma contract was deployed with (checked at start:
     * `SelectionMismatch`); `epochPolicy` must be one the contract implements (Discovery's today).
     */
    policy: z
      .object({
        selection: policyName(getSelectionStrategy).default(DEFAULT_SELECTION),
        epochPolicy: policyName(getEpochPolicy)
          .refine(
            (spec) => {
              try {
                return getEpochPolicy(spec).onChain;
              } catch {
                return true; // reported by policyName
              }
            },
            {
              message:
                "this epoch policy runs in `enigma sim` only: the Enigma contract does not implement it",
            },
          )
          .default(DEFAULT_EPOCH_POLICY),
      })
      .strict()
      .default({ selection: DEFAULT_SELECTION, epochPolicy: DEFAULT_EPOCH_POLICY }),
    /**
     * Where `loadNodeConfig` took the chain's addresses from: a deployment file written by
     * `enigma chain start`. Absent fields of `ethereum` (rpcUrl, enigmaAddress, tokenAddress)
     * and `attestation` (url, trustRoot) come from it; a node other than the principal also
     * takes `p2p.bootstrap` (the principal's address). With `node` (0 = principal), `seed` and
     * `ethereum.privateKey` come from `secrets`: that node's own secrets file (`enigma chain
     * start --secrets-dir`), which no other host gets. Fields given in the config win. The
     * deployment file is waited for up to `waitMs` (it appears once the chain is up).
     */
    deployment: z
      .object({
        file: z.string().min(1),
        node: z.number().int().min(0).max(1000).optional(),
        secrets: z.string().min(1).optional(),
        waitMs: z.number().int().min(0).max(3_600_000).default(120_000),
      })
      .strict()
      .refine((d) => d.node === undefined || d.secrets !== undefined, {
        message:
          "deployment.node needs deployment.secrets: the node's own secrets file (seed and custodian key) from `enigma chain start --secrets-dir`",
        path: ["secrets"],
      })
      .optional(),
    /**
     * DEVNET ONLY: `enclave: true` opens the worker enclave's debug interface and serves it
     * as the RPC methods `debugTaskData` (a task's decrypted input and output) and
     * `debugContractState` (a contract's plaintext state), for the devnet explorer's "god
     * mode". Off by default; a real deployment never turns it on (it defeats the enclave).
     */
    debug: z
      .object({ enclave: z.boolean().default(false) })
      .strict()
      .default({ enclave: false }),
    /**
     * TEST FAULTS: make this node misbehave on purpose, for tests of what clients refuse. Never
     * set outside tests. `workerKeySigner`: sign the worker encryption keys this node's enclave
     * hands out with this private key instead of the enclave's registered signer.
     */
    testFaults: z.object({ workerKeySigner: privateKey.optional() }).strict().optional(),
  })
  .strict();

export type NodeUserConfig = z.input<typeof NodeUserConfigSchema>;
/** Resolved configuration: validated once, fully populated, read-only. */
export type NodeConfig = Readonly<z.output<typeof NodeUserConfigSchema>>;

/**
 * Validates a user config and fills in defaults. Every problem is reported with its path in
 * one `InvalidConfig` error, so a user can fix a file in one pass.
 *
 * @example
 * const config = resolveNodeConfig({ dataDir: ".devnet/worker-1", ethereum: { enigmaAddress, tokenAddress } });
 */
export function resolveNodeConfig(input: unknown): NodeConfig {
  return Object.freeze(parseConfig(input, "invalid node config"));
}

function parseConfig(input: unknown, what: string): z.output<typeof NodeUserConfigSchema> {
  const legacy: unknown = (input as { attestation?: unknown } | null)?.attestation;
  if (typeof legacy === "object" && legacy !== null && "serviceKeyFile" in legacy) {
    // Nodes used to hold the service's private key: say why it is refused now.
    throw new EnigmaError(
      ErrorCode.InvalidConfig,
      `${what}: attestation.serviceKeyFile: a node no longer holds the attestation service's key; set attestation.url to the service (a devnet or \`enigma chain start\` runs it)`,
      {
        details: { problems: ["attestation.serviceKeyFile: no longer read, use attestation.url"] },
      },
    );
  }
  const parsed = NodeUserConfigSchema.safeParse(withPreset(input));
  if (!parsed.success) {
    const problems = validationIssues(parsed.error).map(
      (i) => `${i.path || "(root)"}: ${i.message}`,
    );
    throw new EnigmaError(ErrorCode.InvalidConfig, `${what}: ${problems.join("; ")}`, {
      details: { problems },
    });
  }
  return parsed.data;
}

/** `input` with its preset's fields under the ones it sets (unchanged without a valid preset). */
function withPreset(input: unknown): unknown {
  if (typeof input !== "object" || input === null || Array.isArray(input)) return input;
  const o = input as Record<string, unknown>;
  const name = o["preset"];
  if (typeof name !== "string" || !Object.hasOwn(NODE_PRESETS, name)) return input;
  const preset = NODE_PRESETS[name as NodePreset];
  const under = (section: "ethereum" | "worker") => {
    const given = o[section];
    if (given === undefined) return preset[section];
    if (typeof given !== "object" || given === null || Array.isArray(given)) return given;
    return { ...preset[section], ...given };
  };
  return { ...o, ethereum: under("ethereum"), worker: under("worker") };
}

const trustRootShape = z.object({ modulus: hexBytes, exponent: hexBytes });

/** The part of a deployment file (`enigma chain start --out`) a node reads: nothing secret. */
export const DeploymentFileSchema = z.object({
  rpcUrl: z.url(),
  enigmaAddress: hexAddress,
  tokenAddress: hexAddress,
  attestationUrl: z.url(),
  trustRoot: trustRootShape,
  bootstrap: z.array(z.string().min(1)).default([]),
  /** The policies the chain was deployed with (absent in files from before they existed). */
  selection: z.string().min(1).optional(),
  epochPolicy: z.string().min(1).optional(),
});
export type DeploymentFile = z.output<typeof DeploymentFileSchema>;

/** A node's own secrets file (`enigma chain start --secrets-dir`): for that node's host only. */
export const NodeSecretsSchema = z.object({
  index: z.number().int().min(0),
  seed: z.string().regex(/^0x[0-9a-fA-F]{64}$/),
  custodian: z.object({ privateKey }),
});
export type NodeSecrets = z.output<typeof NodeSecretsSchema>;

function parseFile<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const problems = validationIssues(parsed.error).map(
      (i) => `${i.path || "(root)"}: ${i.message}`,
    );
    throw new EnigmaError(ErrorCode.InvalidConfig, `invalid ${what}: ${problems.join("; ")}`, {
      details: { problems },
    });
  }
  return parsed.data;
}

/**
 * Fills a raw config's absent chain and attestation fields from a deployment file's content,
 * and, given the node's secrets file's content, its seed and custodian key. Fields the config
 * gives win. Throws `InvalidConfig` when either is malformed or the secrets are another node's.
 */
export function applyDeployment(raw: unknown, deployment: unknown, secrets?: unknown): unknown {
  const d = parseFile(DeploymentFileSchema, deployment, "deployment file");
  const c = { ...(raw as Record<string, unknown>) };
  const eth = { ...(c["ethereum"] as Record<string, unknown> | undefined) };
  const att = { ...(c["attestation"] as Record<string, unknown> | undefined) };
  const index = (c["deployment"] as { node?: unknown } | undefined)?.node;
  const roles = c["roles"];
  const p2p = { ...(c["p2p"] as Record<string, unknown> | undefined) };
  // The principal is the bootstrap peer; everyone else dials it.
  if (!(Array.isArray(roles) && roles.includes("principal"))) p2p["bootstrap"] ??= d.bootstrap;
  eth["rpcUrl"] ??= d.rpcUrl;
  eth["enigmaAddress"] ??= d.enigmaAddress;
  eth["tokenAddress"] ??= d.tokenAddress;
  att["url"] ??= d.attestationUrl;
  att["trustRoot"] ??= d.trustRoot;
  // The chain's policies, unless the config names its own (then checked against the chain).
  const policy = { ...(c["policy"] as Record<string, unknown> | undefined) };
  if (d.selection !== undefined) policy["selection"] ??= d.selection;
  if (d.epochPolicy !== undefined) policy["epochPolicy"] ??= d.epochPolicy;
  if (typeof index === "number" && secrets !== undefined) {
    const n = parseFile(NodeSecretsSchema, secrets, "node secrets file");
    if (n.index !== index) {
      throw new EnigmaError(
        ErrorCode.InvalidConfig,
        `the secrets file is node ${n.index}'s, but deployment.node is ${index}`,
        { details: { path: "deployment.secrets" } },
      );
    }
    c["seed"] ??= n.seed;
    eth["privateKey"] ??= n.custodian.privateKey;
  }
  return { ...c, ethereum: eth, attestation: att, p2p, policy };
}

/**
 * What `--check-config` validates when the deployment file is not there yet: the config with
 * stand-ins for the fields the deployment and the node's secrets will provide, so every other
 * problem is reported.
 */
export function withDeploymentStandIns(raw: unknown): unknown {
  const stand = "0x0000000000000000000000000000000000000000";
  const key = `0x${"11".repeat(32)}`;
  const index = (raw as { deployment?: { node?: unknown } } | null)?.deployment?.node;
  return applyDeployment(
    raw,
    {
      rpcUrl: "http://127.0.0.1:8545",
      enigmaAddress: stand,
      tokenAddress: stand,
      attestationUrl: "http://127.0.0.1:8546",
      trustRoot: { modulus: "0x01", exponent: "0x010001" },
    },
    typeof index === "number" ? { index, seed: key, custodian: { privateKey: key } } : undefined,
  );
}
