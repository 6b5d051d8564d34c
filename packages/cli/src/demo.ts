// `enigma devnet up --demo`: once the devnet is up, deploy the calculator and millionaires
// examples, run a few tasks end to end from two accounts (one meant to fail), print each
// lifecycle and decrypted result, end the epoch so the workers commit their receipts, and
// print every task's on-chain status. A result other than the expected one fails the demo.
import type { EnigmaClient, TaskHandle } from "@enigma/client";
import type { Devnet } from "@enigma/devnet";
import { EnigmaError, ErrorCode, type Hex } from "@enigma/protocol";
import { exampleWasmPath } from "@enigma/secret-contract";
import { follow, formatOutput, settle, statusName, type TaskReport } from "./lifecycle.js";
import type { CliIo } from "./main.js";
import { readWasm } from "./sc.js";

const GAS = { gasLimit: 5_000_000n, gasPx: 1n };

/** One demo task as `--json` reports it. */
export interface DemoTask {
  label: string;
  account: number;
  taskId: Hex | undefined;
  /** SUCCESS, or FAILED for the task meant to fail. */
  status: string | undefined;
  /** Decrypted output: decoded values, or the failure. */
  result: string;
  /** On-chain status once the receipt is committed: verified, failed... */
  receipt: string | undefined;
}

export interface DemoReport {
  contracts: { calculator: Hex; millionaires: Hex };
  tasks: DemoTask[];
  /** The epoch whose start committed the receipts. */
  epoch: number;
}

/** A bytes32 holding an address (left-padded), as the millionaires example stores it. */
function addressWord(address: string): Hex {
  return `0x${address.slice(2).toLowerCase().padStart(64, "0")}`;
}

