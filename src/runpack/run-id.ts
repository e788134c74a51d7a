/**
 * Run ids, on their own so that callers that only name a run (the one-shot `gait mcp proxy`) do not load the runpack
 * writer and its zip code.
 */
/**
 * Gait's `normalizeRunID`: runs of characters outside `[A-Za-z0-9_-]` become `_`, outer `_` are trimmed, and `run_`
 * is prefixed when missing. Empty input stays empty.
 */
export function normalizeRunId(raw: string | undefined): string {
  const s = (raw ?? "").trim().replace(/[^A-Za-z0-9_-]+/g, "_").replace(/^_+|_+$/g, "");
  if (!s) return "";
  return s.startsWith("run_") ? s : `run_${s}`;
}
