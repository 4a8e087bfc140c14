import { closeSync, openSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import { nativeAddon, type ShmAddon } from "./native.js";
import {
  type Channels,
  ColorSpace,
  Encoding,
  HEADER_SIZE,
  HeaderOffset,
  payloadSize,
  SegmentState,
  writeHeader,
} from "./segment-format.js";

export const DEFAULT_SEGMENT_DIR = "/dev/shm";
const NAME_PATTERN = /^[A-Za-z0-9._-]+$/;

/** Where segment files live: `$PROC_SHM_DIR` (file-backed seam) or /dev/shm. */
export function segmentDir(): string {
  return process.env.PROC_SHM_DIR || DEFAULT_SEGMENT_DIR;
}

export interface FrameMeta {
  width: number;
  height: number;
  channels: Channels;
  colorSpace: ColorSpace;
  encoding: Encoding;
  timestampMs: number;
}

export type SegmentBackend = "mapped" | "file";

export interface Segment {
  readonly name: string;
  readonly backend: SegmentBackend;
  /** Payload capacity in bytes (segment size − 64). */
  readonly capacity: number;
  /** Sequence of the last published frame; 0 before the first. */
  readonly sequence: number;
  readonly closed: boolean;
  /** Copies `pixels` in and publishes the header, in the writer order of docs/PROTOCOL.md. */
  write(pixels: Uint8Array, meta: FrameMeta): { sequence: number };
  /**
   * Marks the segment as being written and returns a writable buffer of `capacity` bytes for the payload, so a
   * camera can fill it directly; `commit` publishes it. Mapped: the segment memory itself. File: a staging buffer
   * that `commit` writes out (one extra copy).
   */
  payload(): Buffer;
  /** Publishes what was filled via `payload()`; `payloadLength` defaults to the raw frame size of `meta`. */
  commit(meta: FrameMeta, payloadLength?: number): { sequence: number };
  /** Unmaps/closes and unlinks; idempotent. */
  close(): void;
}

export interface SegmentOptions {
  /** Sequence to continue from, so a re-created segment never repeats one a reader may have seen. */
  lastSequence?: number;
}

const STATE_WRITING = Uint8Array.of(SegmentState.writing);
const STATE_READY = Uint8Array.of(SegmentState.ready);

/**
 * Header handling and the writer order shared by both backends; subclasses only move bytes.
 * Order: state = 0; payload; header fields; sequence; state = 1 last.
 */
abstract class SegmentBase implements Segment {
  abstract readonly backend: SegmentBackend;
  #sequence: number;
  #closed = false;
  #filling = false;
  readonly #header = Buffer.alloc(HEADER_SIZE);

  protected constructor(
    readonly name: string,
    readonly capacity: number,
    options: SegmentOptions,
  ) {
    this.#sequence = options.lastSequence ?? 0;
  }

  get sequence(): number {
    return this.#sequence;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Writes `bytes` at `offset` from the start of the segment. */
  protected abstract writeAt(offset: number, bytes: Uint8Array): void;
  protected abstract payloadBuffer(): Buffer;
  /** Makes the first `length` bytes of `payloadBuffer()` visible in the segment. */
  protected abstract flushPayload(length: number): void;
  protected abstract release(): void;

  /** An empty, never-written header (sequence 0) so readers of a fresh segment get "not ready", not garbage. */
  protected writeEmptyHeader(): void {
    writeHeader(this.#header, {
      sequence: 0,
      payloadLength: 0,
      width: 0,
      height: 0,
      channels: 0,
      encoding: Encoding.raw,
      colorSpace: ColorSpace.RGB,
      state: SegmentState.writing,
      timestampMs: 0,
      capacity: this.capacity,
    });
    this.writeAt(0, this.#header);
  }

  write(pixels: Uint8Array, meta: FrameMeta): { sequence: number } {
    this.check(pixels.byteLength, meta);
    this.writeAt(HeaderOffset.state, STATE_WRITING);
    this.writeAt(HEADER_SIZE, pixels);
    return this.publish(pixels.byteLength, meta);
  }

  payload(): Buffer {
    this.assertOpen();
    this.writeAt(HeaderOffset.state, STATE_WRITING);
    this.#filling = true;
    return this.payloadBuffer();
  }

  commit(meta: FrameMeta, payloadLength = payloadSize(meta.width, meta.height, meta.channels)): { sequence: number } {
    if (!this.#filling) throw new Error(`segment ${this.name}: commit() without payload() first`);
    this.check(payloadLength, meta);
    this.flushPayload(payloadLength);
    return this.publish(payloadLength, meta);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.release();
  }

  private assertOpen(): void {
    if (this.#closed) throw new Error(`segment ${this.name} is closed`);
  }

  private check(length: number, meta: FrameMeta): void {
    this.assertOpen();
    if (!Number.isInteger(meta.width) || !Number.isInteger(meta.height) || meta.width <= 0 || meta.height <= 0) {
      throw new RangeError(`frame size must be positive integers, got ${meta.width}×${meta.height}`);
    }
    if (length > this.capacity) {
      throw new RangeError(
        `frame of ${length} bytes does not fit segment ${this.name} (capacity ${this.capacity} bytes); use a larger segment`,
      );
    }
    const raw = payloadSize(meta.width, meta.height, meta.channels);
    if (meta.encoding === Encoding.raw && length !== raw) {
      throw new RangeError(`raw ${meta.width}×${meta.height}×${meta.channels} frame needs ${raw} bytes, got ${length}`);
    }
  }

  private publish(payloadLength: number, meta: FrameMeta): { sequence: number } {
    const sequence = this.#sequence + 1;
    const header = this.#header;
    // Fields listed, not spread: `{ ...meta, … }` took ~4 µs here (V8's slow path), 10× the rest of a small frame.
    writeHeader(header, {
      sequence, payloadLength, width: meta.width, height: meta.height, channels: meta.channels, encoding: meta.encoding,
      colorSpace: meta.colorSpace, state: SegmentState.writing, timestampMs: meta.timestampMs, capacity: this.capacity,
    });
    // magic, version and header size were written at creation and never change.
    this.writeAt(HeaderOffset.payloadLength, header.subarray(HeaderOffset.payloadLength));
    this.writeAt(HeaderOffset.sequence, header.subarray(HeaderOffset.sequence, HeaderOffset.payloadLength));
    this.writeAt(HeaderOffset.state, STATE_READY);
    this.#sequence = sequence;
    this.#filling = false;
    return { sequence };
  }
}

function checkSegmentArgs(name: string, capacity: number): void {
  if (!NAME_PATTERN.test(name)) throw new TypeError(`segment name must match ${NAME_PATTERN}, got "${name}"`);
  if (!Number.isSafeInteger(capacity) || capacity <= 0) {
    throw new RangeError(`segment capacity must be a positive integer, got ${capacity}`);
  }
}

/** The fast path: one mmap for the segment's life; writes are memcpy into the mapping. */
export class MappedSegment extends SegmentBase {
  readonly backend = "mapped";
  readonly #addon: ShmAddon;
  readonly #mapping: ArrayBuffer;
  readonly #view: Buffer;

  private constructor(addon: ShmAddon, name: string, capacity: number, options: SegmentOptions) {
    super(name, capacity, options);
    this.#addon = addon;
    this.#mapping = addon.open(name, HEADER_SIZE + capacity, true);
    this.#view = Buffer.from(this.#mapping);
    // Pre-touch: fault every page in now, not during the first frame (2.3 ms on a fresh tmpfs segment).
    this.#view.fill(0);
    this.writeEmptyHeader();
  }

  /** Creates (or takes over and resets) the POSIX segment `/<name>`; throws when the addon is not built. */
  static create(name: string, capacity: number, options: SegmentOptions = {}): MappedSegment {
    checkSegmentArgs(name, capacity);
    const addon = nativeAddon();
    if (addon === undefined) throw new Error("procvision_shm addon is not built; use FileSegment");
    return new MappedSegment(addon, name, capacity, options);
  }

  protected writeAt(offset: number, bytes: Uint8Array): void {
    this.#view.set(bytes, offset);
  }

  protected payloadBuffer(): Buffer {
    return this.#view.subarray(HEADER_SIZE, HEADER_SIZE + this.capacity);
  }

  protected flushPayload(): void {
    // The payload buffer is the segment itself.
  }

  protected release(): void {
    // Unmapping detaches every Buffer handed out by payload(), so none can touch the freed pages.
    this.#addon.unmap(this.#mapping);
    this.#addon.unlink(this.name);
  }
}

const PRETOUCH_CHUNK = 1 << 20;

/** Fallback without the addon, and the backend for `$PROC_SHM_DIR`: positional writes into the segment file. */
export class FileSegment extends SegmentBase {
  readonly backend = "file";
  readonly path: string;
  readonly #fd: number;
  #staging: Buffer | undefined;

  private constructor(name: string, capacity: number, dir: string, options: SegmentOptions) {
    super(name, capacity, options);
    this.path = join(dir, name);
    this.#fd = openSync(this.path, "w+", 0o600);
    try {
      // Pre-touch by writing zeros: allocates every tmpfs page and sets the file size.
      const zeros = Buffer.alloc(Math.min(PRETOUCH_CHUNK, HEADER_SIZE + capacity));
      for (let offset = 0; offset < HEADER_SIZE + capacity; offset += zeros.byteLength) {
        this.writeAt(offset, zeros.subarray(0, Math.min(zeros.byteLength, HEADER_SIZE + capacity - offset)));
      }
      this.writeEmptyHeader();
    } catch (err) {
      closeSync(this.#fd);
      unlinkQuietly(this.path);
      throw err;
    }
  }

  static create(name: string, capacity: number, dir: string = segmentDir(), options: SegmentOptions = {}): FileSegment {
    checkSegmentArgs(name, capacity);
    return new FileSegment(name, capacity, dir, options);
  }

  protected writeAt(offset: number, bytes: Uint8Array): void {
    for (let done = 0; done < bytes.byteLength; ) {
      done += writeSync(this.#fd, bytes, done, bytes.byteLength - done, offset + done);
    }
  }

  protected payloadBuffer(): Buffer {
    this.#staging ??= Buffer.alloc(this.capacity);
    return this.#staging;
  }

  protected flushPayload(length: number): void {
    this.writeAt(HEADER_SIZE, this.payloadBuffer().subarray(0, length));
  }

  protected release(): void {
    closeSync(this.#fd);
    unlinkQuietly(this.path);
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
}

/**
 * A segment on the best available backend: files in `$PROC_SHM_DIR` when set, else a mapped POSIX segment when the
 * addon is built, else the /dev/shm file written with fs.
 */
export function createSegment(name: string, capacity: number, options: SegmentOptions = {}): Segment {
  if (!process.env.PROC_SHM_DIR && nativeAddon() !== undefined) return MappedSegment.create(name, capacity, options);
  return FileSegment.create(name, capacity, segmentDir(), options);
}
