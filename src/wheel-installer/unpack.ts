import { createHash } from "node:crypto";
import { closeSync, createReadStream, createWriteStream, mkdirSync, openSync, read, readSync } from "node:fs";
import { chmod, writeFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { promisify } from "node:util";
import { createInflateRaw, crc32, inflateRaw, inflateRawSync } from "node:zlib";
import type { ZipFile } from "yauzl";
import { ErrorCode, ProcVisionError, isProcVisionError } from "../errors/index.js";
import { DEFAULT_SAFE_ZIP_LIMITS, entryError, foldCase, openCheckedZip, type CheckedZipEntry, type FileSlice, type SafeZipLimits, type TargetFileSystem } from "../zip/index.js";
import { formatRecord, parseEntryPoints, parseRecord, parseWheelInfo, type EntryPoint, type RecordRow } from "./metadata.js";
import { isSchemeKey, type InstallScheme } from "./scheme.js";
import { launcherScript, rewriteScript, versionedScripts } from "./scripts.js";

const inflate = promisify(inflateRaw);
const readAsync = promisify(read);

/** A wheel to install: its file name and where its bytes are (a file, or a stored entry of the package zip). */
export interface WheelSource {
  file: string;
  slice: FileSlice;
  /** Named by requirements.txt: gets a REQUESTED marker, as pip writes. */
  requested: boolean;
  /** The distribution's name as the requirement that pulled it in wrote it: pip puts `.data/headers/` under it. */
  name: string;
}

export interface UnpackTuning {
  /** Entries below this size are inflated and written on the main thread (a thread-pool round trip costs more). */
  inlineBytes: number;
  /** Entries above this size are streamed instead of inflated in one buffer (PyTorch ships 1+ GB libraries). */
  streamBytes: number;
}

/**
 * Streaming above 16 MiB halved the peak memory of a 57-wheel, 1.5 GiB install (801 → ~400 MB: each lane held a
 * whole compressed and inflated library, up to 170 MB) and was not slower (bench/installers.ts).
 */
export const DEFAULT_TUNING: UnpackTuning = { inlineBytes: 1024 * 1024, streamBytes: 16 * 1024 * 1024 };

/**
 * A wheel's bounds. Real wheels hold padded libraries far beyond a package zip's ratio rule (pillow's libXau: 224:1),
 * and deflate cannot pass ~1032:1 anyway: the total size and the overlap rule stop a bomb by size. Real wheels also
 * hold more entries than a package (ansible 12: 21,488): 100,000 leaves room for those and still stops a bomb by count
 * (millions of empty entries exhausting inodes and time) long before it hurts.
 */
const WHEEL_LIMITS: SafeZipLimits = { ...DEFAULT_SAFE_ZIP_LIMITS, maxEntries: 100_000, maxRatio: 1100 };

/** Where the wheels land: on Linux a name may differ only in letter case or hold `:`, as pip installs it. */
const TARGET_FS: TargetFileSystem = { caseSensitive: process.platform === "linux", colonAllowed: process.platform !== "win32" };

/** Paths that name the same file on the target file system. */
const sameFileKey = (target: string): string => (TARGET_FS.caseSensitive ? target : foldCase(target));

/** The name pip and uv also write into `<dist-info>/INSTALLER`. */
export const INSTALLER_NAME = "procvision";

/** One file of a wheel and where it goes. */
interface Placement {
  entry: CheckedZipEntry;
  target: string;
  /** The path RECORD lists: relative to the root (site-packages), `/`-separated. */
  recordPath: string;
  /** From `.data/scripts/`: a `#!python` first line is rewritten and the file made executable. */
  script: boolean;
  /** A later wheel in the install order ships the same path: its file is the one installed (RECORD still lists it). */
  shadowed: boolean;
}

interface OpenedWheel {
  source: WheelSource;
  zip: ZipFile;
  fd: number;
  distInfo: string;
  root: string;
  placements: Placement[];
  /** RECORD rows of the wheel, by path in the wheel: their hashes are reused for files written unchanged. */
  record: Map<string, RecordRow>;
  scripts: EntryPoint[];
  /** Hashes and sizes of files whose bytes differ from the wheel's (rewritten scripts). */
  rewritten: Map<string, RecordRow>;
}

function wheelError(wheel: string, message: string): ProcVisionError {
  return new ProcVisionError(ErrorCode.invalid_zip, `wheel ${wheel}: ${message}`, {
    hint: "the wheel is damaged or forged: rebuild the package with procvision-cli package from the original wheels",
  });
}

/** Entry errors (2001 naming the entry) are about a wheel, not the package zip: say which. */
function inWheel(wheel: string, err: unknown): unknown {
  return isProcVisionError(err) && err.code === ErrorCode.invalid_zip && !err.message.startsWith("wheel ") ? wheelError(wheel, err.message) : err;
}

function recordHash(data: Buffer): string {
  return `sha256=${createHash("sha256").update(data).digest("base64url")}`;
}

function toPosix(p: string): string {
  return p.split(path.sep).join("/");
}

/** Where each file of the wheel goes (PEP 427): the root into purelib/platlib, `<name>.data/<key>/…` into that scheme path. */
export function placeEntries(wheel: string, entries: readonly CheckedZipEntry[], scheme: InstallScheme, rootIsPurelib: boolean, distInfo: string,
  distName: string): Placement[] {
  const root = rootIsPurelib ? scheme.paths.purelib : scheme.paths.platlib;
  const placements: Placement[] = [];
  for (const entry of entries) {
    const name = entry.checked.name;
    if (entry.checked.isDirectory || name === `${distInfo}/RECORD`) continue;
    let base = root;
    let rest = name;
    let script = false;
    const slash = name.indexOf("/");
    // Any top-level `*.data/` is the data directory, as pip reads it (`<name>-<version>.data` by the spec).
    if (slash > 0 && name.slice(0, slash).endsWith(".data")) {
      const [key = "", ...parts] = name.slice(slash + 1).split("/");
      if (!isSchemeKey(key) || parts.length === 0) throw wheelError(wheel, `${name} is in an unknown .data directory "${key}" (expected purelib, platlib, scripts, headers or data)`);
      base = key === "headers" ? path.join(scheme.paths.headers, distName) : scheme.paths[key];
      rest = parts.join("/");
      script = key === "scripts";
    }
    const target = path.resolve(base, ...rest.split("/"));
    if (!target.startsWith(path.resolve(base) + path.sep)) throw wheelError(wheel, `${name} would be written outside ${base}`);
    placements.push({ entry, target, recordPath: toPosix(path.relative(root, target)), script, shadowed: false });
  }
  return placements;
}

/** Reads an entry's compressed bytes through the local header (whose extra field may differ from the central one). */
function dataStart(fd: number, slice: FileSlice, { raw, checked: { name } }: CheckedZipEntry): number {
  const header = Buffer.alloc(30);
  readSync(fd, header, 0, 30, slice.start + raw.relativeOffsetOfLocalHeader);
  if (header.readUInt32LE(0) !== 0x04034b50) throw entryError(name, "no local file header where the central directory says");
  const start = raw.relativeOffsetOfLocalHeader + 30 + header.readUInt16LE(26) + header.readUInt16LE(28);
  if (start + raw.compressedSize > slice.size) throw entryError(name, "data runs past the end of the wheel");
  return slice.start + start;
}

function readCompressed(fd: number, slice: FileSlice, entry: CheckedZipEntry): Buffer {
  const buffer = Buffer.allocUnsafe(entry.raw.compressedSize);
  const at = dataStart(fd, slice, entry);
  let done = 0;
  while (done < buffer.length) {
    const n = readSync(fd, buffer, done, buffer.length - done, at + done);
    if (n === 0) throw entryError(entry.checked.name, "the wheel ends early");
    done += n;
  }
  return buffer;
}

/** The same, off the main thread: big entries (tens of MB) would otherwise stall a serving runner's event loop. */
async function readCompressedAsync(fd: number, slice: FileSlice, entry: CheckedZipEntry): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(entry.raw.compressedSize);
  const at = dataStart(fd, slice, entry);
  let done = 0;
  while (done < buffer.length) {
    const { bytesRead } = await readAsync(fd, buffer, done, buffer.length - done, at + done);
    if (bytesRead === 0) throw entryError(entry.checked.name, "the wheel ends early");
    done += bytesRead;
  }
  return buffer;
}

