// `enigma node start --config <file>`: one node process (principal, worker and/or gateway), as
// the devnet and the docker compose file run it. `--check-config` validates and exits. A config
// with `deployment.file` waits for that file (written by `enigma chain start --out`) and takes
// the chain's addresses from it; `--check-config` does not wait for it.
import { existsSync } from "node:fs";
import type { Command } from "commander";
import type { NodeUserConfig } from "@enigma/node";
import type { CliIo } from "./main.js";

export function registerNode(program: Command, io: CliIo): void {
  const node = program.command("node").description("run one Enigma node").exitOverride();
  node
    .command("start")
    .description("start a node from its JSON config file; stops on Ctrl-C / SIGTERM")
    .requiredOption("--config <file>", "node config (JSON)")
    .option("--check-config", "validate the config and exit")
    .option("--json", "print the node's endpoints as one JSON line once it is up")
    .option("--preset <name>", "timing preset, over the file's: fast | realistic")
    .option("--log-level <level>", "log level, over the file's")
    .exitOverride()
    .action(
      async (opts: {
        config: string;
        checkConfig?: boolean;
        json?: boolean;
        preset?: string;
        logLevel?: string;
      }) => {
        // The node (libp2p, LevelDB, the enclave) loads only here: other commands start without it.
        const { loadNodeConfig, runNode } = await import("@enigma/node");
        const check = opts.checkConfig === true;
        const config = await loadNodeConfig(opts.config, {
          // Validated with the rest of the config (InvalidConfig names a bad value's field).
          overrides: {
            preset: opts.preset as NodeUserConfig["preset"],
            logLevel: opts.logLevel as NodeUserConfig["logLevel"],
          },
          waitForDeployment: !check,
          onWaiting: (file) => {
            io.err(`enigma: waiting for the deployment file ${file}\n`);
          },
        });
        if (check) {
          const file = config.deployment?.file;
          const pending = file !== undefined && !existsSync(file) ? file : undefined;
          io.out(
            opts.json === true
              ? `${JSON.stringify({ ok: true, roles: config.roles, ...(pending === undefined ? {} : { deploymentPending: pending }) })}\n`
              : `config ok${pending === undefined ? "" : ` (chain fields from ${pending} once it appears)`}\n`,
          );
          return;
        }
        await runNode(config, {
          onStarted: (n) => {
            const e = n.endpoints();
            io.out(
              opts.json === true
                ? `${JSON.stringify(e)}\n`
                : `node up: roles ${e.roles.join(",")}, peer ${e.peerId}${e.rpcUrl === undefined ? "" : `, rpc ${e.rpcUrl}`}\n`,
            );
          },
        });
      },
    );
}
