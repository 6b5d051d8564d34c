#!/usr/bin/env node
// The `enigma` command. Runs the compiled CLI; `pnpm enigma` at the repository root builds first
// what changed (scripts/enigma.mjs).
import module from "node:module";

// V8's compiled code for the CLI and its dependencies, kept on disk between runs (in the OS temp
// folder; NODE_DISABLE_COMPILE_CACHE=1 turns it off): measured 15-20% less CPU per command.
module.enableCompileCache?.();
const { main } = await import("../dist/index.js");

process.exitCode = await main(process.argv.slice(2));
