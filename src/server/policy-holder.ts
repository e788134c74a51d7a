/**
 * The policy the server decides with: parsed ONCE, swapped atomically on reload (file change or SIGHUP), pinned by
 * `--policy-digest`. A deliberate deviation from Gait's `mcp serve`, which re-reads and re-parses the file on every
 * request. A reload that fails (unreadable file, parse error, digest mismatch) keeps the last good policy and is
 * reported (logs, GetServerInfo.policy_reload_error, health service "gait.gate.v1.PolicyReload" NOT_SERVING).
 */
import { readFileSync, watch, type FSWatcher } from "node:fs";
import { basename, dirname } from "node:path";
import { parsePolicy } from "../engine/policy.js";
import type { Policy } from "../engine/types.js";

export class PolicyLoadError extends Error {
  override name = "PolicyLoadError";
}

export interface LoadedPolicy {
  policy: Policy;
  digest: string;
  path: string;
  loadedAt: Date;
}

/** Extra acceptance check run on every load (start and reload), e.g. the oss-prod profile rules. Throws to refuse. */
export type PolicyCheck = (policy: Policy) => void;

/**
 * Read, parse and (optionally) check the digest pin and `check`. Throws PolicyLoadError with the reason and the fix.
 * `rejectBlank` refuses an empty or whitespace-only file: on reload that is almost always a truncated or half-written
 * file, and parsing it would silently replace the last good policy with an empty one.
 */
export function loadPolicyFile(path: string, pin?: string, check?: PolicyCheck, rejectBlank = false): LoadedPolicy {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new PolicyLoadError(`read policy ${path}: ${err.code === "ENOENT" ? "file not found" : err.message}`);
  }
  if (rejectBlank && text.trim() === "") {
    throw new PolicyLoadError(`policy ${path} is empty (truncated or still being written?); write the new policy atomically (write a temp file, then rename)`);
  }
  let policy: Policy;
  try {
    policy = parsePolicy(text);
  } catch (e) {
    throw new PolicyLoadError(`parse policy ${path}: ${(e as Error).message}`);
  }
  if (pin && policy.policy_digest !== pin) {
    throw new PolicyLoadError(
      `policy ${path} has digest sha256:${policy.policy_digest}, but --policy-digest pins sha256:${pin}; deploy the pinned policy or update the pin`,
    );
  }
  if (check) {
    try {
      check(policy);
    } catch (e) {
      throw new PolicyLoadError(`policy ${path} is not acceptable: ${(e as Error).message}`);
    }
  }
  return { policy, digest: policy.policy_digest, path, loadedAt: new Date() };
}

export type ReloadOutcome =
  | { ok: true; changed: boolean; previousDigest: string; digest: string }
  | { ok: false; error: string; digest: string };

export class PolicyHolder {
  private cur: LoadedPolicy;
  private lastError: string | undefined;
  private listeners: ((o: ReloadOutcome) => void)[] = [];

  constructor(
    readonly path: string,
    readonly pin?: string,
    private readonly check?: PolicyCheck,
  ) {
    this.cur = loadPolicyFile(path, pin, check); // start: any failure is fatal (no last good policy yet)
  }

  get current(): LoadedPolicy {
    return this.cur;
  }
  /** The last reload's error, cleared by a successful reload. */
  get reloadError(): string | undefined {
    return this.lastError;
  }
  onReload(fn: (o: ReloadOutcome) => void): void {
    this.listeners.push(fn);
  }

  /** Re-read the file; on any failure keep the current policy. */
  reload(): ReloadOutcome {
    let out: ReloadOutcome;
    try {
      const next = loadPolicyFile(this.path, this.pin, this.check, true);
      const previousDigest = this.cur.digest;
      this.cur = next;
      this.lastError = undefined;
      out = { ok: true, changed: previousDigest !== next.digest, previousDigest, digest: next.digest };
    } catch (e) {
      this.lastError = (e as Error).message;
      out = { ok: false, error: this.lastError, digest: this.cur.digest };
    }
    for (const l of this.listeners) l(out);
    return out;
  }
}

/**
 * Watch one file for changes (including replacement by rename, as editors and `mv` do) by watching its directory,
 * and call `fn` once per burst of events (debounced). Returns the watcher so the caller can close it.
 */
export function watchFile(path: string, fn: () => void, debounceMs = 100): FSWatcher {
  const name = basename(path);
  let timer: NodeJS.Timeout | undefined;
  const w = watch(dirname(path), { persistent: false }, (_event, file) => {
    if (file !== null && file.toString() !== name) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      fn();
    }, debounceMs);
  });
  w.on("error", () => {
    /* directory vanished: SIGHUP still reloads */
  });
  return w;
}
