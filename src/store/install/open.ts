import { existsSync } from "node:fs";
import { ErrorCode, ProcVisionError } from "../../errors/index.js";
import { parseJson, validateManifest, type Manifest } from "../../manifest/index.js";
import { MANIFEST, MANIFEST_MAX_BYTES, manifestTooLarge, openSafeZip, type SafeZip, type SafeZipLimits } from "../../safe-zip/index.js";

export interface OpenedPackage {
  zip: SafeZip;
  manifest: Manifest;
}

const MANIFEST_HINT = "fix manifest.json (procvision-cli validate lists every problem) and build the package again";

/** The manifest inside an opened zip, checked against the schema: 2002 naming every problem. */
export async function readManifest(zip: SafeZip): Promise<Manifest> {
  const tooLarge = manifestTooLarge(zip.entries.get(MANIFEST)?.size ?? 0);
  if (tooLarge !== null) throw new ProcVisionError(ErrorCode.manifest_missing, `manifest.json in the package is invalid: ${tooLarge}`, { hint: MANIFEST_HINT });
  const json = parseJson(await zip.readText(MANIFEST, MANIFEST_MAX_BYTES));
  if (!json.ok) {
    throw new ProcVisionError(ErrorCode.manifest_missing, `manifest.json in the package is not valid JSON at line ${json.line}, column ${json.column}: ${json.message}`, {
      hint: MANIFEST_HINT,
    });
  }
  const result = validateManifest(json.value);
  if (!result.ok) {
    throw new ProcVisionError(ErrorCode.manifest_missing, `manifest.json in the package is invalid: ${result.errors.map((e) => `${e.path}: ${e.message}`).join("; ")}`, {
      hint: MANIFEST_HINT, details: { issues: result.errors },
    });
  }
  return result.manifest;
}

/** Install step 1: the zip opened safely (2001) with a valid manifest (2002). Close `zip` when done. */
export async function openPackage(zipPath: string, limits: Partial<SafeZipLimits> = {}): Promise<OpenedPackage> {
  if (!existsSync(zipPath)) {
    throw new ProcVisionError(ErrorCode.invalid_zip, `${zipPath} does not exist`, { hint: "check the path of the offline package zip (<name>-v<version>-offline.zip)" });
  }
  const zip = await openSafeZip(zipPath, limits);
  try {
    return { zip, manifest: await readManifest(zip) };
  } catch (err) {
    zip.close();
    throw err;
  }
}
