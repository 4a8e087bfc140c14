export { verifyChecksums, type ChecksumProblem, type ChecksumResult } from "./checksums.js";
export { entryNameProblem, foldCase } from "./entry-name.js";
export { MANIFEST, MANIFEST_MAX_BYTES, manifestTooLarge } from "./layout.js";
export { openSafeZip, SafeZip, type SafeEntry } from "./open.js";
export { DEFAULT_SAFE_ZIP_LIMITS, type SafeZipLimits } from "./rules.js";
export { metadataIdentity, wheelMetadataProblem, wheelMetadataProblems } from "./wheel-metadata.js";
