/**
 * `gait version` (also `gait --version`, `gait -v`): Gait's runVersion (cmd/gait/main.go). Human output is
 * `gait <version>`; `--json` prints Gait's versionOutput `{ok, version}` inside the usual JSON envelope. The version
 * is this build's package version, the same string traces carry as `producer_version`.
 */
import type { CommandSpec, Parsed } from "../args.js";
import { EXIT, type CommandContext } from "../io.js";
import { producerVersion } from "../inputs.js";

export const versionSpec: CommandSpec = {
  name: "version",
  summary: "print the CLI version (also 'gait --version', 'gait -v')",
  usage: ["version [--json]", "--version [--json]"],
  flags: { json: { type: "boolean", help: "print JSON" } },
  positionals: { min: 0, max: 0 },
};

export async function version(ctx: CommandContext, _args: Parsed): Promise<number> {
  const v = producerVersion();
  if (ctx.json) return ctx.printJson({ ok: true, version: v }, EXIT.OK);
  return ctx.printHuman([`gait ${v}`], EXIT.OK);
}
