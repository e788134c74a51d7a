/**
 * Protobuf binary -> proto3 JSON in one pass, for the Evaluate request.
 *
 * Why: the service needs Gait's intent JSON, not a protobuf message. protobuf-es' `fromBinary` builds a reflective
 * message (a Value message per Struct member) and `toJson` walks it again; for the benchmark request that cost
 * ~15 us per call, a tenth of the whole decision. This decoder reads the wire format straight into JSON.
 *
 * Contract: `decoder(bytes)` returns exactly `toJson(schema, fromBinary(schema, bytes), { useProtoFieldName: true })`.
 * It is compiled from the generated descriptor (a field added to the proto is decoded without a code change) and
 * covers proto3 messages made of implicit-presence string/bool/int32/uint32 scalars, repeated strings, nested and
 * repeated messages, oneofs, and the well-known types Struct/Value/ListValue and Timestamp. A schema with anything
 * else gets no decoder. At run time every input it does not decode the same way by construction (a wire type that
 * does not match the field, a singular message field sent twice, which protobuf-es would merge, non-ASCII text it
 * leaves to a strict UTF-8 decoder, a non-finite number or an empty Value, an out-of-range Timestamp, a group, deep
 * nesting, a `__proto__` key) is handed to protobuf-es for the whole request, so its result or its error is what the
 * caller gets. test/unit/server/fast-decode.test.ts compares both on generated and corrupted inputs.
 */
import { fromBinary, toJson, ScalarType, type DescField, type DescMessage, type JsonObject, type JsonValue } from "@bufbuild/protobuf";

/** Thrown inside the fast path for an input it leaves to protobuf-es. */
const FALLBACK: unique symbol = Symbol("fast-decode-fallback");
const MAX_DEPTH = 64;

type Kind = "string" | "bool" | "int32" | "uint32" | "message" | "struct" | "timestamp";

interface FieldPlan {
  readonly no: number;
  /** JSON member name (the proto field name, as with `useProtoFieldName`) */
  readonly json: string;
  readonly kind: Kind;
  readonly repeated: boolean;
  /** index of the field's oneof in the message plan, or -1 */
  readonly oneof: number;
  readonly sub?: MessagePlan;
}

interface MessagePlan {
  /** fields in field-number order (protobuf-es emits JSON members in that order) */
  readonly fields: FieldPlan[];
  /** field number -> index in `fields` */
  readonly byNo: Map<number, number>;
}

const plans = new WeakMap<DescMessage, MessagePlan | null>();
/** Placeholder while a (recursive) plan is being built. */
const BUILDING = { fields: [], byNo: new Map() } as MessagePlan;

function planOf(desc: DescMessage): MessagePlan | null {
  const known = plans.get(desc);
  if (known !== undefined) return known;
  plans.set(desc, BUILDING);
  const oneofs: unknown[] = [];
  const fields: FieldPlan[] = [];
  for (const f of [...(desc.fields as DescField[])].sort((a, b) => a.number - b.number)) {
    let kind: Kind | undefined;
    let sub: MessagePlan | null | undefined;
    let repeated = false;
    let msgDesc: DescMessage | undefined;
    if (f.fieldKind === "scalar") {
      if (f.presence !== 2 /* IMPLICIT */ && !f.oneof) return fail(desc);
      kind = f.scalar === ScalarType.STRING ? "string" : f.scalar === ScalarType.BOOL ? "bool" : f.scalar === ScalarType.INT32 ? "int32" : f.scalar === ScalarType.UINT32 ? "uint32" : undefined;
    } else if (f.fieldKind === "list") {
      repeated = true;
      if (f.listKind === "scalar" && f.scalar === ScalarType.STRING) kind = "string";
      else if (f.listKind === "message") msgDesc = f.message;
    } else if (f.fieldKind === "message") {
      if (f.delimitedEncoding) return fail(desc);
      msgDesc = f.message;
    }
    if (msgDesc) {
      if (msgDesc.typeName === "google.protobuf.Struct") kind = "struct";
      else if (msgDesc.typeName === "google.protobuf.Timestamp") kind = "timestamp";
      else if (!msgDesc.typeName.startsWith("google.protobuf.")) {
        sub = planOf(msgDesc);
        if (sub) kind = "message";
      }
    }
    if (!kind) return fail(desc);
    let oneof = -1;
    if (f.oneof) {
      oneof = oneofs.indexOf(f.oneof);
      if (oneof < 0) oneof = oneofs.push(f.oneof) - 1;
    }
    fields.push({ no: f.number, json: f.name, kind, repeated, oneof, ...(sub ? { sub } : {}) });
  }
  const plan: MessagePlan = { fields, byNo: new Map(fields.map((f, i) => [f.no, i])) };
  plans.set(desc, plan);
  return plan;
}

