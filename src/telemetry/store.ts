import type { Statement } from "better-sqlite3";
import { statementCache, type Db } from "../store/db.js";
import { batchIngestId, ingestId, objectKey, type TelemetryKind } from "./keys.js";
import { nextRecordBatch, type RecordRange } from "./record-batches.js";

/*
 * Typed access to runner.db's telemetry tables (migrations 3 to 5): records past the watermark and log lines waiting
 * for a batch, the outbox, kept artifacts and counters. Nothing else writes them.
 */

/** Records and health first, then logs, then images: a backlog of images never holds up a record. */
export const PRIORITY: Record<TelemetryKind, number> = { records: 0, logs: 1, images: 2 };

export interface OutboxItem {
  id: number;
  kind: TelemetryKind;
  object_key: string;
  content_type: string;
  /** The object's bytes; null: written from `records`, or the artifact's file. */
  body: Buffer | null;
  /** A records batch: the range of the records table its object is written from. */
  records: RecordRange | null;
  artifact_id: number | null;
  /** Relative path of the artifact file under the root (null for bodies). */
  path: string | null;
  metadata: Record<string, string>;
  bytes: number;
  created_ms: number;
  attempts: number;
}

export interface Artifact {
  id: number;
  record_id: number;
  kind: "image" | "annotated";
  /** Relative to the store root. */
  path: string;
  bytes: number;
  width: number;
  height: number;
  created_ms: number;
  uploaded: boolean;
}

export interface NewArtifact {
  kind: Artifact["kind"];
  path: string;
  bytes: number;
  width: number;
  height: number;
  /** Upload it (its object key and metadata); none: kept locally only. */
  upload?: { object_key: string; metadata: Record<string, string> };
}

export interface BatchThresholds {
  max_lines: number;
  max_age_ms: number;
  max_bytes: number;
}

export interface Counters {
  bytes_sent: number;
  objects_sent: number;
  dropped_by_quota: number;
  failures: number;
  last_success_ms: number | null;
  last_error: string | null;
  last_error_ms: number | null;
  paused: boolean;
}

const COUNTER_DEFAULTS: Counters = {
  bytes_sent: 0, objects_sent: 0, dropped_by_quota: 0, failures: 0, last_success_ms: null, last_error: null, last_error_ms: null, paused: false,
};

interface OutboxRow extends Omit<OutboxItem, "metadata" | "records"> { metadata: string; record_from: number | null; record_through: number | null }
interface ArtifactRow extends Omit<Artifact, "uploaded"> { uploaded: number }
/** A log line waiting for its batch. */
interface LineRow { id: number; time_ms: number; line: string }
/** telemetry_state key: records with a greater id are not in a batch yet (migration 4). */
const WATERMARK = "records_watermark";

const toArtifact = (r: ArtifactRow): Artifact => ({ ...r, uploaded: r.uploaded === 1 });

export interface TelemetryStoreOptions {
  prefix: string;
  workstationId: string;
  /** Inspection records are sent (`upload.records`); when not, the watermark just follows the records table. */
  records?: boolean;
}

export class TelemetryStore {
  /** The id of the last record in a sealed batch; kept in telemetry_state, moved only by a sealing transaction. */
  #watermark: number;

  readonly #statement: (text: string, raw?: boolean) => Statement;
  readonly #records: boolean;

  constructor(readonly db: Db, private readonly keyOf: TelemetryStoreOptions) {
    this.#statement = statementCache(db);
    this.#records = keyOf.records ?? true;
    const stored = this.sql("SELECT value FROM telemetry_state WHERE key = ?").pluck().get(WATERMARK) as string | undefined;
    if (stored === undefined) {
      // Telemetry's first start on this runner.db: the records it already holds are not reported.
      this.#watermark = this.#maxRecordId();
      this.#set(WATERMARK, this.#watermark);
    } else {
      this.#watermark = Number(JSON.parse(stored));
    }
  }

  private sql(text: string): Statement {
    return this.#statement(text);
  }

  /** Log lines `[time_ms, line]`, in one transaction. */
  addLogLines(lines: readonly [number, string][]): void {
    this.db.transaction(() => {
      for (const [timeMs, line] of lines) this.sql("INSERT INTO telemetry_lines (kind, time_ms, line) VALUES ('logs', ?, ?)").run(timeMs, line);
    })();
  }

