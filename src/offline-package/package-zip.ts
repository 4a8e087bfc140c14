import { openSafeZip, type SafeEntry, type SafeZip, type SafeZipLimits } from "../zip/index.js";
import { packageView, wheelFileOf } from "./layout.js";

/**
 * Opens an offline package zip after checking its whole central directory (contract §7 Install step 1): unsafe
 * names, symlinks, duplicates, encryption, size limits and bombs → 2001; no manifest.json → 2002. A zip of the
 * original tool (the package in one top-level folder) is read as if that folder were the root.
 */
export function openPackageZip(zipPath: string, limits: Partial<SafeZipLimits> = {}): Promise<SafeZip> {
  return openSafeZip(zipPath, limits, packageView);
}

/** The files directly in the package's `wheels/` (whatever their names), in central directory order. */
export function packageWheels(zip: SafeZip): SafeEntry[] {
  return [...zip.entries.values()].filter((e) => !e.isDirectory && wheelFileOf(e.path) !== null);
}
