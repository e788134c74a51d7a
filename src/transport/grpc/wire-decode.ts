/**
 * The one rule for decoding untrusted request bytes at the gRPC boundary.
 *
 * A request means exactly what the reference parsers say it means, and anything on which they could disagree is
 * refused. The references are protobuf-es (`fromBinary` + `toJson`, the parser this service is built on) and the
 * independent implementations our clients use (Python's upb and Go's protobuf-go). They agree on every canonical
 * encoding, but not on some non-canonical ones, and an attacker picks exactly those: protobuf-es reads a known field
 * sent with the wrong wire type as if it had the right one, while Go and Python keep it as an unknown field; protobuf-es
 * does not skip unknown fields inside a map entry; it drops a Struct key named `__proto__` (it becomes the prototype
 * of the map object) where Go and Python keep it. So every request is decoded here, strictly, and refused with a
 * {@link RequestDecodeError} (INVALID_ARGUMENT at the edge) when it contains any of:
 *
 * - truncation, a length past the end, a varint longer than 10 bytes or overflowing 64 bits;
 * - a tag with field number 0 or above 2^29-1, a group (wire types 3/4) or an invalid wire type (6/7);
 * - a known field with a wire type that does not match its declaration (packed repeated scalars are accepted);
 * - a string that is not valid UTF-8; an int32/enum/uint32/sint32 varint outside the 32-bit range;
 * - a singular message field (or oneof message member) sent more than once (parsers merge those; we refuse to);
 * - a map entry (including a Struct member) with an unknown field, a repeated key or value, or the wrong wire type;
 * - a google.protobuf.Value without a kind, with two message kinds, or with a non-finite number; a Timestamp or
 *   Duration outside its JSON range; nesting deeper than {@link MAX_DEPTH} messages.
 *
 * Unknown fields with a valid wire type are skipped, as every parser does. Everything else is decoded to the same
 * value all three parsers produce; test/resilience/decode-differential.test.ts checks that against protobuf-es and
 * Python's protobuf on generated and mutated inputs.
 *
 * Two forms: {@link jsonDecoder} returns the proto3 JSON of a request (proto field names) in one pass without building
 * a protobuf-es message, for the Evaluate hot path whose handler wants Gait's intent JSON; {@link strictDecoder}
 * validates and then returns protobuf-es' message, for every other method.
 */
import { fromBinary, toJson, ScalarType, type DescField, type DescMessage, type JsonObject, type JsonValue, type MessageShape } from "@bufbuild/protobuf";

/** A request that is refused before it reaches a handler (INVALID_ARGUMENT at the edge). */
export class RequestDecodeError extends Error {
  override name = "RequestDecodeError";
}

/** Name-based guard (survives duplicated module copies). */
export function isRequestDecodeError(e: unknown): e is RequestDecodeError {
  return typeof e === "object" && e !== null && (e as Error).name === "RequestDecodeError";
}

/** Deepest message nesting accepted (a Struct member costs two levels: Struct, Value): protobuf-es and Python stop at 100 too. */
export const MAX_DEPTH = 100;

const bad = (why: string): never => {
  throw new RequestDecodeError(`request is not a valid protobuf message: ${why}`);
};

// ---- wire reading -------------------------------------------------------------------------------------------------

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** Varint value split in two unsigned 32-bit halves (filled by {@link Reader.varint}). */
let vLo = 0;
let vHi = 0;

class Reader {
  pos = 0;
  constructor(readonly buf: Uint8Array) {}

