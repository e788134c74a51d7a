/**
 * The `gait` command line. `main(argv)` returns the process exit code instead of exiting, so tests run it
 * in-process; `bin/gait` sets `process.exitCode` from it.
 *
 * Fail-closed contract: any error prints a message (or Gait's JSON error envelope with `--json`) and exits non-zero
 * WITHOUT a verdict, so a caller that only executes on `allow` can never be tricked into executing.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { correlationIdFromArgv } from "../engine/trace.js";
import { parseCommand, renderHelp, type CommandSpec, type Parsed } from "./args.js";
import { CommandContext, defaultIO, EXIT, toCliError, usageError, type CliIO } from "./io.js";

export { EXIT, type CliIO } from "./io.js";

interface Command {
  spec: CommandSpec;
  run: (ctx: CommandContext, args: Parsed) => Promise<number>;
  /** the command parses its own arguments (`doctor` takes the settings of `mcp serve`): `run` gets them as positionals */
  rawArgs?: true;
}

/**
 * Each command's module is loaded when that command runs (or when help lists it), so a one-shot run evaluates only
 * what its command needs: `gait mcp proxy` loads neither the zip code of runpacks nor key rotation nor trace-log
 * verification (start-up time is the point of the serverless pattern; see bench/dist-startup.sh).
 */
const COMMANDS: Record<string, () => Promise<Command>> = {
  "gate eval": () => import("./commands/gate.js").then((m) => ({ spec: m.gateEvalSpec, run: m.gateEval })),
  "policy validate": () => import("./commands/policy.js").then((m) => ({ spec: m.policyValidateSpec, run: m.policyValidate })),
  "policy test": () => import("./commands/policy.js").then((m) => ({ spec: m.policyTestSpec, run: m.policyTest })),
  "policy digest": () => import("./commands/policy.js").then((m) => ({ spec: m.policyDigestSpec, run: m.policyDigest })),
  "policy explain": () => import("./commands/policy.js").then((m) => ({ spec: m.policyExplainSpec, run: m.policyExplain })),
  "policy init": () => import("./commands/policy.js").then((m) => ({ spec: m.policyInitSpec, run: m.policyInit })),
  "mcp proxy": () => import("./commands/mcp.js").then((m) => ({ spec: m.mcpProxySpec, run: m.mcpProxy })),
  "mcp bridge": () =>
    import("./commands/mcp.js").then((m) => ({
      spec: { ...m.mcpProxySpec, name: "mcp bridge", summary: "alias of 'gait mcp proxy'", usage: m.mcpProxySpec.usage.map((u) => u.replace("mcp proxy", "mcp bridge")) },
      run: m.mcpProxy,
    })),
  approve: () => import("./commands/approve.js").then((m) => ({ spec: m.approveSpec, run: m.approve })),
  "keys init": () => import("./commands/keys.js").then((m) => ({ spec: m.keysInitSpec, run: m.keysInit })),
  "keys rotate": () => import("./commands/keys.js").then((m) => ({ spec: m.keysRotateSpec, run: m.keysRotate })),
  "keys verify": () => import("./commands/keys.js").then((m) => ({ spec: m.keysVerifySpec, run: m.keysVerify })),
  "approvals list": () => import("./commands/operator.js").then((m) => ({ spec: m.approvalsListSpec, run: m.approvalsList })),
  "approvals show": () => import("./commands/operator.js").then((m) => ({ spec: m.approvalsShowSpec, run: m.approvalsShow })),
  "approvals grant": () => import("./commands/operator.js").then((m) => ({ spec: m.approvalsGrantSpec, run: m.approvalsGrant })),
  "approvals deny": () => import("./commands/operator.js").then((m) => ({ spec: m.approvalsDenySpec, run: m.approvalsDeny })),
  "killswitch set": () => import("./commands/operator.js").then((m) => ({ spec: m.killswitchSetSpec, run: m.killswitchSet })),
  "killswitch list": () => import("./commands/operator.js").then((m) => ({ spec: m.killswitchListSpec, run: m.killswitchList })),
  "killswitch clear": () => import("./commands/operator.js").then((m) => ({ spec: m.killswitchClearSpec, run: m.killswitchClear })),
  "trace tail": () => import("./commands/operator.js").then((m) => ({ spec: m.traceTailSpec, run: m.traceTail })),
  "trace verify": () => import("./commands/verify.js").then((m) => ({ spec: m.traceVerifySpec, run: m.traceVerify })),
  verify: () => import("./commands/verify.js").then((m) => ({ spec: m.runpackVerifySpec, run: m.runpackVerify })),
  doctor: () => import("./commands/doctor.js").then((m) => ({ spec: m.doctorSpec, run: m.doctor, rawArgs: true as const })),
  version: () => import("./commands/version.js").then((m) => ({ spec: m.versionSpec, run: m.version })),
};

