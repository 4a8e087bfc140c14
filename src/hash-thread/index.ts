// sha256 off the main thread for big byte streams: a ring of shared-memory slots that the main thread fills and
// writes out while a worker thread hashes them. Used by the zip writer (package build) and by registry pulls.
import { Worker } from "node:worker_threads";

/** Chunks are this size: big enough for few syscalls, small enough to stay in the caches. */
export const RING_CHUNK = 1 << 20;
/** Chunks in the ring: a chunk is busy from when it is filled until both its write and its hashing are done. */
export const RING_SLOTS = 8;

export interface Slot {
  offset: number;
  buffer: Buffer;
  busy: Promise<void>;
}

/** 1 MiB slots of shared memory, used in turn: the sha256 thread reads them where the main thread filled them. */
export class Ring {
  readonly memory = new SharedArrayBuffer(RING_CHUNK * RING_SLOTS);
  readonly slots: Slot[] = Array.from({ length: RING_SLOTS }, (_, i) => ({
    offset: i * RING_CHUNK, buffer: Buffer.from(this.memory, i * RING_CHUNK, RING_CHUNK), busy: Promise.resolve(),
  }));

  private next = 0;

  /** The next slot in turn, once its previous use is over (rethrows that use's failure). */
  async acquire(): Promise<Slot> {
    const slot = this.slots[this.next]!;
    this.next = (this.next + 1) % RING_SLOTS;
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

/**
 * A sha256 worker thread reading chunks from shared memory, so that hashing (the costliest step per byte) runs on
 * the other core while the main thread reads (or receives), CRCs and writes. Requests are answered in order.
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

export class Hasher {
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