function fail(desc: DescMessage): null {
  plans.set(desc, null);
  return null;
}

// ---- wire reading -------------------------------------------------------------------------------------------------

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

class Reader {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  /** A varint's low 32 bits (unsigned); reads and validates all of its (at most 10) bytes. */
  varint32(): number {
    const buf = this.buf;
    let lo = 0;
    for (let shift = 0; shift < 70; shift += 7) {
      if (this.pos >= buf.length) throw FALLBACK;
      const b = buf[this.pos++]!;
      if (shift < 32) lo = (lo | ((b & 0x7f) << shift)) >>> 0;
      if (b < 0x80) return lo;
    }
    throw FALLBACK;
  }

  /** A field tag. protobuf-es (and Go) refuse a tag varint longer than 5 bytes or over 32 bits, where varint32 would
   * keep its low bits and could name a known field; such a request is left to protobuf-es, which rejects it. */
  tag(): number {
    const start = this.pos;
    const t = this.varint32();
    const n = this.pos - start;
    if (n > 5 || (n === 5 && this.buf[this.pos - 1]! > 0x0f)) throw FALLBACK;
    return t;
  }

  /** A varint: whether any of its low 64 bits is set (protobuf bool). The 10th byte carries only bit 63; its other
   * bits overflow 64 bits and are dropped, as protobuf-es does, so such a varint is not `true` here alone. */
  varintNonZero(): boolean {
    const buf = this.buf;
    let any = false;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= buf.length) throw FALLBACK;
      const b = buf[this.pos++]!;
      if ((b & (i === 9 ? 0x01 : 0x7f)) !== 0) any = true;
      if (b < 0x80) return any;
    }
    throw FALLBACK;
  }

  /** A varint as a signed 64-bit integer (int64), exactly. */
  varintInt64(): bigint {
    const buf = this.buf;
    let v = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (this.pos >= buf.length) throw FALLBACK;
      const b = buf[this.pos++]!;
      v |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return BigInt.asIntN(64, v);
    }
    throw FALLBACK;
  }

  /** Length of a length-delimited field; checks it fits. */
  length(): number {
    const n = this.varint32();
    if (n > this.buf.length - this.pos) throw FALLBACK;
    return n;
  }

  string(): string {
    const n = this.length();
    const start = this.pos;
    const end = start + n;
    this.pos = end;
    const buf = this.buf;
    for (let i = start; i < end; i++) {
      if (buf[i]! >= 0x80) {
        try {
          return strictUtf8.decode(buf.subarray(start, end));
        } catch {
          throw FALLBACK;
        }
      }
    }
    return buf.toString("latin1", start, end);
  }

  double(): number {
    if (this.pos + 8 > this.buf.length) throw FALLBACK;
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }

  /** Skip a field of an unknown number. */
  skip(wire: number): void {
    switch (wire) {
      case 0:
        this.varint32();
        return;
      case 1:
        if (this.pos + 8 > this.buf.length) throw FALLBACK;
        this.pos += 8;
        return;
      case 2:
        this.pos += this.length();
        return;
      case 5:
        if (this.pos + 4 > this.buf.length) throw FALLBACK;
        this.pos += 4;
        return;
      default:
        throw FALLBACK; // groups and invalid wire types
    }
  }
}

const WIRE_OF: Record<Kind, number> = { string: 2, bool: 0, int32: 0, uint32: 0, message: 2, struct: 2, timestamp: 2 };

