/**
 * Flag parsing on node:util parseArgs (strict), with Go `flag` package habits accepted too, because Gait's users
 * type them: `-flag` (single dash), `--flag=value`, `--bool=false`, flags before or after positionals.
 * Every command declares its flags once; the same table drives parsing and the `--help` text, so help can only list
 * flags that work.
 */
import { parseArgs } from "node:util";
import { usageError } from "./io.js";

export interface FlagSpec {
  type: "string" | "boolean";
  /** value placeholder in help, e.g. "<policy.yaml>" */
  value?: string;
  help: string;
  default?: string;
}

export interface CommandSpec {
  /** "gate eval" */
  name: string;
  summary: string;
  /** usage lines (without the leading "gait ") */
  usage: string[];
  flags: Record<string, FlagSpec>;
  /** allowed positional count */
  positionals: { min: number; max: number; names?: string };
  /** extra help paragraphs */
  notes?: string[];
}

export type ParsedFlags = Record<string, string | boolean | undefined>;

export interface Parsed {
  flags: ParsedFlags;
  positionals: string[];
  help: boolean;
}

const HELP: FlagSpec = { type: "boolean", help: "show this help" };

function normalizeTokens(argv: readonly string[], spec: CommandSpec): { tokens: string[]; explicitFalse: Set<string> } {
  const tokens: string[] = [];
  const explicitFalse = new Set<string>();
  let rest = false;
  for (const raw of argv) {
    if (rest || raw === "-" || !raw.startsWith("-")) {
      tokens.push(raw);
      continue;
    }
    if (raw === "--") {
      rest = true;
      tokens.push(raw);
      continue;
    }
    // Go style single dash long flag: -policy x, -json, -policy=x
    let tok = raw;
    if (/^-[A-Za-z][A-Za-z0-9-]+(=.*)?$/.test(tok)) tok = "-" + tok;
    if (tok === "-h") tok = "--help";
    const m = /^--([^=]+)=(.*)$/s.exec(tok);
    if (m) {
      const name = m[1]!;
      const f = name === "help" ? HELP : spec.flags[name];
      if (f?.type === "boolean") {
        const v = m[2]!.toLowerCase();
        if (["true", "1", "t"].includes(v)) tok = `--${name}`;
        else if (["false", "0", "f"].includes(v)) {
          explicitFalse.add(name);
          continue;
        } else throw usageError(`flag --${name} takes no value or true/false, got ${JSON.stringify(m[2])}`);
      }
    }
    tokens.push(tok);
  }
  return { tokens, explicitFalse };
}

/** Parse argv for one command. Throws a usage error (exit 6) naming the flag and the command. */
export function parseCommand(argv: readonly string[], spec: CommandSpec): Parsed {
  const { tokens, explicitFalse } = normalizeTokens(argv, spec);
  const options: Record<string, { type: "string" | "boolean" }> = { help: { type: "boolean" } };
  for (const [name, f] of Object.entries(spec.flags)) options[name] = { type: f.type };
  let values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: tokens, options, strict: true, allowPositionals: true }));
  } catch (e) {
    throw translateParseError(e as Error & { code?: string }, spec);
  }
  for (const name of explicitFalse) values[name] = false;
  const help = values.help === true;
  if (!help) {
    const { min, max } = spec.positionals;
    if (positionals.length < min || positionals.length > max) {
      const want = min === max ? `${min}` : `${min}-${max}`;
      const names = spec.positionals.names ? ` (${spec.positionals.names})` : "";
      throw usageError(
        max === 0
          ? `'gait ${spec.name}' takes no positional arguments, got ${JSON.stringify(positionals)}`
          : `'gait ${spec.name}' expects ${want} positional argument(s)${names}, got ${positionals.length}`,
        `run 'gait ${spec.name} --help'`,
      );
    }
  }
  const flags: ParsedFlags = {};
  for (const [name, f] of Object.entries(spec.flags)) {
    const v = values[name];
    flags[name] = (Array.isArray(v) ? v[v.length - 1] : v) ?? f.default;
  }
  return { flags, positionals, help };
}

function translateParseError(e: Error & { code?: string }, spec: CommandSpec): Error {
  const flag = /'(--?[^' =]+)/.exec(e.message)?.[1] ?? "";
  const hint = `run 'gait ${spec.name} --help' for the flags it accepts`;
  switch (e.code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return usageError(`unknown flag ${flag} for 'gait ${spec.name}'`, hint);
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      if (/argument missing|ambiguous/.test(e.message)) return usageError(`flag ${flag} needs a value`, hint);
      return usageError(`flag ${flag} does not take a value`, hint);
    default:
      return usageError(`bad arguments for 'gait ${spec.name}': ${e.message}`, hint);
  }
}

/** The `--help` text of a command, generated from its spec. */
export function renderHelp(spec: CommandSpec): string {
  const lines = [`gait ${spec.name}: ${spec.summary}`, "", "Usage:"];
  // the first usage line starts a command; later lines that start with a flag continue it (indented under it)
  for (const u of spec.usage) lines.push(/^\s*[[-]/.test(u) ? `      ${u.trimStart()}` : `  gait ${u}`);
  const entries = Object.entries(spec.flags).map(([name, f]) => {
    const left = `--${name}${f.type === "string" ? ` ${f.value ?? "<value>"}` : ""}`;
    const def = f.default !== undefined ? ` (default ${f.default})` : "";
    return [left, f.help + def] as const;
  });
  entries.push(["--help", HELP.help]);
  const width = Math.min(40, Math.max(...entries.map(([l]) => l.length)) + 2);
  lines.push("", "Flags:");
  // a flag longer than the column gets its help on the next line instead of running into it
  for (const [l, h] of entries) lines.push(l.length + 2 > width ? `  ${l}\n  ${"".padEnd(width)}${h}` : `  ${l.padEnd(width)}${h}`);
  if (spec.notes?.length) lines.push("", ...spec.notes);
  lines.push("", "Flags may come before or after positional arguments; -flag and --flag=value are accepted.");
  return lines.join("\n") + "\n";
}

/** Split a comma-separated flag value, trimming and dropping empty items. */
export function csv(value: string | boolean | undefined): string[] {
  if (typeof value !== "string") return [];
  return value
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

/** A string flag's trimmed value, or undefined when unset/empty. */
export function str(value: string | boolean | undefined): string | undefined {
  if (typeof value !== "string") return undefined;
  const t = value.trim();
  return t ? t : undefined;
}

/** Validate an enumerated flag value (case-insensitive). */
export function oneOf<T extends string>(flag: string, value: string | boolean | undefined, allowed: readonly T[], dflt: T): T {
  const v = (str(value) ?? dflt).toLowerCase();
  if (!(allowed as readonly string[]).includes(v)) {
    throw usageError(`unsupported --${flag} value ${JSON.stringify(value)} (expected ${allowed.join(" or ")})`);
  }
  return v as T;
}
