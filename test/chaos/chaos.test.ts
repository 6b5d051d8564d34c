// `pnpm test:chaos` (and CI): a devnet of node processes under a steady workload while a seeded
// schedule kills nodes (at random moments, between a worker storing a task's input and running
// it, and while a receipt batch is in flight), partitions the network, cuts a node off the chain
// and more; then the invariant checker must find nothing lost and nothing counted twice. As
// root (this machine, CI) every node runs in its own network namespace, so the partition is a
// real packet drop; otherwise the nodes refuse each other's connections.
import { readFile } from "node:fs/promises";
import { afterAll, expect, it } from "vitest";
import { formatReport, runChecks } from "@enigma/checker";
import { Workload } from "@enigma/checker/workload";
import { chaosSchedule, runChaos, startDevnet, type ChaosKind, type Devnet } from "@enigma/devnet";

const example = (name: string) =>
  readFile(
    new URL(`../../packages/secret-contract/build/examples/${name}.wasm`, import.meta.url),
  ).then((b) => new Uint8Array(b));

const ROOT = process.getuid?.() === 0;
const MUST: readonly ChaosKind[] = [
  "kill",
  "kill-task-stored",
  "kill-receipt-in-flight",
  "partition",
  "chain-outage",
];

let devnet: Devnet | undefined;

afterAll(async () => {
  await devnet?.stop();
}, 120_000);

it("a seeded schedule of kills, a partition and a chain outage under load loses nothing", async () => {
  const log = (m: string) => {
    if (process.env["ENIGMA_CHAOS_LOG"] !== undefined) process.stderr.write(`chaos: ${m}\n`);
  };
  devnet = await startDevnet({
    inProcess: false,
    faults: true,
    hosts: ROOT ? "netns" : "local",
    workers: 3,
    users: 4,
    seed: "test:chaos",
    logLevel: "info",
    onProgress: log,
  });
  const d = devnet;
  const workload = new Workload(
    {
      rpcUrl: d.chain.rpcUrl,
      enigmaAddress: d.chain.enigmaAddress,
      tokenAddress: d.chain.tokenAddress,
      trustRoot: d.trustRoot,
      attestationPolicy: d.attestationPolicy,
      gateways: d.workers.map((w) => w.rpcUrl ?? ""),
      accounts: d.accounts,
    },
    {
      counter: await example("counter"),
      calculator: await example("calculator"),
      ratePerSecond: 3,
      seed: "test:chaos",
      onProgress: log,
    },
  );
  await workload.start();
  const steps = chaosSchedule({
    seed: "test:chaos",
    steps: 8,
    nodes: d.faults.names,
    include: MUST,
    holdMs: [1_500, 4_000],
    gapMs: [500, 1_500],
  });
  const chaos = await runChaos(d.faults, steps, {
    onStep: (s) => {
      log(`step ${s.index}: ${s.kind} ${JSON.stringify(s.target)} for ${s.holdMs} ms`);
    },
  });
  // The checker must have outputs to compare: the workload goes on after the faults until it
  // has had enough, however slowly a loaded machine ran it meanwhile (a count, not a rate).
  const until = Date.now() + 120_000;
  while (workload.stats.outputs <= 20 && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 250));
  }
  await workload.stop();
  for (const k of MUST) expect(chaos.byKind[k], k).toBeGreaterThan(0);
  // The kills at a point fired (a worker had a task to store, a batch to send).
  expect(chaos.fired).toBeGreaterThan(0);
  const stats = workload.stats;
  log(`workload: ${JSON.stringify(stats)}`);
  expect(stats.outputs).toBeGreaterThan(20);

  const report = await runChecks(
    {
      rpcUrl: d.chain.rpcUrl,
      enigmaAddress: d.chain.enigmaAddress,
      tokenAddress: d.chain.tokenAddress,
      nodes: d.info().nodes,
    },
    {
      expectations: workload.expectations,
      faults: d.faults.history,
      refundKey: d.accounts[0]?.privateKey ?? "",
      onProgress: log,
    },
  );
  log(formatReport(report));
  expect(report.ok, formatReport(report)).toBe(true);
  expect(report.tasks.committed).toBeGreaterThan(20);
  // The checker really compared outputs: every committed increment's answer is its delta index.
  expect(report.invariants.find((i) => i.name === "outputs-correct")?.checked).toBeGreaterThan(20);
});