function readMessage(r: Reader, plan: MessagePlan, end: number, depth: number): JsonObject {
  if (depth > MAX_DEPTH) throw FALLBACK;
  const fields = plan.fields;
  const vals: (JsonValue | undefined)[] = new Array(fields.length);
  let oneofSet: number[] | undefined;
  while (r.pos < end) {
    const tag = r.tag();
    const no = tag >>> 3;
    const wire = tag & 7;
    const i = plan.byNo.get(no);
    if (i === undefined) {
      if (no === 0) throw FALLBACK;
      r.skip(wire);
      continue;
    }
    const f = fields[i]!;
    if (wire !== WIRE_OF[f.kind]) throw FALLBACK;
    let v: JsonValue;
    switch (f.kind) {
      case "string":
        v = r.string();
        break;
      case "bool":
        v = r.varintNonZero();
        break;
      case "int32":
        v = r.varint32() | 0;
        break;
      case "uint32":
        v = r.varint32();
        break;
      default: {
        const len = r.length();
        const stop = r.pos + len;
        v = f.kind === "message" ? readMessage(r, f.sub!, stop, depth + 1) : f.kind === "struct" ? readStruct(r, stop, depth + 1) : readTimestamp(r, stop);
        if (r.pos !== stop) throw FALLBACK;
        // a singular message sent twice is merged by protobuf-es; leave that to it
        if (!f.repeated && vals[i] !== undefined) throw FALLBACK;
      }
    }
    if (f.repeated) {
      const list = vals[i] as JsonValue[] | undefined;
      if (list) list.push(v);
      else vals[i] = [v];
    } else {
      if (f.oneof >= 0) {
        // setting a oneof member clears the others
        oneofSet ??= [];
        const prev = oneofSet[f.oneof];
        if (prev !== undefined && prev !== i) vals[prev] = undefined;
        oneofSet[f.oneof] = i;
      }
      vals[i] = v;
    }
  }
  if (r.pos !== end) throw FALLBACK;
  const out: JsonObject = {};
  for (let i = 0; i < fields.length; i++) {
    const v = vals[i];
    if (v === undefined) continue;
    const f = fields[i]!;
    // implicit presence: zero values are not emitted (oneof members have explicit presence)
    if (f.oneof < 0 && !f.repeated && (v === "" || v === false || v === 0)) continue;
    out[f.json] = v;
  }
  return out;
}

/** google.protobuf.Struct: map<string, Value> fields = 1. */
function readStruct(r: Reader, end: number, depth: number): JsonObject {
  if (depth > MAX_DEPTH) throw FALLBACK;
  const out: JsonObject = {};
  while (r.pos < end) {
    const tag = r.tag();
    if (tag >>> 3 !== 1) {
      if (tag >>> 3 === 0) throw FALLBACK;
      r.skip(tag & 7);
      continue;
    }
    if ((tag & 7) !== 2) throw FALLBACK;
    const len = r.length(); // read before r.pos: the length prefix moves it
    const stop = r.pos + len;
    let key = "";
    let value: JsonValue | undefined;
    while (r.pos < stop) {
      const t = r.tag();
      if (t === (1 << 3) + 2) key = r.string();
      else if (t === (2 << 3) + 2) {
        if (value !== undefined) throw FALLBACK; // merged by protobuf-es
        const len = r.length();
        const vEnd = r.pos + len;
        value = readValue(r, vEnd, depth + 1);
        if (r.pos !== vEnd) throw FALLBACK;
      } else {
        if (t >>> 3 === 1 || t >>> 3 === 2 || t >>> 3 === 0) throw FALLBACK;
        r.skip(t & 7);
      }
    }
    if (r.pos !== stop || value === undefined || key === "__proto__") throw FALLBACK; // a missing Value has no JSON
    out[key] = value;
  }
  if (r.pos !== end) throw FALLBACK;
  return out;
}

/** google.protobuf.Value: oneof kind { null_value = 1; number_value = 2; string_value = 3; bool_value = 4;
 * struct_value = 5; list_value = 6 }. */
