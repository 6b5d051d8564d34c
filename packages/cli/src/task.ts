// `enigma deploy`, `enigma call` and `enigma task status`: tasks on a running network, with
// the client SDK. Every input is checked (file, signature, JSON arguments, addresses, network)
// before anything is sent; the lifecycle is printed as it happens.
import type { TaskHandle } from "@enigma/client";
import {
  EnigmaError,
  ErrorCode,
  grainsToEng,
  parseFunctionSignature,
  type Hex,
} from "@enigma/protocol";
import type { Command } from "commander";
import { follow, formatOutput, settle, statusName, type TaskReport } from "./lifecycle.js";
import type { CliIo } from "./main.js";
import {
  advanceEpoch,
  bad,
  connect,
  parseBytes32,
  parseWhole,
  resolveNetwork,
  withNetworkFlags,
  type Connection,
  type NetworkFlags,
} from "./network.js";
import { compileFile, encodeJsonArgs, readWasm } from "./sc.js";

interface TaskFlags extends NetworkFlags {
  gasLimit: string;
  gasPx: string;
  waitReceipt?: boolean;
  advanceEpoch?: boolean;
  timeout: string;
}

interface Gas {
  gasLimit: bigint;
  gasPx: bigint;
  timeoutMs: number;
}

/** Validates --gas-limit, --gas-px and --timeout. */
export function taskOptionsFromFlags(f: Pick<TaskFlags, "gasLimit" | "gasPx" | "timeout">): Gas {
  return {
    gasLimit: parseWhole("--gas-limit", f.gasLimit, 1n),
    gasPx: parseWhole("--gas-px", f.gasPx, 1n),
    timeoutMs: Number(parseWhole("--timeout", f.timeout, 1n, 86_400n)) * 1000,
  };
}

/** The output types of --returns (`uint256` or `bool,address`). */
export function parseReturns(returns: string | undefined): string[] | undefined {
  if (returns === undefined) return undefined;
  try {
    return [...parseFunctionSignature(`r(${returns})`).types];
  } catch {
    throw bad(`--returns must be ABI types separated by commas, got "${returns}"`);
  }
}

function withTaskFlags(cmd: Command): Command {
  return withNetworkFlags(cmd, true)
    .option(
      "--gas-limit <n>",
      "enclave gas limit (the fee escrowed is gas limit x gas price)",
      "5000000",
    )
    .option("--gas-px <n>", "gas price in grains (1 ENG = 10^8 grains)", "1")
    .option("--wait-receipt", "wait until the receipt is committed on chain (at the epoch's end)")
    .option(
      "--advance-epoch",
      "devnet only: mine to the end of the epoch so the receipt commits now (implies --wait-receipt)",
    )
    .option("--timeout <s>", "seconds to wait for the result, and for the receipt", "120");
}

/** Runs a task to its result (and receipt), printing as it goes; the exit code. */
async function runTask(
  io: CliIo,
  conn: Connection,
  f: TaskFlags,
  start: () => TaskHandle,
  summary: (r: TaskReport) => [string, string][],
  extra: (r: TaskReport) => Record<string, unknown>,
): Promise<number> {
  const line = (t: string) => {
    if (f.json === true) io.err(t);
    else io.out(t);
  };
  const say = (k: string, v: string) => {
    line(`${k.padEnd(10)} ${v}\n`);
  };
  const handle = start();
  const { report } = follow(handle, { line, worker: (s) => conn.worker(s) });
  await settle(handle, report);
  if (report.error === undefined) say("output", formatOutput(report));
  else {
    const e = report.error;
    say("failed", `${e.name} (${e.code}): ${e.reason ?? e.message}`);
  }
  if (f.advanceEpoch === true) {
    say("epoch", "mining to the end of the epoch (devnet), where receipts are committed");
    say("epoch", `${await advanceEpoch(conn)} started`);
  }
  if (f.waitReceipt === true || f.advanceEpoch === true) {
    await handle.waitForReceipt();
  } else {
    say(
      "receipt",
      `pending until the epoch ends; \`enigma task status ${report.taskId ?? ""}\` shows it (or use --wait-receipt)`,
    );
  }
  for (const [k, v] of summary(report)) say(k, v);
  if (f.json === true) io.out(`${JSON.stringify({ ...extra(report), ...report })}\n`);
  if (report.error !== undefined) {
    const e = report.error;
    io.err(`enigma: task ${report.taskId ?? ""} failed: ${e.name} (${e.reason ?? e.message})\n`);
    return 2;
  }
  return 0;
}