function verified({ raw, checked: { name } }: CheckedZipEntry, data: Buffer): Buffer {
  if (data.length !== raw.uncompressedSize || crc32(data) !== raw.crc32) throw entryError(name, "CRC-32 or size mismatch (damaged data)");
  return data;
}

function inflateSync(entry: CheckedZipEntry, compressed: Buffer): Buffer {
  try {
    return verified(entry, entry.raw.compressionMethod === 8 ? inflateRawSync(compressed) : compressed);
  } catch (err) {
    if (isProcVisionError(err)) throw err;
    throw entryError(entry.checked.name, `damaged data (${(err as Error).message})`);
  }
}

async function inflateAsync(entry: CheckedZipEntry, compressed: Buffer): Promise<Buffer> {
  if (entry.raw.compressionMethod !== 8) return verified(entry, compressed);
  try {
    // One output chunk of the entry's size: the default 16 KiB chunks cost a thread-pool round trip each.
    return verified(entry, await inflate(compressed, { chunkSize: Math.max(64 * 1024, entry.raw.uncompressedSize) }));
  } catch (err) {
    if (isProcVisionError(err)) throw err;
    throw entryError(entry.checked.name, `damaged data (${(err as Error).message})`);
  }
}

const modeOf = (p: Placement): number => (p.script || p.entry.checked.executable ? 0o755 : 0o644);