function readValue(r: Reader, end: number, depth: number): JsonValue {
  if (depth > MAX_DEPTH) throw FALLBACK;
  let v: JsonValue | undefined;
  let kind = 0;
  while (r.pos < end) {
    const t = r.tag();
    const no = t >>> 3;
    const wire = t & 7;
    switch (no) {
      case 1:
        if (wire !== 0) throw FALLBACK;
        r.varint32();
        v = null;
        break;
      case 2:
        if (wire !== 1) throw FALLBACK;
        v = r.double();
        if (!Number.isFinite(v)) throw FALLBACK;
        break;
      case 3:
        if (wire !== 2) throw FALLBACK;
        v = r.string();
        break;
      case 4:
        if (wire !== 0) throw FALLBACK;
        v = r.varintNonZero();
        break;
      case 5:
      case 6: {
        if (wire !== 2 || kind === no) throw FALLBACK; // the same message kind twice is merged by protobuf-es
        const len = r.length(); // read before r.pos: the length prefix moves it
    const stop = r.pos + len;
        v = no === 5 ? readStruct(r, stop, depth + 1) : readList(r, stop, depth + 1);
        if (r.pos !== stop) throw FALLBACK;
        break;
      }
      default:
        if (no === 0) throw FALLBACK;
        r.skip(wire);
        continue;
    }
    kind = no;
  }
  if (r.pos !== end || v === undefined) throw FALLBACK;
  return v;
}

/** google.protobuf.ListValue: repeated Value values = 1. */
function readList(r: Reader, end: number, depth: number): JsonValue[] {
  const out: JsonValue[] = [];
  while (r.pos < end) {
    const t = r.tag();
    if (t >>> 3 !== 1) {
      if (t >>> 3 === 0) throw FALLBACK;
      r.skip(t & 7);
      continue;
    }
    if ((t & 7) !== 2) throw FALLBACK;
    const len = r.length(); // read before r.pos: the length prefix moves it
    const stop = r.pos + len;
    out.push(readValue(r, stop, depth + 1));
    if (r.pos !== stop) throw FALLBACK;
  }
  if (r.pos !== end) throw FALLBACK;
  return out;
}

const MIN_TS_MS = Date.parse("0001-01-01T00:00:00Z");
const MAX_TS_MS = Date.parse("9999-12-31T23:59:59Z");

/** google.protobuf.Timestamp { int64 seconds = 1; int32 nanos = 2; } as protobuf-es' JSON (RFC 3339, UTC). */
function readTimestamp(r: Reader, end: number): string {
  let seconds = 0n;
  let nanos = 0;
  while (r.pos < end) {
    const t = r.tag();
    if (t === 1 << 3) seconds = r.varintInt64();
    else if (t === 2 << 3) nanos = r.varint32() | 0;
    else {
      if (t >>> 3 === 1 || t >>> 3 === 2 || t >>> 3 === 0) throw FALLBACK;
      r.skip(t & 7);
    }
  }
  const ms = Number(seconds) * 1000;
  if (ms < MIN_TS_MS || ms > MAX_TS_MS || nanos < 0 || nanos > 999_999_999) throw FALLBACK;
  let z = "Z";
  if (nanos > 0) {
    const digits = String(nanos + 1_000_000_000).slice(1);
    z = digits.endsWith("000000") ? `.${digits.slice(0, 3)}Z` : digits.endsWith("000") ? `.${digits.slice(0, 6)}Z` : `.${digits}Z`;
  }
  return new Date(ms).toISOString().replace(".000Z", z);
}

/** A compiled binary -> JSON decoder for one message type. */
export type JsonDecoder = (bytes: Uint8Array) => JsonObject;

/**
 * The decoder for `desc`: the fast path when the schema is covered, protobuf-es `fromBinary` + `toJson` for inputs
 * the fast path leaves to it (and for every input when the schema is not covered: then `fast` is false).
 * `fastOnly` runs the fast path alone and returns undefined where it would hand over (for tests).
 */
export function jsonDecoder(desc: DescMessage): { decode: JsonDecoder; fast: boolean; fastOnly: (bytes: Uint8Array) => JsonObject | undefined } {
  const plan = planOf(desc);
  const slow: JsonDecoder = (bytes) => toJson(desc, fromBinary(desc, bytes), { useProtoFieldName: true }) as JsonObject;
  if (!plan) return { decode: slow, fast: false, fastOnly: () => undefined };
  const fastOnly = (bytes: Uint8Array): JsonObject | undefined => {
    const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    try {
      return readMessage(new Reader(buf), plan, buf.length, 0);
    } catch (e) {
      if (e !== FALLBACK) throw e;
      return undefined;
    }
  };
  return { decode: (bytes) => fastOnly(bytes) ?? slow(bytes), fast: true, fastOnly };
}
