import { CommanderError, Command, InvalidArgumentError } from "commander";
import { resolveDevnetOptions, type DevnetOptions } from "@enigma/devnet";
import { isEnigmaError } from "@enigma/protocol";
import { registerNode } from "./node.js";
import { registerSc } from "./sc.js";

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

function intArg(name: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`${name} must be a whole number`);
    return Number(value);
  };
}

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
    });

  const devnet = program
    .command("devnet")
    .description("a whole network on this machine")
    .exitOverride();
  devnet
    .command("config")
    .description("print the devnet configuration a preset and flags resolve to")
    .option("--preset <name>", "fast | realistic", "fast")
    .option("--workers <n>", "number of workers", intArg("--workers"))
    .option("--epoch-blocks <n>", "blocks per epoch", intArg("--epoch-blocks"))
    .option("--block-time <ms|auto>", "block interval in ms, or auto")
    .option("--seed <s>", "seed for keys and randomness")
    .option("--json", "print JSON only")
    .exitOverride()
    .action(
      (opts: {
        preset: string;
        workers?: number;
        epochBlocks?: number;
        blockTime?: string;
        seed?: string;
        json?: boolean;
      }) => {
        const overrides: Partial<DevnetOptions> = {
          workers: opts.workers,
          epochBlocks: opts.epochBlocks,
          seed: opts.seed,
          blockTime:
            opts.blockTime === undefined
              ? undefined
              : opts.blockTime === "auto"
                ? "auto"
                : Number(opts.blockTime),
        };
        const resolved = resolveDevnetOptions(opts.preset, overrides);
        if (opts.json === true) {
          io.out(`${JSON.stringify(resolved)}\n`);
        } else {
          for (const [k, v] of Object.entries(resolved)) io.out(`${k.padEnd(18)} ${String(v)}\n`);
        }
      },
    );
  registerSc(program, io, setExit);
  registerNode(program, io);
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