  /** Read one varint into (vLo, vHi). Refuses more than 10 bytes and a 10th byte carrying bits past 64. */
  varint(): void {
    const buf = this.buf;
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= buf.length) bad("truncated varint");
      const b = buf[this.pos++]!;
      const v = b & 0x7f;
      if (i < 4) lo |= v << (7 * i);
      else if (i === 4) {
        lo |= (v & 0x0f) << 28;
        hi |= v >>> 4;
      } else {
        if (i === 9 && b > 0x01) bad("varint overflows 64 bits");
        hi |= v << (7 * i - 32);
      }
      if (b < 0x80) {
        vLo = lo >>> 0;
        vHi = hi >>> 0;
        return;
      }
    }
    bad("varint longer than 10 bytes");
  }

  /** A tag: [field number, wire type]. */
  tag(): number {
    const start = this.pos;
    this.varint();
    // protobuf-es refuses a tag longer than 5 bytes (Go reads it): refused, as any encoding the parsers disagree on
    if (vHi !== 0 || this.pos - start > 5) bad("field tag out of range or over-long");
    const no = vLo >>> 3;
    if (no === 0) bad("field number 0");
    // 2^29-1 is the largest field number; a larger one cannot be represented in a 32-bit tag
    return vLo;
  }

  /** An unsigned 32-bit varint (lengths, uint32). */
  uint32(what: string): number {
    this.varint();
    if (vHi !== 0) bad(`${what} out of the 32-bit range`);
    return vLo;
  }

  /** An int32 (or enum) varint: a sign-extended 32-bit value. */
  int32(): number {
    this.varint();
    if (vHi === 0 ? vLo >= 0x80000000 : vHi !== 0xffffffff || vLo < 0x80000000) bad("int32 value out of range");
    return vLo | 0;
  }

  /** Length prefix of a length-delimited field; checks it fits. */
  length(): number {
    const start = this.pos;
    const n = this.uint32("length");
    // Python's upb refuses a length varint longer than 5 bytes (protobuf-es and Go read it): refused
    if (this.pos - start > 5) bad("over-long length prefix");
    if (n > this.buf.length - this.pos) bad("length past the end of the message");
    return n;
  }

  string(): string {
    const n = this.length();
    const start = this.pos;
    const end = start + n;
    this.pos = end;
    const buf = this.buf;
    let ascii = true;
    for (let i = start; i < end; i++) {
      if (buf[i]! >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii) return latin1(buf, start, end);
    try {
      return strictUtf8.decode(buf.subarray(start, end));
    } catch {
      return bad("string field is not valid UTF-8");
    }
  }

  double(): number {
    if (this.pos + 8 > this.buf.length) bad("truncated 64-bit field");
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 8).getFloat64(0, true);
    this.pos += 8;
    return v;
  }

  /** Skip a field of an unknown number (its wire type must be valid; groups are refused). */
  skip(wire: number): void {
    switch (wire) {
      case 0:
        this.varint();
        return;
      case 1:
        if (this.pos + 8 > this.buf.length) bad("truncated 64-bit field");
        this.pos += 8;
        return;
      case 2: {
        // read the length first: `this.pos += this.length()` would add it to the position *before* the prefix
        const n = this.length();
        this.pos += n;
        return;
      }
      case 5:
        if (this.pos + 4 > this.buf.length) bad("truncated 32-bit field");
        this.pos += 4;
        return;
      case 3:
      case 4:
        return bad("groups are not accepted");
      default:
        return bad(`invalid wire type ${wire}`);
    }
  }
}

function latin1(buf: Uint8Array, start: number, end: number): string {
  if (Buffer.isBuffer(buf)) return buf.toString("latin1", start, end);
  return Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString("latin1", start, end);
}

// ---- generic validation (any proto3 message) ---------------------------------------------------------------------

const VARINT = 0;
const I64 = 1;
const LEN = 2;
const I32 = 5;

/** Wire type of a scalar. */
function scalarWire(t: ScalarType): number {
  switch (t) {
    case ScalarType.DOUBLE:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return I64;
    case ScalarType.FLOAT:
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
      return I32;
    case ScalarType.STRING:
    case ScalarType.BYTES:
      return LEN;
    default:
      return VARINT;
  }
}