/** Writes the installed bytes of one file; a `#!python` script is rewritten first and its new hash kept for RECORD. */
function finalBytes(wheel: OpenedWheel, p: Placement, data: Buffer, python: string): Buffer {
  if (!p.script) return data;
  const rewritten = rewriteScript(data, python);
  if (rewritten === null) return data;
  wheel.rewritten.set(p.entry.checked.name, { path: p.recordPath, hash: recordHash(rewritten), size: String(rewritten.length) });
  return rewritten;
}

async function streamEntry(wheel: OpenedWheel, p: Placement): Promise<void> {
  const raw = p.entry.raw;
  const name = p.entry.checked.name;
  const at = dataStart(wheel.fd, wheel.source.slice, p.entry);
  const input = createReadStream(wheel.source.slice.file, { start: at, end: at + raw.compressedSize - 1, highWaterMark: 1024 * 1024 });
  let crc = 0;
  let size = 0;
  async function* counted(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const chunk of source) {
      crc = crc32(chunk, crc);
      size += chunk.length;
      yield chunk;
    }
  }
  const output = createWriteStream(p.target, { mode: modeOf(p) });
  try {
    if (raw.compressionMethod === 8) await pipeline(input, createInflateRaw({ chunkSize: 1024 * 1024 }), counted, output);
    else await pipeline(input, counted, output);
  } catch (err) {
    throw entryError(name, `damaged data (${(err as Error).message})`);
  }
  if (crc !== raw.crc32 || size !== raw.uncompressedSize) throw entryError(name, "CRC-32 or size mismatch (damaged data)");
  await chmod(p.target, modeOf(p));
}

