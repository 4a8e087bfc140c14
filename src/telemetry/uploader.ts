import { existsSync } from "node:fs";
import path from "node:path";
import { Worker } from "node:worker_threads";
import { packageRoot } from "../package-root.js";
import type { S3Credentials, TelemetryConfig } from "./config.js";
import type { RecordRange } from "./record-batches.js";

/*
 * The main thread's side of the uploader thread (uploader-thread.ts): S3 requests and the NDJSON of records
 * batches run there, so the S3 client's CPU per object (signing, hashing, middleware) and the lines' JSON never
 * compete with inspections for the runner's event loop. The pump still decides what goes when; this is its transport.
 */

/** What the thread needs: the S3 target, and runner.db (read only) for records batches. */
export interface UploaderSetup {
  config: TelemetryConfig;
  credentials: S3Credentials;
  dbFile: string;
  workstationId: string;
}

/** One object to store: bytes in hand, a kept file, or a records batch written from runner.db. */
export interface Upload {
  key: string;
  contentType: string;
  metadata: Record<string, string>;
  body: Buffer | { file: string; bytes: number } | { records: RecordRange };
}

export interface UploadRequest extends Upload {
  id: number;
}

/** An S3 failure as the thread reports it (the SDK's error name, message and HTTP status). */
export interface UploadFailure {
  name: string;
  message: string;
  status?: number;
}

export type UploadReply = { id: number; bytes: number } | { id: number; failure: UploadFailure };

/** The compiled thread module: from dist/ whether the runner runs compiled, bundled or from sources (tests). */
function threadModule(): string {
  const file = path.join(packageRoot(), "dist", "telemetry", "uploader-thread.js");
  if (!existsSync(file)) throw new Error(`telemetry: ${file} is missing (run \`npm run build\`)`);
  return file;
}

export class Uploader {
  readonly #worker: Worker;
  readonly #waiting = new Map<number, { resolve: (bytes: number) => void; reject: (err: Error) => void }>();
  #next = 0;
  #dead: Error | undefined;

  constructor(setup: UploaderSetup) {
    this.#worker = new Worker(threadModule(), { workerData: setup });
    // Like the pump's timers, the thread does not keep a process alive by itself.
    this.#worker.unref();
    this.#worker.on("message", (reply: UploadReply) => {
      const waiting = this.#waiting.get(reply.id);
      this.#waiting.delete(reply.id);
      if ("failure" in reply) waiting?.reject(failureError(reply.failure));
      else waiting?.resolve(reply.bytes);
    });
    this.#worker.on("error", (err) => this.#die(err));
    this.#worker.on("exit", (code) => this.#die(new Error(`the telemetry uploader thread exited (code ${code})`)));
  }

  /** False once the thread is gone (the pump starts a new one). */
  get alive(): boolean {
    return this.#dead === undefined;
  }

  /** Stores one object; resolves to the bytes sent. */
  put(upload: Upload): Promise<number> {
    if (this.#dead) return Promise.reject(this.#dead);
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      this.#worker.postMessage({ ...upload, id } satisfies UploadRequest);
    });
  }

  #die(err: Error): void {
    this.#dead ??= err;
    for (const w of this.#waiting.values()) w.reject(this.#dead);
    this.#waiting.clear();
  }

  /** Stops the thread; a request in flight is dropped (its outbox row stays and is sent again). */
  async close(): Promise<void> {
    this.#die(new Error("the telemetry uploader was closed"));
    await this.#worker.terminate();
  }
}

/** The failure as an Error shaped like the SDK's (name, message, `$metadata.httpStatusCode`), for the pump's log. */
function failureError(f: UploadFailure): Error {
  return Object.assign(new Error(f.message), { name: f.name, ...(f.status === undefined ? {} : { $metadata: { httpStatusCode: f.status } }) });
}
