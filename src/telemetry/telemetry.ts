import path from "node:path";
import type { InspectionRecord as StoredRecord } from "../store/repository.js";
import type { Db } from "../store/db.js";
import type { InspectionRecord as CallRecord, LineLog } from "../supervisor/types.js";
import { artifactPaths, deleteFiles, encodeArtifacts, planPrune, readSpooled, spooledIds, spoolImage, sweepOrphans, unspool, writeAtomically, type SpooledCall } from "./artifacts.js";
import { publicTelemetryConfig, type S3Credentials, type TelemetryConfig } from "./config.js";
import { ingestId, objectKey, stationStatusKey, type LogLine, type TelemetryKind } from "./keys.js";
import { lineEstimateOf } from "./record-batches.js";
import { DEFAULT_RETRY, paceUntil, retryDelay, type RetryPolicy } from "./retry.js";
import { headerSafe } from "./s3-target.js";
import { TelemetryStore, type Artifact } from "./store.js";
import { Uploader } from "./uploader.js";

/** What the record writer calls once records are committed, in commit order. */
export interface RecordTap {
  committed(record: StoredRecord, call: CallRecord): void;
  /** Records from this id on are still to be uploaded: retention keeps them. */
  oldestNeededRecord(): number;
}

export interface TelemetryStatus {
  enabled: boolean;
  workstation_id: string;
  paused: boolean;
  endpoint: string | null;
  bucket: string | null;
  prefix: string | null;
  /** Objects waiting in the outbox, by kind. */
  depth: Record<TelemetryKind, number>;
  /** Lines not yet sealed into a batch. */
  pending_lines: { records: number; logs: number };
  pending_bytes: number;
  oldest_pending_age_ms: number | null;
  last_success: string | null;
  last_error: { message: string; time: string } | null;
  bytes_sent: number;
  objects_sent: number;
  failures: number;
  dropped_by_quota: number;
  /** NG images being encoded and kept (not in the outbox yet). */
  images_pending: number;
  /** NG images not kept since start because too many were waiting to be encoded (the station is overloaded). */
  images_skipped: number;
  artifacts: { count: number; bytes: number; quota_bytes: number };
}

export interface TelemetryOptions {
  root: string;
  db: Db;
  config: TelemetryConfig;
  credentials: S3Credentials;
  workstationId: string;
  log: LineLog;
  retry?: RetryPolicy;
}

/** NG frames waiting to be encoded beyond this are not kept (each waits as a file in artifacts/.spool/). */
const MAX_IMAGE_JOBS = 64;
const AGE_PRUNE_EVERY_MS = 10 * 60_000;

/**
 * Telemetry (contract §8): committed records wait in their own table past a watermark; NG images are encoded and
 * kept under artifacts/ off the answer path; a timer seals batches (a records batch is a range of the table); one
 * pump uploads the outbox by priority with backoff and a bandwidth bound, through the uploader thread. Everything
 * that must leave the station is in runner.db or on disk first, so a kill at any moment loses nothing and a retry
 * rewrites the same object.
 */
export class Telemetry {
  readonly store: TelemetryStore;
  readonly #o: TelemetryOptions;
  readonly #retry: RetryPolicy;
  #uploader: Uploader | undefined;
  #paused: boolean;
  #closed = false;
  #failures = 0;
  #pumping: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #sealTimer: NodeJS.Timeout | undefined;
  #ageTimer: NodeJS.Timeout | undefined;
  /** Records committed since the last seal, and their lines' estimated bytes: a batch is full, seal now. */
  #linesSinceSeal = 0;
  #bytesSinceSeal = 0;
  readonly #lineBytes: (record: StoredRecord) => number;
  #imageJobs = new Set<Promise<void>>();
  #imageChain: Promise<void> = Promise.resolve();
  #imageSkipped = 0;
  #lastErrorLogged: string | undefined;
  #logLines: [number, string][] = [];
  #logTimer: NodeJS.Immediate | undefined;

