import { mkdirSync, writeFileSync } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { executeRects, svgLayer } from "../image/overlay.js";
import { loadSharp } from "../image/sharp.js";
import type { PreparedImage } from "../supervisor/image.js";
import type { InspectionRecord as CallRecord } from "../supervisor/types.js";
import type { Artifact } from "./store.js";

/** An NG call's current image as the worker got it: raw pixels, or the JPEG/PNG bytes. */
export interface ImageSnapshot {
  bytes: Buffer;
  encoding: PreparedImage["encoding"];
  width: number;
  height: number;
  channels: 1 | 3;
  colorSpace: PreparedImage["colorSpace"];
  cameraId: string;
}

/** A recorded NG call waiting for its images to be encoded and kept. */
export interface SpooledCall {
  recordId: number;
  call: Omit<CallRecord, "image">;
  snapshot: ImageSnapshot;
}

const SPOOL = path.join("artifacts", ".spool");

/**
 * Writes an NG call's frame and what it needs to be kept to `artifacts/.spool/` synchronously, before the call is
 * answered: the caller may reuse its buffer (a camera ring) once the answer is out, and a runner killed before the
 * images are encoded finds the frame at its next start. The JSON is written last: its presence marks a whole entry.
 * A kill stops the process, not the OS, so the page cache keeps both files without an fsync.
 */
export function spoolImage(root: string, recordId: number, call: CallRecord): void {
  const image = call.image!;
  const { payload } = image;
  let bytes: Buffer;
  if (Buffer.isBuffer(payload)) bytes = payload;
  else {
    bytes = Buffer.alloc(payload.byteLength);
    payload.fill(bytes);
  }
  const dir = path.join(root, SPOOL);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, `${recordId}.bin`), bytes);
  const { image: _image, ...rest } = call;
  const meta = { recordId, call: rest, image: { encoding: image.encoding, width: image.width, height: image.height, channels: image.channels, colorSpace: image.colorSpace, cameraId: image.cameraId } };
  writeFileSync(path.join(dir, `${recordId}.json`), JSON.stringify(meta));
}

/** One spooled call, read back. */
export async function readSpooled(root: string, recordId: number): Promise<SpooledCall> {
  const dir = path.join(root, SPOOL);
  const meta = JSON.parse(await readFile(path.join(dir, `${recordId}.json`), "utf8")) as { recordId: number; call: SpooledCall["call"]; image: Omit<ImageSnapshot, "bytes"> };
  return { recordId, call: meta.call, snapshot: { ...meta.image, bytes: await readFile(path.join(dir, `${recordId}.bin`)) } };
}

/** Record ids of whole spool entries; half-written ones (no JSON) are removed. */
export async function spooledIds(root: string): Promise<number[]> {
  const dir = path.join(root, SPOOL);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const whole = new Set(names.filter((n) => n.endsWith(".json")).map((n) => Number(n.slice(0, -5))));
  await Promise.all(names.filter((n) => n.endsWith(".bin") && !whole.has(Number(n.slice(0, -4)))).map((n) => rm(path.join(dir, n), { force: true })));
  return [...whole].filter(Number.isInteger).sort((a, b) => a - b);
}

export async function unspool(root: string, recordId: number): Promise<void> {
  const dir = path.join(root, SPOOL);
  await rm(path.join(dir, `${recordId}.json`), { force: true });
  await rm(path.join(dir, `${recordId}.bin`), { force: true });
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
  const orphans = entries.filter((f) => !known.has(f) && !f.startsWith(`${SPOOL}${path.sep}`));
  await Promise.all(orphans.map((f) => rm(path.join(root, f), { force: true })));
  return orphans.length;
}
