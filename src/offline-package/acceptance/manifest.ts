import { ErrorCode, ProcVisionError } from "../../errors/index.js";
import { parseJson, validateManifest, type Manifest } from "../../manifest/index.js";
import { manifestTooLarge } from "../layout.js";

const MANIFEST_HINT = "fix manifest.json (procvision-cli validate lists every problem) and build the package again";

/** The package's manifest.json (its size, and its text unless too large to read) judged: the manifest, or 2002. Pure. */
export function judgeManifest(size: number, text: string | undefined): { ok: true; manifest: Manifest } | { ok: false; error: ProcVisionError } {
  const refuse = (message: string, details?: Record<string, unknown>): { ok: false; error: ProcVisionError } =>
    ({ ok: false, error: new ProcVisionError(ErrorCode.manifest_missing, message, { hint: MANIFEST_HINT, ...(details ? { details } : {}) }) });
  const tooLarge = manifestTooLarge(size);
  if (tooLarge !== null || text === undefined) return refuse(`manifest.json in the package is invalid: ${tooLarge ?? "unreadable"}`);
  const json = parseJson(text);
  if (!json.ok) return refuse(`manifest.json in the package is not valid JSON at line ${json.line}, column ${json.column}: ${json.message}`);
  const result = validateManifest(json.value);
  if (!result.ok) return refuse(`manifest.json in the package is invalid: ${result.errors.map((e) => `${e.path}: ${e.message}`).join("; ")}`, { issues: result.errors });
  return { ok: true, manifest: result.manifest };
}
