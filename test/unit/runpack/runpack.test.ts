import { describe, expect, it } from "vitest";
import { unzipSync } from "fflate";
import { Ed25519KeyPair } from "../../../src/infra/keys.js";
import { digestJCS, jcs, sha256Hex } from "../../../src/engine/canon.js";
import { buildRunpack, buildSingleCallRunpack, computeManifestDigest, normalizeRunId, type RunpackInput } from "../../../src/runpack/runpack.js";
import { verifyRunpack } from "../../../src/runpack/verify.js";
import { readZipEntries, writeDeterministicZip } from "../../../src/runpack/zip.js";

const enc = new TextEncoder();
const dec = new TextDecoder();
const ENV = { os: "linux", arch: "amd64", runtime: "node" };

function single(extra: Partial<Parameters<typeof buildSingleCallRunpack>[0]> = {}) {
  return buildSingleCallRunpack({
    runId: "run_demo",
    createdAt: "1980-01-01T00:00:00Z",
    producerVersion: "0.1.0",
    toolName: "tool.write",
    args: { path: "/tmp/x", content: "secret-ish" },
    verdict: "require_approval",
    reasonCodes: ["approval_token_missing"],
    violations: ["approval_not_granted"],
    traceId: "abcdefabcdefabcdefabcdef",
    ...extra,
  });
}

/** Entries of a zip as path -> text. */
function entries(zip: Uint8Array): Record<string, string> {
  return Object.fromEntries(readZipEntries(zip).map((e) => [e.path, dec.decode(e.data)]));
}

/** Rebuild an archive with one entry replaced (the manifest left as is). */
function withEntry(zip: Uint8Array, path: string, text: string): Uint8Array {
  const files = readZipEntries(zip).map((e) => ({ path: e.path, data: e.path === path ? enc.encode(text) : e.data }));
  return writeDeterministicZip(files);
}

describe("deterministic zip", () => {
  it("same files give identical bytes, whatever the input order", () => {
    const a = writeDeterministicZip([
      { path: "b.txt", data: enc.encode("B") },
      { path: "a/x.json", data: enc.encode("{}") },
    ]);
    const b = writeDeterministicZip([
      { path: "a/x.json", data: enc.encode("{}") },
      { path: "b.txt", data: enc.encode("B") },
    ]);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(readZipEntries(a).map((e) => e.path)).toEqual(["a/x.json", "b.txt"]);
    expect(writeDeterministicZip([])).toHaveLength(0);
  });

  it("stamps 1980-01-01 00:00:00, deflates, mode 0644, no directory entries", () => {
    const zip = writeDeterministicZip([{ path: "dir/file.txt", data: enc.encode("hello hello hello hello") }]);
    const v = new DataView(zip.buffer, zip.byteOffset);
    expect(v.getUint32(0, true)).toBe(0x04034b50);
    expect(v.getUint16(8, true)).toBe(8); // deflate
    expect(v.getUint16(10, true)).toBe(0); // DOS time 00:00:00
    expect(v.getUint16(12, true)).toBe((0 << 9) | (1 << 5) | 1); // DOS date 1980-01-01
    const cd = zip.findIndex((_, i) => i + 4 <= zip.length && v.getUint32(i, true) === 0x02014b50);
    expect((v.getUint32(cd + 38, true) >>> 16) & 0o777).toBe(0o644);
    expect(v.getUint16(cd + 4, true) >> 8).toBe(3); // made by Unix
    expect(Object.keys(unzipSync(zip))).toEqual(["dir/file.txt"]);
  });

  it("keeps an exec bit as 0755 and rejects bad or duplicate paths", () => {
    const zip = writeDeterministicZip([{ path: "run.sh", data: enc.encode("#!"), mode: 0o700 }]);
    const v = new DataView(zip.buffer, zip.byteOffset);
    const cd = zip.findIndex((_, i) => i + 4 <= zip.length && v.getUint32(i, true) === 0x02014b50);
    expect((v.getUint32(cd + 38, true) >>> 16) & 0o777).toBe(0o755);
    expect(() => writeDeterministicZip([{ path: "../x", data: enc.encode("") }])).toThrow(/invalid zip entry path/);
    expect(() => writeDeterministicZip([{ path: "a", data: enc.encode("") }, { path: "a", data: enc.encode("") }])).toThrow(/duplicate/);
  });
});

