/**
 * "Did you mean ...?" for misspelt keys and values: the closest candidate by edit distance, or nothing when no
 * candidate is close enough to be a plausible typo.
 *
 * Used by the policy parser (unknown keys, unknown enum values), the intent key check and the policy suite loader,
 * so every place that refuses a name suggests the same way. Pure.
 */

/**
 * Optimal string alignment distance (Levenshtein plus transposition of two adjacent characters), because the most
 * common typos are one inserted, dropped, replaced or swapped letter (`tool_nmae`).
 */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  const n = a.length;
  const m = b.length;
  if (n === 0) return m;
  if (m === 0) return n;
  let prev2: number[] = new Array<number>(m + 1).fill(0);
  let prev: number[] = Array.from({ length: m + 1 }, (_, j) => j);
  let cur: number[] = new Array<number>(m + 1).fill(0);
  for (let i = 1; i <= n; i++) {
    cur[0] = i;
    for (let j = 1; j <= m; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, prev2[j - 2]! + 1);
      cur[j] = d;
    }
    [prev2, prev, cur] = [prev, cur, prev2];
  }
  return prev[m]!;
}

/** Case, `_`, `-`, `.` and spaces folded away, so `toolName`, `tool-name` and `tool_name` compare equal. */
function fold(s: string): string {
  return s.toLowerCase().replace(/[_\-. ]/g, "");
}

/**
 * The candidate closest to `input`, or undefined when none is close: a candidate qualifies when it equals the input
 * up to case and separators, or when its edit distance (on the folded forms) is at most a third of the longer
 * length (at least 1, at most 3). Ties go to the smaller raw distance, then to the earlier candidate.
 */
export function closestMatch(input: string, candidates: Iterable<string>): string | undefined {
  const folded = fold(input);
  if (folded === "") return undefined;
  let best: string | undefined;
  let bestScore = Infinity;
  let bestRaw = Infinity;
  for (const c of candidates) {
    if (c === input) continue;
    const fc = fold(c);
    const score = editDistance(folded, fc);
    const limit = Math.min(3, Math.max(1, Math.floor(Math.max(folded.length, fc.length) / 3)));
    if (score > limit) continue;
    const raw = editDistance(input, c);
    if (score < bestScore || (score === bestScore && raw < bestRaw)) {
      best = c;
      bestScore = score;
      bestRaw = raw;
    }
  }
  return best;
}

/** ` (did you mean "x"?)` for the closest candidate, or "" when there is none. */
export function didYouMean(input: string, candidates: Iterable<string>): string {
  const s = closestMatch(input, candidates);
  return s === undefined ? "" : ` (did you mean "${s}"?)`;
}
