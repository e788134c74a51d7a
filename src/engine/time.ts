/**
 * Time helpers that reproduce Go's encodings, because times are inside signed and digested documents.
 * Go's `time.Time` marshals as RFC 3339 with nanoseconds and trailing zeros trimmed (`2026-01-02T03:04:05.5Z`);
 * the zero time is `0001-01-01T00:00:00Z` and is *not* omitted by `omitempty`.
 */

export const GO_ZERO_TIME = "0001-01-01T00:00:00Z";
/** Gait's default decision time when an intent carries none. */
export const GAIT_EPOCH = "1980-01-01T00:00:00Z";

/**
 * What Go accepts for a `time.Time` JSON field (`parseRFC3339`, then `time.Parse(time.RFC3339, …)` since the strict
 * re-check of go.dev/issue/54580 is switched off): upper-case `T` and `Z` only, no surrounding space, an hour of one
 * or two digits, a fraction after `.` or `,` of any length (nanoseconds = its first nine digits), and an offset
 * hour up to 24 and minute up to 60. Callers that Gait reads with `strings.TrimSpace` first trim themselves.
 */
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{1,2}):(\d{2}):(\d{2})(?:[.,](\d+))?(Z|[+-]\d{2}:\d{2})$/;

/** A parsed RFC 3339 instant with nanosecond precision (JS Date only has milliseconds). */
export interface Instant {
  /** milliseconds since the epoch (UTC), floor */
  ms: number;
  /** nanoseconds within the millisecond, 0..999999 */
  subMsNanos: number;
}

/** Parse an RFC 3339 timestamp as Go's `time.Time` JSON decoding does; undefined when Go would refuse it. */
export function parseRFC3339(s: string): Instant | undefined {
  const m = RFC3339.exec(s);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, se, frac, tz] = m;
  // Date.UTC maps years 0..99 to 19xx; set the full year explicitly (Go's zero time is year 1).
  const check = new Date(Date.UTC(2000, +mo! - 1, +d!, +h!, +mi!, +se!));
  check.setUTCFullYear(+y!, +mo! - 1, +d!);
  const base = check.getTime();
  if (Number.isNaN(base) || +h! > 23 || +mi! > 59 || +se! > 59) return undefined;
  // reject calendar overflow such as 2026-02-31
  if (check.getUTCDate() !== +d! || check.getUTCMonth() !== +mo! - 1) return undefined;
  let offsetMs = 0;
  if (tz && tz !== "Z") {
    const sign = tz[0] === "-" ? -1 : 1;
    const [oh, om] = [+tz.slice(1, 3), +tz.slice(4, 6)];
    if (oh > 24 || om > 60) return undefined; // Go's time.Parse range check ("> rather than >=")
    offsetMs = sign * (oh * 60 + om) * 60_000;
  }
  const nanos = frac ? Number((frac + "000000000").slice(0, 9)) : 0;
  return { ms: base - offsetMs + Math.floor(nanos / 1_000_000), subMsNanos: nanos % 1_000_000 };
}

/** Format an instant as Go's RFC3339Nano in UTC (trailing fractional zeros trimmed). */
export function formatGoTime(t: Date | number | Instant): string {
  let ms: number, sub = 0;
  if (t instanceof Date) ms = t.getTime();
  else if (typeof t === "number") ms = t;
  else { ms = t.ms; sub = t.subMsNanos; }
  const iso = new Date(ms).toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ (years 0..9999)
  const nanos = (((ms % 1000) + 1000) % 1000) * 1_000_000 + sub;
  let frac = nanos === 0 ? "" : "." + String(nanos).padStart(9, "0").replace(/0+$/, "");
  return iso.slice(0, 19) + frac + "Z";
}

/** Normalize an RFC 3339 string to Go's UTC encoding; undefined when unparsable. */
export function normalizeGoTime(s: string): string | undefined {
  const p = parseRFC3339(s);
  return p ? formatGoTime(p) : undefined;
}

/** Go's RFC3339 (second precision) in UTC, as used in rate-limit bucket keys. */
export function formatGoTimeSeconds(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19) + "Z";
}

const DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, "µs": 1e-3, "μs": 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parse a Go duration (`90s`, `1h30m`, `1.5h`, `300ms`) into milliseconds. Throws on anything else, with a message
 * naming the input. Go accepts a leading sign and "0" without unit.
 */
export function parseGoDuration(input: string): number {
  const s = input.trim();
  if (s === "0" || s === "+0" || s === "-0") return 0;
  const m = /^([+-]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$/.exec(s);
  if (!m) throw new Error(`invalid duration "${input}" (use Go syntax such as 90s, 15m, 1h, 168h)`);
  let total = 0;
  for (const part of s.replace(/^[+-]/, "").matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g)) {
    total += Number(part[1]) * DURATION_UNITS[part[2]!]!;
  }
  return m[1] === "-" ? -total : total;
}
