import { HEADER_SIZE } from "./segment-format.js";
import { createSegment, type Segment, type SegmentOptions } from "./segment.js";

/** Capacities of big frames are multiples of this step, so frame-size jitter (encoded images) does not re-create segments. */
export const CAPACITY_STEP = 4 * 1024 * 1024;
/** Smallest segment: a worker that holds many small frames at once (pipelined calls) keeps its memory small. */
export const MIN_CAPACITY = 64 * 1024;
const TAG_PATTERN = /^[A-Za-z0-9._-]+$/;

export type SegmentFactory = (name: string, capacity: number, options: SegmentOptions) => Segment;

export interface SegmentPoolOptions {
  /** Segments in use at once: one per call a worker holds (default 2). */
  maxSlots?: number;
  /** How segments are made; defaults to `createSegment` (best backend). */
  create?: SegmentFactory;
}

interface Slot {
  segment: Segment;
  busy: boolean;
}

/** Payload capacity for a frame of `bytes`: the next power of two (≥ MIN_CAPACITY) up to CAPACITY_STEP, then its multiples. */
export function roundCapacity(bytes: number): number {
  if (bytes > CAPACITY_STEP) return Math.ceil(bytes / CAPACITY_STEP) * CAPACITY_STEP;
  let capacity = MIN_CAPACITY;
  while (capacity < bytes) capacity *= 2;
  return capacity;
}

/**
 * The segments of one worker, named `procvision-<pid>-<workerTag>-<slot>` so a later runner can sweep them if this
 * process dies. Each segment is mapped and pre-touched once and reused until it is too small.
 */
export class SegmentPool {
  readonly #slots: Slot[] = [];
  readonly #maxSlots: number;
  readonly #create: SegmentFactory;
  #closed = false;

  constructor(
    readonly workerTag: string,
    options: SegmentPoolOptions = {},
  ) {
    if (!TAG_PATTERN.test(workerTag)) throw new TypeError(`worker tag must match ${TAG_PATTERN}, got "${workerTag}"`);
    this.#maxSlots = options.maxSlots ?? 2;
    this.#create = options.create ?? createSegment;
  }

  segmentName(slot: number): string {
    return `procvision-${process.pid}-${this.workerTag}-${slot}`;
  }

  /** Size of all live segments (header + payload capacity), in bytes. */
  get mappedBytes(): number {
    return this.#slots.reduce((sum, slot) => sum + (slot.segment.closed ? 0 : HEADER_SIZE + slot.segment.capacity), 0);
  }

  /**
   * A free segment with at least `minBytes` of payload capacity, marked busy until `release`; `preferred` when it is
   * free and fits (its content may be reused).
   */
  acquire(minBytes: number, preferred?: Segment): Segment {
    if (this.#closed) throw new Error("segment pool is closed");
    const free = this.#slots.filter((slot) => !slot.busy);
    const wanted = preferred === undefined ? undefined : free.find((slot) => slot.segment === preferred);
    if (wanted !== undefined && !wanted.segment.closed && wanted.segment.capacity >= minBytes) {
      wanted.busy = true;
      return wanted.segment;
    }
    // A closed segment here is one whose re-creation failed; it is re-created again below.
    const fitting = free.find((slot) => !slot.segment.closed && slot.segment.capacity >= minBytes);
    if (fitting !== undefined) {
      fitting.busy = true;
      return fitting.segment;
    }
    const capacity = roundCapacity(minBytes);
    const grow = free[0];
    if (grow !== undefined) {
      // Re-create under the same name, continuing its sequence so a reader cannot mistake old bytes for new.
      const old = grow.segment;
      old.close();
      grow.segment = this.#create(old.name, capacity, { lastSequence: old.sequence });
      grow.busy = true;
      return grow.segment;
    }
    if (this.#slots.length >= this.#maxSlots) {
      throw new Error(`all ${this.#maxSlots} segments of worker ${this.workerTag} are busy; release one first`);
    }
    const slot: Slot = { segment: this.#create(this.segmentName(this.#slots.length), capacity, {}), busy: true };
    this.#slots.push(slot);
    return slot.segment;
  }

  release(segment: Segment): void {
    const slot = this.#slots.find((candidate) => candidate.segment === segment);
    if (slot !== undefined) slot.busy = false;
  }

  /** Closes (unlinks) every segment; idempotent. */
  close(): void {
    this.#closed = true;
    for (const slot of this.#slots.splice(0)) slot.segment.close();
  }
}
