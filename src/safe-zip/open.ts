import { createReadStream, createWriteStream } from "node:fs";
import { chmod, mkdir, readdir } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { crc32 } from "node:zlib";
import yauzl, { type Entry, type ZipFile } from "yauzl";
import { packagePath, packageRoot } from "./layout.js";
import {
  checkCollisions, checkEntries, checkEntryCount, DEFAULT_SAFE_ZIP_LIMITS, entryError, zipError,
  type CentralEntry, type SafeZipLimits,
} from "./rules.js";

export interface SafeEntry {
  /** Path inside the package (relative to `rootPrefix`), without a trailing slash. */
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

/** An offline package zip whose central directory passed every safety rule. Close it when done. */
export class SafeZip {
  constructor(
    /** The zip file. */
    readonly file: string,
    /** "" or the top-level folder ("algo/") that zips of the original tool wrap the package in. */
    readonly rootPrefix: string,
    /** By path inside the package, in central directory order. */
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
      source = await this.zip.openReadStreamPromise(raw);
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
   * Extracts the package into `dir`, which must be empty or absent (so nothing already there, such as a planted
   * symlink, can redirect a write). Files get mode 0644, or 0755 when executable in the zip. On failure the partial
   * tree stays for the caller to remove.
   */
  async extractTo(dir: string): Promise<void> {
    const root = path.resolve(dir);
    await mkdir(root, { recursive: true });
    if ((await readdir(root)).length > 0) throw new Error(`extractTo needs an empty directory, ${root} is not`);
    for (const entry of this.entries.values()) {
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
   * A file of the package that is itself a zip (a wheel), opened for reading its central directory without extracting
   * it: a stored entry is read in place (a PyTorch wheel is GBs), a deflated one up to `maxInflateBytes` via memory.
   * The outer CRC is not checked here (SHA256SUMS covers the file). Close the result when done.
   */
  async openNestedZip(p: string, maxInflateBytes = 64 * 1024 * 1024): Promise<ZipFile> {
    const { entry, raw } = this.fileEntry(p);
    const options = { lazyEntries: true, autoClose: false, decodeStrings: true, validateEntrySizes: true } as const;
    if (raw.compressionMethod !== 0) return yauzl.fromBufferPromise(await this.readBuffer(p, maxInflateBytes), options);
    const { fileDataStart } = await this.zip.readLocalFileHeaderPromise(raw, { minimal: true });
    return yauzl.fromRandomAccessReaderPromise(new FileSliceReader(this.file, fileDataStart), entry.size, options);
  }

  close(): void {
    this.zip.close();
  }
}

/** Reads a byte range of a file as if it were a file of its own (a stored zip entry). */
class FileSliceReader extends yauzl.RandomAccessReader {
  constructor(private readonly file: string, private readonly base: number) {
    super();
  }

  override _readStreamForRange(start: number, end: number): Readable {
    return createReadStream(this.file, { start: this.base + start, end: this.base + end - 1 });
  }
}

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

/**
 * Opens an offline package zip after checking its whole central directory (contract §7 Install step 1): unsafe
 * names, symlinks, duplicates, encryption, size limits and bombs → 2001; no manifest.json → 2002.
 */
export async function openSafeZip(zipPath: string, limits: Partial<SafeZipLimits> = {}): Promise<SafeZip> {
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
    const root = packageRoot(checked.filter((c) => !c.isDirectory).map((c) => c.name));
    const entries = new Map<string, SafeEntry>();
    const raw = new Map<string, Entry>();
    const placed: SafeEntry[] = [];
    checked.forEach((c, i) => {
      const inPackage = packagePath(c.name, root);
      if (inPackage === null) return;
      const entry: SafeEntry = {
        path: c.isDirectory ? inPackage.slice(0, -1) : inPackage, zipPath: c.name,
        isDirectory: c.isDirectory, size: c.size, compressedSize: c.compressedSize, executable: c.executable,
      };
      placed.push(entry);
      entries.set(entry.path, entry);
      raw.set(entry.path, raws[i]!);
    });
    checkCollisions(placed);
    return new SafeZip(zipPath, root, entries, zip, raw);
  } catch (err) {
    zip.close();
    throw err;
  }
}