async function openWheel(source: WheelSource, scheme: InstallScheme): Promise<OpenedWheel> {
  let opened: { zip: ZipFile; entries: CheckedZipEntry[] };
  try {
    // pip installs `Foo.py` and `foo.py` side by side on Linux; so do we (elsewhere the file system cannot).
    opened = await openCheckedZip(source.slice, WHEEL_LIMITS, TARGET_FS);
  } catch (err) {
    throw inWheel(source.file, err);
  }
  const fd = openSync(source.slice.file, "r");
  try {
    const byName = new Map(opened.entries.map((e) => [e.checked.name, e]));
    const distInfos = [...new Set(opened.entries.map((e) => /^([^/]+\.dist-info)\/METADATA$/.exec(e.checked.name)?.[1]).filter((d) => d !== undefined))];
    if (distInfos.length !== 1) throw wheelError(source.file, `has ${distInfos.length} *.dist-info/METADATA (a wheel has exactly one)`);
    const distInfo = distInfos[0]!;
    const text = (name: string): string | undefined => {
      const entry = byName.get(`${distInfo}/${name}`);
      return entry === undefined ? undefined : inflateSync(entry, readCompressed(fd, source.slice, entry)).toString("utf8");
    };
    const info = parseWheelInfo(text("WHEEL") ?? "");
    if (typeof info === "string") throw wheelError(source.file, info);
    const entryPoints = parseEntryPoints(text("entry_points.txt") ?? "");
    if (typeof entryPoints === "string") throw wheelError(source.file, entryPoints);
    const scripts = versionedScripts(entryPoints, scheme.markers.python_version ?? "");
    const record = new Map(parseRecord(text("RECORD") ?? "").map((r) => [r.path, r]));
    const placements = placeEntries(source.file, opened.entries, scheme, info.rootIsPurelib, distInfo, source.name);
    const root = info.rootIsPurelib ? scheme.paths.purelib : scheme.paths.platlib;
    return { source, zip: opened.zip, fd, distInfo, root, placements, record, scripts, rewritten: new Map() };
  } catch (err) {
    closeSync(fd);
    opened.zip.close();
    throw inWheel(source.file, err);
  }
}

/** Launchers, INSTALLER, REQUESTED and the RECORD of everything installed, after the wheel's files are in place. */
async function finishWheel(wheel: OpenedWheel, scheme: InstallScheme): Promise<void> {
  const rows: RecordRow[] = [];
  for (const p of wheel.placements) {
    const name = p.entry.checked.name;
    const row = wheel.rewritten.get(name) ?? wheel.record.get(name);
    rows.push({ path: p.recordPath, hash: row?.hash ?? "", size: row?.size ?? String(p.entry.checked.size) });
  }
  const add = async (target: string, content: string | Buffer, mode: number): Promise<void> => {
    await writeFile(target, content, { mode });
    await chmod(target, mode);
    const bytes = Buffer.from(content);
    rows.push({ path: toPosix(path.relative(wheel.root, target)), hash: recordHash(bytes), size: String(bytes.length) });
  };
  if (wheel.scripts.length > 0) mkdirSync(scheme.paths.scripts, { recursive: true });
  for (const entry of wheel.scripts) await add(path.join(scheme.paths.scripts, entry.name), launcherScript(entry, scheme.executable), 0o755);
  const distInfoDir = path.join(wheel.root, wheel.distInfo);
  await add(path.join(distInfoDir, "INSTALLER"), `${INSTALLER_NAME}\n`, 0o644);
  if (wheel.source.requested) await add(path.join(distInfoDir, "REQUESTED"), "", 0o644);
  rows.push({ path: `${wheel.distInfo}/RECORD`, hash: "", size: "" });
  // A wheel that ships its own INSTALLER (or RECORD rows for it) was overwritten above: one row per path, ours.
  const byPath = new Map(rows.map((r) => [r.path, r]));
  await writeFile(path.join(distInfoDir, "RECORD"), formatRecord([...byPath.values()]), { mode: 0o644 });
}

export interface UnpackResult {
  files: number;
  bytes: number;
}

/**
 * Installs wheels, given in install order, into a venv the way pip does (PEP 427/491: files placed by scheme,
 * `#!python` scripts rewritten, entry-point launchers generated, INSTALLER/REQUESTED/RECORD written), but on every
 * core: big entries are inflated on the thread pool, largest first, while the main thread inflates the many small
 * ones and hands them to the thread pool to write, yielding to the event loop so a running runner keeps serving. A path shipped by two wheels is written once, whole,
 * from the later wheel (pip overwrites in install order; two lanes writing it at once could mix the two). Every
 * entry's size and CRC-32 are checked; wheel names pass the package rules.
 */
