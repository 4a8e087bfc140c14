import { closeSync, createReadStream, createWriteStream, openSync, readSync } from "node:fs";
import { chmod, mkdir, readdir } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { crc32 } from "node:zlib";
import yauzl, { type Entry, type ZipFile } from "yauzl";
import {
  checkCollisions, checkEntries, checkEntryCount, DEFAULT_SAFE_ZIP_LIMITS, entryError, PORTABLE_FILE_SYSTEM, zipError,
  type CentralEntry, type CheckedEntry, type SafeZipLimits, type TargetFileSystem,
} from "./rules.js";

export interface SafeEntry {
  /** Path as the zip's view places it (by default its name), without a trailing slash. */
  path: string;
  /** Name as stored in the zip. */
  zipPath: string;
  isDirectory: boolean;
  size: number;
  compressedSize: number;
  executable: boolean;
}

const TEXT_LIMIT = 16 * 1024 * 1024;

/** Checks the CRC-32 of an entry's data as it streams (yauzl checks the sizes, not the CRC) and turns read errors
 * into 2001 naming the entry. */
async function* verified(source: Readable, entry: SafeEntry, expectedCrc: number): AsyncGenerator<Buffer> {
  let crc = 0;
  try {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      crc = crc32(chunk, crc);
      yield chunk;
    }
  } catch (err) {
    throw entryError(entry.zipPath, `damaged data (${(err as Error).message})`);
  }
  if (crc !== expectedCrc) throw entryError(entry.zipPath, "CRC-32 mismatch (damaged data)");
}

/**
 * Which entries of a zip are read, and under which path: `rootPrefix` is the folder they are read from ("" for the
 * whole zip), `pathOf` the path of an entry (directories keep their trailing "/") or null to leave it out.
 */
export interface ZipView {
  rootPrefix: string;
  pathOf: (zipName: string) => string | null;
}

/** Chooses the view from the zip's file names (directories left out), once their names passed the rules. */
export type ChooseView = (fileNames: readonly string[]) => ZipView;

/** Every entry, under its own name. */
export const WHOLE_ZIP: ChooseView = () => ({ rootPrefix: "", pathOf: (name) => name });

/** A zip whose central directory passed every safety rule. Close it when done. */
export class SafeZip {
  constructor(
    /** The zip file. */
    readonly file: string,
    /** The folder of the zip the entries are read from (see `ZipView`); "" for the whole zip. */
    readonly rootPrefix: string,
    /** By path (see `ZipView`), in central directory order. */
    readonly entries: ReadonlyMap<string, SafeEntry>,
    private readonly zip: ZipFile,
    private readonly raw: ReadonlyMap<string, Entry>,
  ) {}

  private fileEntry(p: string): { entry: SafeEntry; raw: Entry } {
    const entry = this.entries.get(p);
    const raw = this.raw.get(p);
    if (entry === undefined || raw === undefined || entry.isDirectory) throw zipError(`the zip has no file ${JSON.stringify(p)}`);
    return { entry, raw };
  }

  /** The entry's data, checked against its declared size and CRC-32 while it streams. */
  async openReadStream(p: string): Promise<Readable> {
    const { entry, raw } = this.fileEntry(p);
    let source: Readable;
    try {
      // A stored entry is a byte range of the file: read it in big chunks (yauzl's stream reads 64 KiB at a time).
      const slice = raw.compressionMethod === 0 ? await this.storedSlice(p) : undefined;
      if (slice === undefined) source = await this.zip.openReadStreamPromise(raw);
      else if (slice.size === 0) source = Readable.from([]);
      else source = createReadStream(slice.file, { start: slice.start, end: slice.start + slice.size - 1, highWaterMark: 1024 * 1024 });
    } catch (err) {
      throw entryError(entry.zipPath, `cannot be read (${(err as Error).message})`);
    }
    return Readable.from(verified(source, entry, raw.crc32));
  }

