/**
 * Kill-switch state from a JSON file (`gait.gate.kill_switch_state`, gate.md §4.3). Reading and JSON parsing happen
 * here; the schema rules live in the engine's parser, so the CLI and the service apply the same validation.
 *
 * Whether an unreadable file is fatal is a policy decision (required for oss-prod and high/critical risk): the
 * loader therefore offers both a throwing form and a form that returns `{unavailable: reason}` for the gate.
 */
import { readFile } from "node:fs/promises";
import { parseKillSwitchState } from "../engine/killswitch.js";
import type { KillSwitchState } from "../engine/types.js";

/** The file could not be read, was not JSON, or failed the engine's schema checks. */
export class KillSwitchFileError extends Error {
  override name = "KillSwitchFileError";
}

/**
 * Read and parse a kill-switch state file. Throws {@link KillSwitchFileError} naming the file (as `label`, default
 * the path) and the problem.
 */
export async function loadKillSwitchFile(path: string, label: string = path): Promise<KillSwitchState> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new KillSwitchFileError(`read kill switch state ${label}: ${err.code === "ENOENT" ? "file not found" : err.message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new KillSwitchFileError(`parse kill switch state ${label}: invalid JSON (${(e as Error).message})`);
  }
  try {
    return parseKillSwitchState(json);
  } catch (e) {
    throw new KillSwitchFileError(`kill switch state ${label}: ${(e as Error).message}`);
  }
}

/**
 * Like {@link loadKillSwitchFile}, but a failure becomes `{unavailable: message}` so the gate can decide: block with
 * `kill_switch_state_unavailable` when the state is required, an input error otherwise. Never yields a usable state
 * from a broken file.
 */
export async function loadKillSwitchForGate(path: string, label: string = path): Promise<KillSwitchState | { unavailable: string }> {
  try {
    return await loadKillSwitchFile(path, label);
  } catch (e) {
    return { unavailable: (e as Error).message };
  }
}
