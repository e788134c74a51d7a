/**
 * fast-check arbitraries of raw protobuf wire bytes, guided by a message descriptor: mostly well-formed fields of
 * the message (so decoding reaches deep), mixed with the encodings on which parsers are known to disagree or that
 * they reject — unknown fields of every wire type at every depth, known fields with the wrong wire type, groups,
 * truncations, over-long and overflowing varints, out-of-range int32s, duplicated messages, packed and unpacked
 * forms, invalid UTF-8, `__proto__` map keys, non-finite doubles, out-of-range timestamps.
 */
import fc from "fast-check";
import { ScalarType, type DescField, type DescMessage } from "@bufbuild/protobuf";

export type WireField = (
  | { no: number; wire: 0; varint: number[] }
  | { no: number; wire: 1 | 5; raw: number[] }
  | { no: number; wire: 2; body: Uint8Array | WireField[] }
  | { no: number; wire: 3; group: WireField[] }
  | { no: number; wire: 4 | 6 | 7 }
) & {
  /** encode the tag with this many extra (over-long) bytes */
  tagPad?: number;
  /** encode a length prefix with this many extra (over-long) bytes */
  lenPad?: number;
};

/** Encode a varint of a non-negative bigint (< 2^64), optionally padded to `pad` extra bytes (over-long form). */
export function varintBytes(v: bigint, pad = 0): number[] {
  const out: number[] = [];
  let x = BigInt.asUintN(64, v);
  do {
    let b = Number(x & 0x7fn);
    x >>= 7n;
    if (x > 0n || pad > 0) b |= 0x80;
    out.push(b);
  } while (x > 0n);
  for (let i = 0; i < pad; i++) out.push(i === pad - 1 ? 0x00 : 0x80);
  return out;
}

/** Encode fields to bytes. */
export function encodeWire(fields: readonly WireField[]): Uint8Array {
  const out: number[] = [];
  const put = (fs: readonly WireField[]): void => {
    for (const f of fs) {
      out.push(...varintBytes(BigInt(f.no) * 8n + BigInt(f.wire), f.tagPad ?? 0));
      switch (f.wire) {
        case 0:
          out.push(...f.varint);
          break;
        case 1:
        case 5:
          out.push(...f.raw);
          break;
        case 2: {
          const body = f.body instanceof Uint8Array ? f.body : encodeWire(f.body);
          out.push(...varintBytes(BigInt(body.length), f.lenPad ?? 0), ...body);
          break;
        }
        case 3:
          put(f.group);
          out.push(...varintBytes(BigInt(f.no) * 8n + 4n));
          break;
        default:
          break;
      }
    }
  };
  put(fields);
  return Uint8Array.from(out);
}

const utf8 = (s: string) => new TextEncoder().encode(s);
const STRINGS = ["__proto__", "", "a", "tool.write", "tool.delete", "/repo/a", "é", "😀", "日本語", "\u0000", "__proto__", "constructor", "x".repeat(40), "bob", "Bob", "bob\u200b"];

const stringBytes: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...STRINGS).map(utf8) },
  { weight: 1, arbitrary: fc.constant("__proto__").map(utf8) },
  { weight: 3, arbitrary: fc.string({ maxLength: 12 }).map(utf8) },
  // invalid UTF-8: lone continuation, truncated sequence, overlong, surrogate
  { weight: 1, arbitrary: fc.constantFrom([0x80], [0xc3], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82, 0x41], [0xff]).map((b) => Uint8Array.from(b)) },
);

/** A varint for a field of scalar type `t`: mostly in range and canonical, sometimes not. */
function varintFor(t: ScalarType | "enum"): fc.Arbitrary<number[]> {
  const inRange: fc.Arbitrary<bigint> =
    t === ScalarType.BOOL
      ? fc.constantFrom(0n, 1n)
      : t === ScalarType.UINT32
        ? fc.bigInt({ min: 0n, max: 0xffffffffn })
        : t === ScalarType.INT32 || t === "enum"
          ? fc.bigInt({ min: -0x80000000n, max: 0x7fffffffn })
          : fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
  return fc.oneof(
    { weight: 10, arbitrary: inRange.map((v) => varintBytes(v)) },
    { weight: 1, arbitrary: fc.tuple(inRange, fc.integer({ min: 1, max: 4 })).map(([v, p]) => varintBytes(v, p)) }, // over-long
    { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map((v) => varintBytes(v)) }, // any 64-bit value
    { weight: 1, arbitrary: fc.constantFrom<number[]>([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02], [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], [0x80]) }, // overflow, too long, truncated
  );
}

