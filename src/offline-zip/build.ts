import { createHash, type KeyObject } from "node:crypto";
import { inOrder, writeDeterministicZip, type ZipEntry, type ZipFileEntry } from "../packaging/deterministic-zip.js";
import { sign } from "../signing/index.js";
import { digestFile } from "./digest.js";
import type { ProjectFile } from "./project-files.js";
import { formatSha256Sums, SHA256SUMS, SIGNATURE, type Sha256Entry } from "./sha256sums.js";

export interface OfflineZipInput {
  outPath: string;
  projectFiles: readonly ProjectFile[];
  /** Paths like `wheels/numpy-2.0.0-cp311-cp311-manylinux_2_17_x86_64.whl`. */
  wheelFiles: readonly { path: string; absPath: string }[];
  /** Generated files (manifest.json, requirements.txt, .procvision_env.json); they replace same-named project files. */
  extraEntries: readonly { path: string; data: Buffer }[];
  /** When given, SIGNATURE holds the ed25519 signature of SHA256SUMS. */
  signingKey?: KeyObject;
  /** For SOURCE_DATE_EPOCH. */
  env?: NodeJS.ProcessEnv;
}

export interface OfflineZipResult {
  path: string;
  size: number;
  entries: number;
  wheelCount: number;
  sha256sums: string;
}

/** Files hashed concurrently: small ones are latency-bound, one at a time. */
const READ_AHEAD = 8;

interface FileToPack {
  path: string;
  absPath: string;
  executable: boolean;
}

/**
 * Writes the offline package (contract §1). Files are read twice: once to hash them, once to copy them into the
 * zip. SHA256SUMS sorts between upper-case and lower-case names, so it has to be complete before most entries are
 * written; the second read comes from the page cache, and the copy is checked against the first read's CRC-32.
 */
export async function buildOfflineZip(input: OfflineZipInput): Promise<OfflineZipResult> {
  const generated = new Set([SHA256SUMS, SIGNATURE, ...input.extraEntries.map((e) => e.path)]);
  const files: FileToPack[] = [
    ...input.projectFiles
      .filter((f) => !generated.has(f.path))
      .map((f) => ({ path: f.path, absPath: f.absPath, executable: (f.mode & 0o100) !== 0 })),
    ...input.wheelFiles.map((w) => ({ path: w.path, absPath: w.absPath, executable: false })),
  ];

  const sums: Sha256Entry[] = [];
  const entries: (ZipEntry | ZipFileEntry)[] = [];
  for await (const { file, digest } of inOrder(files, READ_AHEAD, async (f) => ({ file: f, digest: await digestFile(f.absPath) }))) {
    sums.push({ path: file.path, sha256: digest.sha256 });
    entries.push({ ...file, size: digest.size, crc32: digest.crc32, store: isWheel(file.path) });
  }
  for (const extra of input.extraEntries) {
    sums.push({ path: extra.path, sha256: createHash("sha256").update(extra.data).digest("hex") });
    entries.push({ ...extra, store: isWheel(extra.path) });
  }

  const sha256sums = formatSha256Sums(sums);
  entries.push({ path: SHA256SUMS, data: Buffer.from(sha256sums) });
  if (input.signingKey) entries.push({ path: SIGNATURE, data: Buffer.from(`${sign(Buffer.from(sha256sums), input.signingKey)}\n`) });

  const size = await writeDeterministicZip(input.outPath, entries, input.env);
  return { path: input.outPath, size, entries: entries.length, wheelCount: input.wheelFiles.length, sha256sums };
}

function isWheel(entryPath: string): boolean {
  return entryPath.endsWith(".whl");
}
