/**
 * Runpack verification for `gait verify` (evidence.md §3.6): duplicate entries, manifest schema, per-file sha256,
 * manifest digest, and optional manifest signatures. Pure over the archive bytes; never throws on bad archives
 * (a malformed archive is a failed verification, reported in `errors`).
 */
import { sha256Hex } from "../engine/canon.js";
import { verifyDocument, type SignatureObject, type Verifier } from "../engine/signature.js";
import { computeManifestDigest, RUNPACK_MANIFEST_SCHEMA, RUNPACK_REQUIRED_FILES, RUNPACK_SCHEMA_VERSION } from "./runpack.js";
import { readZipEntries } from "./zip.js";

export type SignatureStatus = "verified" | "failed" | "missing" | "skipped";

export interface RunpackVerifyOptions {
  /** public key for manifest signatures; without it signatures are `skipped` */
  verifier?: Verifier;
  /** fail unless at least one signature verifies */
  requireSignature?: boolean;
}

export interface RunpackVerifyResult {
  ok: boolean;
  run_id: string;
  manifest_digest: string;
  files_checked: number;
  missing_files: string[];
  hash_mismatches: string[];
  duplicate_entries: string[];
  signature_status: SignatureStatus;
  signature_errors: string[];
  signatures_total: number;
  signatures_valid: number;
  /** structural failures (not a zip, no manifest, wrong schema, duplicates); empty when the structure is sound */
  errors: string[];
}

/** Verify a runpack archive. `ok` = structure sound, nothing missing or mismatched, and the signature rule holds. */
export function verifyRunpack(zip: Uint8Array, opts: RunpackVerifyOptions = {}): RunpackVerifyResult {
  const res: RunpackVerifyResult = {
    ok: false,
    run_id: "",
    manifest_digest: "",
    files_checked: 0,
    missing_files: [],
    hash_mismatches: [],
    duplicate_entries: [],
    signature_status: "missing",
    signature_errors: [],
    signatures_total: 0,
    signatures_valid: 0,
    errors: [],
  };
  let entries;
  try {
    entries = readZipEntries(zip);
  } catch (e) {
    res.errors.push(`runpack_invalid_zip: ${(e as Error).message}`);
    return res;
  }
  const byPath = new Map<string, Uint8Array>();
  const dups = new Set<string>();
  for (const e of entries) {
    if (byPath.has(e.path)) dups.add(e.path);
    else byPath.set(e.path, e.data);
  }
  if (dups.size) {
    res.duplicate_entries = [...dups].sort();
    res.errors.push(`runpack_duplicate_entries: ${res.duplicate_entries.join(",")}`);
    return res;
  }
  const manifestBytes = byPath.get("manifest.json");
  if (!manifestBytes) {
    res.errors.push("runpack_manifest_missing: manifest.json not found in archive");
    return res;
  }
  let manifest: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(manifestBytes).toString("utf8"));
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("not a JSON object");
    manifest = parsed as Record<string, unknown>;
  } catch (e) {
    res.errors.push(`runpack_manifest_invalid: ${(e as Error).message}`);
    return res;
  }
  if (manifest.schema_id !== RUNPACK_MANIFEST_SCHEMA || manifest.schema_version !== RUNPACK_SCHEMA_VERSION) {
    res.errors.push(
      `runpack_manifest_schema: expected ${RUNPACK_MANIFEST_SCHEMA} ${RUNPACK_SCHEMA_VERSION}, got ${JSON.stringify(manifest.schema_id)} ${JSON.stringify(manifest.schema_version)}`,
    );
    return res;
  }
  res.run_id = typeof manifest.run_id === "string" ? manifest.run_id : "";
  res.manifest_digest = typeof manifest.manifest_digest === "string" ? manifest.manifest_digest : "";
  if (!res.run_id.trim()) {
    res.errors.push("runpack_manifest_invalid: run_id is empty");
    return res;
  }
  const files = Array.isArray(manifest.files) ? manifest.files : [];
  const declared = new Map<string, string>();
  for (const f of files) {
    const path = f && typeof f === "object" ? (f as Record<string, unknown>).path : undefined;
    const sha = f && typeof f === "object" ? (f as Record<string, unknown>).sha256 : undefined;
    if (typeof path !== "string" || typeof sha !== "string") {
      res.errors.push("runpack_manifest_invalid: files[] entries need string path and sha256");
      return res;
    }
    declared.set(path, sha.toLowerCase());
  }
  const missing = new Set<string>();
  const mismatched = new Set<string>();
  for (const [path, sha] of declared) {
    const data = byPath.get(path);
    res.files_checked++;
    if (!data) missing.add(path);
    else if (sha256Hex(data) !== sha) mismatched.add(path);
  }
  for (const path of RUNPACK_REQUIRED_FILES) {
    if (declared.has(path)) continue;
    // required payload files are checked even when the manifest leaves them out: an undeclared one is unverifiable
    if (!byPath.has(path)) missing.add(path);
    else res.errors.push(`runpack_manifest_invalid: required file ${path} is not declared in manifest files`);
  }
  if (computeManifestDigest(manifest) !== res.manifest_digest.toLowerCase()) mismatched.add("manifest.json");
  res.missing_files = [...missing].sort();
  res.hash_mismatches = [...mismatched].sort();

  const sigs = Array.isArray(manifest.signatures) ? (manifest.signatures as unknown[]) : [];
  res.signatures_total = sigs.length;
  if (sigs.length === 0) res.signature_status = "missing";
  else if (!opts.verifier) res.signature_status = "skipped";
  else {
    const { signatures: _s, ...signable } = manifest;
    for (const s of sigs) {
      try {
        verifyDocument(signable, s as SignatureObject, opts.verifier);
        res.signatures_valid++;
      } catch (e) {
        res.signature_errors.push((e as Error).message);
      }
    }
    res.signature_status = res.signatures_valid > 0 ? "verified" : "failed";
  }
  const intact = res.errors.length === 0 && res.missing_files.length === 0 && res.hash_mismatches.length === 0;
  res.ok = intact && (opts.requireSignature ? res.signature_status === "verified" : res.signature_status !== "failed");
  return res;
}
