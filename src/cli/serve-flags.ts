/**
 * The flags of `gait mcp serve` as help entries, from the one option table (config/options.ts): `gait mcp serve
 * --help` and `gait doctor --help` (which takes the same settings) both render them, so neither can list a setting
 * that does not exist.
 */
import { envOf, SERVE_OPTIONS } from "../config/options.js";
import type { FlagSpec } from "./args.js";

function defaultText(v: unknown, kind: string): string | undefined {
  if (v === undefined) return undefined;
  if (kind === "duration") return typeof v === "number" ? (v === 0 ? "0" : v % 3_600_000 === 0 ? `${v / 3_600_000}h` : v % 60_000 === 0 ? `${v / 60_000}m` : `${v / 1000}s`) : String(v);
  if (Array.isArray(v)) return v.length ? v.join(",") : undefined;
  if (v === false) return undefined;
  return String(v);
}

/** Every setting as a flag help entry (with its environment variable), then --config. */
export function serveFlagSpecs(): Record<string, FlagSpec> {
  return {
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
  };
}
