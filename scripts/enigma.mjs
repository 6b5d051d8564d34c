#!/usr/bin/env node
// @ts-check
/**
 * The `enigma` command from this checkout: `./scripts/pnpm enigma <args>` and, after
 * `source <(scripts/bootstrap.sh --print-env)`, a plain `enigma <args>` (.tools/bin/enigma).
 *
 * Builds first what changed since the last build, among the parts the CLI needs (the contracts
 * a devnet deploys and the CLI's workspace packages; see build-state.mjs): the check costs
 * 20-40 ms when nothing did. Then runs the built command in this process. A build's progress
 * goes to stderr, so `--json` output on stdout stays clean.
 */
import { CONTRACTS, buildParts, closure, readStamp, staleParts } from "./build-state.mjs";

const parts = closure(buildParts(), [CONTRACTS, "@enigma/cli"]);
if (staleParts(parts, readStamp()).stale.length > 0) {
  const started = performance.now();
  const log = (/** @type {string} */ m) => process.stderr.write(`enigma: build: ${m}\n`);
  // Only now: the build module is not needed when everything is up to date.
  const { build } = await import("./build.mjs");
  try {
    await build({ parts, log });
  } catch (e) {
    log(`failed: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  }
  log(`done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

// The command's own entry point (the same file a devnet runs its nodes with).
await import(new URL("../packages/cli/bin/enigma.js", import.meta.url).href);
