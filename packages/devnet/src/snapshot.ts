// Devnet snapshots: the chain's history and every node's data folder, so that a researcher can
// return to a known network state in seconds (as anvil users do with --dump-state and
// --load-state). Hardhat's EDR has `evm_snapshot`/`evm_revert` only inside the process that
// runs the chain, and no state dump (`hardhat_dumpState` is not implemented; checked against
// EDR 0.22: "Method hardhat_dumpState is not supported"). So a snapshot keeps what rebuilds
// the state exactly: every transaction of every block up to the head, as the signed raw bytes,
// with its block's number and timestamp, plus the balances the harness set by cheat code
// (`hardhat_setBalance`). Restoring starts a fresh chain at the same genesis time and replays
// them block by block (`eth_sendRawTransaction`, `evm_mine <timestamp>`, empty blocks with
// `hardhat_mine`); the head's state root must then equal the recorded one, or the restore fails.
import { cp, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import {
  EnigmaError,
  ErrorCode,
  keccak256,
  bytesToHex,
  hexToBytes,
  type Hex,
} from "@enigma/protocol";
import { Transaction } from "ethers";
import type { DevnetOptions } from "./presets.js";

/** `<dir>/snapshots/<name>/`. */
export const SNAPSHOTS = "snapshots";
const SNAPSHOT_FILE = "snapshot.json";
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** Blocks read per JSON-RPC batch while recording. */
const BATCH = 200;

/** A non-empty block of the chain's history. */
export interface RecordedBlock {
  number: number;
  timestamp: number;
  /**
   * The block's base fee (wei, decimal): set again before it is mined, because empty blocks
   * mined in a range (`hardhat_mine`) do not lower the base fee as one-by-one blocks did.
   */
  baseFee: string;
  /** Signed raw transactions in block order. */
  txs: Hex[];
}

/** What rebuilds the chain: see the file's comment. */
export interface ChainHistory {
  chainId: number;
  genesisTimestamp: number;
  head: number;
  /** The head block's state root: the replay must reach exactly this state. */
  stateRoot: Hex;
  /** Balances the harness set by cheat code before their owners sent anything. */
  balances: { address: Hex; wei: string }[];
  blocks: RecordedBlock[];
}

/** The snapshot's description (`snapshot.json`). */
export interface DevnetSnapshot {
  version: 1;
  name: string;
  createdAt: string;
  options: DevnetOptions;
  users: number;
  /** The test fault the devnet was started with (its node configs need it again). */
  faultyWorker?: "measurement" | "key-signer";
  enigmaAddress: Hex;
  tokenAddress: Hex;
  /** Node names whose data folder is in `nodes/<name>/data`. */
  nodes: string[];
  chain: ChainHistory;
}

/** Checks a snapshot name (it becomes a folder name). */
export function checkSnapshotName(name: string): string {
  if (!NAME.test(name)) {
    throw new EnigmaError(
      ErrorCode.InvalidArgument,
      `a snapshot name is 1-64 letters, digits, dots, dashes or underscores (not starting with a dot or dash), got "${name}"`,
      { details: { name } },
    );
  }
  return name;
}

export function snapshotDir(devnetDir: string, name: string): string {
  return join(resolve(devnetDir), SNAPSHOTS, checkSnapshotName(name));
}

interface RpcBlock {
  number: string;
  timestamp: string;
  baseFeePerGas?: string;
  stateRoot: string;
  transactions: Record<string, unknown>[];
}

async function batch(url: string, calls: { method: string; params: unknown[] }[]) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(calls.map((c, id) => ({ jsonrpc: "2.0", id, ...c }))),
  });
  const out = (await res.json()) as { id: number; result?: unknown; error?: { message: string } }[];
  const byId = new Map(out.map((r) => [r.id, r]));
  return calls.map((c, id) => {
    const r = byId.get(id);
    if (r === undefined || r.error !== undefined) {
      throw new EnigmaError(
        ErrorCode.SnapshotFailed,
        `the chain refused ${c.method}: ${r?.error?.message ?? "no answer"}`,
      );
    }
    return r.result;
  });
}