describe("runpack writer", () => {
  it("same inputs => identical bytes", () => {
    expect(Buffer.from(single().zip).equals(Buffer.from(single().zip))).toBe(true);
    expect(Buffer.from(single().zip).equals(Buffer.from(single({ traceId: "ffffffffffffffffffffffff" }).zip))).toBe(false);
  });

  it("writes the documented layout as JCS bytes with a correct manifest", () => {
    const { zip, manifest } = single();
    const files = entries(zip);
    expect(Object.keys(files)).toEqual(["intents.jsonl", "manifest.json", "refs.json", "results.jsonl", "run.json"]);
    for (const path of ["manifest.json", "refs.json", "run.json"]) expect(files[path]).toBe(jcs(JSON.parse(files[path]!)));
    expect(manifest.run_id).toBe("run_demo");
    expect(manifest.capture_mode).toBe("reference");
    expect(manifest.files.map((f) => f.path)).toEqual(["intents.jsonl", "refs.json", "results.jsonl", "run.json"]);
    for (const f of manifest.files) expect(f.sha256).toBe(sha256Hex(enc.encode(files[f.path]!)));
    expect(manifest.manifest_digest).toBe(digestJCS({ ...manifest, manifest_digest: "" }));
    expect(manifest).not.toHaveProperty("signatures");

    const intent = JSON.parse(files["intents.jsonl"]!.trimEnd());
    expect(files["intents.jsonl"]!.endsWith("\n")).toBe(true);
    expect(intent).toMatchObject({ schema_id: "gait.runpack.intent", intent_id: "intent_1", tool_name: "tool.write", args_digest: digestJCS({ path: "/tmp/x", content: "secret-ish" }) });
    expect(intent).not.toHaveProperty("args"); // reference mode strips raw args
    const result = JSON.parse(files["results.jsonl"]!.trimEnd());
    const expected = { verdict: "require_approval", reason_codes: ["approval_token_missing"], violations: ["approval_not_granted"], trace_id: "abcdefabcdefabcdefabcdef" };
    expect(result).toMatchObject({ intent_id: "intent_1", status: "error", result_digest: digestJCS(expected) });
    expect(result).not.toHaveProperty("result");
    const run = JSON.parse(files["run.json"]!);
    expect(run.timeline).toEqual([
      { event: "proxy_eval_start", ts: "1980-01-01T00:00:00Z" },
      { event: "proxy_eval_finish", ts: "1980-01-01T00:00:00Z" },
    ]);
    expect(JSON.parse(files["refs.json"]!)).toMatchObject({ schema_id: "gait.runpack.refs", receipts: [] });
  });

  it("status is ok for allow and dry_run, raw mode keeps args and result", () => {
    for (const verdict of ["allow", "dry_run"] as const) {
      expect(JSON.parse(entries(single({ verdict }).zip)["results.jsonl"]!).status).toBe("ok");
    }
    expect(JSON.parse(entries(single({ verdict: "block" }).zip)["results.jsonl"]!).status).toBe("error");
    const raw = entries(single({ captureMode: "raw" }).zip);
    expect(JSON.parse(raw["intents.jsonl"]!).args).toEqual({ path: "/tmp/x", content: "secret-ish" });
    expect(JSON.parse(raw["results.jsonl"]!).result.verdict).toBe("require_approval");
  });

  it("normalizes run ids like Gait", () => {
    expect(normalizeRunId("my run/1")).toBe("run_my_run_1");
    expect(normalizeRunId("run_x")).toBe("run_x");
    expect(normalizeRunId("__")).toBe("");
    const input: RunpackInput = { runId: "", createdAt: "1980-01-01T00:00:00Z", intents: [], results: [], env: ENV };
    expect(() => buildRunpack(input)).toThrow(/run_id/);
    expect(() => buildRunpack({ ...input, runId: "r", createdAt: "yesterday" })).toThrow(/RFC 3339/);
  });
});

