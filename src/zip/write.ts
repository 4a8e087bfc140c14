import { createHash, randomBytes } from "node:crypto";
import type { BigIntStats } from "node:fs";
import { open, rename, rm, stat, type FileHandle } from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { Worker } from "node:worker_threads";
import { crc32, createDeflateRaw, deflateRawSync } from "node:zlib";

export interface ZipEntry {
  /** Forward-slash path inside the archive. */
  path: string;
  data: Buffer;
  /** STORE instead of DEFLATE (wheels are already compressed). */
  store?: boolean;
  executable?: boolean;
}

/** An entry copied from a file on disk while zipping, never held in memory whole and read exactly once. */
export interface ZipFileEntry extends Omit<ZipEntry, "data"> {
  absPath: string;
  /** Size seen earlier (e.g. by the directory walk); a file of another size has changed since, and is refused. */
  size?: number;
}

export interface EntryDigest {
  path: string;
  /** Lower-case hex sha256 of the entry's uncompressed data, taken from the very bytes written into the archive. */
  sha256: string;
  size: number;
}

export interface WriteZipOptions {
  /** For SOURCE_DATE_EPOCH. */
  env?: NodeJS.ProcessEnv;
  /**
   * Generated entries that depend on the sha256 of every other entry (SHA256SUMS, SIGNATURE). Giving this makes the
   * writer hash every entry as it copies it (one read per file). Trailer entries are written after all the others
   * (local records need not be in any order: readers go by the central directory), while the central directory lists
   * every entry, trailer included, sorted by path.
   */
  trailer?: (digests: readonly EntryDigest[]) => ZipEntry[];
  /** Sizes and offsets from this value up use ZIP64 fields. Default 0xFFFFFFFF; lower only to test ZIP64 cheaply. */
  zip64Threshold?: number;
  /** Checks the finished archive (its temporary file) before it replaces `outPath`: a refusal keeps the old file. */
  verify?: (tmpPath: string) => Promise<void>;
}

