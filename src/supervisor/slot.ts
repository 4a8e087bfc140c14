import type { ImageMeta } from "../protocol/messages.js";
import { SegmentPool } from "../shm/pool.js";
import type { Segment } from "../shm/segment.js";
import type { Worker } from "../worker/worker.js";
import type { ExitCause } from "./events.js";
import { writeImage, type PreparedImage } from "./image.js";

/** starting → idle ⇄ busy; down = lost and waiting for a restart (or a breaker probe); stopped = pool stopped. */
export type SlotState = "starting" | "idle" | "busy" | "down" | "stopped";

/**
 * One of a pool's `instances` places for a worker. The slot outlives the processes that fill it: restarts, failure
 * count (backoff) and the shared-memory segment belong to the slot, so a replaced worker reuses the mapped segment.
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
  readonly #segments: SegmentPool;
  #segment: Segment | undefined;
  #lastFrame: { image: PreparedImage; meta: ImageMeta; segment: Segment } | undefined;

  constructor(readonly index: number, tag: string) {
    // One call at a time per worker: one segment per slot is enough.
    this.#segments = new SegmentPool(tag, { maxSlots: 1 });
  }

  /** Bytes of shared memory this slot holds (header included). */
  get shmBytes(): number {
    return this.#segment && !this.#segment.closed ? this.#segment.capacity + 64 : 0;
  }

  /**
   * Publishes `image` in this slot's segment (created, or grown, on demand) and returns where the worker finds it.
   * The same image sent again (pre_execute then execute of one request) is not rewritten.
   */
  publish(image: PreparedImage): { name: string; meta: ImageMeta } {
    const last = this.#lastFrame;
    const current = this.#segment;
    if (last && current && last.image === image && last.segment === current && !current.closed && current.sequence === last.meta.sequence) {
      return { name: current.name, meta: last.meta };
    }
    let segment = current;
    if (segment === undefined || segment.closed || segment.capacity < image.payload.byteLength) {
      if (segment !== undefined) this.#segments.release(segment);
      segment = this.#segments.acquire(image.payload.byteLength);
      this.#segment = segment;
    }
    const meta = writeImage(segment, image);
    this.#lastFrame = { image, meta, segment };
    return { name: segment.name, meta };
  }

  /** Unlinks the segment; idempotent. */
  closeSegments(): void {
    this.#lastFrame = undefined;
    this.#segment = undefined;
    this.#segments.close();
  }
}