export async function runDemo(
  devnet: Devnet,
  io: CliIo,
  o: { json: boolean },
): Promise<DemoReport> {
  const line = (t: string) => {
    if (o.json) io.err(t);
    else io.out(t);
  };
  const names = new Map(devnet.nodes.map((n) => [n.signer.toLowerCase(), n.name]));
  const worker = (s: string) => `${s} (${names.get(s.toLowerCase()) ?? "?"})`;
  const clients: EnigmaClient[] = [devnet.client(0), devnet.client(1)];
  const accounts = devnet.accounts.map((a) => a.address);
  const tasks: { t: DemoTask; handle: TaskHandle }[] = [];

  const run = async (
    label: string,
    account: number,
    start: (c: EnigmaClient) => TaskHandle,
    // `value` undefined: any successful result is right (a deployment's address).
    expect: { fails: true } | { output: (r: TaskReport) => string; value?: string },
  ): Promise<TaskReport> => {
    const client = clients[account];
    if (client === undefined) throw new Error(`no account ${account}`);
    line(`\n${label}  (from account ${account})\n`);
    const handle = start(client);
    // Receipts come at the epoch's end, for every task at once: the table below shows them.
    const { report } = follow(handle, { line, worker, indent: "  ", quiet: ["committed"] });
    await settle(handle, report);
    const result =
      report.error === undefined
        ? "output" in expect
          ? expect.output(report)
          : formatOutput(report)
        : `failed: ${report.error.name} (${report.error.reason ?? report.error.message})`;
    line(`  ${"result".padEnd(10)} ${result}\n`);
    const ok =
      "fails" in expect
        ? report.error !== undefined
        : report.error === undefined && (expect.value ?? result) === result;
    if (!ok) {
      const wanted = "fails" in expect ? "a failure" : `"${expect.value ?? "success"}"`;
      throw new EnigmaError(
        ErrorCode.ResultRejected,
        `demo: ${label} gave "${result}", expected ${wanted}`,
      );
    }
    tasks.push({
      t: {
        label,
        account,
        taskId: report.taskId,
        status: report.status,
        result,
        receipt: undefined,
      },
      handle,
    });
    return report;
  };

  line(`demo: deploying the calculator and millionaires examples, then running tasks end to end\n`);
  const deployed: Record<string, Hex> = {};
  for (const name of ["calculator", "millionaires"] as const) {
    const wasm = await readWasm(exampleWasmPath(name));
    const r = await run(
      `deploy ${name} (${wasm.length} bytes, construct())`,
      0,
      (c) => c.deploySecretContract(wasm, "construct()", [], GAS),
      { output: (x) => `deployed at ${x.taskId ?? ""}` },
    );
    const address = r.taskId;
    if (address === undefined) throw new Error(`unreachable: ${name} has no address`);
    deployed[name] = address;
  }
  const calculator = deployed["calculator"] as Hex;
  const millionaires = deployed["millionaires"] as Hex;
  const uint = { returnTypes: ["uint256"], ...GAS };
  const values = (r: TaskReport) => (r.values ?? []).map(String).join(", ");

  await run(
    "calculator.add(2, 40)",
    0,
    (c) => c.computeTask(calculator, "add(uint256,uint256)", [2, 40], uint),
    { output: values, value: "42" },
  );
  await run(
    "calculator.mul(10^21, 10^21)",
    1,
    (c) =>
      c.computeTask(
        calculator,
        "mul(uint256,uint256)",
        ["1000000000000000000000", "1000000000000000000000"],
        uint,
      ),
    { output: values, value: `1${"0".repeat(42)}` },
  );
  await run(
    "calculator.sub(1, 2): underflows, so the contract traps and the task fails",
    0,
    (c) => c.computeTask(calculator, "sub(uint256,uint256)", [1, 2], uint),
    { fails: true },
  );
  const worth = [1_000_000, 2_500_000];
  for (const a of [0, 1]) {
    await run(
      `millionaires.add_millionaire(account ${a}, ${worth[a]})`,
      a,
      (c) =>
        c.computeTask(
          millionaires,
          "add_millionaire(bytes32,uint256)",
          [addressWord(accounts[a] ?? ""), worth[a]],
          { returnTypes: ["uint64"], ...GAS },
        ),
      {
        output: (r) => `${values(r)} millionaire(s) so far`,
        value: `${a + 1} millionaire(s) so far`,
      },
    );
  }
  const richest = addressWord(accounts[1] ?? "");
  await run(
    "millionaires.compute_richest()",
    0,
    (c) =>
      c.computeTask(millionaires, "compute_richest()", [], { returnTypes: ["bytes32"], ...GAS }),
    {
      output: (r) => {
        const w = (typeof r.values?.[0] === "string" ? r.values[0] : "").toLowerCase();
        const who = accounts.findIndex((x) => addressWord(x) === w);
        return who < 0 ? w : `account ${who} (0x${w.slice(-40)})`;
      },
      value: `account 1 (0x${richest.slice(-40)})`,
    },
  );

  line(`\ndemo: workers commit receipts when the epoch ends: mining to the next epoch\n`);
  const epoch = await devnet.chain.advanceEpoch();
  line(`demo: epoch ${epoch} started; waiting for the receipts\n`);
  for (const { t, handle } of tasks) {
    const r = await handle.waitForReceipt();
    t.receipt = statusName(r.chainStatus);
  }
  line(`\nreceipts on chain (epoch ${epoch}):\n`);
  const width = Math.max(...tasks.map(({ t }) => t.label.split(":")[0]?.length ?? 0));
  for (const { t } of tasks) {
    line(
      `  ${(t.label.split(":")[0] ?? "").padEnd(width)}  ${t.taskId ?? ""}  ${t.receipt ?? ""}\n`,
    );
  }
  const wrong = tasks.find(
    ({ t }) => t.receipt !== (t.status === "SUCCESS" ? "verified" : "failed"),
  );
  if (wrong !== undefined) {
    throw new EnigmaError(
      ErrorCode.ResultRejected,
      `demo: ${wrong.t.label} was committed as ${wrong.t.receipt ?? "?"}`,
    );
  }
  return { contracts: { calculator, millionaires }, tasks: tasks.map(({ t }) => t), epoch };
}

/** Checks that the example modules are built, before a devnet is brought up for the demo. */
export async function checkDemo(): Promise<void> {
  for (const name of ["calculator", "millionaires"] as const) {
    await readWasm(exampleWasmPath(name)).catch((e: unknown) => {
      throw new EnigmaError(
        ErrorCode.InvalidConfig,
        `--demo needs the example contracts built (\`pnpm build\`): ${e instanceof Error ? e.message : String(e)}`,
      );
    });
  }
}