async function deploy(
  io: CliIo,
  file: string,
  f: TaskFlags & { ctor: string; args: string },
): Promise<number> {
  const gas = taskOptionsFromFlags(f);
  const ctor = encodeJsonArgs(f.ctor, f.args);
  const net = await resolveNetwork(f, true);
  let wasm: Uint8Array;
  if (file.endsWith(".ts")) {
    wasm = await compileFile(file);
    io.err(`compiled ${file} (${wasm.length} bytes)\n`);
  } else {
    wasm = await readWasm(file);
  }
  const conn = await connect(net, { timeoutMs: gas.timeoutMs });
  try {
    const client = conn.client;
    if (client === undefined) throw new Error("unreachable: a signer network has a client");
    return await runTask(
      io,
      conn,
      f,
      () => client.deploySecretContract(wasm, ctor.fn, ctor.values, gas),
      (r) => [
        ["address", `${r.taskId ?? ""} (the secret contract's address is its deployment task id)`],
      ],
      (r) => ({ address: r.taskId, codeBytes: wasm.length }),
    );
  } finally {
    await conn.close();
  }
}

/** Refuses a call to an address no deployment task created (it would be paid for nothing). */
async function checkContract(conn: Connection, scAddr: Hex): Promise<void> {
  if ((await conn.chain.getSecretContract(scAddr)) !== undefined) return;
  const record = await conn.chain.getTaskRecord(scAddr);
  if (record === undefined) {
    throw bad(`no secret contract at ${scAddr}: no deployment task has that id on this chain`);
  }
  // Deployed but not committed yet (its receipt comes at the epoch's end): usable already.
  if (record.status === 1) return;
  throw bad(
    `no secret contract at ${scAddr}: the task with that id ended ${statusName(record.status)}`,
  );
}

async function call(
  io: CliIo,
  scAddrArg: string,
  fnSig: string,
  argsJson: string,
  f: TaskFlags & { returns?: string },
): Promise<number> {
  const scAddr = parseBytes32("the secret contract address", scAddrArg);
  const fn = encodeJsonArgs(fnSig, argsJson);
  const returnTypes = parseReturns(f.returns);
  const gas = taskOptionsFromFlags(f);
  const net = await resolveNetwork(f, true);
  const conn = await connect(net, { timeoutMs: gas.timeoutMs });
  try {
    await checkContract(conn, scAddr);
    const client = conn.client;
    if (client === undefined) throw new Error("unreachable: a signer network has a client");
    return await runTask(
      io,
      conn,
      f,
      () =>
        client.computeTask(scAddr, fn.fn, fn.values, {
          gasLimit: gas.gasLimit,
          gasPx: gas.gasPx,
          ...(returnTypes === undefined ? {} : { returnTypes }),
        }),
      () => [],
      () => ({ scAddr, fn: fn.fn }),
    );
  } finally {
    await conn.close();
  }
}

/** The event that settled a task, as `task status` reports it. */
interface ReceiptInfo {
  event: string;
  blockNumber: number;
  txHash: string;
  /** A verified receipt's details (a failed one carries only the task id). */
  verified?: {
    gasUsed: string;
    feePaid: string;
    worker: string;
    scAddr: string;
    deltaIndex: number;
    stateDeltaHash: string;
    deployment: boolean;
  };
}