const fixed = (n: number): fc.Arbitrary<number[]> => fc.array(fc.integer({ min: 0, max: 255 }), { minLength: n, maxLength: n });
const doubleBytes: fc.Arbitrary<number[]> = fc
  .oneof(fc.double(), fc.constantFrom(0, -0, 1, -1, 0.5, 1e21, 2 ** 53 + 2, Number.NaN, Infinity, -Infinity, 5e-324))
  .map((d) => {
    const b = Buffer.alloc(8);
    b.writeDoubleLE(d);
    return [...b];
  });

function wireOfScalar(t: ScalarType): 0 | 1 | 2 | 5 {
  switch (t) {
    case ScalarType.DOUBLE:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return 1;
    case ScalarType.FLOAT:
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
      return 5;
    case ScalarType.STRING:
    case ScalarType.BYTES:
      return 2;
    default:
      return 0;
  }
}

/** Any payload for wire type `w` (used for unknown fields and wrong-wire-type known fields). */
function anyPayload(no: number, w: number, depth: number): fc.Arbitrary<WireField> {
  switch (w) {
    case 0:
      return varintFor(ScalarType.UINT64).map((varint) => ({ no, wire: 0 as const, varint }));
    case 1:
      return fixed(8).map((raw) => ({ no, wire: 1 as const, raw }));
    case 5:
      return fixed(4).map((raw) => ({ no, wire: 5 as const, raw }));
    case 2:
      return fc.oneof(
        stringBytes.map((body) => ({ no, wire: 2 as const, body })),
        depth < 3 ? fc.array(fc.integer({ min: 1, max: 40 }).chain((n) => anyPayload(n, 0, depth + 1)), { maxLength: 2 }).map((body) => ({ no, wire: 2 as const, body })) : stringBytes.map((body) => ({ no, wire: 2 as const, body })),
      );
    case 3:
      return fc.array(fc.integer({ min: 1, max: 40 }).chain((n) => anyPayload(n, 0, depth + 1)), { maxLength: 2 }).map((group) => ({ no, wire: 3 as const, group }));
    default:
      return fc.constant({ no, wire: w as 4 | 6 | 7 });
  }
}

const timestampSeconds = fc.constantFrom(0n, 1767225600n, -62135596800n, -62135596801n, 253402300799n, 253402300800n, -1n);

/** A well-formed (mostly) value for known field `f`. */
function knownField(f: DescField, depth: number, opts: WireOptions): fc.Arbitrary<WireField> {
  const no = f.number;
  switch (f.fieldKind) {
    case "scalar": {
      const w = wireOfScalar(f.scalar);
      if (w === 2) return stringBytes.map((body) => ({ no, wire: 2 as const, body }));
      if (w === 0) return varintFor(f.scalar).map((varint) => ({ no, wire: 0 as const, varint }));
      if (w === 1) return (f.scalar === ScalarType.DOUBLE ? doubleBytes : fixed(8)).map((raw) => ({ no, wire: 1 as const, raw }));
      return fixed(4).map((raw) => ({ no, wire: 5 as const, raw }));
    }
    case "enum":
      return varintFor("enum").map((varint) => ({ no, wire: 0 as const, varint }));
    case "message":
      return messageFields(f.message, depth + 1, opts).map((body) => ({ no, wire: 2 as const, body }));
    case "list": {
      if (f.listKind === "message") return messageFields(f.message, depth + 1, opts).map((body) => ({ no, wire: 2 as const, body }));
      const t = f.listKind === "enum" ? ScalarType.INT32 : f.scalar;
      const w = wireOfScalar(t);
      if (w === 2) return stringBytes.map((body) => ({ no, wire: 2 as const, body }));
      // packed form: several scalars in one LEN field
      return fc.oneof(
        varintFor(t).map((varint) => ({ no, wire: 0 as const, varint })),
        fc.array(varintFor(t), { maxLength: 3 }).map((vs) => ({ no, wire: 2 as const, body: Uint8Array.from(vs.flat()) })),
      );
    }
    case "map": {
      const key = stringBytes.map((body): WireField => ({ no: 1, wire: 2, body }));
      const val: fc.Arbitrary<WireField> =
        f.mapKind === "message"
          ? messageFields(f.message, depth + 1, opts).map((body) => ({ no: 2, wire: 2 as const, body }))
          : f.mapKind === "enum"
            ? varintFor("enum").map((varint) => ({ no: 2, wire: 0 as const, varint }))
            : wireOfScalar(f.scalar) === 2
              ? stringBytes.map((body) => ({ no: 2, wire: 2 as const, body }))
              : varintFor(f.scalar).map((varint) => ({ no: 2, wire: 0 as const, varint }));
      const extra = fc.integer({ min: 1, max: 5 }).chain((n) => anyPayload(n, 0, depth + 1));
      return fc
        .tuple(sometimesAbsent(key, 1, 12), sometimesAbsent(val, 1, 12), sometimesAbsent(extra, opts.hostile ? 6 : 200, 1))
        .map(([k, v, x]) => ({ no, wire: 2 as const, body: [k, v, x].filter((e): e is WireField => e !== undefined) }));
    }
  }
}