export interface ZipResult {
  /** Bytes in the zip. */
  size: number;
  entries: number;
  /** Sorted by path; empty unless a trailer was asked for. Trailer entries are not in it. */
  digests: EntryDigest[];
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

interface Format {
  time: DosDateTime;
  /** Sizes and offsets from here up go into ZIP64 fields. */
  zip64From: number;
}

interface Written {
  path: string;
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

function localHeader(e: Written, f: Format): Buffer {
  const extra = zip64Extra(e.zip64 ? [e.size, e.compressedSize] : []);
  const h = Buffer.alloc(30);
  h.writeUInt32LE(SIG_LOCAL, 0);
  h.writeUInt16LE(e.zip64 ? 45 : 20, 4);
  h.writeUInt16LE(FLAG_UTF8, 6);
  h.writeUInt16LE(e.store ? 0 : 8, 8);
  h.writeUInt16LE(f.time.time, 10);
  h.writeUInt16LE(f.time.date, 12);
  h.writeUInt32LE(e.crc32, 14);
  h.writeUInt32LE(e.zip64 ? MAX32 : e.compressedSize, 18);
  h.writeUInt32LE(e.zip64 ? MAX32 : e.size, 22);
  h.writeUInt16LE(e.name.length, 26);
  h.writeUInt16LE(extra.length, 28);
  return Buffer.concat([h, e.name, extra]);
}

function centralRecord(e: Written, f: Format): Buffer {
  const farOffset = e.offset >= f.zip64From;
  const extra = zip64Extra([...(e.zip64 ? [e.size, e.compressedSize] : []), ...(farOffset ? [e.offset] : [])]);
  const h = Buffer.alloc(46);
  h.writeUInt32LE(SIG_CENTRAL, 0);
  h.writeUInt16LE(MADE_BY, 4);
  h.writeUInt16LE(extra.length > 0 ? 45 : 20, 6);
  h.writeUInt16LE(FLAG_UTF8, 8);
  h.writeUInt16LE(e.store ? 0 : 8, 10);
  h.writeUInt16LE(f.time.time, 12);
  h.writeUInt16LE(f.time.date, 14);
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

function endRecords(count: number, cdOffset: number, cdSize: number, f: Format): Buffer {
  const zip64 = count >= MAX16 || cdSize >= f.zip64From || cdOffset >= f.zip64From;
  const end = Buffer.alloc(22);
  end.writeUInt32LE(SIG_END, 0);
  end.writeUInt16LE(zip64 ? MAX16 : count, 8);
  end.writeUInt16LE(zip64 ? MAX16 : count, 10);
  end.writeUInt32LE(zip64 && cdSize >= f.zip64From ? MAX32 : cdSize, 12);
  end.writeUInt32LE(zip64 && cdOffset >= f.zip64From ? MAX32 : cdOffset, 16);
  if (!zip64) return end;
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

const ignore = (): void => undefined;

/** Gathered small writes go out in pieces of this size. */
const GATHER = 1 << 20;

async function writeAll(file: FileHandle, data: Buffer, position: number): Promise<void> {
  for (let done = 0; done < data.length;) {
    done += (await file.write(data, done, data.length - done, position + done)).bytesWritten;
  }
}

/**
 * The archive file, written at explicit positions. Small pieces are gathered into large writes (per-call overhead
 * dominates small entries); large file data is written by the copier straight to the room reserved for it; headers
 * are written once known. Writes go out one at a time, in the order issued, and each is tracked, so that a failure
 * waits for the others before the file is closed and removed.
 */
class Output {
  private queued: Buffer[] = [];
  private queuedBytes = 0;
  private readonly pending = new Set<Promise<void>>();
  private failure: { error: unknown } | null = null;
  private tail: Promise<void> = Promise.resolve();
  /** Where the next appended byte goes. */
  position = 0;

  constructor(readonly file: FileHandle) {}

  async append(...parts: Buffer[]): Promise<void> {
    for (const part of parts) {
      this.queued.push(part);
      this.queuedBytes += part.length;
      this.position += part.length;
    }
    if (this.queuedBytes >= GATHER) await this.flush();
  }

  /** Leaves `length` bytes for data or a header written later with `writeAt`; returns where they start. */
  async reserve(length: number): Promise<number> {
    await this.flush();
    const start = this.position;
    this.position += length;
    return start;
  }

  /** Queues a write at an explicit position; the promise settles when it is done. `drain` rethrows the first failure. */
  writeAt(data: Buffer, position: number): Promise<void> {
    // One write at a time: concurrent writes to one file contend for its inode lock, and the kernel spins on it.
    const write = this.tail.then(() => writeAll(this.file, data, position));
    this.tail = write.catch(ignore);
    this.pending.add(write);
    write.then(() => this.pending.delete(write), (error: unknown) => {
      this.pending.delete(write);
      this.failure ??= { error };
    });
    return write;
  }

  async flush(): Promise<void> {
    if (this.queuedBytes === 0) return;
    const data = this.queued.length === 1 ? this.queued[0]! : Buffer.concat(this.queued);
    this.queued = [];
    this.queuedBytes = 0;
    await this.writeAt(data, this.position - data.length);
  }

  /** Flushes, waits for every write and throws the first failure. */
  async drain(): Promise<void> {
    await this.flush();
    await this.settle();
    if (this.failure) throw this.failure.error;
  }

  /** Waits for every write in flight, failed or not. */
  async settle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }
}

/**
 * A sha256 worker thread reading chunks from shared memory, so that hashing (the costliest step per byte) runs on
 * the other core while the main thread reads, CRCs and writes. Requests are answered in order.
 */
const HASHER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const { createHash } = require("node:crypto");
const memory = Buffer.from(workerData);
let hash = createHash("sha256");
parentPort.on("message", (m) => {
  if (m === null) {
    parentPort.postMessage(hash.digest("hex"));
    hash = createHash("sha256");
  } else {
    hash.update(memory.subarray(m[0], m[0] + m[1]));
    parentPort.postMessage(null);
  }
});
`;

class Hasher {
  private readonly worker: Worker;
  private readonly waiting: { resolve: (value: string | null) => void; reject: (error: Error) => void }[] = [];
  private failure: Error | null = null;
  private closed = false;

  constructor(memory: SharedArrayBuffer) {
    this.worker = new Worker(HASHER_SOURCE, { eval: true, workerData: memory });
    this.worker.on("message", (m: string | null) => this.waiting.shift()?.resolve(m));
    this.worker.on("error", (error) => this.fail(error));
    this.worker.on("exit", (code) => this.fail(new Error(`the sha256 worker exited (code ${code})`)));
  }

  private fail(error: Error): void {
    if (this.closed) return;
    this.failure ??= error;
    for (const w of this.waiting.splice(0)) w.reject(this.failure);
  }

  private request(message: [number, number] | null): Promise<string | null> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.worker.postMessage(message);
    });
  }

  /** Hashes `length` bytes of the shared memory at `offset` into the current file's digest. */
  async update(offset: number, length: number): Promise<void> {
    await this.request([offset, length]);
  }

  /** The current file's digest; the next update starts a new file. */
  async digest(): Promise<string> {
    return (await this.request(null))!;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.worker.terminate();
  }
}

/** Large files are read in chunks of this size: big enough for few syscalls, small enough to stay in the caches. */
const CHUNK = 1 << 20;
/** Chunks in the ring: a chunk is busy from its read until both its write and its hashing are done. */
const SLOTS = 8;
/** Reads in flight ahead of the chunk being processed (must stay below SLOTS). */
const READS_AHEAD = 4;

interface Slot {
  offset: number;
  buffer: Buffer;
  busy: Promise<void>;
}

class Ring {
  readonly memory = new SharedArrayBuffer(CHUNK * SLOTS);
  readonly slots: Slot[] = Array.from({ length: SLOTS }, (_, i) => ({
    offset: i * CHUNK, buffer: Buffer.from(this.memory, i * CHUNK, CHUNK), busy: Promise.resolve(),
  }));

  private next = 0;

  /** The next slot in turn, once its previous use is over (rethrows that use's failure). */
  async acquire(): Promise<Slot> {
    const slot = this.slots[this.next]!;
    this.next = (this.next + 1) % SLOTS;
    await slot.busy;
    return slot;
  }

  async drain(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.busy));
  }

  async settle(): Promise<void> {
    await Promise.allSettled(this.slots.map((s) => s.busy));
  }
}

/** Reads `length` bytes at `position` (fewer only at the end of the file). */
async function readFully(file: FileHandle, buffer: Buffer, length: number, position: number): Promise<number> {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await file.read(buffer, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}

function changedError(absPath: string): Error {
  return new Error(`${absPath} changed while it was being zipped; run the packaging again`);
}

/** Same file, same content as far as the file system tells: size, modification and change times, identity. */
function sameFile(a: BigIntStats, b: BigIntStats): boolean {
  return a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs && a.ino === b.ino && a.dev === b.dev;
}

/** Entries up to this size are read whole (and deflated in one call): a stream costs more to set up than they take. */
const WHOLE = 1 << 20;
/** Small files are loaded ahead of the write so their reads overlap (one file at a time is latency-bound). */
const READ_AHEAD = 8;

/** An entry with its data in memory, or a large file to copy in chunks (with what it looked like before). */
type Loaded =
  | { entry: ZipEntry | ZipFileEntry; data: Buffer }
  | { entry: ZipFileEntry; data: null; before: BigIntStats };

async function load(entry: ZipEntry | ZipFileEntry): Promise<Loaded> {
  if (!("absPath" in entry)) return { entry, data: entry.data };
  const before = await stat(entry.absPath, { bigint: true });
  if (entry.size !== undefined && BigInt(entry.size) !== before.size) throw changedError(entry.absPath);
  if (before.size > BigInt(WHOLE)) return { entry, data: null, before };
  const file = await open(entry.absPath, "r");
  try {
    const size = Number(before.size);
    const data = Buffer.allocUnsafe(size);
    const read = await readFully(file, data, size, 0);
    if (read !== size || !sameFile(before, await file.stat({ bigint: true }))) throw changedError(entry.absPath);
    return { entry, data };
  } finally {
    await file.close();
  }
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
      call.catch(ignore);
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

/** What one entry's data came to. `sha256` is null when not hashing; a promise when a worker computes it. */
interface Copied {
  crc32: number;
  size: number;
  compressedSize: number;
  sha256: Promise<string> | string | null;
}

/** Copies large files into the archive, reading each once; hashes (when asked) on a worker thread. */
class Copier {
  private ring: Ring | null = null;
  private hasher: Hasher | null = null;

  constructor(private readonly out: Output, private readonly hashing: boolean) {}

  private start(): { ring: Ring; hasher: Hasher | null } {
    this.ring ??= new Ring();
    if (this.hashing) this.hasher ??= new Hasher(this.ring.memory);
    return { ring: this.ring, hasher: this.hasher };
  }

  /**
   * A STORED file: its data goes to [dataStart, dataStart + size) of the archive. Chunk i is read into a slot of the
   * ring, CRC'd here, handed to the hasher and written at its position; reads run ahead while earlier chunks are
   * written and hashed, and the next file starts before this one's last writes are done.
   */
  async stored(file: FileHandle, absPath: string, size: number, dataStart: number): Promise<Copied> {
    const { ring, hasher } = this.start();
    const chunks = Math.ceil(size / CHUNK);
    const read = async (i: number): Promise<{ slot: Slot; length: number }> => {
      const slot = await ring.acquire();
      const length = Math.min(CHUNK, size - i * CHUNK);
      if ((await readFully(file, slot.buffer, length, i * CHUNK)) !== length) throw changedError(absPath);
      return { slot, length };
    };
    const reads: Promise<{ slot: Slot; length: number }>[] = [];
    let issued = 0;
    const readAhead = (): void => {
      while (issued < chunks && reads.length < READS_AHEAD) {
        const next = read(issued++);
        next.catch(ignore);
        reads.push(next);
      }
    };
    let crc = 0;
    readAhead();
    for (let i = 0; i < chunks; i++) {
      const { slot, length } = await reads.shift()!;
      readAhead();
      const data = slot.buffer.subarray(0, length);
      crc = crc32(data, crc);
      const written = this.out.writeAt(data, dataStart + i * CHUNK);
      const hashed = hasher?.update(slot.offset, length);
      slot.busy = hashed ? Promise.all([written, hashed]).then(ignore) : written;
      slot.busy.catch(ignore);
    }
    const sha256 = hasher ? hasher.digest() : null;
    sha256?.catch(ignore);
    return { crc32: crc, size, compressedSize: size, sha256 };
  }

  /** A DEFLATEd file: compression (on the thread pool) sets the pace; CRC and hash are taken here as chunks pass. */
  async deflated(file: FileHandle, absPath: string, size: number): Promise<Copied> {
    const hash = this.hashing ? createHash("sha256") : null;
    let crc = 0;
    const source = async function* (): AsyncGenerator<Buffer> {
      for (let position = 0; position < size; position += CHUNK) {
        const chunk = Buffer.allocUnsafe(Math.min(CHUNK, size - position));
        if ((await readFully(file, chunk, chunk.length, position)) !== chunk.length) throw changedError(absPath);
        crc = crc32(chunk, crc);
        hash?.update(chunk);
        yield chunk;
      }
    };
    const start = this.out.position;
    await pipeline(source, createDeflateRaw({ chunkSize: 256 * 1024 }), async (compressed: AsyncIterable<Buffer>) => {
      for await (const piece of compressed) await this.out.append(piece);
    });
    return { crc32: crc, size, compressedSize: this.out.position - start, sha256: hash ? hash.digest("hex") : null };
  }

  /** Waits for every chunk's write and hash; throws the first failure. */
  async drain(): Promise<void> {
    await this.ring?.drain();
  }

  /** Waits for everything in flight and stops the worker; never throws. */
  async close(): Promise<void> {
    await this.ring?.settle();
    await this.hasher?.close().catch(ignore);
  }
}

/**
 * Appends one entry. In-memory data goes out with its header at once. A large file gets room for its header, which
 * is written once the CRC (and compressed size) is known; STORED data has its room reserved up front, since its size
 * is known. ZIP64 has to be chosen before the data is written: the margin covers DEFLATE's worst-case growth.
 */
async function appendEntry(out: Output, copier: Copier, loaded: Loaded, f: Format, hashing: boolean): Promise<{ written: Written; sha256: Copied["sha256"] }> {
  const { entry } = loaded;
  const name = Buffer.from(entry.path);
  const store = entry.store === true;
  const mode = entry.executable ? 0o100755 : 0o100644;
  if (loaded.data !== null) {
    const data = loaded.data;
    const body = store ? data : deflateRawSync(data);
    const zip64 = Math.max(data.length, body.length) >= f.zip64From;
    const written: Written = {
      path: entry.path, name, offset: out.position, store, zip64, mode, crc32: crc32(data), size: data.length, compressedSize: body.length,
    };
    await out.append(localHeader(written, f), body);
    return { written, sha256: hashing ? createHash("sha256").update(data).digest("hex") : null };
  }

  const { absPath } = loaded.entry;
  const file = await open(absPath, "r");
  try {
    const before = await file.stat({ bigint: true });
    if (!sameFile(loaded.before, before)) throw changedError(absPath);
    const size = Number(before.size);
    const zip64 = (store ? size : size + size / 1024 + 64) >= f.zip64From;
    const headerLength = localHeaderLength(name, zip64);
    const offset = await out.reserve(headerLength + (store ? size : 0));
    const copied = store ? await copier.stored(file, absPath, size, offset + headerLength) : await copier.deflated(file, absPath, size);
    if (!sameFile(before, await file.stat({ bigint: true }))) throw changedError(absPath);
    const written: Written = { path: entry.path, name, offset, store, zip64, mode, crc32: copied.crc32, size, compressedSize: copied.compressedSize };
    out.writeAt(localHeader(written, f), offset).catch(ignore);
    return { written, sha256: copied.sha256 };
  } finally {
    // Reads are over; writes and hashing work on the ring's memory, not on the file.
    await file.close();
  }
}

function assertUnique(sorted: readonly { path: string }[]): void {
  sorted.forEach((entry, i) => {
    if (i > 0 && entry.path === sorted[i - 1]?.path) throw new Error(`duplicate zip entry ${entry.path}`);
  });
}

async function writeArchive(file: FileHandle, sorted: readonly (ZipEntry | ZipFileEntry)[], f: Format, trailer: WriteZipOptions["trailer"]): Promise<ZipResult> {
  const out = new Output(file);
  const hashing = trailer !== undefined;
  const copier = new Copier(out, hashing);
  try {
    const written: Written[] = [];
    const digests: Promise<EntryDigest>[] = [];
    for await (const loaded of inOrder(sorted, READ_AHEAD, load)) {
      const appended = await appendEntry(out, copier, loaded, f, hashing);
      written.push(appended.written);
      const { sha256 } = appended;
      if (sha256 !== null) {
        const digest = Promise.resolve(sha256).then((hex) => ({ path: appended.written.path, sha256: hex, size: appended.written.size }));
        digest.catch(ignore);
        digests.push(digest);
      }
    }
    const resolved = await Promise.all(digests);
    const extra = [...(trailer?.(resolved) ?? [])].sort((a, b) => compareZipPaths(a.path, b.path));
    assertUnique([...sorted, ...extra].sort((a, b) => compareZipPaths(a.path, b.path)));
    for (const entry of extra) written.push((await appendEntry(out, copier, { entry, data: entry.data }, f, false)).written);

    await copier.drain();
    written.sort((a, b) => Buffer.compare(a.name, b.name));
    const cdOffset = await out.reserve(0);
    const central = Buffer.concat(written.map((w) => centralRecord(w, f)));
    await out.append(central, endRecords(written.length, cdOffset, central.length, f));
    await out.drain();
    return { size: out.position, entries: written.length, digests: resolved };
  } finally {
    await copier.close();
    await out.settle();
  }
}

/**
 * Writes a deterministic zip: entries sorted by path (trailer entries' local records last, see `trailer`), a fixed
 * timestamp, normalized modes (0644, 0755 when executable), so the same inputs give the same bytes. Each file is read
 * once and refused if it changes while being zipped. The archive is written to a temporary file beside `outPath` and
 * renamed, so no partial zip is ever left behind.
 */
export async function writeZip(outPath: string, entries: readonly (ZipEntry | ZipFileEntry)[], options: WriteZipOptions = {}): Promise<ZipResult> {
  const sorted = [...entries].sort((a, b) => compareZipPaths(a.path, b.path));
  assertUnique(sorted);
  const format: Format = { time: zipTimestamp(options.env ?? process.env), zip64From: Math.min(options.zip64Threshold ?? MAX32, MAX32) };
  const tmp = path.join(path.dirname(outPath), `.${path.basename(outPath)}.${process.pid}-${randomBytes(4).toString("hex")}.tmp`);
  const out = await open(tmp, "wx");
  try {
    let result: ZipResult;
    try {
      result = await writeArchive(out, sorted, format, options.trailer);
    } finally {
      await out.close();
    }
    await options.verify?.(tmp);
    await rename(tmp, outPath);
    return result;
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** `writeZip` without a trailer; returns the size of the zip. */
export async function writeDeterministicZip(outPath: string, entries: readonly (ZipEntry | ZipFileEntry)[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  return (await writeZip(outPath, entries, { env })).size;
}
