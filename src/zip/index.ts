export { entryNameProblem, foldCase } from "./entry-name.js";
export { openCheckedZip, openSafeZip, SafeZip, WHOLE_ZIP, type CheckedZipEntry, type ChooseView, type FileSlice, type SafeEntry, type ZipView } from "./open.js";
export { DEFAULT_SAFE_ZIP_LIMITS, entryError, PORTABLE_FILE_SYSTEM, type CheckedEntry, type SafeZipLimits, type TargetFileSystem } from "./rules.js";
export {
  compareZipPaths, writeDeterministicZip, writeZip, type EntryDigest, type WriteZipOptions, type ZipEntry, type ZipFileEntry, type ZipResult,
} from "./write.js";