/** The signed raw bytes of a transaction as the node returned it (checked against its hash). */
function rawOf(tx: Record<string, unknown>): Hex {
  const t = Transaction.from({
    type: Number(tx["type"]),
    chainId: BigInt(tx["chainId"] as string),
    nonce: Number(tx["nonce"]),
    to: (tx["to"] as string | null) ?? null,
    data: tx["input"] as string,
    value: BigInt(tx["value"] as string),
    gasLimit: BigInt(tx["gas"] as string),
    ...(tx["maxFeePerGas"] === undefined
      ? { gasPrice: BigInt(tx["gasPrice"] as string) }
      : {
          maxFeePerGas: BigInt(tx["maxFeePerGas"] as string),
          maxPriorityFeePerGas: BigInt(tx["maxPriorityFeePerGas"] as string),
        }),
    accessList: (tx["accessList"] as [] | undefined) ?? [],
    signature: {
      r: tx["r"] as string,
      s: tx["s"] as string,
      v: Number(tx["yParity"] ?? tx["v"]),
    },
  });
  const raw = t.serialized as Hex;
  if (bytesToHex(keccak256(hexToBytes(raw))) !== (tx["hash"] as string).toLowerCase()) {
    throw new EnigmaError(
      ErrorCode.SnapshotFailed,
      `cannot rebuild the signed bytes of transaction ${tx["hash"] as string} (type ${String(tx["type"])})`,
    );
  }
  return raw;
}

/** Reads the chain's history up to `head` (every block, in batches). */
export async function recordChain(
  rpcUrl: string,
  head: number,
  balances: ChainHistory["balances"],
): Promise<ChainHistory> {
  const blocks: RecordedBlock[] = [];
  let genesisTimestamp = 0;
  let stateRoot: Hex = "0x";
  let chainId = 0;
  for (let from = 0; from <= head; from += BATCH) {
    const numbers = Array.from({ length: Math.min(BATCH, head - from + 1) }, (_, i) => from + i);
    const calls = numbers.map((n) => ({
      method: "eth_getBlockByNumber",
      params: [`0x${n.toString(16)}`, true],
    }));
    if (from === 0) calls.push({ method: "eth_chainId", params: [] });
    const results = await batch(rpcUrl, calls);
    if (from === 0) chainId = Number(results.pop());
    for (const r of results as RpcBlock[]) {
      const n = Number(r.number);
      if (n === 0) genesisTimestamp = Number(r.timestamp);
      if (n === head) stateRoot = r.stateRoot.toLowerCase() as Hex;
      if (n > 0 && r.transactions.length > 0) {
        blocks.push({
          number: n,
          timestamp: Number(r.timestamp),
          baseFee: BigInt(r.baseFeePerGas ?? "0x0").toString(),
          txs: r.transactions.map(rawOf),
        });
      }
    }
  }
  return { chainId, genesisTimestamp, head, stateRoot, balances, blocks };
}

/**
 * Replays `h` on a fresh chain started at its genesis time (`initialDate`) with a FIFO mempool:
 * the same transactions in the same blocks at the same timestamps. Throws `SnapshotFailed` when
 * the chain refuses one or the head's state differs from the recorded one.
 */