  constructor(options: TelemetryOptions) {
    this.#o = options;
    this.#retry = options.retry ?? DEFAULT_RETRY;
    this.store = new TelemetryStore(options.db, { prefix: options.config.prefix, workstationId: options.workstationId, records: options.config.upload.records });
    this.#paused = this.store.counters().paused;
    this.#lineBytes = lineEstimateOf(options.workstationId).of;
  }

  get config(): TelemetryConfig {
    return this.#o.config;
  }

  /** Starts the timers and the pump; files of a crash between writing and registering an image are removed first. */
  async start(): Promise<void> {
    const known = new Set(this.store.artifacts().map((a) => a.path));
    const orphans = await sweepOrphans(this.#o.root, known);
    if (orphans > 0) this.#o.log(`telemetry: removed ${orphans} unregistered file(s) under artifacts/ (a crash while keeping an image)`);
    // NG frames spooled before a crash, not kept yet.
    for (const id of await spooledIds(this.#o.root)) this.#keepSpooled(id);
    await this.#prune();
    const every = Math.max(50, Math.min(1_000, Math.floor(this.#o.config.batch.max_age_ms / 2)));
    this.#sealTimer = setInterval(() => this.#seal(false), every);
    this.#sealTimer.unref();
    this.#ageTimer = setInterval(() => void this.#prune().catch((err: unknown) => this.#o.log(`telemetry: pruning kept images failed: ${(err as Error).message}`, "warn")), AGE_PRUNE_EVERY_MS);
    this.#ageTimer.unref();
    // The thread loads the S3 client (~100 ms of module loading) now, not in the middle of the first batch.
    this.#connect();
    this.#kick();
  }

  // ---- intake (the inspection path: a count, and a frame copy for NG calls, nothing else) ----------------------------

  readonly tap: RecordTap = {
    oldestNeededRecord: () => this.store.oldestNeededRecord(),
    committed: (record, call) => {
      if (this.#o.config.upload.records) {
        this.#linesSinceSeal += 1;
        this.#bytesSinceSeal += this.#lineBytes(record);
        const { max_lines: lines, max_bytes: bytes } = this.#o.config.batch;
        if (this.#linesSinceSeal >= lines || this.#bytesSinceSeal >= bytes) this.#seal(false);
      }
      if (!isNg(call) || call.image === undefined || this.#closed) return;
      if (this.#imageJobs.size >= MAX_IMAGE_JOBS) {
        this.#imageSkipped += 1;
        return;
      }
      // The caller's buffer is untouched until the answer goes out, which happens after this returns.
      try {
        spoolImage(this.#o.root, record.id, call);
      } catch (err) {
        this.#o.log(`telemetry: spooling the NG image of record ${record.id} failed: ${(err as Error).message}`, "warn");
        return;
      }
      this.#keepSpooled(record.id);
    },
  };

  /**
   * Encodes and keeps a spooled NG image in the background, one at a time (frames wait on disk, not in memory); the
   * spool entry goes once the images are registered.
   */
  #keepSpooled(recordId: number): void {
    const job = this.#imageChain
      .then(() => readSpooled(this.#o.root, recordId))
      .then((spooled) => this.#keepImages(spooled))
      .then(() => unspool(this.#o.root, recordId))
      .catch((err: unknown) => {
        this.#o.log(`telemetry: keeping the NG image of record ${recordId} failed: ${(err as Error).message}`, "warn");
      });
    this.#imageChain = job;
    this.#imageJobs.add(job);
    void job.finally(() => this.#imageJobs.delete(job));
  }

  /**
   * A runner or worker log line, batched like records. Lines of one event-loop turn are inserted in one transaction
   * (a chatty algorithm costs one commit per burst); a kill loses at most that turn's lines.
   */
  logLine(source: string, level: string, message: string): void {
    if (this.#closed || !this.#o.config.upload.logs) return;
    const now = Date.now();
    const line: LogLine = { timestamp_ms: now, workstation_id: this.#o.workstationId, source, level, message };
    this.#logLines.push([now, JSON.stringify(line)]);
    this.#logTimer ??= setImmediate(() => this.#flushLogLines());
  }

  #flushLogLines(): void {
    this.#logTimer = undefined;
    const lines = this.#logLines;
    this.#logLines = [];
    if (lines.length === 0 || !this.store.db.open) return;
    this.store.addLogLines(lines);
  }

  async #keepImages({ recordId, call, snapshot }: SpooledCall): Promise<void> {
    if (this.store.artifactsOf(recordId).length > 0) return; // kept before a crash left its spool entry behind
    const { image, annotated } = await encodeArtifacts(snapshot, call.data ?? {});
    const paths = artifactPaths(recordId, call.timestamp_ms);
    await writeAtomically(this.#o.root, paths.image, image);
    await writeAtomically(this.#o.root, paths.annotated, annotated);
    if (this.#closed) throw new Error("the runner is closing; kept at its next start");
    const id = ingestId(this.#o.workstationId, call.session_id, call.step_index, call.timestamp_ms);
    const key = (suffix: string) => objectKey({ prefix: this.#o.config.prefix, kind: "images", workstationId: this.#o.workstationId, timeMs: call.timestamp_ms, ingestId: id, suffix });
    const meta = {
      ingest_id: id, record_id: recordId, pid: call.pid, session_id: call.session_id, step_index: call.step_index, name: call.name, version: call.version,
      result_status: call.result_status, ng_reason: call.ng_reason, width: snapshot.width, height: snapshot.height, camera_id: snapshot.cameraId,
      timestamp_ms: call.timestamp_ms,
    };
    const upload = this.#o.config.upload.ng_images;
    const objectMeta = (kind: string, size: number) => Object.fromEntries(Object.entries({ ...meta, kind, size })
      .map(([k, v]) => [k, headerSafe(v === null ? "" : String(v))]));
    const sidecar = {
      ...meta, images: { image: { key: key(".jpg"), size: image.length }, annotated: { key: key(".annotated.jpg"), size: annotated.length } },
      rects: { defect_rects: call.data?.defect_rects ?? [], position_rects: call.data?.position_rects ?? [] },
    };
    this.store.addArtifacts(recordId, call.timestamp_ms, [
      { kind: "image", path: paths.image, bytes: image.length, width: snapshot.width, height: snapshot.height, ...(upload ? { upload: { object_key: key(".jpg"), metadata: objectMeta("image", image.length) } } : {}) },
      { kind: "annotated", path: paths.annotated, bytes: annotated.length, width: snapshot.width, height: snapshot.height, ...(upload ? { upload: { object_key: key(".annotated.jpg"), metadata: objectMeta("annotated", annotated.length) } } : {}) },
    ], upload ? { object_key: key(".json"), body: `${JSON.stringify(sidecar)}\n` } : undefined);
    const totals = this.store.artifactTotals();
    if (totals.bytes > this.#quotaBytes()) await this.#prune();
    this.#kick();
  }

  #quotaBytes(): number {
    return Math.floor(this.#o.config.quota_mb * 1024 * 1024);
  }

  /** Applies quota and age to kept images (contract §8: oldest first; un-uploaded ones only when forced, counted). */
  async #prune(): Promise<void> {
    if (this.#closed) return;
    const plan = planPrune(this.store.artifacts(), this.#quotaBytes(), this.#o.config.retain_days * 24 * 3600_000, Date.now());
    if (plan.remove.length === 0) return;
    this.store.removeArtifacts(plan.remove.map((a) => a.id), plan.forced);
    if (plan.forced > 0) this.#o.log(`telemetry: quota_mb ${this.#o.config.quota_mb} forced out ${plan.forced} image file(s) not yet uploaded`, "warn");
    await deleteFiles(this.#o.root, plan.remove);
  }

  /** Waits until every NG image accepted so far is kept (tests, benchmarks and close). */
  async imagesSettled(): Promise<void> {
    while (this.#imageJobs.size > 0) await Promise.allSettled([...this.#imageJobs]);
  }

  #seal(all: boolean): void {
    if (this.#closed) return;
    this.#linesSinceSeal = 0;
    this.#bytesSinceSeal = 0;
    const now = Date.now();
    let sealed = 0;
    try {
      for (const kind of ["records", "logs"] as const) sealed += this.store.sealBatches(kind, this.#o.config.batch, now, all);
    } catch (err) {
      // From a timer: logged, never thrown into the runner; the lines stay and the next seal tries again.
      this.#o.log(`telemetry: sealing a batch failed: ${(err as Error).message}`, "error");
    }
    if (sealed > 0) this.#kick();
  }

  /** Seals every waiting line now (a batch need not wait for its age). */
  flush(): void {
    this.#seal(true);
  }

  // ---- upload -------------------------------------------------------------------------------------------------------

  #kick(): void {
    if (this.#closed || this.#paused) return;
    if (this.#wake) {
      this.#wake();
      return;
    }
    this.#pumping ??= this.#pump().catch((err: unknown) => {
      // runner.db itself failed (the network's failures are handled inside): logged; the next kick starts again.
      this.#o.log(`telemetry: the upload loop stopped: ${(err as Error).message}`, "error");
    }).finally(() => {
      this.#pumping = undefined;
    });
  }

  async #pump(): Promise<void> {
    let nextStart = 0;
    while (!this.#closed && !this.#paused) {
      const now = Date.now();
      if (now < nextStart) {
        await this.#sleep(nextStart - now);
        continue;
      }
      const item = this.store.nextDue(now);
      if (item === undefined) {
        // Nothing due: sleep until a retry is due or new work is kicked in.
        const due = this.store.nextAttemptAt();
        if (due === null) return;
        await this.#sleep(Math.max(10, due - now));
        continue;
      }
      const started = Date.now();
      const uploader = this.#connect();
      try {
        const sent = await uploader.put({
          key: item.object_key, contentType: item.content_type, metadata: item.metadata,
          body: item.body ?? (item.records ? { records: item.records } : { file: path.join(this.#o.root, item.path ?? ""), bytes: item.bytes }),
        });
        if (this.#closed) return;
        this.store.markSent(item, Date.now(), sent);
        if (this.#failures > 0) this.#o.log(`telemetry: ${this.#o.config.endpoint} reachable again after ${this.#failures} failed upload(s)`);
        this.#failures = 0;
        this.#lastErrorLogged = undefined;
        nextStart = paceUntil(started, item.bytes, this.#o.config.max_kbps);
      } catch (err) {
        if (this.#closed) return;
        // A failed request keeps the thread; a thread that died is replaced at the next attempt.
        if (!uploader.alive && this.#uploader === uploader) this.#uploader = undefined;
        this.#failures += 1;
        const message = describeError(err, this.#o.credentials);
        const delay = retryDelay(this.#failures, this.#retry);
        const nowMs = Date.now();
        this.store.markFailed(item, message, nowMs, nowMs + delay);
        if (this.#lastErrorLogged !== message) {
          this.#lastErrorLogged = message;
          this.#o.log(`telemetry: upload of ${item.object_key} failed (${message}); retrying with backoff`, "warn");
        }
        // The target is one server: when it fails, everything waits for the backoff, not just this object.
        nextStart = nowMs + delay;
      }
    }
  }

  #connect(): Uploader {
    this.#uploader ??= new Uploader({
      config: this.#o.config, credentials: this.#o.credentials, dbFile: this.#o.db.name, workstationId: this.#o.workstationId,
    });
    return this.#uploader;
  }

  /** Sleeps up to `ms`; new work (#kick), pause and close wake it early. */
  #sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wake = done;
    });
  }

  /**
   * The station's current state (the fleet inventory) as `<prefix>/stations/<workstation_id>/status.json`. Not queued:
   * the latest state overwrites the object, and one that cannot be sent now is replaced by the next one.
   */
  async putStationStatus(status: Record<string, unknown>): Promise<void> {
    if (this.#closed || this.#paused) return;
    await this.#connect().put({
      key: stationStatusKey(this.#o.config.prefix, this.#o.workstationId), contentType: "application/json", metadata: {},
      body: Buffer.from(`${JSON.stringify({ ...status, reported_at: new Date().toISOString() })}\n`),
    });
  }

  // ---- control and status -------------------------------------------------------------------------------------------

  pause(): void {
    this.#paused = true;
    this.store.setPaused(true);
    this.#wake?.();
  }

  resume(): void {
    this.#paused = false;
    this.store.setPaused(false);
    this.#failures = 0;
    // A resume is an operator's "try now": pending retries are due at once.
    this.store.retryNow();
    this.#kick();
  }

  /** Resolves once the outbox and waiting lines are empty (sealing what waits), or rejects after `timeoutMs`. */
  async drained(timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    await this.imagesSettled();
    for (;;) {
      this.flush();
      const d = this.store.depth();
      if (d.oldest_ms === null) return;
      if (Date.now() > until) throw new Error(`telemetry outbox not drained within ${timeoutMs} ms: ${JSON.stringify(d)}`);
      this.#kick();
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  status(): TelemetryStatus {
    const d = this.store.depth();
    const c = this.store.counters();
    const totals = this.store.artifactTotals();
    const shown = publicTelemetryConfig(this.#o.config);
    return {
      enabled: true, workstation_id: this.#o.workstationId, paused: this.#paused, endpoint: shown.endpoint, bucket: shown.bucket, prefix: shown.prefix,
      depth: d.outbox, pending_lines: d.lines, pending_bytes: d.bytes,
      oldest_pending_age_ms: d.oldest_ms === null ? null : Math.max(0, Date.now() - d.oldest_ms),
      last_success: c.last_success_ms === null ? null : new Date(c.last_success_ms).toISOString(),
      last_error: c.last_error === null ? null : { message: c.last_error, time: new Date(c.last_error_ms ?? 0).toISOString() },
      bytes_sent: c.bytes_sent, objects_sent: c.objects_sent, failures: c.failures, dropped_by_quota: c.dropped_by_quota,
      images_pending: this.#imageJobs.size, images_skipped: this.#imageSkipped, artifacts: { ...totals, quota_bytes: this.#quotaBytes() },
    };
  }

  /** A record's kept images. */
  artifactsOf(recordId: number): Artifact[] {
    return this.store.artifactsOf(recordId);
  }

  /** Finishes keeping accepted images, stops the pump (an upload in flight is retried at the next start). */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.imagesSettled();
    if (this.#logTimer) clearImmediate(this.#logTimer);
    this.#flushLogLines();
    this.#closed = true;
    clearInterval(this.#sealTimer);
    clearInterval(this.#ageTimer);
    this.#wake?.();
    // An upload in flight to a hung server is not waited for: its row stays and is sent again at the next start.
    await Promise.race([this.#pumping, new Promise((r) => setTimeout(r, 2_000).unref())]);
    await this.#uploader?.close();
  }
}

/** The status of a runner without telemetry. */
export function disabledStatus(workstationId: string): Pick<TelemetryStatus, "enabled" | "workstation_id"> {
  return { enabled: false, workstation_id: workstationId };
}

function isNg(call: CallRecord): boolean {
  return call.method === "execute" && call.status === "OK" && call.result_status === "NG";
}

/**
 * An upload error as logs and /telemetry show it: the SDK's error name, HTTP status and message, never request
 * headers; a server that echoes a credential in its message gets it masked.
 */
function describeError(err: unknown, credentials: S3Credentials): string {
  const e = err as { name?: string; message?: string; code?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  let text = `${e.name ?? "Error"}${status ? ` (HTTP ${status})` : ""}: ${e.message ?? e.code ?? String(err)}`;
  for (const secret of [credentials.secretAccessKey, credentials.accessKeyId]) text = text.split(secret).join("***");
  return text.slice(0, 500);
}

