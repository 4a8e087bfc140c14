import type { ImageMeta } from "../protocol/messages.js";
import { SegmentPool } from "../shm/pool.js";
import type { Segment } from "../shm/segment.js";
import type { Worker } from "../worker/worker.js";
import type { ExitCause } from "./events.js";
import { writeImage, type PreparedImage } from "./image.js";

/** Images one step call carries at most: the current image and the guide image (G3). */
export const IMAGES_PER_CALL = 2;

/** starting → idle ⇄ busy; down = lost and waiting for a restart (or a breaker probe); stopped = pool stopped. */
export type SlotState = "starting" | "idle" | "busy" | "down" | "stopped";

/**
 * One of a pool's `instances` places for a worker. The slot outlives the processes that fill it: restarts, failure
 * count (backoff) and the shared-memory segments belong to the slot, so a replaced worker reuses the mapped segments.
 */
export class WorkerSlot {
  state: SlotState = "down";
  worker: Worker | undefined;
  /** Successful starts after the first one. */
  restarts = 0;
  /** Losses in a row without a stable uptime in between (backoff input). */
  failures = 0;
  calls = 0;
  /** Dispatch order tick of the last call (LRU choice). */
  lastUsedAt = 0;
  readyAt = 0;
  restartTimer: NodeJS.Timeout | undefined;
  /** The worker the heartbeat watcher saw miss twice (the Worker then kills itself); kept per process, not per slot. */
  heartbeatLost: Worker | undefined;
  /** Set when the pool ends the worker itself for a reason (timeout, FatalError). */
  lostCause: ExitCause | undefined;
  stopping = false;
  /** Calls dispatched here whose attempt has not ended: each holds its segments (one per image) until then. */
  inflight = 0;
  /** Bytes of the last call's frames published here (how many more this slot's worker may hold depends on it). */
  frameBytes = 0;
  readonly #segments: SegmentPool;
  /** The frame each segment holds last: a request's second call with the same image is not rewritten. */
  readonly #frames = new Map<Segment, { image: PreparedImage; meta: ImageMeta }>();

  constructor(readonly index: number, tag: string, maxInflight: number) {
    // Two segments per call the worker holds, current and guide image (a queued call must not overwrite the frames
    // of the running one). Segments are made on demand: single-image calls never create the second ones.
    this.#segments = new SegmentPool(tag, { maxSlots: IMAGES_PER_CALL * maxInflight });
  }

  /** Bytes of shared memory this slot holds (headers included). */
  get shmBytes(): number {
    return this.#segments.mappedBytes;
  }

  /**
   * Publishes `image` in a free segment of this slot (created, or grown, on demand) and returns where the worker finds
   * it; the segment stays taken until `release`.
   */
  publish(image: PreparedImage): { name: string; meta: ImageMeta; segment: Segment } {
    let holding: Segment | undefined;
    for (const [segment, frame] of this.#frames) {
      if (segment.closed) this.#frames.delete(segment); // re-created bigger under the same name
      else if (frame.image === image && segment.sequence === frame.meta.sequence) holding = segment;
    }
    const segment = this.#segments.acquire(image.payload.byteLength, holding);
    if (segment === holding) {
      const frame = this.#frames.get(segment);
      if (frame !== undefined) return { name: segment.name, meta: frame.meta, segment };
    }
    this.#frames.delete(segment);
    try {
      const meta = writeImage(segment, image);
      this.#frames.set(segment, { image, meta });
      return { name: segment.name, meta, segment };
    } catch (err) {
      this.#segments.release(segment);
      throw err;
    }
  }

  release(segment: Segment): void {
    this.#segments.release(segment);
  }

  /** Unlinks the segments; idempotent. */
  closeSegments(): void {
    this.#frames.clear();
    this.#segments.close();
  }
}
