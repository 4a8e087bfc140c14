export { verifyChecksums, type ChecksumProblem, type ChecksumResult } from "./checksums.js";
export { buildOfflineZip, deflatesWell, type OfflineZipInput, type OfflineZipResult } from "./build.js";
export { digestFile, digestStream, type Digest } from "./digest.js";
export { collectProjectFiles, IGNORE_FILE, type ProjectFile, type ProjectFiles } from "./project-files.js";
export { collectRuntimeFiles, type RuntimeFiles } from "./runtime-files.js";
export { formatSha256Sums, parseSha256Sums, SHA256SUMS, SIGNATURE, type ParsedSha256Sums, type Sha256Entry } from "./sha256sums.js";