/** `a`, or undefined with weight `absent` against `present`. */
function sometimesAbsent<T>(a: fc.Arbitrary<T>, absent: number, present: number): fc.Arbitrary<T | undefined> {
  return fc.oneof({ weight: absent, arbitrary: fc.constant(undefined) }, { weight: present, arbitrary: a });
}

export interface WireOptions {
  /** Mix in hostile encodings (wrong wire types, unknown fields, groups, ...). */
  hostile: boolean;
  maxDepth: number;
}

/** Fields of a message of type `desc`. */
export function messageFields(desc: DescMessage, depth: number, opts: WireOptions): fc.Arbitrary<WireField[]> {
  if (depth > opts.maxDepth) return fc.constant([]);
  if (desc.typeName === "google.protobuf.Timestamp" || desc.typeName === "google.protobuf.Duration") {
    return fc
      .tuple(timestampSeconds, fc.constantFrom(0n, 1n, 500000000n, 999999999n, 1000000000n, -1n))
      .map(([s, n]) => [
        ...(s !== 0n ? [{ no: 1, wire: 0 as const, varint: varintBytes(s) }] : []),
        ...(n !== 0n ? [{ no: 2, wire: 0 as const, varint: varintBytes(n) }] : []),
      ]);
  }
  const known = desc.fields.map((f) => knownField(f, depth, opts));
  if (desc.typeName === "google.protobuf.Value") {
    // mostly exactly one kind (a valid Value), sometimes none or several
    return fc.oneof({ weight: 12, arbitrary: fc.oneof(...known).map((f) => [f]) }, { weight: 1, arbitrary: fc.array(fc.oneof(...known), { maxLength: 3 }) });
  }
  const hostile: fc.Arbitrary<WireField>[] = opts.hostile
    ? [
        // unknown field numbers with every wire type
        fc.tuple(fc.oneof(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1, max: 2 ** 29 - 1 })), fc.constantFrom(0, 1, 2, 3, 4, 5, 6, 7)).filter(([n]) => !desc.fields.some((f) => f.number === n)).chain(([n, w]) => anyPayload(n, w, depth)),
        // a known field with the wrong wire type
        ...(desc.fields.length ? [fc.tuple(fc.constantFrom(...desc.fields.map((f) => f.number)), fc.constantFrom(0, 1, 2, 5)).chain(([n, w]) => anyPayload(n, w, depth))] : []),
      ]
    : [];
  if (opts.hostile && desc.fields.length) {
    // a known field whose tag is encoded over-long (protobuf-es refuses tags longer than 5 bytes; Go reads them)
    hostile.push(fc.tuple(fc.oneof(...known), fc.integer({ min: 1, max: 5 })).map(([f, tagPad]) => ({ ...f, tagPad })));
    // a length prefix encoded over-long (Python refuses more than 5 bytes; protobuf-es and Go read up to 10)
    hostile.push(fc.tuple(fc.oneof(...known), fc.integer({ min: 1, max: 6 })).map(([f, lenPad]) => ({ ...f, lenPad })));
  }
  const weighted = [...known.map((a) => ({ weight: 4, arbitrary: a })), ...hostile.map((a) => ({ weight: 1, arbitrary: a }))];
  if (weighted.length === 0) return fc.constant([]);
  const maxLength = depth === 0 ? 8 : depth < 3 ? 4 : 2;
  return fc.array(fc.oneof(...weighted), { maxLength });
}