export async function unpackWheels(sources: readonly WheelSource[], scheme: InstallScheme, tuning: UnpackTuning = DEFAULT_TUNING): Promise<UnpackResult> {
  const wheels: OpenedWheel[] = [];
  try {
    for (const source of sources) wheels.push(await openWheel(source, scheme));
    const owner = new Map<string, Placement>();
    for (const p of wheels.flatMap((wheel) => wheel.placements)) {
      const key = sameFileKey(p.target);
      const earlier = owner.get(key);
      if (earlier !== undefined) earlier.shadowed = true;
      owner.set(key, p);
    }
    const jobs = wheels.flatMap((wheel) => wheel.placements.filter((p) => !p.shadowed).map((p) => ({ wheel, p })));
    const made = new Set<string>();
    const ensureDir = (file: string): void => {
      const dir = path.dirname(file);
      if (made.has(dir)) return;
      mkdirSync(dir, { recursive: true });
      made.add(dir);
    };
    for (const { p } of jobs) ensureDir(p.target);

    const big = jobs.filter(({ p }) => p.entry.checked.size >= tuning.inlineBytes).sort((a, b) => b.p.entry.checked.size - a.p.entry.checked.size);
    const small = jobs.filter(({ p }) => p.entry.checked.size < tuning.inlineBytes);
    let nextBig = 0;
    const lane = async (): Promise<void> => {
      while (nextBig < big.length) {
        const { wheel, p } = big[nextBig++]!;
        try {
          if (p.entry.checked.size > tuning.streamBytes) {
            await streamEntry(wheel, p);
            continue;
          }
          const data = finalBytes(wheel, p, await inflateAsync(p.entry, await readCompressedAsync(wheel.fd, wheel.source.slice, p.entry)), scheme.executable);
          await writeFile(p.target, data, { mode: modeOf(p) });
          await chmod(p.target, modeOf(p));
        } catch (err) {
          nextBig = big.length; // the install fails: the other lanes stop at their next entry
          throw inWheel(wheel.source.file, err);
        }
      }
    };
    const lanes = Array.from({ length: Math.max(1, Math.min(4, availableParallelism())) }, lane);
    // Lanes that fail leave the others running: collect them all before deciding, so no write outlives the call.
    const lanesDone = Promise.allSettled(lanes);
    let smallError: unknown;
    // File creation waits on the file system (journal, directory locks) more than it computes: the main thread
    // inflates the next entries while the thread pool creates and writes up to 8 files.
    const writing = new Set<Promise<void>>();
    try {
      let slice = performance.now();
      for (const { wheel, p } of small) {
        if (smallError !== undefined) break;
        try {
          const data = finalBytes(wheel, p, inflateSync(p.entry, readCompressed(wheel.fd, wheel.source.slice, p.entry)), scheme.executable);
          const write: Promise<void> = writeFile(p.target, data, { mode: modeOf(p) }).then(() => chmod(p.target, modeOf(p)))
            .catch((err: unknown) => {
              nextBig = big.length;
              smallError ??= inWheel(wheel.source.file, err);
            })
            .finally(() => writing.delete(write));
          writing.add(write);
        } catch (err) {
          nextBig = big.length;
          throw inWheel(wheel.source.file, err);
        }
        if (writing.size >= 8) {
          await Promise.race(writing);
          slice = performance.now();
        } else if (performance.now() - slice > 8) {
          await new Promise((resolve) => setImmediate(resolve));
          slice = performance.now();
        }
      }
    } catch (err) {
      smallError ??= err;
    }
    await Promise.all(writing);
    const failed = (await lanesDone).find((r) => r.status === "rejected");
    if (smallError !== undefined) throw smallError;
    if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
    for (const wheel of wheels) await finishWheel(wheel, scheme);
    return { files: jobs.length, bytes: jobs.reduce((sum, { p }) => sum + p.entry.checked.size, 0) };
  } finally {
    for (const wheel of wheels) {
      closeSync(wheel.fd);
      wheel.zip.close();
    }
  }
}