  async readBuffer(p: string, maxBytes: number): Promise<Buffer> {
    const { entry } = this.fileEntry(p);
    if (entry.size > maxBytes) throw entryError(entry.zipPath, `${entry.size} bytes, more than the ${maxBytes} allowed for it`);
    const chunks: Buffer[] = [];
    for await (const chunk of await this.openReadStream(p)) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  async readText(p: string, maxBytes = TEXT_LIMIT): Promise<string> {
    return (await this.readBuffer(p, maxBytes)).toString("utf8");
  }

  /**
   * Extracts the entries (those `include` accepts) into `dir`, which must be empty or absent (so nothing already there, such as a planted
   * symlink, can redirect a write). Files get mode 0644, or 0755 when executable in the zip. On failure the partial
   * tree stays for the caller to remove.
   */
  async extractTo(dir: string, include: (entry: SafeEntry) => boolean = () => true): Promise<void> {
    const root = path.resolve(dir);
    await mkdir(root, { recursive: true });
    if ((await readdir(root)).length > 0) throw new Error(`extractTo needs an empty directory, ${root} is not`);
    for (const entry of this.entries.values()) {
      if (!include(entry)) continue;
      const target = path.resolve(root, ...entry.path.split("/"));
      // Names were checked at open; this guards against a gap in those rules.
      if (!target.startsWith(root + path.sep)) throw entryError(entry.zipPath, `would be written outside ${root}`);
      if (entry.isDirectory) {
        await mkdir(target, { recursive: true });
        continue;
      }
      await mkdir(path.dirname(target), { recursive: true });
      const mode = entry.executable ? 0o755 : 0o644;
      await pipeline(await this.openReadStream(entry.path), createWriteStream(target, { flags: "wx", mode }));
      await chmod(target, mode); // exact, whatever the umask
    }
  }

  /**
   * A file of the zip that is itself a zip (a wheel in a package), opened for reading its central directory without extracting
   * it: a stored entry is read in place (a PyTorch wheel is GBs), a deflated one up to `maxInflateBytes` via memory.
   * The outer CRC is not checked here (the caller's own digest covers the file). Close the result when done.
   */
  async openNestedZip(p: string, maxInflateBytes = 64 * 1024 * 1024): Promise<ZipFile> {
    const options = { lazyEntries: true, autoClose: false, decodeStrings: true, validateEntrySizes: true } as const;
    const slice = await this.storedSlice(p);
    if (slice === undefined) return yauzl.fromBufferPromise(await this.readBuffer(p, maxInflateBytes), options);
    return yauzl.fromRandomAccessReaderPromise(new FileSliceReader(slice.file, slice.start), slice.size, options);
  }

  /** Where a stored (uncompressed) entry's bytes lie in the zip file, to be read in place; undefined when deflated. */
  async storedSlice(p: string): Promise<FileSlice | undefined> {
    const { entry, raw } = this.fileEntry(p);
    if (raw.compressionMethod !== 0) return undefined;
    const { fileDataStart } = await this.zip.readLocalFileHeaderPromise(raw, { minimal: true });
    return { file: this.file, start: fileDataStart, size: entry.size };
  }

  close(): void {
    this.zip.close();
  }
}

/** A byte range of a file that is a file of its own: a whole file, or a stored zip entry inside another zip. */
export interface FileSlice {
  file: string;
  start: number;
  size: number;
}

/**
 * Reads a byte range of a file as if it were a file of its own (a stored zip entry). yauzl reads a central
 * directory in pieces of tens of bytes, and its default opens a stream for each: small reads here are served from
 * one 256 KiB read-ahead block of an open descriptor (a wheel's central directory is then a handful of reads).
 */
class FileSliceReader extends yauzl.RandomAccessReader {
  #fd: number | undefined;
  #block: { start: number; data: Buffer } | undefined;

  constructor(private readonly file: string, private readonly base: number) {
    super();
  }

  override _readStreamForRange(start: number, end: number): Readable {
    return createReadStream(this.file, { start: this.base + start, end: this.base + end - 1 });
  }

