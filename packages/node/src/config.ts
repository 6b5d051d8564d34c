import { EnigmaError, ErrorCode, validationIssues } from "@enigma/protocol";
import { z } from "zod";

const port = z.number().int().min(0).max(65_535);
const hexAddress = z.string().regex(/^0x[0-9a-fA-F]{40}$/, "must be a 0x-prefixed 20-byte address");
const privateKey = z
  .string()
  .regex(/^0x[0-9a-fA-F]{64}$/, "must be a 0x-prefixed 32-byte hex private key");
const engAmount = z
  .string()
  .regex(/^\d+(\.\d{1,8})?$/, "must be a decimal ENG amount (8 decimals)");

/** What a user may write in a node's config file or pass on the command line. */
export const NodeUserConfigSchema = z
  .object({
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
        /** PEM private key of the simulated attestation service (shared by a devnet). */
        serviceKeyFile: z.string().min(1),
      })
      .strict(),
    worker: z
      .object({
        /** Stake the node tops its balance up to at start, in ENG. */
        stake: engAmount.default("100"),
        /**
         * How long a ready task waits for the inputs of earlier task records (which may be
         * for the same contract) before it runs anyway, in ms.
         */
        orderingWindowMs: z.number().int().min(0).max(60_000).default(1000),
        /** Most receipts committed in one transaction. */
        maxBatch: z.number().int().min(1).max(500).default(100),
      })
      .strict()
      .default({ stake: "100", orderingWindowMs: 1000, maxBatch: 100 }),
    p2p: z
      .object({
        host: z.string().default("127.0.0.1"),
        port: port.default(0),
        bootstrap: z.array(z.string().min(1)).default([]),
      })
      .strict()
      .default({ host: "127.0.0.1", port: 0, bootstrap: [] }),
    rpc: z
      .object({ host: z.string().default("127.0.0.1"), port: port.default(0) })
      .strict()
      .default({ host: "127.0.0.1", port: 0 }),
    logLevel: z
      .enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"])
      .default("info"),
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
  const parsed = NodeUserConfigSchema.safeParse(input);
  if (!parsed.success) {
    const problems = validationIssues(parsed.error).map(
      (i) => `${i.path || "(root)"}: ${i.message}`,
    );
    throw new EnigmaError(ErrorCode.InvalidConfig, `invalid node config: ${problems.join("; ")}`, {
      details: { problems },
    });
  }
  return Object.freeze(parsed.data);
}
