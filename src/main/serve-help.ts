/**
 * `gait mcp serve --help`, generated from the option table (config/options.ts) by the same renderer as every other
 * command, so the help lists exactly the settings that exist, with their environment variables and defaults.
 */
import { renderHelp, type CommandSpec, type FlagSpec } from "../cli/args.js";
import { envOf, fileKeyOf, SERVE_OPTIONS } from "../config/options.js";

function defaultText(v: unknown, kind: string): string | undefined {
  if (v === undefined) return undefined;
  if (kind === "duration") return typeof v === "number" ? (v === 0 ? "0" : v % 3_600_000 === 0 ? `${v / 3_600_000}h` : v % 60_000 === 0 ? `${v / 60_000}m` : `${v / 1000}s`) : String(v);
  if (Array.isArray(v)) return v.length ? v.join(",") : undefined;
  if (v === false) return undefined;
  return String(v);
}

export const serveSpec: CommandSpec = {
  name: "mcp serve",
  summary: "run the decision service: gRPC on a Unix socket (Evaluate, Approve, ExportTraces, health, reflection)",
  usage: ["mcp serve [<policy.yaml>] [--config <file.yaml>] [flags]", "mcp serve --print-config [flags]"],
  flags: {
    ...Object.fromEntries(
      SERVE_OPTIONS.map((o): [string, FlagSpec] => {
        const env = envOf(o);
        const d = defaultText(o.default, o.kind);
        return [
          o.flag,
          {
            type: o.kind === "boolean" ? "boolean" : "string",
            ...(o.kind !== "boolean" ? { value: o.value ?? (o.values ? o.values.join("|") : "<value>") } : {}),
            help: `${o.help}${env ? ` [${env}]` : ""}`,
            ...(d !== undefined ? { default: d } : {}),
          },
        ];
      }),
    ),
    config: { type: "string", value: "<file.yaml>", help: "YAML file of settings (keys as the flags with _ for -) [GAIT_CONFIG]" },
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
