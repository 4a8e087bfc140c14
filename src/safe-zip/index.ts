export { entryNameProblem, foldCase } from "./entry-name.js";
export { MANIFEST, MANIFEST_MAX_BYTES, manifestTooLarge } from "./layout.js";
export { openCheckedZip, openSafeZip, SafeZip, type CheckedZipEntry, type FileSlice, type SafeEntry } from "./open.js";
export { DEFAULT_SAFE_ZIP_LIMITS, entryError, PORTABLE_FILE_SYSTEM, WHEEL_LIMITS, type CheckedEntry, type SafeZipLimits, type TargetFileSystem } from "./rules.js";
