import { EnigmaError, ErrorCode, validationIssues } from "@enigma/protocol";
import { z } from "zod";

const port = z.number().int().min(0).max(65_535);
const hexAddress = z.string().regex(/^0x[0-9a-fA-F]{40}$/, "must be a 0x-prefixed 20-byte address");

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
      })
      .strict(),
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
