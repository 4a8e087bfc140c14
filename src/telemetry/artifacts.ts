import { mkdir, readdir, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { executeRects, svgLayer } from "../image/overlay.js";
import { loadSharp } from "../image/sharp.js";
import type { PreparedImage } from "../supervisor/image.js";
import type { Artifact } from "./store.js";

/** An NG call's current image, copied out of the caller's buffer when the call was recorded. */
export interface ImageSnapshot {
  /** Raw pixels, or the JPEG/PNG bytes the worker got. */
  bytes: Buffer;
  encoding: PreparedImage["encoding"];
  width: number;
  height: number;
  channels: 1 | 3;
  colorSpace: PreparedImage["colorSpace"];
  cameraId: string;
}

/**
 * Copies the image of a call that is about to be answered: the caller may reuse its buffer (a camera ring) once
 * the answer is out. `fill` payloads are written again into a buffer of our own (they must write the same pixels).
 */
export function snapshotImage(image: PreparedImage): ImageSnapshot {
  const { payload } = image;
  const bytes = Buffer.isBuffer(payload) ? Buffer.from(payload) : Buffer.alloc(payload.byteLength);
  if (!Buffer.isBuffer(payload)) payload.fill(bytes);
  return { bytes, encoding: image.encoding, width: image.width, height: image.height, channels: image.channels, colorSpace: image.colorSpace, cameraId: image.cameraId };
}

/** `artifacts/<yyyy>/<mm>/<dd>/<record id>[.annotated].jpg`, relative to the store root. */
export function artifactPaths(recordId: number, timeMs: number): { image: string; annotated: string } {
  const day = new Date(timeMs).toISOString().slice(0, 10).split("-");
  const dir = path.join("artifacts", ...day);
  return { image: path.join(dir, `${recordId}.jpg`), annotated: path.join(dir, `${recordId}.annotated.jpg`) };
}

/** The current image as JPEG (a JPEG input is kept as it came), and a copy with the result's rects drawn. */
export async function encodeArtifacts(snapshot: ImageSnapshot, resultData: Record<string, unknown>): Promise<{ image: Buffer; annotated: Buffer }> {
  const sharp = await loadSharp();
  let pixels = snapshot.bytes;
  if (snapshot.encoding === "raw" && snapshot.colorSpace === "BGR") {
    pixels = Buffer.from(pixels);
    for (let i = 0; i + 2 < pixels.length; i += 3) {
      const b = pixels[i]!;
      pixels[i] = pixels[i + 2]!;
      pixels[i + 2] = b;
    }
  }
  const source = () => (snapshot.encoding === "raw"
    ? sharp(pixels, { raw: { width: snapshot.width, height: snapshot.height, channels: snapshot.channels } })
    : sharp(pixels));
  const image = snapshot.encoding === "jpeg" ? snapshot.bytes : await source().jpeg({ quality: 90 }).toBuffer();
  const svg = Buffer.from(svgLayer(snapshot.width, snapshot.height, executeRects(resultData)));
  const annotated = await source().composite([{ input: svg, top: 0, left: 0 }]).jpeg({ quality: 90 }).toBuffer();
  return { image, annotated };
}

/** Writes a file so that a crash leaves either nothing or the whole file under its name. */
export async function writeAtomically(root: string, relative: string, bytes: Buffer): Promise<void> {
  const file = path.join(root, relative);
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, bytes);
  await rename(tmp, file);
}

export interface PrunePlan {
  remove: Artifact[];
  /** How many of `remove` were not uploaded yet (only the quota forces those out). */
  forced: number;
}

/**
 * Which kept images go (contract §8): uploaded ones older than the age bound; then, over the quota, the oldest
 * uploaded ones; only if that is not enough, the oldest not yet uploaded (counted as forced).
 */
export function planPrune(oldestFirst: readonly Artifact[], quotaBytes: number, maxAgeMs: number, nowMs: number): PrunePlan {
  const remove = new Set<Artifact>();
  let total = 0;
  for (const a of oldestFirst) total += a.bytes;
  for (const a of oldestFirst) {
    if (a.uploaded && nowMs - a.created_ms > maxAgeMs) {
      remove.add(a);
      total -= a.bytes;
    }
  }
  let forced = 0;
  for (const uploaded of [true, false]) {
    for (const a of oldestFirst) {
      if (total <= quotaBytes) break;
      if (a.uploaded !== uploaded || remove.has(a)) continue;
      remove.add(a);
      total -= a.bytes;
      if (!uploaded) forced += 1;
    }
  }
  return { remove: [...remove], forced };
}

/** Deletes the files of removed artifacts; a file already gone is fine. */
export async function deleteFiles(root: string, artifacts: readonly Artifact[]): Promise<void> {
  await Promise.all(artifacts.map((a) => rm(path.join(root, a.path), { force: true })));
}

/** Files under artifacts/ that no row names (a crash between writing a file and registering it), removed at start. */
export async function sweepOrphans(root: string, known: ReadonlySet<string>): Promise<number> {
  const dir = path.join(root, "artifacts");
  let entries: string[];
  try {
    entries = (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => path.relative(root, path.join(e.parentPath, e.name)));
  } catch {
    return 0;
  }
  const orphans = entries.filter((f) => !known.has(f));
  await Promise.all(orphans.map((f) => rm(path.join(root, f), { force: true })));
  return orphans.length;
}
