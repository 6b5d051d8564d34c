// `enigma epoch` and `enigma worker list`: what the Enigma contract says about the current
// epoch and the worker registry, with the group each deployed secret contract goes to now
// (computed here with the network's selection strategy, the one its contract runs).
import { ENIGMA_ABI, EnigmaError, ErrorCode, grainsToEng } from "@enigma/protocol";
import { Interface } from "ethers";
import type { Command } from "commander";
import type { CliIo } from "./main.js";
import {
  connect,
  resolveNetwork,
  withNetworkFlags,
  type Connection,
  type NetworkFlags,
} from "./network.js";

const ENIGMA = new Interface(ENIGMA_ABI);
const WORKER_STATUS: Readonly<Record<number, string>> = {
  0: "unregistered",
  1: "logged-in",
  2: "logged-out",
};

async function epochNow(conn: Connection) {
  const e = await conn.chain.currentEpoch();
  if (e === undefined) {
    throw new EnigmaError(ErrorCode.NoEpoch, "no epoch has started yet: wait for the principal");
  }
  const contracts = await conn.chain.secretContractAddresses();
  const selected = [];
  for (const address of contracts) {
    const group = await conn.selection.group(address, e);
    // `worker`: the group's first member, the one a client names by default.
    selected.push({ address, worker: group[0] ?? "", group: [...group] });
  }
  return { epoch: e, selected };
}

async function withConnection<T>(f: NetworkFlags, run: (c: Connection) => Promise<T>): Promise<T> {
  const conn = await connect(await resolveNetwork(f, false));
  try {
    return await run(conn);
  } finally {
    await conn.close();
  }
}

async function epoch(io: CliIo, f: NetworkFlags): Promise<void> {
  await withConnection(f, async (conn) => {
    const { epoch: e, selected } = await epochNow(conn);
    const head = await conn.chain.blockNumber();
    const next = conn.epochs.nextEpochBlock(e.firstBlockNumber, conn.chain.epochSize);
    const strategy = conn.selection.strategy;
    if (f.json === true) {
      io.out(
        `${JSON.stringify({
          index: e.index,
          selection: strategy.name,
          groupSize: strategy.groupSize,
          epochPolicy: conn.epochs.name,
          firstBlock: e.firstBlockNumber,
          nextEpochBlock: next,
          epochSize: conn.chain.epochSize,
          head,
          seed: `0x${e.seed.toString(16).padStart(64, "0")}`,
          workers: e.workers.map((signer, i) => ({
            signer: signer.toLowerCase(),
            stake: (e.stakes[i] ?? 0n).toString(),
            ...(conn.net.names.has(signer.toLowerCase())
              ? { name: conn.net.names.get(signer.toLowerCase()) }
              : {}),
          })),
          contracts: selected,
        })}\n`,
      );
      return;
    }
    const say = (k: string, v: string) => {
      io.out(`${k.padEnd(10)} ${v}\n`);
    };
    say("epoch", String(e.index));
    say(
      "blocks",
      `from ${e.firstBlockNumber}; the next epoch is due at block ${next} (${conn.chain.epochSize} per epoch, head ${head})`,
    );
    say("seed", `0x${e.seed.toString(16).padStart(64, "0")}`);
    // After the lines that were there before the policies existed: what reads them stays.
    say(
      "policies",
      `selection ${strategy.name} (${strategy.groupSize === 1 ? "one worker" : `groups of ${strategy.groupSize}`} per contract), epochs ${conn.epochs.name}`,
    );
    say("workers", String(e.workers.length));
    e.workers.forEach((w, i) => {
      io.out(`  ${conn.worker(w)}  stake ${grainsToEng(e.stakes[i] ?? 0n)} ENG\n`);
    });
    say(
      "contracts",
      `${selected.length} deployed (${strategy.groupSize === 1 ? "selected worker" : "selected group, first member first"} this epoch)`,
    );
    for (const s of selected) {
      io.out(`  ${s.address} -> ${s.group.map((w) => conn.worker(w)).join(", ")}\n`);
    }
  });
}

async function workerList(io: CliIo, f: NetworkFlags): Promise<void> {
  await withConnection(f, async (conn) => {
    const head = await conn.chain.blockNumber();
    const topic = ENIGMA.getEvent("Registered")?.topicHash;
    const logs = await conn.provider.getLogs({
      address: conn.net.enigmaAddress,
      topics: topic === undefined ? [] : [topic],
      fromBlock: 0,
      toBlock: head,
    });
    const custodians = [
      ...new Set(logs.map((l) => String(ENIGMA.parseLog(l)?.args[0] ?? "").toLowerCase())),
    ].filter((c) => c !== "");
    const e = await conn.chain.currentEpoch();
    const selected = e === undefined ? [] : (await epochNow(conn)).selected;
    const principal = (await conn.chain.principal()).toLowerCase();
    const workers = [];
    for (const custodian of custodians) {
      const w = await conn.chain.getWorker(custodian);
      if (w.status === 0) continue;
      const signer = w.signer.toLowerCase();
      workers.push({
        signer,
        custodian,
        status: WORKER_STATUS[w.status] ?? String(w.status),
        stake: w.balance.toString(),
        inEpoch: e !== undefined && e.workers.some((x) => x.toLowerCase() === signer),
        selected: selected.filter((s) => s.group.some((w) => w === signer)).length,
        ...(signer === principal ? { principal: true } : {}),
        ...(conn.net.names.has(signer) ? { name: conn.net.names.get(signer) } : {}),
      });
    }
    if (f.json === true) {
      io.out(`${JSON.stringify({ epoch: e?.index ?? null, workers })}\n`);
      return;
    }
    const rows = [
      ["signer", "custodian", "status", "stake (ENG)", "selected", "name"],
      ...workers.map((w) => [
        w.signer,
        w.custodian,
        w.status,
        grainsToEng(BigInt(w.stake)),
        String(w.selected),
        w.name ?? "",
      ]),
    ];
    const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
    for (const r of rows) {
      io.out(
        `${r
          .map((c, i) => c.padEnd(widths[i] ?? 0))
          .join("  ")
          .trimEnd()}\n`,
      );
    }
    io.out(
      `${workers.length} registered; "selected": secret contracts this worker serves in epoch ${e?.index ?? "(none)"}\n`,
    );
  });
}

/** Adds `epoch` and `worker list`. */
export function registerEpoch(program: Command, io: CliIo): void {
  withNetworkFlags(
    program
      .command("epoch")
      .description("the current epoch: index, blocks, seed, workers and stakes, selections"),
    false,
  )
    .exitOverride()
    .action(async (f: NetworkFlags) => {
      await epoch(io, f);
    });
  const worker = program.command("worker").description("the worker registry").exitOverride();
  withNetworkFlags(
    worker
      .command("list")
      .description("registered workers: signer, custodian, status, stake, selected contracts"),
    false,
  )
    .exitOverride()
    .action(async (f: NetworkFlags) => {
      await workerList(io, f);
    });
}
