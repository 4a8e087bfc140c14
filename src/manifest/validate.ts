import { parseWithIssues, type SchemaIssue } from "./issues.js";
import { manifestSchema, type Manifest } from "./schema.js";

/** A manifest problem: `path` in the contract's notation (`steps[1].params[0].min`, `manifest` for the whole). */
export type ManifestIssue = SchemaIssue;

export type ManifestValidation = { ok: true; manifest: Manifest } | { ok: false; errors: ManifestIssue[] };

/** Checks a parsed manifest.json against contract §1 and reports every problem, not just the first. */
export function validateManifest(value: unknown): ManifestValidation {
  const result = parseWithIssues(manifestSchema, value, "manifest");
  return result.ok ? { ok: true, manifest: result.data } : result;
}
