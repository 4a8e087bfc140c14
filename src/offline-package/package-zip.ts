import { ErrorCode, isProcVisionError, ProcVisionError } from "../errors/index.js";
import { openSafeZip, type SafeEntry, type SafeZip, type SafeZipLimits } from "../zip/index.js";
import { packageView, wheelFileOf } from "./layout.js";

const HINT = "the zip is damaged, forged, or not an offline package; rebuild it with procvision-cli package and copy it again";

/**
 * Opens an offline package zip after checking its whole central directory (contract §7 Install step 1): unsafe
 * names, symlinks, duplicates, encryption, size limits and bombs → 2001; no manifest.json → 2002. A zip of the
 * original tool (the package in one top-level folder) is read as if that folder were the root.
 */
export async function openPackageZip(zipPath: string, limits: Partial<SafeZipLimits> = {}): Promise<SafeZip> {
  try {
    return await openSafeZip(zipPath, limits, packageView);
  } catch (err) {
    // The reader says what is wrong with the zip; what to do about a package is this room's to say.
    if (!isProcVisionError(err) || err.code !== ErrorCode.invalid_zip) throw err;
    throw new ProcVisionError(err.code, err.message, { hint: HINT, cause: err, ...(err.details ? { details: { ...err.details } } : {}) });
  }
}

/** The files directly in the package's `wheels/` (whatever their names), in central directory order. */
export function packageWheels(zip: SafeZip): SafeEntry[] {
  return [...zip.entries.values()].filter((e) => !e.isDirectory && wheelFileOf(e.path) !== null);
}