  override read(buffer: Buffer, offset: number, length: number, position: number, callback: (err: Error | null) => void): void {
    try {
      const at = this.base + position;
      let block = this.#block;
      if (length > READ_AHEAD) {
        this.#fill(buffer, offset, length, at);
      } else {
        if (block === undefined || at < block.start || at + length > block.start + block.data.length) {
          const data = Buffer.allocUnsafe(READ_AHEAD);
          block = { start: at, data: data.subarray(0, readSync(this.#open(), data, 0, READ_AHEAD, at)) };
          this.#block = block;
        }
        if (at + length > block.start + block.data.length) throw new Error(`unexpected end of ${this.file}`);
        block.data.copy(buffer, offset, at - block.start, at - block.start + length);
      }
    } catch (err) {
      process.nextTick(callback, err as Error);
      return;
    }
    process.nextTick(callback, null);
  }

  #open(): number {
    this.#fd ??= openSync(this.file, "r");
    return this.#fd;
  }

  #fill(buffer: Buffer, offset: number, length: number, at: number): void {
    for (let done = 0; done < length;) {
      const n = readSync(this.#open(), buffer, offset + done, length - done, at + done);
      if (n === 0) throw new Error(`unexpected end of ${this.file}`);
      done += n;
    }
  }

  override close(callback: (err: Error | null) => void): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
    this.#block = undefined;
    setImmediate(() => callback(null));
  }
}

const READ_AHEAD = 256 * 1024;

function centralEntry(e: Entry): CentralEntry {
  return {
    nameRaw: e.fileNameRaw, flags: e.generalPurposeBitFlag, method: e.compressionMethod,
    externalAttributes: e.externalFileAttributes, size: e.uncompressedSize, compressedSize: e.compressedSize,
    offset: e.relativeOffsetOfLocalHeader,
  };
}

async function readCentralDirectory(zip: ZipFile, zipPath: string): Promise<Entry[]> {
  const entries: Entry[] = [];
  try {
    for await (const entry of zip.eachEntry()) entries.push(entry);
  } catch (err) {
    throw zipError(`${zipPath}: central directory entry ${entries.length + 1}: ${(err as Error).message}`);
  }
  return entries;
}

/** One entry of a zip opened with `openCheckedZip`: what the rules made of it, and yauzl's record to read it. */
export interface CheckedZipEntry {
  checked: CheckedEntry;
  raw: Entry;
}

/**
 * Opens a zip that is a file or a slice of one (a wheel inside a package) after checking its whole central directory
 * with the package rules (unsafe names, symlinks, duplicates, encryption, limits, bombs → 2001). Close `zip` when done.
 */
export async function openCheckedZip(
  slice: FileSlice,
  limits: Partial<SafeZipLimits> = {},
  /** The file system that receives the entries: which names it takes beyond the portable rules. */
  fs: TargetFileSystem = PORTABLE_FILE_SYSTEM,
): Promise<{ zip: ZipFile; entries: CheckedZipEntry[] }> {
  const lim: SafeZipLimits = { ...DEFAULT_SAFE_ZIP_LIMITS, ...limits };
  const options = { lazyEntries: true, autoClose: false, decodeStrings: false, validateEntrySizes: true } as const;
  let zip: ZipFile;
  try {
    zip = await yauzl.fromRandomAccessReaderPromise(new FileSliceReader(slice.file, slice.start), slice.size, options);
  } catch (err) {
    throw zipError(`${slice.file} is not a readable zip: ${(err as Error).message}`);
  }
  try {
    checkEntryCount(zip.entryCount, lim);
    const raws = await readCentralDirectory(zip, slice.file);
    const checked = checkEntries(raws.map(centralEntry), lim, fs);
    checkCollisions(checked.map((c) => ({ path: c.isDirectory ? c.name.slice(0, -1) : c.name, zipPath: c.name, isDirectory: c.isDirectory })), fs.caseSensitive);
    return { zip, entries: checked.map((c, i) => ({ checked: c, raw: raws[i]! })) };
  } catch (err) {
    zip.close();
    throw err;
  }
}

/**
 * Opens a zip after checking its whole central directory (contract §7 Install step 1): unsafe names, symlinks,
 * duplicates, encryption, size limits and bombs → 2001. `view` chooses which entries are read and under which path;
 * duplicates are judged among those.
 */
export async function openSafeZip(zipPath: string, limits: Partial<SafeZipLimits> = {}, view: ChooseView = WHOLE_ZIP): Promise<SafeZip> {
  const lim: SafeZipLimits = { ...DEFAULT_SAFE_ZIP_LIMITS, ...limits };
  let zip: ZipFile;
  try {
    // Names are decoded and judged here (decodeStrings: false): the UTF-8 rule needs the raw bytes, and each rule
    // gets a message of its own.
    zip = await yauzl.openPromise(zipPath, { lazyEntries: true, autoClose: false, decodeStrings: false, validateEntrySizes: true });
  } catch (err) {
    throw zipError(`${zipPath} is not a readable zip: ${(err as Error).message}`);
  }
  try {
    checkEntryCount(zip.entryCount, lim); // before reading a central directory of any size
    const raws = await readCentralDirectory(zip, zipPath);
    const checked = checkEntries(raws.map(centralEntry), lim);
    const { rootPrefix, pathOf } = view(checked.filter((c) => !c.isDirectory).map((c) => c.name));
    const entries = new Map<string, SafeEntry>();
    const raw = new Map<string, Entry>();
    const placed: SafeEntry[] = [];
    checked.forEach((c, i) => {
      const viewed = pathOf(c.name);
      if (viewed === null) return;
      const entry: SafeEntry = {
        path: c.isDirectory ? viewed.slice(0, -1) : viewed, zipPath: c.name,
        isDirectory: c.isDirectory, size: c.size, compressedSize: c.compressedSize, executable: c.executable,
      };
      placed.push(entry);
      entries.set(entry.path, entry);
      raw.set(entry.path, raws[i]!);
    });
    checkCollisions(placed);
    return new SafeZip(zipPath, rootPrefix, entries, zip, raw);
  } catch (err) {
    zip.close();
    throw err;
  }
}
