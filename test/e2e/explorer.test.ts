// The explorer in a real browser (Debian's headless Chromium driven by playwright-core): a
// devnet comes up with its explorer, tasks run through the client SDK while the page is open,
// and the test asserts what a person would see without reloading: the task with its stages
// on every node, the worker that ran it, its receipt, the workers' attestation, and in god mode
// the decrypted input and output. A second devnet shows god mode is off unless turned on.
// Chromium: `scripts/ensure-chromium.sh` (run by `pnpm test`) installs it when missing.
import { existsSync } from "node:fs";
import { EnigmaChain } from "@enigma/node/chain";
import { ErrorCode, selectWorker } from "@enigma/protocol";
import { compileSecretContract, exampleSourcePath } from "@enigma/secret-contract";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDevnet, type Devnet } from "../../packages/devnet/src/index.js";

const CHROMIUM = process.env["ENIGMA_CHROMIUM"] ?? "/usr/bin/chromium";
// The machine's closed network refuses Chromium's background connections: turn them off.
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
  "--disable-dev-shm-usage",
];

let browser: Browser;
let calculator: Uint8Array;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: run ./scripts/ensure-chromium.sh (pnpm test runs it) or set ENIGMA_CHROMIUM`,
    );
  }
  calculator = (await compileSecretContract(exampleSourcePath("calculator"))).wasm;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
  });
}, 60_000);

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- undefined when beforeAll failed
  await browser?.close();
});

async function rpcError(url: string, method: string, params: unknown): Promise<number | undefined> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  return ((await res.json()) as { error?: { code: number } }).error?.code;
}

describe("the devnet explorer in a browser", () => {
  let devnet: Devnet;
  let page: Page;

  beforeAll(async () => {
    devnet = await startDevnet({
      workers: 2,
      users: 1,
      seed: "e2e-explorer",
      explorer: true,
      enclaveDebug: true,
    });
    page = await browser.newPage();
  }, 120_000);

  afterAll(async () => {
    await page.close();
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- undefined when beforeAll failed
    await devnet?.stop();
  }, 60_000);

  it("shows a task's stages on every node, the worker that ran it, and its decrypted output in god mode", async () => {
    const url = devnet.info().explorerUrl;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    // The page is open before the tasks run: what follows arrives by push, never a reload.
    await page.goto(`${url ?? ""}#/tasks`);
    await expect.poll(() => page.getByTestId("live").textContent()).toBe("live");
    await expect.poll(() => page.locator("header").textContent()).toContain("god mode on");

    const client = devnet.client(0);
    const deploy = client.deploySecretContract(calculator, "construct()", [], {
      gasLimit: 5_000_000n,
      gasPx: 1n,
    });
    const scAddr = await deploy.submitted();
    await deploy.result();
    const task = client.computeTask(scAddr, "add(uint256,uint256)", [2, 40], {
      gasLimit: 1_000_000n,
      gasPx: 1n,
      returnTypes: ["uint256"],
    });
    const taskId = await task.submitted();
    expect((await task.result()).values).toEqual([42n]);
    // Epochs end on their own (at most 5 s): the receipt commits with nobody mining.
    expect((await task.waitForReceipt()).chainStatus).toBe(2);

    // Who should have run it: the worker selected for the contract in the record's epoch.
    const chain = await EnigmaChain.connect({
      rpcUrl: devnet.chain.rpcUrl,
      enigmaAddress: devnet.chain.enigmaAddress,
      tokenAddress: devnet.chain.tokenAddress,
    });
    const record = await chain.getTaskRecord(taskId);
    const epoch = await chain.getEpoch(record?.blockNumber ?? 0);
    await chain.close();
    const selected = epoch === undefined ? undefined : selectWorker(scAddr, epoch);
    const workerName = devnet.workers.find(
      (w) => w.signer.toLowerCase() === selected?.toLowerCase(),
    )?.name;
    expect(workerName).toMatch(/^worker-\d$/);

    // Search by the task id, as a person would paste it, and open the task.
    await page.getByTestId("search").fill(taskId);
    const link = page.getByTestId("tasks").locator(`a[href="#/task/${taskId}"]`);
    await link.waitFor({ timeout: 20_000 });
    await link.click();
    const stages = page.getByTestId("stages");
    // Every stage arrives by push as the nodes report it, up to the committed receipt.
    await expect
      .poll(() => stages.textContent(), { timeout: 20_000 })
      .toMatch(/receipt-committed[\s\S]*receipt-committed/);
    const text = (await stages.textContent()) ?? "";
    for (const stage of [
      "recorded",
      "input-accepted",
      "input-gossiped",
      "execution-started",
      "executed",
      "result-published",
      "receipt-sent",
    ]) {
      expect(text).toContain(stage);
    }
    // The stage rows name the nodes that saw them: the worker ran it.
    const executedRow = stages.locator("tr.stage.executed");
    expect(await executedRow.textContent()).toContain(workerName);
    await expect.poll(() => page.getByTestId("task-worker").textContent()).toBe(workerName);
    await expect
      .poll(() => page.getByTestId("task-status").textContent())
      .toBe("2 (receipt verified)");
    expect(await page.getByTestId("task-fee").textContent()).toMatch(
      /1000000 escrowed; \d+ to the worker, \d+ back to the sender/,
    );

    // God mode: the worker's enclave decrypts the input and the output.
    await page.getByTestId("god-task").getByRole("button").click();
    await expect.poll(() => page.getByTestId("god-output").textContent()).toBe("42");
    expect(await page.getByTestId("god-fn").textContent()).toBe("add(uint256,uint256)");
    expect(await page.getByTestId("god-args").textContent()).toBe("2, 40");

    // Workers: logged in, staked, attested, passing the devnet's policy, with a task run.
    await page.locator("nav a", { hasText: "workers" }).click();
    const workers = page.getByTestId("workers");
    await workers.waitFor();
    const rows = workers.locator("tbody tr");
    expect(await rows.count()).toBe(2);
    for (let i = 0; i < 2; i++) {
      const row = (await rows.nth(i).textContent()) ?? "";
      expect(row).toContain("logged in");
      expect(row).toContain("OK");
      expect(row).toContain("passes");
    }
    // The worker that ran the tasks: fees earned from its receipts and tasks run (cells 4, 5).
    const ran = workers.locator("tbody tr", { hasText: workerName ?? "-" }).locator("td");
    await expect.poll(async () => Number(await ran.nth(4).textContent())).toBeGreaterThan(0);
    await expect.poll(async () => Number(await ran.nth(5).textContent())).toBeGreaterThanOrEqual(2);

    // Epochs: the contract's row names the worker that holds it in the current epoch.
    await page.locator("nav a", { hasText: "epochs" }).click();
    await expect
      .poll(() => page.getByTestId("epochs").textContent())
      .toContain(scAddr.slice(0, 10));

    // Contracts: each delta hash on chain and on every node (same everywhere).
    await page.locator("nav a", { hasText: "contracts" }).click();
    await page
      .getByTestId("contracts")
      .locator("a", { hasText: scAddr.slice(0, 14) })
      .click();
    await expect.poll(() => page.getByTestId("contracts").textContent()).toMatch(/same[\s\S]*same/);

    // Charts: drawn by uPlot (canvases), tasks/s and latency per stage.
    await page.locator("nav a", { hasText: "charts" }).click();
    await expect.poll(() => page.locator(".chart canvas").count()).toBeGreaterThanOrEqual(2);
  }, 120_000);
});

