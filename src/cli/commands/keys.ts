/**
 * `gait keys init|rotate|verify` (evidence.md §4.4): Ed25519 key files in Gait's format. There is no key registry:
 * rotating means writing a new pair (old files are kept) and handing verifiers the new public key.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Ed25519KeyPair, KeyError, loadSigningKey } from "../../infra/keys.js";
import { str, type CommandSpec, type Parsed } from "../args.js";
import { CliError, EXIT, usageError, type CommandContext } from "../io.js";
import { EVIDENCE_FILE_MODE, writeFileAtomic } from "../../infra/fs.js";

const outDirFlag = { type: "string", value: "<dir>", help: "directory for the key files", default: "gait-out/keys" } as const;
const prefixFlag = { type: "string", value: "<name>", help: "file name prefix: <prefix>_private.key, <prefix>_public.key", default: "gait" } as const;
const jsonFlag = { type: "boolean", help: "print JSON" } as const;

export const keysInitSpec: CommandSpec = {
  name: "keys init",
  summary: "create an Ed25519 signing key pair (private and public key files, mode 0600)",
  usage: ["keys init [--out-dir gait-out/keys] [--prefix gait] [--force] [--json]"],
  flags: { "out-dir": outDirFlag, prefix: prefixFlag, force: { type: "boolean", help: "overwrite existing key files" }, json: jsonFlag },
  positionals: { min: 0, max: 0 },
};

export const keysRotateSpec: CommandSpec = {
  name: "keys rotate",
  summary: "create a new key pair named <prefix>_<UTC timestamp>; existing keys are kept",
  usage: ["keys rotate [--out-dir gait-out/keys] [--prefix gait] [--json]"],
  flags: { "out-dir": outDirFlag, prefix: prefixFlag, json: jsonFlag },
  positionals: { min: 0, max: 0 },
  notes: ["Rotation does not revoke anything: give verifiers the new public key and retire the old one yourself."],
};

export const keysVerifySpec: CommandSpec = {
  name: "keys verify",
  summary: "load a private key (prod rules) and check that a public key matches it",
  usage: ["keys verify (--private-key <path>|--private-key-env <VAR>) [--public-key <path>|--public-key-env <VAR>] [--json]"],
  flags: {
    "private-key": { type: "string", value: "<path>", help: "private key file" },
    "private-key-env": { type: "string", value: "<VAR>", help: "environment variable holding the private key" },
    "public-key": { type: "string", value: "<path>", help: "public key file that must match the private key" },
    "public-key-env": { type: "string", value: "<VAR>", help: "environment variable holding the public key" },
    json: jsonFlag,
  },
  positionals: { min: 0, max: 0 },
};

function checkPrefix(prefix: string): string {
  if (!/^[A-Za-z0-9._-]+$/.test(prefix) || prefix.startsWith(".")) {
    throw usageError(`invalid --prefix ${JSON.stringify(prefix)} (letters, digits, '.', '_' and '-' only)`);
  }
  return prefix;
}

async function writePair(ctx: CommandContext, outDir: string, prefix: string, force: boolean): Promise<Record<string, unknown>> {
  const privPath = join(outDir, `${prefix}_private.key`);
  const pubPath = join(outDir, `${prefix}_public.key`);
  if (!force) {
    for (const p of [privPath, pubPath]) {
      if (existsSync(ctx.path(p))) throw usageError(`refusing to overwrite existing key file ${p}`, "pass --force to replace it, or choose another --prefix / --out-dir");
    }
  }
  const key = Ed25519KeyPair.generate();
  try {
    // key paths are the operator's explicit choice: no "no .." rule here (that rule guards evidence outputs)
    await writeFileAtomic(ctx.path(privPath), key.privateKeyText(), EVIDENCE_FILE_MODE);
    await writeFileAtomic(ctx.path(pubPath), key.publicKeyText(), EVIDENCE_FILE_MODE);
  } catch (e) {
    throw new CliError(`write key files: ${(e as Error).message}`, EXIT.INTERNAL, { category: "io_failure" });
  }
  return { ok: true, prefix, key_id: key.keyId, public_key_path: pubPath, private_key_path: privPath };
}

function report(ctx: CommandContext, out: Record<string, unknown>, title: string): number {
  if (ctx.json) return ctx.printJson(out, EXIT.OK);
  return ctx.printHuman(
    [`${title}: key_id=${out.key_id}`, `private key: ${out.private_key_path}`, `public key: ${out.public_key_path}`],
    EXIT.OK,
  );
}

export async function keysInit(ctx: CommandContext, args: Parsed): Promise<number> {
  const prefix = checkPrefix(str(args.flags.prefix) ?? "gait");
  const out = await writePair(ctx, str(args.flags["out-dir"]) ?? "gait-out/keys", prefix, args.flags.force === true);
  return report(ctx, out, "keys init");
}

/** `yyyyMMddTHHmmssZ` in UTC. */
function stamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
}

export async function keysRotate(ctx: CommandContext, args: Parsed): Promise<number> {
  const prefix = `${checkPrefix(str(args.flags.prefix) ?? "gait")}_${stamp(ctx.io.now())}`;
  const out = await writePair(ctx, str(args.flags["out-dir"]) ?? "gait-out/keys", prefix, false);
  return report(ctx, out, "keys rotate");
}

export async function keysVerify(ctx: CommandContext, args: Parsed): Promise<number> {
  const f = args.flags;
  const privPath = str(f["private-key"]), privEnv = str(f["private-key-env"]);
  const pubPath = str(f["public-key"]), pubEnv = str(f["public-key-env"]);
  if (!privPath && !privEnv) throw usageError("keys verify needs --private-key <path> or --private-key-env <VAR>");
  let key: Ed25519KeyPair;
  try {
    key = loadSigningKey(
      "prod",
      { path: privPath ? ctx.path(privPath) : undefined, env: privEnv },
      { path: pubPath ? ctx.path(pubPath) : undefined, env: pubEnv },
      ctx.io.env,
    ).key;
  } catch (e) {
    if (e instanceof KeyError) {
      // a pair that loads but does not match is a failed verification, not a usage problem
      if (/does not match/.test(e.message)) throw new CliError(e.message, EXIT.VERIFY_FAILED);
      throw usageError(e.message);
    }
    throw e;
  }
  const out: Record<string, unknown> = {
    ok: true,
    key_id: key.keyId,
    private_key_source: privPath ? `path:${privPath}` : `env:${privEnv}`,
  };
  if (pubPath || pubEnv) out.public_key_source = pubPath ? `path:${pubPath}` : `env:${pubEnv}`;
  if (ctx.json) return ctx.printJson(out, EXIT.OK);
  return ctx.printHuman(
    [
      `keys verify: ok key_id=${key.keyId}`,
      `private key: ${out.private_key_source}`,
      out.public_key_source ? `public key: ${out.public_key_source} (matches)` : undefined,
    ],
    EXIT.OK,
  );
}