/** Gait's aliases of `gait version` (cmd/gait/main.go: "version", "--version", "-v"). */
const VERSION_ALIASES: ReadonlySet<string> = new Set(["--version", "-v"]);

/** Every command's spec, in table order (help only). */
async function allSpecs(): Promise<[string, CommandSpec][]> {
  return Promise.all(Object.entries(COMMANDS).map(async ([name, load]) => [name, (await load()).spec] as [string, CommandSpec]));
}

const GROUPS = ["gate", "policy", "mcp", "keys", "trace", "approvals", "killswitch"];

async function topHelp(): Promise<string> {
  const lines = ["gait: runtime policy gate for AI agent tool calls (Gait-compatible)", "", "Commands:"];
  const rows: [string, string][] = (await allSpecs()).map(([name, spec]) => [name, spec.summary]);
  rows.splice(rows.findIndex(([n]) => n === "mcp bridge") + 1, 0, ["mcp serve", "run the decision service (gRPC on a Unix socket); see 'gait mcp serve --help'"]);
  for (const [name, summary] of rows) lines.push(`  ${name.padEnd(16)}${summary}`);
  lines.push(
    "",
    "Run 'gait <command> --help' for a command's flags. Add --json for machine-readable output.",
    "Exit codes: 0 ok/allow/dry_run, 1 internal or I/O failure, 2 verification failed (doctor: a check failed), 3 blocked,",
    "            4 approval required, 6 invalid input or usage.",
  );
  return lines.join("\n") + "\n";
}

async function groupHelp(group: string): Promise<string> {
  const lines = [`gait ${group}: subcommands`, ""];
  for (const [name, spec] of await allSpecs()) if (name.startsWith(group + " ")) lines.push(`  gait ${name.padEnd(16)}${spec.summary}`);
  if (group === "mcp") lines.push(`  gait ${"mcp serve".padEnd(16)}run the decision service`);
  return lines.join("\n") + "\n";
}

export interface ServeModule {
  serveMain(argv: string[]): Promise<number>;
}

/**
 * Loads the service from the tsc output next to this module (never bundled into the Node one-shot bundle, so
 * one-shot commands never load gRPC). From dist/src/cli/main.js the service is ../main/serve.js; from the bundle
 * (dist/gait.mjs) it is ./src/main/serve.js.
 */
async function loadServeFromFiles(): Promise<ServeModule> {
  const here = import.meta.url;
  const candidates = [new URL("../main/serve.js", here), new URL("./src/main/serve.js", here)];
  const found = candidates.find((u) => existsSync(fileURLToPath(u)));
  return (await import((found ?? candidates[0]!).href)) as ServeModule;
}

let serveLoader: () => Promise<ServeModule> = loadServeFromFiles;

/**
 * Replace how `gait mcp serve` loads the service: the self-contained executable (src/cli/standalone.ts) has the
 * service bundled in and no files beside it.
 */
export function setServeLoader(loader: () => Promise<ServeModule>): void {
  serveLoader = loader;
}