/** Raw request bytes for `desc`, optionally with a final byte-level mutation (truncate, flip, duplicate a range). */
export function requestBytes(desc: DescMessage, opts: WireOptions): fc.Arbitrary<Uint8Array> {
  const base = messageFields(desc, 0, opts).map(encodeWire);
  if (!opts.hostile) return base;
  return fc.tuple(base, fc.nat(), fc.nat(), fc.integer({ min: 0, max: 9 })).map(([b, i, j, op]) => {
    if (b.length === 0 || op >= 6) return b;
    const a = i % b.length;
    const z = j % b.length;
    if (op === 0) return b.slice(0, a); // truncated
    if (op === 1) {
      const c = b.slice();
      c[a] = z & 0xff; // flipped byte
      return c;
    }
    if (op === 2) return Uint8Array.from([...b, ...b]); // everything twice: merges, last-wins scalars, appended lists
    if (op === 3) return Uint8Array.from([...b.slice(0, Math.min(a, z)), ...b.slice(Math.max(a, z))]); // a range cut out
    if (op === 4) return Uint8Array.from([...b.slice(0, a), ...b.slice(a, z + 1), ...b.slice(a)]); // a range duplicated
    return Uint8Array.from([...b.slice(0, a), 0x80, ...b.slice(a)]); // a stray continuation byte
  });
}

// ---- JSON -> wire, keeping every own key (protobuf-es' fromJson drops a `__proto__` key) ------------------------

const enc = (s: string) => new TextEncoder().encode(s);

/** google.protobuf.Value fields of a JSON value. */
export function valueFields(v: unknown): WireField[] {
  if (v === null) return [{ no: 1, wire: 0, varint: [0] }];
  if (typeof v === "number") {
    const b = Buffer.alloc(8);
    b.writeDoubleLE(v);
    return [{ no: 2, wire: 1, raw: [...b] }];
  }
  if (typeof v === "string") return [{ no: 3, wire: 2, body: enc(v) }];
  if (typeof v === "boolean") return [{ no: 4, wire: 0, varint: [v ? 1 : 0] }];
  if (Array.isArray(v)) return [{ no: 6, wire: 2, body: v.map((x) => ({ no: 1, wire: 2 as const, body: valueFields(x) })) }];
  return [{ no: 5, wire: 2, body: structFields(v as Record<string, unknown>) }];
}

/** google.protobuf.Struct fields of a JSON object (own keys, `__proto__` included). */
export function structFields(o: Record<string, unknown>): WireField[] {
  return Object.keys(o).map((k) => ({ no: 1, wire: 2 as const, body: [{ no: 1, wire: 2 as const, body: enc(k) }, { no: 2, wire: 2 as const, body: valueFields(o[k]) }] }));
}

/** EvaluateRequest bytes for an intent given as JSON (tool_name, args, targets, context), plus approval tokens. */
export function evaluateRequestBytes(intent: { tool_name: string; args?: Record<string, unknown>; targets?: { kind: string; value: string; operation?: string }[]; context?: Record<string, string> }, approvalTokens: string[] = []): Uint8Array {
  const fields: WireField[] = [{ no: 1, wire: 2, body: enc(intent.tool_name) }];
  if (intent.args) fields.push({ no: 2, wire: 2, body: structFields(intent.args) });
  for (const t of intent.targets ?? []) {
    fields.push({ no: 3, wire: 2, body: [{ no: 1, wire: 2, body: enc(t.kind) }, { no: 2, wire: 2, body: enc(t.value) }, ...(t.operation ? [{ no: 3, wire: 2 as const, body: enc(t.operation) }] : [])] });
  }
  if (intent.context) {
    const names: Record<string, number> = { identity: 1, workspace: 2, risk_class: 3 };
    fields.push({ no: 7, wire: 2, body: Object.entries(intent.context).map(([k, v]) => ({ no: names[k]!, wire: 2 as const, body: enc(v) })) });
  }
  return encodeWire([{ no: 1, wire: 2, body: fields }, ...approvalTokens.map((t) => ({ no: 5, wire: 2 as const, body: enc(t) }))]);
}