/** Read (and range-check) one scalar with its wire type already checked. */
function checkScalar(r: Reader, t: ScalarType): void {
  switch (t) {
    case ScalarType.STRING:
      r.string();
      return;
    case ScalarType.BYTES:
      r.pos += r.length();
      return;
    case ScalarType.INT32:
      r.int32();
      return;
    case ScalarType.UINT32:
    case ScalarType.SINT32:
      r.uint32("32-bit integer");
      return;
    case ScalarType.DOUBLE:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      r.skip(I64);
      return;
    case ScalarType.FLOAT:
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
      r.skip(I32);
      return;
    default: // int64, uint64, sint64, bool: any 64-bit varint
      r.varint();
  }
}

const MIN_TS_S = -62135596800; // 0001-01-01T00:00:00Z
const MAX_TS_S = 253402300799; // 9999-12-31T23:59:59Z
const MAX_DURATION_S = 315576000000;

/** Validate a message's bytes in [r.pos, end) against `desc`. */
function validateMessage(r: Reader, desc: DescMessage, end: number, depth: number): void {
  if (depth > MAX_DEPTH) bad(`nesting deeper than ${MAX_DEPTH} messages`);
  if (desc.typeName === "google.protobuf.Value") return void readValue(r, end, depth);
  if (desc.typeName === "google.protobuf.Struct") return void readStruct(r, end, depth);
  if (desc.typeName === "google.protobuf.ListValue") return void readList(r, end, depth);
  if (desc.typeName === "google.protobuf.Timestamp") return void readTimestamp(r, end);
  if (desc.typeName === "google.protobuf.Duration") return void readDuration(r, end);
  let seenMessages: Set<number> | undefined;
  const oneofSeen = new Map<unknown, number>();
  while (r.pos < end) {
    const tag = r.tag();
    const no = tag >>> 3;
    const wire = tag & 7;
    const f = desc.fields.find((x) => x.number === no) as DescField | undefined;
    if (!f) {
      r.skip(wire);
      continue;
    }
    switch (f.fieldKind) {
      case "scalar":
        if (wire !== scalarWire(f.scalar)) bad(`field ${f.name} has wire type ${wire}, declared ${scalarWire(f.scalar)}`);
        checkScalar(r, f.scalar);
        break;
      case "enum":
        if (wire !== VARINT) bad(`field ${f.name} has wire type ${wire}, declared ${VARINT}`);
        r.int32();
        break;
      case "message": {
        if (wire !== LEN) bad(`field ${f.name} has wire type ${wire}, declared ${LEN}`);
        seenMessages ??= new Set();
        if (f.oneof) {
          // a oneof member replaces another member; the same message member twice would be merged
          if (oneofSeen.get(f.oneof) === no) bad(`message field ${f.name} appears twice (merging is not accepted)`);
        } else if (seenMessages.has(no)) bad(`message field ${f.name} appears twice (merging is not accepted)`);
        seenMessages.add(no);
        const n = r.length();
        const stop = r.pos + n;
        validateMessage(r, f.message, stop, depth + 1);
        if (r.pos !== stop) bad(`field ${f.name} overruns its length`);
        break;
      }
      case "list":
        if (f.listKind === "message") {
          if (wire !== LEN) bad(`field ${f.name} has wire type ${wire}, declared ${LEN}`);
          const n = r.length();
          const stop = r.pos + n;
          validateMessage(r, f.message, stop, depth + 1);
          if (r.pos !== stop) bad(`field ${f.name} overruns its length`);
        } else {
          const t = f.listKind === "enum" ? ScalarType.INT32 : f.scalar;
          const w = scalarWire(t);
          if (wire === w) checkScalar(r, t);
          else if (wire === LEN && w !== LEN) {
            const n = r.length(); // packed
            const stop = r.pos + n;
            while (r.pos < stop) checkScalar(r, t);
            if (r.pos !== stop) bad(`packed field ${f.name} overruns its length`);
          } else bad(`field ${f.name} has wire type ${wire}, declared ${w}`);
        }
        break;
      case "map": {
        if (wire !== LEN) bad(`map field ${f.name} has wire type ${wire}, declared ${LEN}`);
        const n = r.length();
        const stop = r.pos + n;
        let key = false;
        let val = false;
        while (r.pos < stop) {
          const t = r.tag();
          const eno = t >>> 3;
          const ew = t & 7;
          if (eno === 1 && !key) {
            if (ew !== scalarWire(f.mapKey)) bad(`map field ${f.name} key has wire type ${ew}`);
            if (f.mapKey === ScalarType.STRING) {
              if (r.string() === "__proto__") bad(`map field ${f.name} has the key "__proto__"`);
            } else checkScalar(r, f.mapKey);
            key = true;
          } else if (eno === 2 && !val) {
            if (f.mapKind === "message") {
              if (ew !== LEN) bad(`map field ${f.name} value has wire type ${ew}`);
              const vn = r.length();
              const vstop = r.pos + vn;
              validateMessage(r, f.message, vstop, depth + 1);
              if (r.pos !== vstop) bad(`map field ${f.name} value overruns its length`);
            } else {
              const vt = f.mapKind === "enum" ? ScalarType.INT32 : f.scalar;
              if (ew !== scalarWire(vt)) bad(`map field ${f.name} value has wire type ${ew}`);
              checkScalar(r, vt);
            }
            val = true;
          } else bad(`map field ${f.name} entry has an unknown or repeated field ${eno}`);
        }
        if (r.pos !== stop) bad(`map field ${f.name} entry overruns its length`);
        break;
      }
    }
    if (f.oneof) oneofSeen.set(f.oneof, no);
  }
  if (r.pos !== end) bad("message overruns its length");
}

