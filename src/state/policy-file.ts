/**
 * The policy the server decides with: parsed ONCE, swapped atomically on reload (file change or SIGHUP), pinned by
 * `--policy-digest`. A deliberate deviation from Gait's `mcp serve`, which re-reads and re-parses the file on every
 * request. A reload that fails (unreadable file, parse error, digest mismatch) keeps the last good policy and is
 * reported (logs, GetServerInfo.policy_reload_error, health service "gait.gate.v1.PolicyReload" NOT_SERVING).
 */
import { readFileSync, readdirSync, readlinkSync, realpathSync, statSync, watch, type FSWatcher } from "node:fs";
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

  /**
   * Re-read the file once; on any failure keep the current policy. Refuses (keeping the current policy) a file that
   * a process holds open for writing, or that changed while it was read: a policy rewritten in place can parse as a
   * valid YAML prefix of itself. Watchers and SIGHUP use {@link reloadWhenSettled}, which waits such a write out.
   */
  reload(): ReloadOutcome {
    let out: ReloadOutcome;
    try {
      const writer = openForWriting(this.path);
      if (writer !== undefined) throw new PolicyLoadError(`policy ${this.path} is being written (open for writing by pid ${writer}); keeping the last good policy until the write is finished`);
      const before = statSync(this.path);
      const next = loadPolicyFile(this.path, this.pin, this.check, true);
      const after = statSync(this.path);
      if (before.ino !== after.ino || before.size !== after.size || before.mtimeMs !== after.mtimeMs) {
        throw new PolicyLoadError(`policy ${this.path} changed while it was read; keeping the last good policy until it settles`);
      }
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

  private settling: Promise<ReloadOutcome> | undefined;
  private again = false;

  /**
   * Reload once the file has settled: no process holds it open for writing and it was last modified at least
   * `settleMs` ago. A file that does not settle within `maxWaitMs` is reported as a failed reload (the current
   * policy stays). Calls during a wait join it (and trigger one more read at its end).
   */
  reloadWhenSettled(settleMs = 250, maxWaitMs = 30_000): Promise<ReloadOutcome> {
    if (this.settling) {
      this.again = true;
      return this.settling;
    }
    const run = async (): Promise<ReloadOutcome> => {
      const deadline = Date.now() + maxWaitMs;
      for (;;) {
        this.again = false;
        let busy: string | undefined;
        try {
          const st = statSync(this.path);
          const writer = openForWriting(this.path);
          if (writer !== undefined) busy = `open for writing by pid ${writer}`;
          else if (Date.now() - st.mtimeMs < settleMs) busy = "modified moments ago";
        } catch {
          busy = undefined; // missing (mid-rename?): let reload() report it if it stays missing
        }
        if (!busy && !this.again) {
          const out = this.reload();
          if (out.ok || !/changed while it was read|is being written/.test(out.error) || Date.now() > deadline) return out;
        } else if (busy && Date.now() > deadline) {
          const error = `policy ${this.path} did not settle within ${maxWaitMs} ms (${busy}); keeping the last good policy`;
          this.lastError = error;
          const out: ReloadOutcome = { ok: false, error, digest: this.cur.digest };
          for (const l of this.listeners) l(out);
          return out;
        }
        await new Promise((r) => setTimeout(r, Math.max(20, settleMs / 2)));
      }
    };
    this.settling = run().finally(() => (this.settling = undefined));
    return this.settling;
  }
}

/**
 * A pid holding `path` open for writing (Linux /proc; only processes this user may inspect), or undefined. A policy
 * rewritten in place is held open by its writer until the write is done.
 */
export function openForWriting(path: string): number | undefined {
  let target: string;
  try {
    target = realpathSync(path);
  } catch {
    return undefined;
  }
  let pids: string[];
  try {
    pids = readdirSync("/proc").filter((n) => /^\d+$/.test(n));
  } catch {
    return undefined; // no /proc: the stat checks still apply
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) !== target) continue;
        const flags = /flags:\s*([0-7]+)/.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, "utf8"));
        if (flags && (parseInt(flags[1]!, 8) & 3) !== 0) return Number(pid); // O_WRONLY or O_RDWR
      } catch {
        /* gone meanwhile */
      }
    }
  }
  return undefined;
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