describe("god mode is off unless the devnet turns it on", () => {
  it("a default devnet's nodes refuse the debug methods, and its explorer says god mode is off", async () => {
    const devnet = await startDevnet({
      workers: 1,
      users: 0,
      seed: "e2e-explorer-off",
      explorer: true,
    });
    const page = await browser.newPage();
    try {
      const worker = devnet.workers[0]?.rpcUrl ?? "";
      const anyTask = `0x${"11".repeat(32)}`;
      expect(await rpcError(worker, "debugTaskData", { taskId: anyTask })).toBe(
        ErrorCode.EnclaveDebugDisabled,
      );
      expect(await rpcError(worker, "debugContractState", { contract: anyTask })).toBe(
        ErrorCode.EnclaveDebugDisabled,
      );
      const url = devnet.info().explorerUrl ?? "";
      const god = await fetch(`${url}api/god/task/${anyTask}`);
      expect(god.status).toBe(403);
      expect(((await god.json()) as { error: { code: number } }).error.code).toBe(
        ErrorCode.EnclaveDebugDisabled,
      );
      await page.goto(`${url}#/tasks`);
      await expect.poll(() => page.locator("header").textContent()).toContain("god mode off");
    } finally {
      await page.close();
      await devnet.stop();
    }
  }, 120_000);
});
