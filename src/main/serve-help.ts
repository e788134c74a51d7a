/**
 * `gait mcp serve --help`, generated from the option table (config/options.ts) by the same renderer as every other
 * command, so the help lists exactly the settings that exist, with their environment variables and defaults.
 */
import { renderHelp, type CommandSpec } from "../cli/args.js";
import { serveFlagSpecs } from "../cli/serve-flags.js";
import { fileKeyOf, SERVE_OPTIONS } from "../config/options.js";

export const serveSpec: CommandSpec = {
  name: "mcp serve",
  summary: "run the decision service: gRPC on a Unix socket (Evaluate, Approve, ExportTraces, health, reflection)",
  usage: ["mcp serve [<policy.yaml>] [--config <file.yaml>] [flags]", "mcp serve --print-config [flags]"],
  flags: {
    ...serveFlagSpecs(),
    "print-config": { type: "boolean", help: "print the effective configuration (secrets redacted) and where each value came from, then exit" },
  },
  positionals: { min: 0, max: 1, names: "<policy.yaml>" },
  notes: [
    "Precedence: flags, then environment variables (in brackets), then the --config file, then the defaults.",
    `Config file keys: ${SERVE_OPTIONS.slice(0, 4).map(fileKeyOf).join(", ")}, ... (every flag, with _ for -).`,
    "Approve and ListApprovals are served only on --operator-listen. Exit codes: 0 stopped cleanly, 6 bad configuration,",
    "1 a listener, the trace log or the approval state could not be opened.",
  ],
};

export function serveHelp(): string {
  return renderHelp(serveSpec);
}
