// `enigma devnet snapshot <name>` and `enigma devnet restore <name>`. The devnet runs in the
// `devnet up` process (the chain is in it), so a snapshot is asked of that process over a small
// control endpoint it serves on 127.0.0.1 (`controlUrl` in devnet.json); a restore stops the
// devnet running from the folder, if any, and brings one up from the snapshot (`devnet up
// --restore <name>`, with the same flags as `up`).
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { EnigmaError, ErrorCode, isEnigmaError } from "@enigma/protocol";
import { DEFAULT_DEVNET_DIR, RECORD, isAlive, readRecord } from "./devnet.js";
import type { CliIo } from "./main.js";

/** What the control endpoint needs of the devnet. */
export interface Snapshottable {
  snapshot(name: string): Promise<string>;
}

/**
 * Serves `POST /snapshot {"name"}` for the devnet of this process, on 127.0.0.1 only (a
 * snapshot stops and restarts the nodes: nobody else may ask for one). One at a time.
 */
export async function startControl(
  devnet: Snapshottable,
): Promise<{ url: string; stop(): Promise<void> }> {
  let busy = false;
  const server: Server = createServer((req, res) => {
    const reply = (status: number, body: unknown) => {
      const text = JSON.stringify(body);
      res.writeHead(status, { "Content-Type": "application/json" });
      res.end(text);
    };
    if (req.method !== "POST" || req.url !== "/snapshot") {
      reply(404, { error: { message: "POST /snapshot" } });
      return;
    }
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => {
      body += c;
      if (body.length > 4096) req.destroy();
    });
    req.on("end", () => {
      if (busy) {
        reply(409, { error: { message: "a snapshot is being taken: retry when it is done" } });
        return;
      }
      let name: unknown;
      try {
        name = (JSON.parse(body) as { name?: unknown }).name;
      } catch {
        name = undefined;
      }
      if (typeof name !== "string") {
        reply(400, { error: { message: 'expected {"name": "..."}' } });
        return;
      }
      busy = true;
      devnet
        .snapshot(name)
        .then((folder) => {
          reply(200, { name, folder });
        })
        .catch((e: unknown) => {
          reply(isEnigmaError(e, ErrorCode.InvalidArgument) ? 400 : 500, {
            error: {
              code: isEnigmaError(e) ? e.code : undefined,
              message: e instanceof Error ? e.message : String(e),
            },
          });
        })
        .finally(() => {
          busy = false;
        });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const a = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${a.port}`,
    stop: () =>
      new Promise<void>((r) => {
        server.close(() => {
          r();
        });
        server.closeAllConnections();
      }),
  };
}

async function snapshot(io: CliIo, name: string, opts: { dir: string; json?: boolean }) {
  const dir = resolve(opts.dir);
  const rec = await readRecord(dir);
  if (rec === undefined || !isAlive(rec.pid) || rec.controlUrl === undefined) {
    throw new EnigmaError(
      ErrorCode.InvalidConfig,
      `no running devnet in ${dir} (${RECORD}): a snapshot is taken of a devnet started with \`enigma devnet up\``,
    );
  }
  io.err(`devnet: taking snapshot ${name} (the nodes stop for a moment)\n`);
  const started = performance.now();
  const res = await fetch(`${rec.controlUrl}/snapshot`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name }),
  });
  const body = (await res.json()) as {
    folder?: string;
    error?: { code?: number; message: string };
  };
  if (body.error !== undefined || body.folder === undefined) {
    const code = body.error?.code;
    throw new EnigmaError(
      code === ErrorCode.InvalidArgument ? ErrorCode.InvalidArgument : ErrorCode.SnapshotFailed,
      body.error?.message ?? "the devnet did not take the snapshot",
    );
  }
  const seconds = (performance.now() - started) / 1000;
  if (opts.json === true) io.out(`${JSON.stringify({ name, folder: body.folder, seconds })}\n`);
  else {
    io.out(
      `snapshot ${name} in ${body.folder} (${seconds.toFixed(1)} s); \`enigma devnet restore ${name}\` returns to it\n`,
    );
  }
}

/** Stops the devnet running from `dir` (as `devnet down`), if one is. */
async function stopRunning(io: CliIo, dir: string): Promise<void> {
  const rec = await readRecord(dir).catch(() => undefined);
  if (rec === undefined || !isAlive(rec.pid) || rec.pid === process.pid) return;
  io.err(`devnet: stopping the devnet running from ${dir} (pid ${rec.pid}) to restore\n`);
  process.kill(rec.pid, "SIGTERM");
  const until = Date.now() + 60_000;
  while (isAlive(rec.pid)) {
    if (Date.now() > until) {
      throw new EnigmaError(ErrorCode.NodeNotReady, `pid ${rec.pid} is still running after 60 s`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Adds `devnet snapshot <name>` and `devnet restore <name> [up flags]`; `up` runs `devnet up`
 * with its arguments (the restore passes `--restore <name>` and the user's flags on).
 */
export function registerSnapshot(
  devnet: Command,
  io: CliIo,
  up: (argv: string[]) => Promise<number>,
  setExit: (code: number) => void,
): void {
  devnet
    .command("snapshot <name>")
    .description(
      "snapshot the running devnet (chain history and every node's data) into <dir>/snapshots/<name>",
    )
    .option("--dir <dir>", "state folder of the running devnet", DEFAULT_DEVNET_DIR)
    .option("--json", "print one JSON object")
    .exitOverride()
    .action(async (name: string, opts: { dir: string; json?: boolean }) => {
      await snapshot(io, name, opts);
    });

  devnet
    .command("restore <name>")
    .description(
      "stop the devnet running from --dir (if any) and bring one up from a snapshot; takes `devnet up`'s flags",
    )
    .allowUnknownOption()
    .allowExcessArguments()
    .helpOption(false)
    .exitOverride()
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      // `devnet up`'s own flags (--dir, --json, --exit, --no-explorer...) are passed on.
      const rest = cmd.args.slice(1);
      const dirAt = rest.indexOf("--dir");
      const dir = resolve(
        dirAt >= 0 ? (rest[dirAt + 1] ?? DEFAULT_DEVNET_DIR) : DEFAULT_DEVNET_DIR,
      );
      await stopRunning(io, dir);
      io.err(`devnet: restoring ${join(dir, "snapshots", name)}\n`);
      setExit(await up(["devnet", "up", "--restore", name, ...rest]));
    });
}