async function runServe(argv: string[], io: CliIO): Promise<number> {
  let mod: ServeModule;
  try {
    mod = await serveLoader();
  } catch (e) {
    io.stderr(`gait mcp serve: the service is not available in this build (cannot load src/main/serve: ${(e as Error).message})\n`);
    io.stderr("hint: run 'make build' and check that src/main/serve.ts exists\n");
    return EXIT.INTERNAL;
  }
  if (typeof mod.serveMain !== "function") {
    io.stderr("gait mcp serve: src/main/serve does not export serveMain(argv)\n");
    return EXIT.INTERNAL;
  }
  return mod.serveMain(argv);
}

/** Run the CLI. `io` defaults to the real process (stdout, stderr, stdin, cwd, env, clock). */
export async function main(argvIn: string[], ioOverrides: Partial<CliIO> = {}): Promise<number> {
  const io: CliIO = { ...defaultIO(), ...ioOverrides };
  const argv = argvIn.length > 0 && VERSION_ALIASES.has(argvIn[0]!) ? ["version", ...argvIn.slice(1)] : argvIn;
  const correlationId = correlationIdFromArgv(argv);
  const wantsJson = argv.some((a) => /^--?json(=(true|1|t))?$/i.test(a));

  if (argv.length === 0 || argv[0] === "--help" || argv[0] === "-h" || argv[0] === "-help") {
    io.stdout(await topHelp());
    return EXIT.OK;
  }
  if (argv[0] === "help") {
    const rest = argv.slice(1).join(" ");
    if (!rest) io.stdout(await topHelp());
    else if (COMMANDS[rest]) io.stdout(renderHelp((await COMMANDS[rest]!()).spec));
    else if (rest === "mcp serve") return runServe(["--help"], io);
    else if (GROUPS.includes(rest)) io.stdout(await groupHelp(rest));
    else {
      io.stderr(`gait help: unknown command '${rest}'\n\n${await topHelp()}`);
      return EXIT.INVALID_INPUT;
    }
    return EXIT.OK;
  }

  if (argv[0] === "mcp" && argv[1] === "serve") return runServe(argv.slice(2), io);

  let name: string | undefined;
  let rest: string[] = [];
  if (COMMANDS[argv[0]!]) {
    name = argv[0]!;
    rest = argv.slice(1);
  } else if (argv.length >= 2 && COMMANDS[`${argv[0]} ${argv[1]}`]) {
    name = `${argv[0]} ${argv[1]}`;
    rest = argv.slice(2);
  }

  if (!name) {
    const group = argv[0]!;
    const ctx = new CommandContext(io, group, correlationId, wantsJson);
    if (GROUPS.includes(group)) {
      if (argv.length === 1 || /^--?h(elp)?$/.test(argv[1]!)) {
        io.stdout(await groupHelp(group));
        return argv.length === 1 ? EXIT.INVALID_INPUT : EXIT.OK;
      }
      return ctx.fail(usageError(`unknown subcommand '${argv[1]}' for 'gait ${group}'`, `run 'gait ${group} --help'`));
    }
    return ctx.fail(usageError(`unknown command '${group}'`, "run 'gait --help' for the list of commands"));
  }

  const cmd = await COMMANDS[name]!();
  const ctx = new CommandContext(io, name, correlationId, wantsJson);
  if (cmd.rawArgs) {
    try {
      return await cmd.run(ctx, { flags: {}, positionals: rest, help: false });
    } catch (e) {
      return ctx.fail(toCliError(e));
    }
  }
  let args: Parsed;
  try {
    args = parseCommand(rest, cmd.spec);
  } catch (e) {
    return ctx.fail(toCliError(e));
  }
  if (args.help) {
    io.stdout(renderHelp(cmd.spec));
    return EXIT.OK;
  }
  const jsonCtx = new CommandContext(io, name, correlationId, args.flags.json === true);
  try {
    return await cmd.run(jsonCtx, args);
  } catch (e) {
    return jsonCtx.fail(toCliError(e));
  }
}
