/**
 * Differential fuzzing of the request decoder (src/server/wire-decode.ts) against protobuf-es and Python's protobuf
 * (upb), on generated and mutated wire bytes of every request message. The rule under test: whatever we accept, both
 * references accept and decode to the same value (protobuf-es aside for Struct keys named `__proto__`, which it
 * drops); anything either reference refuses, we refuse. What we refuse beyond that is counted by category.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { fromBinary, toJson, type DescMessage, type JsonValue } from "@bufbuild/protobuf";
import {
  ApproveRequestSchema,
  EvaluateRequestSchema,
  ExportTracesRequestSchema,
  GetApprovalRequestSchema,
  GetServerInfoRequestSchema,
  ListApprovalsRequestSchema,
} from "../../src/gen/gait/gate/v1/gate_service_pb.js";
import { jsonDecoder, strictDecoder, isRequestDecodeError } from "../../src/transport/grpc/wire-decode.js";
import { jcs } from "../../src/engine/canon.js";
import { oracleAvailable, pythonDecode, runs } from "./oracle.js";
import { requestBytes } from "./gen/wire.js";
import { report } from "./report.js";

type Answer = { ok: true; json: JsonValue } | { ok: false; error: string };

function esDecode(desc: DescMessage, bytes: Uint8Array): Answer {
  try {
    return { ok: true, json: toJson(desc, fromBinary(desc, bytes), { useProtoFieldName: true }) };
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
}

/** Whether a JSON value has a member named `__proto__` anywhere. */
function hasProtoKey(v: unknown): boolean {
  if (v === null || typeof v !== "object") return false;
  if (Array.isArray(v)) return v.some(hasProtoKey);
  return Object.keys(v).some((k) => k === "__proto__" || hasProtoKey((v as Record<string, unknown>)[k]));
}

const MESSAGES: [string, DescMessage, (b: Uint8Array) => Answer][] = [
  ["EvaluateRequest", EvaluateRequestSchema, wrap(jsonDecoder(EvaluateRequestSchema).decode)],
  ...[ApproveRequestSchema, ListApprovalsRequestSchema, GetApprovalRequestSchema, ExportTracesRequestSchema, GetServerInfoRequestSchema].map(
    (d): [string, DescMessage, (b: Uint8Array) => Answer] => {
      const strict = strictDecoder(d);
      return [d.name, d, wrap((b) => toJson(d, strict(b), { useProtoFieldName: true }) as JsonValue)];
    },
  ),
];

function wrap(decode: (b: Uint8Array) => JsonValue): (b: Uint8Array) => Answer {
  return (b) => {
    try {
      return { ok: true, json: decode(b) };
    } catch (e) {
      if (!isRequestDecodeError(e)) throw e; // anything but a clean refusal is a decoder bug
      return { ok: false, error: e.message };
    }
  };
}

/** The refusal category: the text after "request is not a valid protobuf message: ", up to the first field name. */
function category(error: string): string {
  return error
    .replace(/^request is not a valid protobuf message: /, "")
    .replace(/field \S+/g, "field X")
    .replace(/wire type \d+, declared \d+/, "wrong wire type")
    .replace(/field \d+/, "field N")
    .slice(0, 60);
}

/**
 * What we may refuse although both references accept it: the non-canonical encodings wire-decode.ts lists. Any other
 * refusal of an input both references accept (and agree on) is a decoder bug, e.g. a field skipped short.
 */
const DOCUMENTED_REFUSALS = [
  /appears twice \(merging is not accepted\)/,
  /varint overflows 64 bits|varint longer than 10 bytes/,
  /field tag out of range or over-long/,
  /over-long length prefix/,
  /int32 value out of range|out of the 32-bit range/,
  /groups are not accepted/,
  /has wire type \d+, declared \d+|has the wrong wire type/,
  /Timestamp is outside|Timestamp nanos out of range|Duration is outside|Duration nanos/,
  /Value has no kind|Struct entry has no value|NaN or infinite/,
  /entry has an unknown, repeated or mistyped field|entry has an unknown or repeated field|key has wire type|value has wire type/,
  /has the key "__proto__"/,
  /nesting deeper than/,
];

describe.skipIf(!oracleAvailable())("request decoding: differential against protobuf-es and Python protobuf", () => {
  for (const hostile of [false, true]) {
    it(`${hostile ? "hostile (mutated, non-canonical)" : "schema-guided"} inputs of every request message`, () => {
      const perMessage = runs(hostile ? 2500 : 600);
      const inputs: [string, DescMessage, (b: Uint8Array) => Answer, Uint8Array][] = [];
      for (const [name, desc, ours] of MESSAGES) {
        const n = name === "EvaluateRequest" ? perMessage * 4 : perMessage;
        const sample = fc.sample(requestBytes(desc, { hostile, maxDepth: 7 }), { numRuns: n, seed: hostile ? 1234 : 99 });
        for (const b of sample) inputs.push([name, desc, ours, b]);
      }
      const py = pythonDecode(inputs.map(([name, , , b]) => [name, b] as const));
      const counts = { cases: inputs.length, accepted: 0, refused: 0, refused_also_by_protobuf_es: 0, refused_also_by_python: 0, refused_only_by_us: 0, proto_keys_kept: 0 };
      const only: Record<string, number> = {};
      for (let i = 0; i < inputs.length; i++) {
        const [name, desc, ours, bytes] = inputs[i]!;
        const got = ours(bytes);
        const es = esDecode(desc, bytes);
        const p = py[i]!;
        const where = `${name} ${Buffer.from(bytes).toString("hex")}`;
        if (got.ok) {
          counts.accepted++;
          // Python (independent) decodes it, to the same value
          expect(p.ok, `${where}: python refused what we accepted: ${(p as { error?: string }).error}`).toBe(true);
          expect(jcs(got.json), where).toBe(jcs((p as { json: unknown }).json));
          // protobuf-es decodes it too; the same value unless a `__proto__` key is involved (protobuf-es drops it)
          expect(es.ok, `${where}: protobuf-es refused what we accepted: ${(es as { error?: string }).error}`).toBe(true);
          if (hasProtoKey(got.json)) counts.proto_keys_kept++;
          else expect(JSON.stringify(got.json), where).toBe(JSON.stringify((es as { json: unknown }).json));
        } else {
          counts.refused++;
          if (!es.ok) counts.refused_also_by_protobuf_es++;
          if (!p.ok) counts.refused_also_by_python++;
          if (es.ok && p.ok) {
            counts.refused_only_by_us++;
            if (!hasProtoKey(p.json) && jcs(es.json) === jcs(p.json)) {
              expect(DOCUMENTED_REFUSALS.some((re) => re.test(got.error)), `${where}: refused for an undocumented reason although both references agree: ${got.error}`).toBe(true);
            }
            const c = category(got.error);
            only[c] = (only[c] ?? 0) + 1;
          }
        }
      }
      report(`decode-differential-${hostile ? "hostile" : "schema"}`, { ...counts, refused_only_by_us_categories: JSON.stringify(only) });
      if (!hostile) {
        expect(counts.accepted).toBeGreaterThan(counts.cases / 2);
        expect(counts.proto_keys_kept).toBeGreaterThan(0);
      } else {
        expect(counts.refused).toBeGreaterThan(0);
        expect(counts.accepted).toBeGreaterThan(0);
      }
    });
  }
});