export async function replayChain(rpcUrl: string, h: ChainHistory): Promise<void> {
  // Plain requests, one at a time and in order (ethers' provider would hold each call 10 ms
  // to batch it: most of a replay's time).
  let id = 0;
  const send = async (method: string, params: unknown[]) => {
    let body: { result?: unknown; error?: { message: string; data?: { message?: string } } };
    try {
      const res = await fetch(rpcUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: ++id, method, params }),
      });
      body = (await res.json()) as typeof body;
    } catch (e) {
      throw new EnigmaError(
        ErrorCode.SnapshotFailed,
        `replaying the chain failed at ${method}: ${e instanceof Error ? e.message : String(e)}`,
        { cause: e },
      );
    }
    if (body.error !== undefined) {
      throw new EnigmaError(
        ErrorCode.SnapshotFailed,
        `replaying the chain failed at ${method}: ${body.error.data?.message ?? body.error.message}`,
      );
    }
    return body.result;
  };
  const chainId = Number(await send("eth_chainId", []));
  if (chainId !== h.chainId) {
    throw new EnigmaError(
      ErrorCode.SnapshotFailed,
      `the snapshot is of chain ${h.chainId}, this chain is ${chainId}`,
    );
  }
  const start = Number(await send("eth_blockNumber", []));
  if (start !== 0) {
    throw new EnigmaError(
      ErrorCode.SnapshotFailed,
      `a replay needs a fresh chain (at block ${start})`,
    );
  }
  for (const b of h.balances) {
    await send("hardhat_setBalance", [b.address, `0x${BigInt(b.wei).toString(16)}`]);
  }
  let at = 0;
  let lastTimestamp = h.genesisTimestamp;
  const mineEmpty = async (upTo: number) => {
    if (upTo <= at) return;
    // Empty blocks carry nothing the contracts read (they use block numbers, not hashes). They
    // get the previous block's timestamp: left to the chain's clock, the first one could be a
    // second past the next recorded block's, which the chain then refuses.
    await send("evm_setNextBlockTimestamp", [lastTimestamp]);
    await send("hardhat_mine", [`0x${(upTo - at).toString(16)}`, "0x0"]);
    at = upTo;
  };
  for (const b of h.blocks) {
    await mineEmpty(b.number - 1);
    await send("hardhat_setNextBlockBaseFeePerGas", [`0x${BigInt(b.baseFee).toString(16)}`]);
    for (const raw of b.txs) await send("eth_sendRawTransaction", [raw]);
    await send("evm_mine", [b.timestamp]);
    at = b.number;
    lastTimestamp = b.timestamp;
    const mined = (await send("eth_getBlockByNumber", ["latest", false])) as RpcBlock;
    if (Number(mined.number) !== b.number || mined.transactions.length !== b.txs.length) {
      throw new EnigmaError(
        ErrorCode.SnapshotFailed,
        `replayed block ${b.number} holds ${mined.transactions.length} of its ${b.txs.length} transactions`,
      );
    }
  }
  await mineEmpty(h.head);
  const head = (await send("eth_getBlockByNumber", [
    `0x${h.head.toString(16)}`,
    false,
  ])) as RpcBlock;
  if (head.stateRoot.toLowerCase() !== h.stateRoot) {
    throw new EnigmaError(
      ErrorCode.SnapshotFailed,
      `the replayed chain's state at block ${h.head} differs from the snapshot's (state root ${head.stateRoot}, expected ${h.stateRoot})`,
    );
  }
}

/** Writes a snapshot: `snapshot.json` and each node's data folder (copied from `nodesDir`). */
export async function writeSnapshot(
  devnetDir: string,
  s: DevnetSnapshot,
  nodesDir: string,
): Promise<string> {
  const target = snapshotDir(devnetDir, s.name);
  // Written beside, then renamed: a failed snapshot never leaves half a folder under the name.
  const tmp = `${target}.${process.pid}.tmp`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(join(tmp, "nodes"), { recursive: true });
  for (const n of s.nodes) {
    await cp(join(nodesDir, n, "data"), join(tmp, "nodes", n, "data"), { recursive: true });
  }
  await writeFile(join(tmp, SNAPSHOT_FILE), `${JSON.stringify(s)}\n`);
  await rm(target, { recursive: true, force: true });
  await rename(tmp, target);
  return target;
}

/** Reads a snapshot by name (in `<devnetDir>/snapshots/`) or by folder path. */
export async function readSnapshot(
  devnetDir: string,
  nameOrPath: string,
): Promise<{ dir: string; snapshot: DevnetSnapshot }> {
  const dir = NAME.test(nameOrPath) ? snapshotDir(devnetDir, nameOrPath) : resolve(nameOrPath);
  let text: string;
  try {
    text = await readFile(join(dir, SNAPSHOT_FILE), "utf8");
  } catch (cause) {
    throw new EnigmaError(
      ErrorCode.SnapshotNotFound,
      `no snapshot "${nameOrPath}" (no ${join(dir, SNAPSHOT_FILE)}): take one with \`enigma devnet snapshot <name>\``,
      { details: { dir }, cause },
    );
  }
  const s = JSON.parse(text) as Partial<DevnetSnapshot>;
  if (
    s.version !== 1 ||
    s.chain === undefined ||
    !Array.isArray(s.nodes) ||
    s.options === undefined
  ) {
    throw new EnigmaError(
      ErrorCode.SnapshotFailed,
      `${join(dir, SNAPSHOT_FILE)} is not a devnet snapshot`,
    );
  }
  return { dir, snapshot: s as DevnetSnapshot };
}

/** Puts a snapshot's node data folders in place under `nodesDir` (each node's `data/`). */
export async function restoreNodeData(
  snapshotFolder: string,
  nodes: readonly string[],
  nodesDir: string,
) {
  for (const n of nodes) {
    await rm(join(nodesDir, n, "data"), { recursive: true, force: true });
    await mkdir(join(nodesDir, n), { recursive: true });
    await cp(join(snapshotFolder, "nodes", n, "data"), join(nodesDir, n, "data"), {
      recursive: true,
    });
  }
}