  #maxRecordId(): number {
    return this.sql("SELECT coalesce(max(id), 0) FROM records").pluck().get() as number;
  }

  /** The oldest waiting log lines. */
  #waitingLogs(limit: number): LineRow[] {
    return this.sql("SELECT id, time_ms, line FROM telemetry_lines WHERE kind = 'logs' ORDER BY id LIMIT ?").all(limit) as LineRow[];
  }

  /**
   * Seals waiting lines of `kind` into NDJSON batches, in one transaction each: full batches (max_lines or
   * max_bytes) always, the rest when its oldest line is max_age_ms old or `all` is set. Returns how many were sealed.
   * Records: the batch is a range of the records table, its outbox row and the watermark move together. Logs: the
   * batch's lines become its body and are deleted.
   */
  sealBatches(kind: "records" | "logs", limits: BatchThresholds, nowMs: number, all = false): number {
    if (kind === "logs") return this.#sealLogs(limits, nowMs, all);
    if (!this.#records) {
      this.#skipRecords();
      return 0;
    }
    const { workstationId, prefix } = this.keyOf;
    let sealed = 0;
    for (;;) {
      const batch = nextRecordBatch(this.db, workstationId, this.#watermark, limits);
      if (batch === undefined || (!batch.full && !all && nowMs - batch.first.time_ms < limits.max_age_ms)) return sealed;
      const { time_ms: timeMs, session_id: sessionId, step_index: step } = batch.first;
      const ingest = batchIngestId(workstationId, { time_ms: timeMs, record: { ingest_id: ingestId(workstationId, sessionId ?? "", step ?? 0, timeMs), id: batch.from } });
      const key = objectKey({ prefix, workstationId, kind, timeMs, ingestId: ingest, suffix: ".ndjson" });
      this.db.transaction(() => {
        this.sql(`INSERT INTO telemetry_outbox (kind, priority, object_key, content_type, record_from, record_through, metadata, bytes, created_ms)
          VALUES ('records', ?, ?, 'application/x-ndjson', ?, ?, ?, ?, ?)`)
          .run(PRIORITY.records, key, batch.from, batch.through, JSON.stringify({ lines: String(batch.lines) }), batch.bytes, timeMs);
        this.#set(WATERMARK, batch.through);
      })();
      // Moved only once the transaction is committed: a failed one leaves the records waiting.
      this.#watermark = batch.through;
      sealed += 1;
    }
  }

  #sealLogs(limits: BatchThresholds, nowMs: number, all: boolean): number {
    let sealed = 0;
    for (;;) {
      let through: number | undefined;
      this.db.transaction(() => {
        const rows = this.#waitingLogs(limits.max_lines);
        const first = rows[0];
        if (first === undefined) return;
        let bytes = 0;
        let take = 0;
        for (const row of rows) {
          const size = Buffer.byteLength(row.line) + 1;
          if (take > 0 && bytes + size > limits.max_bytes) break;
          bytes += size;
          take += 1;
        }
        const full = take < rows.length || rows.length === limits.max_lines || bytes >= limits.max_bytes;
        if (!full && !all && nowMs - first.time_ms < limits.max_age_ms) return;
        const batch = rows.slice(0, take);
        const body = Buffer.from(`${batch.map((r) => r.line).join("\n")}\n`);
        const ingest = batchIngestId(this.keyOf.workstationId, { time_ms: first.time_ms, logBatch: this.#nextLogBatch() });
        const key = objectKey({ prefix: this.keyOf.prefix, workstationId: this.keyOf.workstationId, kind: "logs", timeMs: first.time_ms, ingestId: ingest, suffix: ".ndjson" });
        this.sql(`INSERT INTO telemetry_outbox (kind, priority, object_key, content_type, body, metadata, bytes, created_ms)
          VALUES ('logs', ?, ?, 'application/x-ndjson', ?, ?, ?, ?)`)
          .run(PRIORITY.logs, key, body, JSON.stringify({ lines: String(batch.length) }), body.length, first.time_ms);
        through = batch.at(-1)!.id;
        this.sql("DELETE FROM telemetry_lines WHERE kind = 'logs' AND id <= ?").run(through);
      })();
      if (through === undefined) return sealed;
      sealed += 1;
    }
  }

  /**
   * The oldest record telemetry still needs: the first of a batch not uploaded yet, else the first past the
   * watermark. Retention keeps every record from it on (a batch's object is written from the table).
   */
  oldestNeededRecord(): number {
    const pending = this.sql("SELECT min(record_from) FROM telemetry_outbox").pluck().get() as number | null;
    return Math.min(pending ?? Infinity, this.#watermark + 1);
  }

  /** Records are not sent: the watermark follows the table, so switching them on later does not send the backlog. */
  #skipRecords(): void {
    const max = this.#maxRecordId();
    if (max === this.#watermark) return;
    this.#set(WATERMARK, max);
    this.#watermark = max;
  }

  /** Registers a record's kept images and, in the same transaction, their uploads (each image plus its sidecar JSON). */
  addArtifacts(recordId: number, createdMs: number, items: readonly NewArtifact[], sidecar?: { object_key: string; body: string }): Artifact[] {
    return this.db.transaction(() => items.map((a) => {
      const id = Number(this.sql(`INSERT INTO telemetry_artifacts (record_id, kind, path, bytes, width, height, created_ms, uploaded)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)`).run(recordId, a.kind, a.path, a.bytes, a.width, a.height, createdMs, a.upload ? 0 : 1).lastInsertRowid);
      if (a.upload) {
        this.sql(`INSERT INTO telemetry_outbox (kind, priority, object_key, content_type, artifact_id, metadata, bytes, created_ms)
          VALUES ('images', ?, ?, 'image/jpeg', ?, ?, ?, ?)`)
          .run(PRIORITY.images, a.upload.object_key, id, JSON.stringify(a.upload.metadata), a.bytes, createdMs);
        if (a.kind === "image" && sidecar) {
          const body = Buffer.from(sidecar.body);
          this.sql(`INSERT INTO telemetry_outbox (kind, priority, object_key, content_type, body, artifact_id, bytes, created_ms)
            VALUES ('images', ?, ?, 'application/json', ?, ?, ?, ?)`).run(PRIORITY.images, sidecar.object_key, body, id, body.length, createdMs);
        }
      }
      return { id, record_id: recordId, kind: a.kind, path: a.path, bytes: a.bytes, width: a.width, height: a.height, created_ms: createdMs, uploaded: !a.upload };
    }))();
  }

  /** The next object due for upload: by priority, then age. */
  nextDue(nowMs: number): OutboxItem | undefined {
    const row = this.sql(`SELECT o.id, o.kind, o.object_key, o.content_type, o.body, o.record_from, o.record_through, o.artifact_id, o.metadata,
        o.bytes, o.created_ms, o.attempts, CASE WHEN o.body IS NULL THEN a.path END AS path
      FROM telemetry_outbox o LEFT JOIN telemetry_artifacts a ON a.id = o.artifact_id
      WHERE o.next_attempt_ms <= ? ORDER BY o.priority, o.id LIMIT 1`).get(nowMs) as OutboxRow | undefined;
    if (row === undefined) return undefined;
    const { record_from: from, record_through: through, ...rest } = row;
    return { ...rest, records: from === null || through === null ? null : { from, through }, metadata: JSON.parse(row.metadata) as Record<string, string> };
  }

  /** When the earliest waiting object may be tried (null: the outbox is empty). */
  nextAttemptAt(): number | null {
    return this.sql("SELECT min(next_attempt_ms) FROM telemetry_outbox").pluck().get() as number | null;
  }

  /** Every waiting object is due now (an operator's resume). */
  retryNow(): void {
    this.sql("UPDATE telemetry_outbox SET next_attempt_ms = 0").run();
  }

  /** The object (`bytes` long) is stored: the row goes, its artifact (a file upload) is marked uploaded, and the counters move. */
  markSent(item: OutboxItem, nowMs: number, bytes = item.bytes): void {
    this.db.transaction(() => {
      this.sql("DELETE FROM telemetry_outbox WHERE id = ?").run(item.id);
      if (item.body === null && item.artifact_id !== null) this.sql("UPDATE telemetry_artifacts SET uploaded = 1 WHERE id = ?").run(item.artifact_id);
      this.#bump("bytes_sent", bytes);
      this.#bump("objects_sent", 1);
      this.#set("last_success_ms", nowMs);
    })();
  }

  markFailed(item: OutboxItem, error: string, nowMs: number, retryAtMs: number): void {
    this.db.transaction(() => {
      this.sql("UPDATE telemetry_outbox SET attempts = attempts + 1, next_attempt_ms = ?, last_error = ? WHERE id = ?").run(retryAtMs, error, item.id);
      this.#bump("failures", 1);
      this.#set("last_error", error);
      this.#set("last_error_ms", nowMs);
    })();
  }

  /** Outbox rows and waiting lines per kind, and the oldest pending item's time. */
  depth(): { outbox: Record<TelemetryKind, number>; lines: Record<"records" | "logs", number>; oldest_ms: number | null; bytes: number } {
    const outbox = { records: 0, logs: 0, images: 0 };
    for (const r of this.sql("SELECT kind, count(*) AS n FROM telemetry_outbox GROUP BY kind").all() as { kind: TelemetryKind; n: number }[]) outbox[r.kind] = r.n;
    const records = this.#records ? this.sql("SELECT count(*) FROM records WHERE id > ?").pluck().get(this.#watermark) as number : 0;
    const lines = { records, logs: this.sql("SELECT count(*) FROM telemetry_lines WHERE kind = 'logs'").pluck().get() as number };
    const oldestRecord = records === 0 ? undefined : this.sql("SELECT time FROM records WHERE id > ? ORDER BY id LIMIT 1").pluck().get(this.#watermark) as string;
    const oldest = this.sql(`SELECT min(t) FROM (SELECT min(created_ms) AS t FROM telemetry_outbox UNION ALL SELECT min(time_ms) FROM telemetry_lines
      UNION ALL SELECT ?)`).pluck().get(oldestRecord === undefined ? null : Date.parse(oldestRecord)) as number | null;
    const bytes = this.sql("SELECT coalesce(sum(bytes), 0) FROM telemetry_outbox").pluck().get() as number;
    return { outbox, lines, oldest_ms: oldest, bytes };
  }

  counters(): Counters {
    const out: Record<string, unknown> = { ...COUNTER_DEFAULTS };
    for (const r of this.sql("SELECT key, value FROM telemetry_state").all() as { key: string; value: string }[]) out[r.key] = JSON.parse(r.value);
    return out as unknown as Counters;
  }

  setPaused(paused: boolean): void {
    this.#set("paused", paused);
  }

  // ---- artifacts --------------------------------------------------------------------------------------------------

  artifactsOf(recordId: number): Artifact[] {
    return (this.sql("SELECT * FROM telemetry_artifacts WHERE record_id = ? ORDER BY id").all(recordId) as ArtifactRow[]).map(toArtifact);
  }

  /** Every kept artifact, oldest first (quota and age are applied in that order). */
  artifacts(): Artifact[] {
    return (this.sql("SELECT * FROM telemetry_artifacts ORDER BY created_ms, id").all() as ArtifactRow[]).map(toArtifact);
  }

  artifactTotals(): { count: number; bytes: number } {
    return this.sql("SELECT count(*) AS count, coalesce(sum(bytes), 0) AS bytes FROM telemetry_artifacts").get() as { count: number; bytes: number };
  }

  /** Forgets artifacts (their pending uploads go with them); `forced` of them were not uploaded yet and are counted. */
  removeArtifacts(ids: readonly number[], forced: number): void {
    if (ids.length === 0) return;
    this.db.transaction(() => {
      for (const id of ids) this.sql("DELETE FROM telemetry_artifacts WHERE id = ?").run(id);
      if (forced > 0) this.#bump("dropped_by_quota", forced);
    })();
  }

  /** The next logs batch number of this runner.db (inside the sealing transaction). */
  #nextLogBatch(): number {
    return this.sql(`INSERT INTO telemetry_state (key, value) VALUES ('log_batches', '1')
      ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1 RETURNING CAST(value AS INTEGER)`).pluck().get() as number;
  }

  #bump(key: keyof Counters, by: number): void {
    this.sql(`INSERT INTO telemetry_state (key, value) VALUES (?, ?)
      ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + excluded.value`).run(key, String(by));
  }

  #set(key: keyof Counters | typeof WATERMARK, value: unknown): void {
    this.sql("INSERT INTO telemetry_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value").run(key, JSON.stringify(value));
  }
}