describe("runpack verify", () => {
  const key = Ed25519KeyPair.generate();
  const other = Ed25519KeyPair.generate();

  it("accepts an intact unsigned runpack (signature missing is not a failure by default)", () => {
    const res = verifyRunpack(single().zip);
    expect(res).toMatchObject({ ok: true, run_id: "run_demo", signature_status: "missing", missing_files: [], hash_mismatches: [], errors: [] });
    expect(res.files_checked).toBe(4);
    expect(verifyRunpack(single().zip, { requireSignature: true }).ok).toBe(false);
  });

  it("detects a tampered payload file", () => {
    const zip = single().zip;
    const tampered = withEntry(zip, "results.jsonl", entries(zip)["results.jsonl"]!.replace(`"status":"error"`, `"status":"ok"`));
    const res = verifyRunpack(tampered);
    expect(res.ok).toBe(false);
    expect(res.hash_mismatches).toEqual(["results.jsonl"]);
  });

  it("detects a tampered manifest (digest) and missing files", () => {
    const zip = single().zip;
    const manifest = JSON.parse(entries(zip)["manifest.json"]!);
    const edited = jcs({ ...manifest, run_id: "run_other" });
    const res = verifyRunpack(withEntry(zip, "manifest.json", edited));
    expect(res.ok).toBe(false);
    expect(res.hash_mismatches).toEqual(["manifest.json"]);

    const without = writeDeterministicZip(readZipEntries(zip).filter((e) => e.path !== "refs.json"));
    const res2 = verifyRunpack(without);
    expect(res2.ok).toBe(false);
    expect(res2.missing_files).toEqual(["refs.json"]);
  });

  it("rejects an undeclared required file, a missing manifest and wrong schema", () => {
    const zip = single().zip;
    const manifest = JSON.parse(entries(zip)["manifest.json"]!);
    const fewer = { ...manifest, files: manifest.files.filter((f: { path: string }) => f.path !== "run.json") };
    fewer.manifest_digest = computeManifestDigest(fewer);
    expect(verifyRunpack(withEntry(zip, "manifest.json", jcs(fewer))).errors.join()).toMatch(/run.json is not declared/);
    const noManifest = writeDeterministicZip(readZipEntries(zip).filter((e) => e.path !== "manifest.json"));
    expect(verifyRunpack(noManifest).errors.join()).toMatch(/runpack_manifest_missing/);
    const wrongSchema = { ...manifest, schema_id: "x" };
    expect(verifyRunpack(withEntry(zip, "manifest.json", jcs(wrongSchema))).errors.join()).toMatch(/runpack_manifest_schema/);
    expect(verifyRunpack(enc.encode("not a zip at all, certainly")).errors.join()).toMatch(/runpack_invalid_zip/);
  });

  it("rejects duplicate entry names", () => {
    // two entries whose names differ in one byte, then patch the second name to equal the first
    const zip = writeDeterministicZip([
      ...readZipEntries(single().zip),
      { path: "manifesX.json", data: enc.encode("{}") },
    ]);
    const buf = Buffer.from(zip);
    let at = buf.indexOf("manifesX.json");
    while (at >= 0) {
      buf.write("manifest.json", at);
      at = buf.indexOf("manifesX.json");
    }
    const res = verifyRunpack(new Uint8Array(buf));
    expect(res.ok).toBe(false);
    expect(res.duplicate_entries).toEqual(["manifest.json"]);
    expect(res.errors.join()).toMatch(/runpack_duplicate_entries/);
  });

  it("verifies signatures: verified, failed with another key, skipped without a key", () => {
    const signed = buildRunpack({
      runId: "run_signed",
      createdAt: "2026-01-01T00:00:00Z",
      intents: [{ intent_id: "intent_1", tool_name: "tool.a", args: {} }],
      results: [{ intent_id: "intent_1", status: "ok", result: { ok: true } }],
      env: ENV,
      signer: key,
    });
    expect(signed.manifest.signatures).toHaveLength(1);
    expect(verifyRunpack(signed.zip, { verifier: key.verifier(), requireSignature: true })).toMatchObject({ ok: true, signature_status: "verified", signatures_valid: 1 });
    expect(verifyRunpack(signed.zip, { verifier: other.verifier() })).toMatchObject({ ok: false, signature_status: "failed" });
    expect(verifyRunpack(signed.zip)).toMatchObject({ ok: true, signature_status: "skipped" });
    expect(verifyRunpack(signed.zip, { requireSignature: true }).ok).toBe(false);
  });
});
