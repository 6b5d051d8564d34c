import { defineConfig } from "vitest/config";

// Workspace packages export `enigma-source` -> src/*.ts, so tests run against sources (no
// build step between an edit and a test run) while published entry points stay on dist/.
const resolve = { conditions: ["enigma-source"] };

/** E2e files that mostly wait for wall-clock blocks and epochs (CPU ~0.3 of a core). */
const PACED = ["test/compat/epoch-boundary.test.ts", "test/compat/epochs.test.ts"];

export default defineConfig({
  resolve,
  ssr: { resolve: { conditions: ["enigma-source"], externalConditions: ["enigma-source"] } },
  test: {
    // CI reads the JSON report (see .ci/run); people read the default reporter.
    reporters: ["default", ["json", { outputFile: ".test-results/vitest.json" }]],
    // Three groups, one after the other. First the tests that start devnets of OS processes
    // (e2e), one file at a time, since those processes want the other core; then the in-process
    // tests (unit, contracts), three files at a time; then chaos, one file at a time. The e2e
    // group comes first because it leaves a core idle (320 s of CPU in 327 s): CI's lint and
    // typecheck (.ci/run, at nice 19) start with the tests and use that core (.ci/run took
    // 894 s this way, 918 s with the in-process group first: one run each, same hour).
    // Vitest's default on a 2-core machine is one file at a time throughout: the unit and
    // contract files took 378 s that way, 237 s two at a time (the whole suite had reached
    // ~16 min in a slow hour, against CI's 15). The two e2e files that wait on wall-clock epochs
    // (one-second blocks, epochs that end on their own: 122 s at ~0.3 of a core) run beside the
    // in-process files (a group has one maxWorkers: beside the other e2e files they would run
    // one at a time). Three at a time, so that two in-process files run beside them: that group
    // took 250 s against 291 s two at a time (same hour, two runs, 1.8 cores busy).
    maxWorkers: 3,
    projects: [
      {
        resolve,
        test: {
          name: "unit",
          include: ["packages/*/src/**/*.test.ts"],
          environment: "node",
          sequence: { groupOrder: 1 },
        },
      },
      {
        resolve,
        test: {
          name: "contracts",
          include: ["contracts/test/**/*.test.ts"],
          environment: "node",
          sequence: { groupOrder: 1 },
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        resolve,
        test: {
          name: "e2e",
          include: ["test/**/*.test.ts"],
          exclude: ["test/chaos/**", ...PACED, "**/node_modules/**"],
          environment: "node",
          sequence: { groupOrder: 0 },
          maxWorkers: 1,
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        resolve,
        test: {
          // Also `pnpm test:e2e`: e2e files whose time is mostly waiting for the chain's clock.
          name: "e2e-paced",
          include: [...PACED],
          environment: "node",
          sequence: { groupOrder: 1 },
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        resolve,
        test: {
          // Faults under load, then the invariant checker (issue 16): `pnpm test:chaos`, and
          // part of `pnpm test` (CI). A few minutes; the long run is `pnpm bench:chaos`.
          name: "chaos",
          include: ["test/chaos/**/*.test.ts"],
          environment: "node",
          sequence: { groupOrder: 2 },
          maxWorkers: 1,
          testTimeout: 300_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
