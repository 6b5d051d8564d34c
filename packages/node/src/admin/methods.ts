// What the admin endpoint answers. Read-only methods (every admin endpoint):
//
//   admin_status {}                           roles, peers, pending receipts, armed faults
//   admin_contract {address, from?, to?}      stored code hash, delta count and delta hashes
//   admin_rebuild {address, expectedHashes?}  rebuilds the contract's state in a scratch copy
//   admin_tasks {taskIds}                     the stored status of tasks (at most 1,000)
//
// Test-fault methods (only with `admin.faults`): admin_armFault {point, action, skip?},
// admin_disarmFaults {}, admin_refusePeers {peers} (a partition: refuse those peers).
import {
  EnigmaError,
  ErrorCode,
  bytes32Schema,
  bytesToHex,
  isEnigmaError,
  validationIssues,
  type Hex,
} from "@enigma/protocol";
import { z } from "zod";
import type { FaultPoints } from "../faults.js";
import type { MethodEntry, MethodTable } from "../rpc/jsonrpc.js";
import type { NodeStore } from "../store/store.js";

/** Most delta hashes in one `admin_contract` answer (ask again from where it stops). */
export const MAX_DELTA_HASHES = 10_000;

export interface AdminPorts {
  info(): {
    roles: readonly string[];
    peerId: string;
    signer: Hex | undefined;
    multiaddrs: string[];
    peers: string[];
    refusedPeers: string[];
  };
  store: Pick<
    NodeStore,
    "pendingReceipts" | "getCode" | "getDeltas" | "deltaCount" | "getTask" | "getMeta"
  >;
  /** The worker enclave, on a worker. */
  enclave?: {
    hasStateKey(contract: string): boolean;
    rebuildCheck(
      contract: string,
      code: Uint8Array,
      deltas: readonly { index: number; hash: Uint8Array; data: Uint8Array }[],
      expectedHashes?: readonly string[],
    ): { deltas: number; head: Hex };
  };
  /** Test faults (admin.faults). */
  faults?: {
    points: FaultPoints;
    refusePeers(peers: readonly string[]): Promise<void>;
  };
}

/** The answer of `admin_rebuild`. */
export type RebuildReport =
  | { rebuilt: true; deltas: number; head: Hex }
  | { rebuilt: false; reason: "no-code" | "no-state-key" | "not-a-worker"; deltas: number }
  | { rebuilt: false; reason: "failed"; deltas: number; code: number; message: string };

const empty = z.object({}).strict().optional();

function method<S extends z.ZodType>(
  name: string,
  schema: S,
  call: (p: z.output<S>) => Promise<unknown>,
): [string, MethodEntry] {
  return [
    name,
    {
      parse: (params) => {
        const parsed = schema.safeParse(params ?? {});
        if (parsed.success) return parsed.data;
        const issues = validationIssues(parsed.error);
        throw new EnigmaError(
          ErrorCode.InvalidRpcParams,
          `${name}: ${issues.map((i) => `${i.path || "(params)"}: ${i.message}`).join("; ")}`,
          { details: { issues } },
        );
      },
      call: (p) => call(p as z.output<S>),
    },
  ];
}

/** The admin method table of a node. */
export function adminMethods(p: AdminPorts): MethodTable {
  const { store } = p;
  const entries: [string, MethodEntry][] = [
    method("admin_status", empty, async () => {
      const pending = await store.pendingReceipts();
      const cursor = await store.getMeta("chainCursor");
      return {
        ...p.info(),
        /** The last block the chain watcher delivered. */
        chainCursor: typeof cursor === "number" ? cursor : null,
        pendingReceipts: pending.map((r) => ({
          taskId: r.taskId,
          contract: r.scAddr,
          success: r.success,
          stateDeltaHash: r.stateDeltaHash,
        })),
        faults: p.faults === undefined ? null : p.faults.points.armed(),
      };
    }),
    method(
      "admin_contract",
      z
        .object({
          address: bytes32Schema,
          from: z.number().int().nonnegative().optional(),
          to: z.number().int().nonnegative().optional(),
        })
        .strict(),
      async ({ address, from = 0, to }) => {
        const code = await store.getCode(address);
        const count = await store.deltaCount(address);
        const end = Math.min(to ?? count, count, from + MAX_DELTA_HASHES);
        const deltas = end > from ? await store.getDeltas(address, from, end) : [];
        return {
          address,
          codeHash: code === undefined ? null : bytesToHex(code.codeHash),
          deltaCount: count,
          from,
          deltaHashes: deltas.map((d) => bytesToHex(d.hash)),
        };
      },
    ),
    method(
      "admin_rebuild",
      z
        .object({
          address: bytes32Schema,
          expectedHashes: z.array(bytes32Schema).max(1_000_000).optional(),
        })
        .strict(),
      async ({ address, expectedHashes }): Promise<RebuildReport> => {
        const deltas = await store.getDeltas(address);
        const enclave = p.enclave;
        if (enclave === undefined) {
          return { rebuilt: false, reason: "not-a-worker", deltas: deltas.length };
        }
        const code = await store.getCode(address);
        if (code === undefined) return { rebuilt: false, reason: "no-code", deltas: deltas.length };
        if (!enclave.hasStateKey(address)) {
          return { rebuilt: false, reason: "no-state-key", deltas: deltas.length };
        }
        try {
          return {
            rebuilt: true,
            ...enclave.rebuildCheck(address, code.code, deltas, expectedHashes),
          };
        } catch (e) {
          if (!isEnigmaError(e)) throw e;
          return {
            rebuilt: false,
            reason: "failed",
            deltas: deltas.length,
            code: e.code,
            message: e.message,
          };
        }
      },
    ),
    method(
      "admin_tasks",
      z.object({ taskIds: z.array(bytes32Schema).max(1_000) }).strict(),
      async ({ taskIds }) =>
        Promise.all(
          taskIds.map(async (id) => {
            const t = await store.getTask(id);
            if (t === undefined) return null;
            return {
              taskId: t.taskId,
              contract: t.contract,
              status: t.status,
              committed: t.committed,
              delta:
                t.result?.delta === undefined
                  ? null
                  : { index: t.result.delta.index, hash: bytesToHex(t.result.delta.hash) },
            };
          }),
        ),
    ),
  ];
  const faults = p.faults;
  if (faults !== undefined) {
    entries.push(
      method(
        "admin_armFault",
        z
          .object({
            point: z.string().min(1).max(64),
            action: z.string().min(1).max(64),
            skip: z.number().int().nonnegative().max(1_000_000).optional(),
          })
          .strict(),
        ({ point, action, skip }) => Promise.resolve(faults.points.arm(point, action, skip)),
      ),
      method("admin_disarmFaults", empty, () => {
        faults.points.disarm();
        return Promise.resolve(true);
      }),
      method(
        "admin_refusePeers",
        z.object({ peers: z.array(z.string().min(1).max(128)).max(1_000) }).strict(),
        async ({ peers }) => {
          await faults.refusePeers(peers);
          return true;
        },
      ),
    );
  }
  const table = new Map(entries);
  return (name) => table.get(name);
}
