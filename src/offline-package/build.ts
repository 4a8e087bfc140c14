import type { KeyObject } from "node:crypto";
import { closeSync, openSync, readSync } from "node:fs";
import { deflateRawSync } from "node:zlib";
import { ErrorCode, isProcVisionError, ProcVisionError } from "../errors/index.js";
import { writeZip, type ZipEntry, type ZipFileEntry } from "../zip/write.js";
import { openPackageZip } from "./package-zip.js";
import { sign } from "../signing/index.js";
import type { ProjectFile } from "./project-files.js";
import { SHA256SUMS, SIGNATURE } from "./layout.js";
import { formatSha256Sums } from "./sha256sums.js";

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

/**
 * Writes the offline package (contract §1) reading every file once: each entry is hashed while it is copied into
 * the zip. SHA256SUMS (and SIGNATURE, which signs it) can only be written once every other entry is hashed, so their
 * local records come last; the central directory, which is what readers go by, lists all entries sorted by path.
 */
export async function buildOfflineZip(input: OfflineZipInput): Promise<OfflineZipResult> {
  const generated = new Set([SHA256SUMS, SIGNATURE, ...input.extraEntries.map((e) => e.path)]);
  const entries: (ZipEntry | ZipFileEntry)[] = [
    ...input.projectFiles
      .filter((f) => !generated.has(f.path))
      .map((f) => ({ path: f.path, absPath: f.absPath, size: f.size, executable: (f.mode & 0o100) !== 0, store: isWheel(f.path) || !compressible(f.absPath, f.size) })),
    ...input.wheelFiles.map((w) => ({ path: w.path, absPath: w.absPath, store: isWheel(w.path) })),
    ...input.extraEntries.map((e) => ({ path: e.path, data: e.data, store: isWheel(e.path) })),
  ];

  let sha256sums = "";
  const zip = await writeZip(input.outPath, entries, {
    ...(input.env ? { env: input.env } : {}),
    trailer: (digests) => {
      sha256sums = formatSha256Sums(digests);
      const text = Buffer.from(sha256sums);
      return [
        { path: SHA256SUMS, data: text },
        ...(input.signingKey ? [{ path: SIGNATURE, data: Buffer.from(`${sign(text, input.signingKey)}\n`) }] : []),
      ];
    },
    verify: refuseWhatStationsRefuse,
  });
  return { path: input.outPath, size: zip.size, entries: zip.entries, wheelCount: input.wheelFiles.length, sha256sums };
}

/**
 * The zip through the runner's own safe open (entry count, names, sizes, bomb ratios): a package a station would
 * refuse with 2001 is refused here, naming the rule, instead of being found out at the station (and the previous
 * build stays where it was).
 */
async function refuseWhatStationsRefuse(zipPath: string): Promise<void> {
  try {
    (await openPackageZip(zipPath)).close();
  } catch (err) {
    if (!isProcVisionError(err) || err.code !== ErrorCode.invalid_zip) throw err;
    throw new ProcVisionError(err.code, `a station would refuse this package: ${err.message}`, {
      hint: "pack fewer or smaller files (e.g. many assets into one archive, a very repetitive file compressed by you), or exclude them in .procvisionignore",
      cause: err,
    });
  }
}

function isWheel(entryPath: string): boolean {
  return entryPath.endsWith(".whl");
}

const SAMPLE_BYTES = 256 * 1024;

/**
 * Whether deflate is worth it for a project file: small files always are; a big one (model weights, images, archives)
 * only when its first 256 KiB shrink by a tenth. Deflating incompressible bytes cost the build several seconds and every
 * install (and `publish`) as much again to inflate them: a 300 MB random file took 3.7 s to accept, stored 0.4 s.
 */
function compressible(file: string, size: number): boolean {
  if (size < SAMPLE_BYTES) return true;
  const sample = Buffer.alloc(SAMPLE_BYTES);
  const fd = openSync(file, "r");
  try {
    readSync(fd, sample, 0, SAMPLE_BYTES, 0);
  } finally {
    closeSync(fd);
  }
  return deflatesWell(sample);
}

/** Pure: deflate (fast level) shrinks these bytes by at least a tenth. */
export function deflatesWell(sample: Buffer): boolean {
  return deflateRawSync(sample, { level: 1 }).length < 0.9 * sample.length;
}
