// `enigma node start --config <file>`: one node process (principal, worker and/or gateway), as
// the devnet and the docker compose file run it. `--check-config` validates and exits.
import type { Command } from "commander";
import { loadNodeConfig, runNode } from "@enigma/node";
import type { CliIo } from "./main.js";

export function registerNode(program: Command, io: CliIo): void {
  const node = program.command("node").description("run one Enigma node").exitOverride();
  node
    .command("start")
    .description("start a node from its JSON config file; stops on Ctrl-C / SIGTERM")
    .requiredOption("--config <file>", "node config (JSON)")
    .option("--check-config", "validate the config and exit")
    .option("--json", "print the node's endpoints as one JSON line once it is up")
    .exitOverride()
    .action(async (opts: { config: string; checkConfig?: boolean; json?: boolean }) => {
      const config = await loadNodeConfig(opts.config);
      if (opts.checkConfig === true) {
        io.out(
          opts.json === true
            ? `${JSON.stringify({ ok: true, roles: config.roles })}\n`
            : "config ok\n",
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
    });
}
