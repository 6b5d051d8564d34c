import { CommanderError, Command } from "commander";
import { isEnigmaError } from "@enigma/protocol";
import { registerChain } from "./chain.js";
import { registerCheck } from "./check.js";
import { registerDevnet } from "./devnet.js";
import { registerEpoch } from "./epoch.js";
import { registerLogs } from "./logs.js";
import { registerNode } from "./node.js";
import { registerSc } from "./sc.js";
import { registerSim } from "./sim.js";
import { registerSnapshot } from "./snapshot.js";
import { registerTask } from "./task.js";
import { registerTrace } from "./trace.js";

/** Where the CLI writes; injected so tests can capture output. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

const processIo: CliIo = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
};

export const VERSION = "0.1.0";

function build(io: CliIo, setExit: (code: number) => void): Command {
  const program = new Command("enigma")
    .description("Run and drive a simulated Enigma secret-contract network")
    .version(VERSION)
    .exitOverride()
    .configureOutput({
      writeOut: (t) => {
        io.out(t);
      },
      writeErr: (t) => {
        io.err(t);
      },
      // Usage errors read like every other failure: one line, `enigma: <reason>`.
      outputError: (t, write) => {
        write(t.replace(/^error: /, "enigma: "));
      },
    });

  registerDevnet(program, io, setExit);
  const devnet = program.commands.find((c) => c.name() === "devnet");
  if (devnet !== undefined) registerSnapshot(devnet, io, (argv) => main(argv, io), setExit);
  registerSc(program, io, setExit);
  registerTask(program, io, setExit);
  const task = program.commands.find((c) => c.name() === "task");
  if (task !== undefined) registerTrace(task, io);
  registerLogs(program, io);
  registerEpoch(program, io);
  registerNode(program, io);
  registerChain(program, io);
  registerSim(program, io);
  registerCheck(program, io, setExit);
  return program;
}

/**
 * Runs the CLI with `argv` (without node and script) and resolves to the exit code. Errors
 * are printed as one line `enigma: <reason>`; nothing is thrown.
 */
export async function main(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  let exitCode = 0;
  const program = build(io, (code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync([...argv], { from: "user" });
    return exitCode;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Commander already printed its message (or help/version, which exit 0).
      return e.exitCode;
    }
    io.err(`enigma: ${isEnigmaError(e) || e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}
