import { randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { open, readFile, rename, rm, type FileHandle } from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { crc32, createDeflateRaw, deflateRawSync } from "node:zlib";

export interface ZipEntry {
  /** Forward-slash path inside the archive. */
  path: string;
  data: Buffer;
  /** STORE instead of DEFLATE (wheels are already compressed). */
  store?: boolean;
  executable?: boolean;
}

/** An entry copied from a file on disk while zipping, never held in memory whole. */
export interface ZipFileEntry extends Omit<ZipEntry, "data"> {
  absPath: string;
  /** Size and CRC-32 from an earlier read of the file; the copy must match them, so that hashes taken during that
   * read describe what is in the archive. */
  size: number;
  crc32: number;
}

export interface DosDateTime {
  date: number;
  time: number;
}

/** Byte order of the UTF-8 names: the one order of entries (and of SHA256SUMS lines) on every platform. */
export function compareZipPaths(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

const DOS_MIN = Date.UTC(1980, 0, 1);
const DOS_MAX = Date.UTC(2107, 11, 31, 23, 59, 58);

/**
 * The fixed timestamp of every entry: SOURCE_DATE_EPOCH if set, else 1980-01-01. DOS times carry no zone; taking the
 * UTC fields gives the same bytes in every time zone.
 */
export function zipTimestamp(env: NodeJS.ProcessEnv = process.env): DosDateTime {
  const epoch = env.SOURCE_DATE_EPOCH?.trim();
  const ms = epoch !== undefined && /^\d+$/.test(epoch) ? Math.min(Math.max(Number(epoch) * 1000, DOS_MIN), DOS_MAX) : DOS_MIN;
  const t = new Date(ms);
  return {
    date: ((t.getUTCFullYear() - 1980) << 9) | ((t.getUTCMonth() + 1) << 5) | t.getUTCDate(),
    time: (t.getUTCHours() << 11) | (t.getUTCMinutes() << 5) | (t.getUTCSeconds() >> 1),
  };
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_END = 0x06054b50;
const SIG_END64 = 0x06064b50;
const SIG_LOCATOR64 = 0x07064b50;
const MAX16 = 0xffff;
const MAX32 = 0xffffffff;
const FLAG_UTF8 = 0x0800;
/** Made by Unix (so readers take the mode from the high half of the external attributes), spec version 4.5. */
const MADE_BY = (3 << 8) | 45;
const CHUNK = 1 << 20;

interface Written {
  name: Buffer;
  offset: number;
  crc32: number;
  size: number;
  compressedSize: number;
  store: boolean;
  /** Sizes are in a ZIP64 extra field (local header and central record alike). */
  zip64: boolean;
  mode: number;
}

function zip64Extra(values: readonly number[]): Buffer {
  if (values.length === 0) return Buffer.alloc(0);
  const extra = Buffer.alloc(4 + 8 * values.length);
  extra.writeUInt16LE(0x0001, 0);
  extra.writeUInt16LE(8 * values.length, 2);
  values.forEach((value, i) => extra.writeBigUInt64LE(BigInt(value), 4 + 8 * i));
  return extra;
}

function localHeaderLength(name: Buffer, zip64: boolean): number {
  return 30 + name.length + (zip64 ? 20 : 0);
}

function localHeader(e: Written, time: DosDateTime): Buffer {
  const extra = zip64Extra(e.zip64 ? [e.size, e.compressedSize] : []);
  const h = Buffer.alloc(30);
  h.writeUInt32LE(SIG_LOCAL, 0);
  h.writeUInt16LE(e.zip64 ? 45 : 20, 4);
  h.writeUInt16LE(FLAG_UTF8, 6);
  h.writeUInt16LE(e.store ? 0 : 8, 8);
  h.writeUInt16LE(time.time, 10);
  h.writeUInt16LE(time.date, 12);
  h.writeUInt32LE(e.crc32, 14);
  h.writeUInt32LE(e.zip64 ? MAX32 : e.compressedSize, 18);
  h.writeUInt32LE(e.zip64 ? MAX32 : e.size, 22);
  h.writeUInt16LE(e.name.length, 26);
  h.writeUInt16LE(extra.length, 28);
  return Buffer.concat([h, e.name, extra]);
}

function centralRecord(e: Written, time: DosDateTime): Buffer {
  const farOffset = e.offset >= MAX32;
  const extra = zip64Extra([...(e.zip64 ? [e.size, e.compressedSize] : []), ...(farOffset ? [e.offset] : [])]);
  const h = Buffer.alloc(46);
  h.writeUInt32LE(SIG_CENTRAL, 0);
  h.writeUInt16LE(MADE_BY, 4);
  h.writeUInt16LE(extra.length > 0 ? 45 : 20, 6);
  h.writeUInt16LE(FLAG_UTF8, 8);
  h.writeUInt16LE(e.store ? 0 : 8, 10);
  h.writeUInt16LE(time.time, 12);
  h.writeUInt16LE(time.date, 14);
  h.writeUInt32LE(e.crc32, 16);
  h.writeUInt32LE(e.zip64 ? MAX32 : e.compressedSize, 20);
  h.writeUInt32LE(e.zip64 ? MAX32 : e.size, 24);
  h.writeUInt16LE(e.name.length, 28);
  h.writeUInt16LE(extra.length, 30);
  // comment length, disk number, internal attributes: 0
  h.writeUInt32LE((e.mode << 16) >>> 0, 38);
  h.writeUInt32LE(farOffset ? MAX32 : e.offset, 42);
  return Buffer.concat([h, e.name, extra]);
}

function endRecords(count: number, cdOffset: number, cdSize: number): Buffer {
  const end = Buffer.alloc(22);
  end.writeUInt32LE(SIG_END, 0);
  end.writeUInt16LE(Math.min(count, MAX16), 8);
  end.writeUInt16LE(Math.min(count, MAX16), 10);
  end.writeUInt32LE(Math.min(cdSize, MAX32), 12);
  end.writeUInt32LE(Math.min(cdOffset, MAX32), 16);
  if (count < MAX16 && cdSize < MAX32 && cdOffset < MAX32) return end;
  const end64 = Buffer.alloc(56);
  end64.writeUInt32LE(SIG_END64, 0);
  end64.writeBigUInt64LE(44n, 4); // size of the rest of this record
  end64.writeUInt16LE(MADE_BY, 12);
  end64.writeUInt16LE(45, 14);
  end64.writeBigUInt64LE(BigInt(count), 24);
  end64.writeBigUInt64LE(BigInt(count), 32);
  end64.writeBigUInt64LE(BigInt(cdSize), 40);
  end64.writeBigUInt64LE(BigInt(cdOffset), 48);
  const locator = Buffer.alloc(20);
  locator.writeUInt32LE(SIG_LOCATOR64, 0);
  locator.writeBigUInt64LE(BigInt(cdOffset + cdSize), 8);
  locator.writeUInt32LE(1, 16);
  return Buffer.concat([end64, locator, end]);
}

/** Sequential output that gathers small writes into large ones: per-call overhead dominates small entries. */
class Output {
  private queued: Buffer[] = [];
  private queuedBytes = 0;
  /** Where the next appended byte goes. */
  position = 0;

  constructor(private readonly file: FileHandle) {}

  async append(...parts: Buffer[]): Promise<void> {
    for (const part of parts) {
      this.queued.push(part);
      this.queuedBytes += part.length;
      this.position += part.length;
    }
    if (this.queuedBytes >= CHUNK) await this.flush();
  }

  /** Overwrites bytes appended earlier. */
  async patch(data: Buffer, position: number): Promise<void> {
    await this.flush();
    await this.writeAll(data, position);
  }

  async flush(): Promise<void> {
    const data = Buffer.concat(this.queued);
    this.queued = [];
    this.queuedBytes = 0;
    await this.writeAll(data, this.position - data.length);
  }

  private async writeAll(data: Buffer, position: number): Promise<void> {
    for (let done = 0; done < data.length;) {
      done += (await this.file.write(data, done, data.length - done, position + done)).bytesWritten;
    }
  }
}

/** Entries up to this size are read whole and deflated in one call: a stream costs more to set up than they take. */
const WHOLE = 1 << 20;
/** Small files are loaded ahead of the write so their reads overlap (one file at a time is latency-bound). */
const READ_AHEAD = 8;

/** An entry with its data in memory, or a large file to stream. */
type Loaded = { entry: ZipEntry | ZipFileEntry; data: Buffer } | { entry: ZipFileEntry; data: null };

async function load(entry: ZipEntry | ZipFileEntry): Promise<Loaded> {
  if (!("absPath" in entry)) return { entry, data: entry.data };
  return entry.size <= WHOLE ? { entry, data: await readFile(entry.absPath) } : { entry, data: null };
}

/**
 * Runs `fn` over `items` with up to `window` calls in flight and yields the results in order. Calls still in flight
 * when the consumer stops are left to settle, their errors ignored.
 */
export async function* inOrder<T, R>(items: Iterable<T>, window: number, fn: (item: T) => Promise<R>): AsyncGenerator<R> {
  const source = items[Symbol.iterator]();
  const pending: Promise<R>[] = [];
  const fill = (): void => {
    for (let next = source.next(); !next.done; next = source.next()) {
      const call = fn(next.value);
      call.catch(() => undefined);
      if (pending.push(call) >= window) return;
    }
  };
  fill();
  for (let head = pending.shift(); head !== undefined; head = pending.shift()) {
    const result = await head;
    fill();
    yield result;
  }
}

/** Streams a large file's data, DEFLATEd unless `store`, measuring what goes in. */
async function appendStreamed(out: Output, absPath: string, store: boolean): Promise<{ crc32: number; size: number }> {
  let crc = 0;
  let size = 0;
  const measure = async function* (chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const chunk of chunks) {
      crc = crc32(chunk, crc);
      size += chunk.length;
      yield chunk;
    }
  };
  const sink = async (chunks: AsyncIterable<Buffer>): Promise<void> => {
    for await (const chunk of chunks) await out.append(chunk);
  };
  const input = createReadStream(absPath, { highWaterMark: CHUNK });
  await (store ? pipeline(input, measure, sink) : pipeline(input, measure, createDeflateRaw({ chunkSize: 64 * 1024 }), sink));
  return { crc32: crc, size };
}

function assertUnchanged(entry: ZipEntry | ZipFileEntry, crc: number, size: number): void {
  if ("absPath" in entry && (size !== entry.size || crc !== entry.crc32)) {
    throw new Error(`${entry.absPath} changed while it was being zipped; run the packaging again`);
  }
}

/**
 * Appends one entry. In-memory data goes out with its header at once; a streamed file goes after room left for its
 * header, which is filled in once the CRC and compressed size are known. ZIP64 has to be chosen before the data is
 * written: the margin covers DEFLATE's worst-case growth.
 */
async function appendEntry(out: Output, loaded: Loaded, time: DosDateTime): Promise<Written> {
  const { entry } = loaded;
  const name = Buffer.from(entry.path);
  const store = entry.store === true;
  const declared = "absPath" in entry ? entry.size : entry.data.length;
  const zip64 = (store ? declared : declared + declared / 1024 + 64) >= MAX32;
  const record = { name, offset: out.position, store, zip64, mode: entry.executable ? 0o100755 : 0o100644 };
  if (loaded.data !== null) {
    const body = store ? loaded.data : deflateRawSync(loaded.data);
    const written: Written = { ...record, crc32: crc32(loaded.data), size: loaded.data.length, compressedSize: body.length };
    assertUnchanged(entry, written.crc32, written.size);
    await out.append(localHeader(written, time), body);
    return written;
  }
  const dataStart = record.offset + localHeaderLength(name, zip64);
  await out.append(Buffer.alloc(dataStart - record.offset));
  const measured = await appendStreamed(out, loaded.entry.absPath, store);
  assertUnchanged(entry, measured.crc32, measured.size);
  const written: Written = { ...record, ...measured, compressedSize: out.position - dataStart };
  await out.patch(localHeader(written, time), record.offset);
  return written;
}

async function writeArchive(file: FileHandle, entries: readonly (ZipEntry | ZipFileEntry)[], time: DosDateTime): Promise<number> {
  const out = new Output(file);
  const written: Written[] = [];
  for await (const loaded of inOrder(entries, READ_AHEAD, load)) written.push(await appendEntry(out, loaded, time));
  const cdOffset = out.position;
  const central = Buffer.concat(written.map((w) => centralRecord(w, time)));
  await out.append(central, endRecords(written.length, cdOffset, central.length));
  await out.flush();
  return out.position;
}

/**
 * Writes entries sorted by path with a fixed timestamp and normalized modes (0644, 0755 when executable), so the same
 * inputs give the same bytes; files are streamed from disk. The archive is written to a temporary file beside
 * `outPath` and renamed, so no partial zip is ever left behind. Returns the size of the zip.
 */
export async function writeDeterministicZip(outPath: string, entries: readonly (ZipEntry | ZipFileEntry)[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const sorted = [...entries].sort((a, b) => compareZipPaths(a.path, b.path));
  sorted.forEach((entry, i) => {
    if (i > 0 && entry.path === sorted[i - 1]?.path) throw new Error(`duplicate zip entry ${entry.path}`);
  });
  const tmp = path.join(path.dirname(outPath), `.${path.basename(outPath)}.${process.pid}-${randomBytes(4).toString("hex")}.tmp`);
  const out = await open(tmp, "wx");
  try {
    let size: number;
    try {
      size = await writeArchive(out, sorted, zipTimestamp(env));
    } finally {
      await out.close();
    }
    await rename(tmp, outPath);
    return size;
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
