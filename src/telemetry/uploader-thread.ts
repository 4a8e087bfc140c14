// The telemetry uploader thread (see uploader.ts): one S3 client, and a read-only connection to runner.db for the
// records batches. It decides nothing: the main thread's pump picks each object, keeps the outbox and retries.
import { readlinkSync } from "node:fs";
import { setPriority } from "node:os";
import { parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";
import type { Db } from "../store/db.js";
import { recordBatchBody } from "./record-batches.js";
import { s3Target } from "./s3-target.js";
import type { UploaderSetup, UploadFailure, UploadReply, UploadRequest } from "./uploader.js";

/**
 * Uploads are background work: on Linux this thread runs at the lowest CPU priority (a thread is a task with its own
 * nice value), so on a busy station it takes only the CPU that inspections leave. Elsewhere it runs as it is.
 */
function yieldToInspections(): void {
  try {
    setPriority(Number(readlinkSync("/proc/thread-self").split("/").at(-1)), 19);
  } catch {
    // no /proc/thread-self (not Linux): normal priority
  }
}

yieldToInspections();
const setup = workerData as UploaderSetup;
const port = parentPort!;
const target = s3Target(setup.config, setup.credentials);
let db: Db | undefined;

/** runner.db, opened on the first records batch (WAL: reading never blocks the runner's writes). */
function records(): Db {
  if (db === undefined) {
    db = new Database(setup.dbFile, { readonly: true, fileMustExist: true });
    db.pragma("busy_timeout = 5000");
  }
  return db;
}

async function upload(request: UploadRequest): Promise<UploadReply> {
  try {
    const { id, body, ...object } = request;
    // A Buffer arrives as a plain Uint8Array (structured clone).
    const bytes = body instanceof Uint8Array ? Buffer.from(body.buffer, body.byteOffset, body.byteLength)
      : "file" in body ? body : recordBatchBody(records(), setup.workstationId, body.records).body;
    await (await target).put({ ...object, body: bytes });
    return { id, bytes: Buffer.isBuffer(bytes) ? bytes.length : bytes.bytes };
  } catch (err) {
    return { id: request.id, failure: describe(err) };
  }
}

function describe(err: unknown): UploadFailure {
  const e = err as { name?: string; message?: string; code?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  return { name: e.name ?? "Error", message: e.message || e.code || String(err), ...(status === undefined ? {} : { status }) };
}

port.on("message", (request: UploadRequest) => {
  void upload(request).then((reply) => port.postMessage(reply));
});
