#!/usr/bin/env node
// The `enigma` command. Runs the compiled CLI; `pnpm enigma` at the repository root builds first.
import { main } from "../dist/index.js";

process.exitCode = await main(process.argv.slice(2));