/** `task status`: the record, and the receipt event once committed. */
async function status(io: CliIo, taskIdArg: string, f: NetworkFlags): Promise<void> {
  const taskId = parseBytes32("the task id", taskIdArg);
  const net = await resolveNetwork(f, false);
  const conn = await connect(net);
  try {
    const rec = await conn.chain.getTaskRecord(taskId);
    if (rec === undefined) {
      throw new EnigmaError(ErrorCode.TaskRecordNotFound, `no task ${taskId} on this chain`);
    }
    const head = await conn.chain.blockNumber();
    let receipt: ReceiptInfo | undefined;
    if (rec.status >= 2) {
      const events = await conn.chain.getEvents(rec.blockNumber, head);
      for (const e of events) {
        if (!("taskId" in e) || e.taskId.toLowerCase() !== taskId) continue;
        if (e.type === "TaskRecordCreated") continue;
        receipt = { event: e.type, blockNumber: e.blockNumber, txHash: e.transactionHash };
        if (e.type === "ReceiptVerified") {
          receipt.verified = {
            gasUsed: e.gasUsed.toString(),
            feePaid: (e.gasUsed * rec.gasPx).toString(),
            worker: e.workerAddress,
            scAddr: e.scAddr,
            deltaIndex: e.deltaHashIndex,
            stateDeltaHash: e.stateDeltaHash,
            deployment: e.scAddr.toLowerCase() === taskId,
          };
        }
      }
    }
    const fee = rec.gasLimit * rec.gasPx;
    const report = {
      taskId,
      status: statusName(rec.status),
      chainStatus: rec.status,
      sender: rec.sender,
      gasLimit: rec.gasLimit.toString(),
      gasPx: rec.gasPx.toString(),
      fee: fee.toString(),
      blockNumber: rec.blockNumber,
      inputsHash: rec.inputsHash,
      outputHash: rec.outputHash,
      ...(receipt === undefined ? {} : { receipt }),
    };
    if (f.json === true) {
      io.out(`${JSON.stringify(report)}\n`);
      return;
    }
    const say = (k: string, v: string) => {
      io.out(`${k.padEnd(10)} ${v}\n`);
    };
    say("task", taskId);
    say("status", `${report.status} (${rec.status})`);
    say("sender", rec.sender);
    say(
      "fee",
      `${grainsToEng(fee)} ENG escrowed (gas limit ${rec.gasLimit} x gas price ${rec.gasPx} grains/gas)`,
    );
    say("block", `${rec.blockNumber} (recorded; head ${head})`);
    if (rec.status === 1) say("receipt", "not committed yet: workers commit at the epoch's end");
    if (receipt !== undefined) {
      say("receipt", `${receipt.event} in block ${receipt.blockNumber} (tx ${receipt.txHash})`);
      const v = receipt.verified;
      if (v !== undefined) {
        const paid = BigInt(v.feePaid);
        say(
          "gas used",
          `${v.gasUsed}: ${grainsToEng(paid)} ENG to the worker, ${grainsToEng(fee - paid)} ENG back to the sender`,
        );
        say("worker", conn.worker(v.worker));
        say(
          "delta",
          `#${v.deltaIndex} ${v.stateDeltaHash} of ${v.scAddr}${v.deployment ? " (this deployment)" : ""}`,
        );
      }
      say("output", `hash ${rec.outputHash}`);
    }
  } finally {
    await conn.close();
  }
}

/** Adds `deploy`, `call` and `task status`; `setExit` records a non-zero exit code. */
export function registerTask(program: Command, io: CliIo, setExit: (code: number) => void): void {
  withTaskFlags(
    program
      .command("deploy")
      .description("deploy a secret contract (.wasm, or .ts compiled first) on the network")
      .argument("<contract>", "compiled contract (.wasm) or AssemblyScript source (.ts)")
      .option("--ctor <signature>", "constructor signature", "construct()")
      .option("--args <json>", "JSON array of constructor arguments", "[]"),
  )
    .exitOverride()
    .action(async (file: string, f: TaskFlags & { ctor: string; args: string }) => {
      setExit(await deploy(io, file, f));
    });

  withTaskFlags(
    program
      .command("call")
      .description("run a function of a deployed secret contract and print the decrypted output")
      .argument("<scAddr>", "secret contract address (its deployment task id)")
      .argument("<fnSig>", "function signature, e.g. 'add(uint256,uint256)'")
      .argument("[args]", "JSON array of arguments", "[]")
      .option("--returns <types>", "decode the output as these ABI types, e.g. 'uint256'"),
  )
    .exitOverride()
    .action(
      async (scAddr: string, fnSig: string, args: string, f: TaskFlags & { returns?: string }) => {
        setExit(await call(io, scAddr, fnSig, args, f));
      },
    );

  const task = program.command("task").description("tasks on chain").exitOverride();
  withNetworkFlags(
    task
      .command("status")
      .description("a task's on-chain status, sender, fee and block; its receipt once committed")
      .argument("<taskId>", "task id (a deployment's id is the contract's address)"),
    false,
  )
    .exitOverride()
    .action(async (taskId: string, f: NetworkFlags) => {
      await status(io, taskId, f);
    });
}
