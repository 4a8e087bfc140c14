export { verifyChecksums, type ChecksumProblem, type ChecksumResult } from "./checksums.js";
export { buildOfflineZip, deflatesWell, type OfflineZipInput, type OfflineZipResult } from "./build.js";
export { digestFile, digestStream, sha256File, type Digest } from "./digest.js";
export {
  MANIFEST, MANIFEST_MAX_BYTES, manifestTooLarge, packagePath, packageStart, packageView, packageZipName, REQUIREMENTS, RUNTIME_BOOTSTRAP, RUNTIME_DIR,
  SHA256SUMS, SIGNATURE, TARGET_ENV_FILE, wheelFileOf, WHEELS, WHEELS_DIR,
} from "./layout.js";
export { openPackageZip, packageWheels } from "./package-zip.js";
export { collectProjectFiles, IGNORE_FILE, type ProjectFile, type ProjectFiles } from "./project-files.js";
export { collectRuntimeFiles, type RuntimeFiles } from "./runtime-files.js";
export { formatSha256Sums, parseSha256Sums, type ParsedSha256Sums, type Sha256Entry } from "./sha256sums.js";
