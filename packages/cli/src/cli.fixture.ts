// Test support (not built into dist): runs the CLI in this process and captures its output.
import { main } from "./main.js";

export interface CliRun {
  code: number;
  out: string;
  err: string;
}

/** `enigma ...argv` in this process: exit code, stdout and stderr text. */
export async function runCli(...argv: string[]): Promise<CliRun> {
  let out = "";
  let err = "";
  const code = await main(argv, {
    out: (t) => {
      out += t;
    },
    err: (t) => {
      err += t;
    },
  });
  return { code, out, err };
}