/**
 * Decode `bytes` as `desc` under the rule above and return protobuf-es' message. Throws {@link RequestDecodeError}.
 */
export function strictDecoder<D extends DescMessage>(desc: D): (bytes: Uint8Array) => MessageShape<D> {
  return (bytes) => {
    validateMessage(new Reader(bytes), desc, bytes.length, 0);
    try {
      return fromBinary(desc, bytes);
    } catch (e) {
      return bad((e as Error).message);
    }
  };
}

// ---- one-pass JSON decoding (the Evaluate hot path) --------------------------------------------------------------

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

/** The decoding plan of a message made only of kinds the one-pass decoder covers, or null. */
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

const WIRE_OF: Record<Kind, number> = { string: LEN, bool: VARINT, int32: VARINT, uint32: VARINT, message: LEN, struct: LEN, timestamp: LEN };

/** Set an own enumerable member, also for the key `__proto__` (plain assignment would set the prototype). */
function setMember(o: JsonObject, key: string, value: JsonValue): void {
  if (key === "__proto__") Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
  else o[key] = value;
}

function readMessage(r: Reader, plan: MessagePlan, end: number, depth: number): JsonObject {
  if (depth > MAX_DEPTH) bad(`nesting deeper than ${MAX_DEPTH} messages`);
  const fields = plan.fields;
  const vals: (JsonValue | undefined)[] = new Array(fields.length);
  let oneofSet: number[] | undefined;
  while (r.pos < end) {
    const tag = r.tag();
    const no = tag >>> 3;
    const wire = tag & 7;
    const i = plan.byNo.get(no);
    if (i === undefined) {
      r.skip(wire);
      continue;
    }
    const f = fields[i]!;
    if (wire !== WIRE_OF[f.kind]) bad(`field ${f.json} has wire type ${wire}, declared ${WIRE_OF[f.kind]}`);
    let v: JsonValue;
    switch (f.kind) {
      case "string":
        v = r.string();
        break;
      case "bool":
        r.varint();
        v = vLo !== 0 || vHi !== 0;
        break;
      case "int32":
        v = r.int32();
        break;
      case "uint32":
        v = r.uint32("uint32");
        break;
      default: {
        // a singular message (or the same oneof member) sent twice would be merged by the parsers: refused
        if (!f.repeated && vals[i] !== undefined) bad(`message field ${f.json} appears twice (merging is not accepted)`);
        const len = r.length();
        const stop = r.pos + len;
        v = f.kind === "message" ? readMessage(r, f.sub!, stop, depth + 1) : f.kind === "struct" ? readStruct(r, stop, depth + 1) : readTimestamp(r, stop);
        if (r.pos !== stop) bad(`field ${f.json} overruns its length`);
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
  if (r.pos !== end) bad("message overruns its length");
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

/** google.protobuf.Struct: map<string, Value> fields = 1. Keys are kept as own members, `__proto__` included. */
function readStruct(r: Reader, end: number, depth: number): JsonObject {
  if (depth > MAX_DEPTH) bad(`nesting deeper than ${MAX_DEPTH} messages`);
  const out: JsonObject = {};
  while (r.pos < end) {
    const tag = r.tag();
    if (tag >>> 3 !== 1) {
      r.skip(tag & 7);
      continue;
    }
    if ((tag & 7) !== LEN) bad("Struct.fields has the wrong wire type");
    const len = r.length(); // read before r.pos: the length prefix moves it
    const stop = r.pos + len;
    let key: string | undefined;
    let value: JsonValue | undefined;
    while (r.pos < stop) {
      const t = r.tag();
      if (t === (1 << 3) + LEN && key === undefined) key = r.string();
      else if (t === (2 << 3) + LEN && value === undefined) {
        const vlen = r.length();
        const vEnd = r.pos + vlen;
        value = readValue(r, vEnd, depth + 1);
        if (r.pos !== vEnd) bad("Struct value overruns its length");
      } else bad(`Struct entry has an unknown, repeated or mistyped field ${t >>> 3}`);
    }
    if (r.pos !== stop) bad("Struct entry overruns its length");
    if (value === undefined) bad("Struct entry has no value"); // a Value with no kind has no JSON
    // a repeated key: the last entry wins (map semantics in every parser)
    setMember(out, key ?? "", value!);
  }
  if (r.pos !== end) bad("Struct overruns its length");
  return out;
}

/** google.protobuf.Value: oneof kind { null_value = 1; number_value = 2; string_value = 3; bool_value = 4;
 * struct_value = 5; list_value = 6 }. */
function readValue(r: Reader, end: number, depth: number): JsonValue {
  if (depth > MAX_DEPTH) bad(`nesting deeper than ${MAX_DEPTH} messages`);
  let v: JsonValue | undefined;
  let kind = 0;
  while (r.pos < end) {
    const t = r.tag();
    const no = t >>> 3;
    const wire = t & 7;
    switch (no) {
      case 1:
        if (wire !== VARINT) bad("Value.null_value has the wrong wire type");
        r.int32(); // an enum: any int32 value is the JSON null (protobuf-es, Go and Python all print null)
        v = null;
        break;
      case 2:
        if (wire !== I64) bad("Value.number_value has the wrong wire type");
        v = r.double();
        if (!Number.isFinite(v)) bad("Value.number_value is NaN or infinite (JSON cannot represent it)");
        break;
      case 3:
        if (wire !== LEN) bad("Value.string_value has the wrong wire type");
        v = r.string();
        break;
      case 4:
        if (wire !== VARINT) bad("Value.bool_value has the wrong wire type");
        r.varint();
        v = vLo !== 0 || vHi !== 0;
        break;
      case 5:
      case 6: {
        if (wire !== LEN) bad("Value.struct_value/list_value has the wrong wire type");
        if (kind === no) bad("Value message member appears twice (merging is not accepted)");
        const len = r.length(); // read before r.pos: the length prefix moves it
        const stop = r.pos + len;
        v = no === 5 ? readStruct(r, stop, depth + 1) : readList(r, stop, depth + 1);
        if (r.pos !== stop) bad("Value member overruns its length");
        break;
      }
      default:
        r.skip(wire);
        continue;
    }
    kind = no;
  }
  if (r.pos !== end) bad("Value overruns its length");
  if (v === undefined) bad("Value has no kind");
  return v!;
}

/** google.protobuf.ListValue: repeated Value values = 1. */
function readList(r: Reader, end: number, depth: number): JsonValue[] {
  if (depth > MAX_DEPTH) bad(`nesting deeper than ${MAX_DEPTH} messages`);
  const out: JsonValue[] = [];
  while (r.pos < end) {
    const t = r.tag();
    if (t >>> 3 !== 1) {
      r.skip(t & 7);
      continue;
    }
    if ((t & 7) !== LEN) bad("ListValue.values has the wrong wire type");
    const len = r.length(); // read before r.pos: the length prefix moves it
    const stop = r.pos + len;
    out.push(readValue(r, stop, depth + 1));
    if (r.pos !== stop) bad("ListValue member overruns its length");
  }
  if (r.pos !== end) bad("ListValue overruns its length");
  return out;
}

/** Read `seconds` (int64) and `nanos` (int32) of a Timestamp or Duration. */
function readSecondsNanos(r: Reader, end: number, what: string): { seconds: number; nanos: number } {
  let seconds = 0;
  let nanos = 0;
  while (r.pos < end) {
    const t = r.tag();
    if (t === 1 << 3) {
      r.varint();
      // int64 as a JS number: exact for every value inside the JSON range checked by the callers
      seconds = vHi >= 0x80000000 ? -((~vHi >>> 0) * 4294967296 + (~vLo >>> 0) + 1) : vHi * 4294967296 + vLo;
    } else if (t === 2 << 3) nanos = r.int32();
    else if (t >>> 3 === 1 || t >>> 3 === 2) bad(`${what} field has the wrong wire type`);
    else r.skip(t & 7);
  }
  if (r.pos !== end) bad(`${what} overruns its length`);
  return { seconds, nanos };
}

/** google.protobuf.Timestamp as protobuf-es' JSON (RFC 3339, UTC, 0/3/6/9 fraction digits). */
function readTimestamp(r: Reader, end: number): string {
  const { seconds, nanos } = readSecondsNanos(r, end, "Timestamp");
  if (seconds < MIN_TS_S || seconds > MAX_TS_S) bad("Timestamp is outside 0001-01-01..9999-12-31");
  if (nanos < 0 || nanos > 999_999_999) bad("Timestamp nanos out of range");
  let z = "Z";
  if (nanos > 0) {
    const digits = String(nanos + 1_000_000_000).slice(1);
    z = digits.endsWith("000000") ? `.${digits.slice(0, 3)}Z` : digits.endsWith("000") ? `.${digits.slice(0, 6)}Z` : `.${digits}Z`;
  }
  return new Date(seconds * 1000).toISOString().replace(".000Z", z);
}

/** google.protobuf.Duration: only validated (its JSON range and sign rule); no decoder plan uses its JSON. */
function readDuration(r: Reader, end: number): void {
  const { seconds, nanos } = readSecondsNanos(r, end, "Duration");
  if (Math.abs(seconds) > MAX_DURATION_S) bad("Duration is outside ±10000 years");
  if (nanos < -999_999_999 || nanos > 999_999_999 || (seconds > 0 && nanos < 0) || (seconds < 0 && nanos > 0)) bad("Duration nanos out of range or of the wrong sign");
}

/** A compiled binary -> proto3 JSON decoder for one message type. */
export type JsonDecoder = (bytes: Uint8Array) => JsonObject;

/**
 * The proto3 JSON decoder for `desc` (proto field names, as `toJson(..., { useProtoFieldName: true })`): one pass over
 * the bytes when the schema is covered (`onePass`), else strict validation + protobuf-es. Throws
 * {@link RequestDecodeError} for every refused input.
 */
export function jsonDecoder(desc: DescMessage): { decode: JsonDecoder; onePass: boolean } {
  const plan = planOf(desc);
  if (!plan) {
    const strict = strictDecoder(desc);
    return {
      decode: (bytes) => {
        const msg = strict(bytes);
        try {
          return toJson(desc, msg, { useProtoFieldName: true }) as JsonObject;
        } catch (e) {
          return bad((e as Error).message);
        }
      },
      onePass: false,
    };
  }
  return { decode: (bytes) => readMessage(new Reader(bytes), plan, bytes.length, 0), onePass: true };
}
