/**
 * Gas of delegating worker selection to a strategy contract (not a timed test): one receipt's
 * selection check, with the library inlined as `Enigma` does today vs through `IWorkerSelection`.
 * Run with `pnpm bench:selection-gas`. Deterministic (seeded inputs, EDR), so one run suffices.
 */
import hre from "hardhat";
import { hexlify, keccak256, toUtf8Bytes } from "ethers";
import { mined } from "../contracts/test/fixture.js";

// `pnpm bench:gas` figures (contracts/README.md) the overhead is compared against.
const COMMIT_ONE = 166_702; // commitReceipts x1, with delta
const COMMIT_SPREAD = 54_051; // per task, commitReceipts x100 over 100 contracts

const connection = await hre.network.create();
const { ethers } = connection;
const h = (s: string) => keccak256(toUtf8Bytes(s));
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
};
const VARIANTS = [
  "library inlined (Enigma today)",
  "host: STATICCALL self -> DELEGATECALL strategy",
  "bare DELEGATECALL (no write guard)",
  "STATICCALL with the snapshot copied",
];

try {
  const discovery = await ethers.deployContract("DiscoverySelection");
  const copy = await ethers.deployContract("CalldataDiscovery");
  const lines: string[] = [];
  for (const n of [3, 10, 50]) {
    const probe = await ethers.deployContract("SelectionGasProbe", [
      await discovery.getAddress(),
      await copy.getAddress(),
    ]);
    const workers = Array.from({ length: n }, (_, i) => hexlify(h(`worker ${i}`)).slice(0, 42));
    const stakes = workers.map((_, i) => 1000n * 10n ** 8n + BigInt(i) * 10n ** 8n);
    await mined(probe.getFunction("setEpoch")(0, BigInt(h("seed")), workers, stakes));
    const gas = VARIANTS.map(() => ({ cold: [] as number[], warm: [] as number[] }));
    for (let k = 0; k < 25; k++) {
      const sc1 = h(`contract ${n} ${k} a`);
      const sc2 = h(`contract ${n} ${k} b`);
      const worker = (await probe.getFunction("drawStored")(0, sc1)) as string;
      let answers: string | undefined;
      for (const [v, g] of gas.entries()) {
        const [cold, warm, a, b] = (await probe.getFunction("measure")(v, 0, sc1, sc2, worker)) as [
          bigint,
          bigint,
          boolean,
          boolean,
        ];
        g.cold.push(Number(cold));
        g.warm.push(Number(warm));
        const got = `${a},${b}`;
        if (answers !== undefined && got !== answers) throw new Error(`variant ${v} disagrees`);
        answers = got;
      }
    }
    const base = { cold: median(gas[0]?.cold ?? []), warm: median(gas[0]?.warm ?? []) };
    lines.push(`\n${n} workers (median of 25 contracts; gas of the check alone)`);
    lines.push(
      `| variant | first check (cold) | later check (warm) | extra, cold | extra, warm | cold extra / commitReceipts x1 | warm extra / task at x100 over 100 contracts |`,
    );
    lines.push(`|---|---:|---:|---:|---:|---:|---:|`);
    gas.forEach((g, v) => {
      const cold = median(g.cold);
      const warm = median(g.warm);
      const pct = (x: number, of: number) => `${((100 * x) / of).toFixed(1)}%`;
      lines.push(
        `| ${VARIANTS[v]} | ${cold} | ${warm} | ${cold - base.cold} | ${warm - base.warm} | ${pct(cold - base.cold, COMMIT_ONE)} | ${pct(warm - base.warm, COMMIT_SPREAD)} |`,
      );
    });
  }
  // The other shipped strategies through the host (for reference: not the default).
  const others: [string, string, unknown[]][] = [
    ["group:3", "GroupSelection", [3]],
    ["rotation:4", "RotationSelection", [4]],
  ];
  lines.push(`\nOther strategies through the host, 10 workers (median of 25 contracts)`);
  lines.push(`| strategy | first check (cold) | later check (warm) |`);
  lines.push(`|---|---:|---:|`);
  for (const [name, contract, args] of others) {
    const s = await ethers.deployContract(contract, args);
    const probe = await ethers.deployContract("SelectionGasProbe", [
      await s.getAddress(),
      await copy.getAddress(),
    ]);
    const workers = Array.from({ length: 10 }, (_, i) => hexlify(h(`worker ${i}`)).slice(0, 42));
    const stakes = workers.map((_, i) => 1000n * 10n ** 8n + BigInt(i) * 10n ** 8n);
    for (const e of [0, 1, 2, 3, 4]) {
      await mined(probe.getFunction("setEpoch")(e, BigInt(h(`seed ${e}`)), workers, stakes));
    }
    const cold: number[] = [];
    const warm: number[] = [];
    for (let k = 0; k < 25; k++) {
      const [c, w] = (await probe.getFunction("measure")(
        1,
        4,
        h(`o ${k} a`),
        h(`o ${k} b`),
        workers[0],
      )) as [bigint, bigint];
      cold.push(Number(c));
      warm.push(Number(w));
    }
    lines.push(`| ${name} | ${median(cold)} | ${median(warm)} |`);
  }
  process.stdout.write(`${lines.join("\n")}\n`);
} finally {
  await connection.close();
}
