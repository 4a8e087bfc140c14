import type { Manifest } from "../manifest/index.js";
import type { ValidationReport } from "../checks/report.js";
import type { Statement } from "better-sqlite3";
import type { SessionRecord as LiveSession } from "../supervisor/sessions.js";
import { statementCache, type Db } from "./db.js";

/*
 * Typed access to runner.db. Public records use the contract's snake_case field names: they go out unchanged as
 * JSON through the HTTP API. Rows are parsed here, once; nothing outside this file writes SQL.
 */

export type PackageState = "installing" | "installed" | "invalid" | "removing";

export interface PackageRecord {
  name: string;
  version: string;
  state: PackageState;
  manifest: Manifest;
  /** deployed/<name>/<version>/ (absolute). */
  dir: string;
  /** The archived copy in zips/; null until archived. */
  zip_path: string | null;
  /** Where the zip was installed from. */
  source_zip: string | null;
  zip_sha256: string | null;
  started_at: string;
  installed_at: string | null;
  /** The smoke checks' report: why a package is `invalid`. */
  validation: ValidationReport | null;
  warnings: string[];
  size_bytes: number | null;
  operator: string;
}

export interface Binding {
  pid: string;
  name: string;
  version: string;
  since: string;
}

export type ActivationAction = "activate" | "switch" | "rollback" | "deactivate" | "uninstall";

export interface HistoryEntry {
  id: number;
  time: string;
  pid: string;
  /** null: the PID was unbound. */
  name: string | null;
  version: string | null;
  previous_name: string | null;
  previous_version: string | null;
  action: ActivationAction;
  operator: string;
}

/** A session row: the supervisor's session record with its times as ISO strings. */
export type SessionRecord = Omit<LiveSession, "created_at" | "last_used_at"> & { created_at: string; last_used_at: string };

export type AuditOutcome = "ok" | "failed" | "invalid";

export interface AuditEntry {
  id: number;
  time: string;
  operator: string;
  action: string;
  target: string;
  outcome: AuditOutcome;
  error_code: string | null;
  detail: string | null;
}

export interface AuditFilter {
  action?: string;
  operator?: string;
  target?: string;
  outcome?: AuditOutcome;
  /** Inclusive. Runner takes any ISO 8601 time or epoch ms (runner/since.ts); here it is in the stored form. */
  since?: string;
  /** Newest first; default 100. */
  limit?: number;
}

export interface InspectionRecord {
  id: number;
  time: string;
  pid: string;
  session_id: string | null;
  step_index: number | null;
  method: string;
  name: string;
  version: string;
  status: string;
  error_code: string | null;
  result_status: string | null;
  ng_reason: string | null;
  defect_count: number;
  position_count: number;
  calibration_count: number;
  latency_ms: number;
  /** The inspection carried a guide image (G3). */
  guide_image: boolean;
  /** The session context's trace_id, when it had one. */
  trace_id: string | null;
  /** Images are kept for it (an NG inspection with telemetry's ng_images on): GET /records/{id}/images. */
  images: boolean;
}

export type NewInspectionRecord = Omit<InspectionRecord, "id" | "time" | "guide_image" | "trace_id" | "images"> & { time?: string; guide_image?: boolean; trace_id?: string | null };

export interface RecordFilter {
  pid?: string;
  session_id?: string;
  name?: string;
  version?: string;
  /** OK or ERROR: did the call itself succeed. */
  status?: string;
  result_status?: string;
  /** Inclusive. Runner takes any ISO 8601 time or epoch ms (runner/since.ts); here it is in the stored form. */
  since?: string;
  /** Newest first; default 100. */
  limit?: number;
}

export interface RetentionBound {
  /** Keep at most this many records (the newest). */
  maxRows?: number;
  /** Drop records older than this. */
  maxAgeMs?: number;
}

export interface PackageFilter {
  state?: PackageState;
  name?: string;
}

/** SQLite has no booleans: guide_image is stored as 0/1. */
type RecordRow = Omit<InspectionRecord, "guide_image" | "images"> & { guide_image: number; images: number };

interface PackageRow {
  name: string; version: string; state: PackageState; manifest: string; dir: string; zip_path: string | null;
  source_zip: string | null; zip_sha256: string | null; started_at: string; installed_at: string | null;
  validation: string | null; warnings: string; size_bytes: number | null; operator: string;
}

interface SessionRow extends Omit<SessionRecord, "context" | "state"> { context: string; state: string }

const now = (): string => new Date().toISOString();

function toPackage(row: PackageRow): PackageRecord {
  return {
    ...row,
    manifest: JSON.parse(row.manifest) as Manifest,
    validation: row.validation === null ? null : (JSON.parse(row.validation) as ValidationReport),
    warnings: JSON.parse(row.warnings) as string[],
  };
}

function toSession(row: SessionRow): SessionRecord {
  return { ...row, context: JSON.parse(row.context) as Record<string, unknown>, state: JSON.parse(row.state) as Record<string, unknown> };
}

/** `WHERE a = ? AND b >= ?` from the defined filter fields. */
function where(clauses: readonly [string, unknown][]): { sql: string; params: unknown[] } {
  const used = clauses.filter(([, v]) => v !== undefined);
  return { sql: used.length === 0 ? "" : `WHERE ${used.map(([c]) => c).join(" AND ")}`, params: used.map(([, v]) => v) };
}

const limitOf = (limit: number | undefined): number => Math.max(1, Math.min(limit ?? 100, 10_000));

export class Repository {

  private readonly sql: (text: string) => Statement;

  constructor(readonly db: Db) {
    this.sql = statementCache(db);
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  // ---- packages ---------------------------------------------------------------------------------------------------

  getPackage(name: string, version: string): PackageRecord | undefined {
    const row = this.sql("SELECT * FROM packages WHERE name = ? AND version = ?").get(name, version) as PackageRow | undefined;
    return row && toPackage(row);
  }

  listPackages(filter: PackageFilter = {}): PackageRecord[] {
    const w = where([["state = ?", filter.state], ["name = ?", filter.name]]);
    const rows = this.sql(`SELECT * FROM packages ${w.sql} ORDER BY name, started_at, version`).all(...w.params) as PackageRow[];
    return rows.map(toPackage);
  }

  /** The row that marks an install in progress: written before anything touches the file system. */
  beginInstall(p: { name: string; version: string; manifest: Manifest; dir: string; source_zip: string; zip_sha256: string; operator: string }): void {
    this.sql(`INSERT INTO packages (name, version, state, manifest, dir, source_zip, zip_sha256, started_at, operator)
      VALUES (?, ?, 'installing', ?, ?, ?, ?, ?, ?)`)
      .run(p.name, p.version, JSON.stringify(p.manifest), p.dir, p.source_zip, p.zip_sha256, now(), p.operator);
  }

  finishInstall(name: string, version: string, p: { state: "installed" | "invalid"; zip_path: string; validation: ValidationReport; warnings: string[]; size_bytes: number }): void {
    this.sql(`UPDATE packages SET state = ?, zip_path = ?, validation = ?, warnings = ?, size_bytes = ?, installed_at = ?
      WHERE name = ? AND version = ?`)
      .run(p.state, p.zip_path, JSON.stringify(p.validation), JSON.stringify(p.warnings), p.size_bytes, now(), name, version);
  }

  setValidation(name: string, version: string, state: "installed" | "invalid", validation: ValidationReport): void {
    this.sql("UPDATE packages SET state = ?, validation = ? WHERE name = ? AND version = ?").run(state, JSON.stringify(validation), name, version);
  }

  setState(name: string, version: string, state: PackageState): void {
    this.sql("UPDATE packages SET state = ? WHERE name = ? AND version = ?").run(state, name, version);
  }

  deletePackage(name: string, version: string): void {
    this.sql("DELETE FROM packages WHERE name = ? AND version = ?").run(name, version);
  }

  // ---- activations ------------------------------------------------------------------------------------------------

  bindings(): Binding[] {
    return this.sql("SELECT * FROM activations ORDER BY pid").all() as Binding[];
  }

  binding(pid: string): Binding | undefined {
    return this.sql("SELECT * FROM activations WHERE pid = ?").get(pid) as Binding | undefined;
  }

  bindingsOf(name: string, version: string): Binding[] {
    return this.sql("SELECT * FROM activations WHERE name = ? AND version = ? ORDER BY pid").all(name, version) as Binding[];
  }

  /** Binds (or, with `to` null, unbinds) a PID and appends the change to the history, in one transaction. */
  rebind(pid: string, to: { name: string; version: string } | null, action: ActivationAction, operator: string): void {
    this.transaction(() => {
      const previous = this.binding(pid);
      const time = now();
      if (to === null) this.sql("DELETE FROM activations WHERE pid = ?").run(pid);
      else {
        this.sql(`INSERT INTO activations (pid, name, version, since) VALUES (?, ?, ?, ?)
          ON CONFLICT (pid) DO UPDATE SET name = excluded.name, version = excluded.version, since = excluded.since`)
          .run(pid, to.name, to.version, time);
      }
      this.sql(`INSERT INTO activation_history (time, pid, name, version, previous_name, previous_version, action, operator)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
        .run(time, pid, to?.name ?? null, to?.version ?? null, previous?.name ?? null, previous?.version ?? null, action, operator);
    });
  }

  /** The newest history entry of a PID: the change that made its current binding (or unbinding). */
  lastChange(pid: string): HistoryEntry | undefined {
    return this.sql("SELECT * FROM activation_history WHERE pid = ? ORDER BY id DESC LIMIT 1").get(pid) as HistoryEntry | undefined;
  }

  history(pid?: string, limit?: number): HistoryEntry[] {
    const w = where([["pid = ?", pid]]);
    return this.sql(`SELECT * FROM activation_history ${w.sql} ORDER BY id DESC LIMIT ?`).all(...w.params, limitOf(limit)) as HistoryEntry[];
  }

  // ---- sessions ---------------------------------------------------------------------------------------------------

  createSession(s: { id: string; pid: string; name: string; version: string; context?: Record<string, unknown> }): SessionRecord {
    const time = now();
    this.sql("INSERT INTO sessions (id, pid, name, version, context, state, created_at, last_used_at) VALUES (?, ?, ?, ?, ?, '{}', ?, ?)")
      .run(s.id, s.pid, s.name, s.version, JSON.stringify(s.context ?? {}), time, time);
    return this.getSession(s.id)!;
  }

  getSession(id: string): SessionRecord | undefined {
    const row = this.sql("SELECT * FROM sessions WHERE id = ?").get(id) as SessionRow | undefined;
    return row && toSession(row);
  }

  /** Stores the state after a call and marks the session used. */
  saveSessionState(id: string, state: Record<string, unknown>): void {
    this.sql("UPDATE sessions SET state = ?, last_used_at = ? WHERE id = ?").run(JSON.stringify(state), now(), id);
  }

  /** Writes a session as the supervisor holds it (create or update), keeping the state across runner restarts. */
  upsertSession(s: SessionRecord): void {
    this.sql(`INSERT INTO sessions (id, pid, name, version, context, state, created_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (id) DO UPDATE SET state = excluded.state, context = excluded.context, last_used_at = excluded.last_used_at`)
      .run(s.id, s.pid, s.name, s.version, JSON.stringify(s.context), JSON.stringify(s.state), s.created_at, s.last_used_at);
  }

  allSessions(): SessionRecord[] {
    return (this.sql("SELECT * FROM sessions ORDER BY created_at").all() as SessionRow[]).map(toSession);
  }

  deleteSession(id: string): boolean {
    return this.sql("DELETE FROM sessions WHERE id = ?").run(id).changes > 0;
  }

  /** Sessions idle longer than `ttlMs` are removed; returns their ids. */
  expireSessions(ttlMs: number, at = Date.now()): string[] {
    const cutoff = new Date(at - ttlMs).toISOString();
    return this.transaction(() => {
      const ids = this.sql("SELECT id FROM sessions WHERE last_used_at < ?").pluck().all(cutoff) as string[];
      this.sql("DELETE FROM sessions WHERE last_used_at < ?").run(cutoff);
      return ids;
    });
  }

  sessionCount(name: string, version: string): number {
    return this.sql("SELECT COUNT(*) FROM sessions WHERE name = ? AND version = ?").pluck().get(name, version) as number;
  }

  // ---- audit ------------------------------------------------------------------------------------------------------

  addAudit(e: { operator: string; action: string; target: string; outcome: AuditOutcome; error_code?: string | null; detail?: string | null }): void {
    this.sql("INSERT INTO audit (time, operator, action, target, outcome, error_code, detail) VALUES (?, ?, ?, ?, ?, ?, ?)")
      .run(now(), e.operator, e.action, e.target, e.outcome, e.error_code ?? null, e.detail ?? null);
  }

  audit(filter: AuditFilter = {}): AuditEntry[] {
    const w = where([["action = ?", filter.action], ["operator = ?", filter.operator], ["target = ?", filter.target], ["outcome = ?", filter.outcome], ["time >= ?", filter.since]]);
    return this.sql(`SELECT * FROM audit ${w.sql} ORDER BY id DESC LIMIT ?`).all(...w.params, limitOf(filter.limit)) as AuditEntry[];
  }

  // ---- inspection records -----------------------------------------------------------------------------------------

  addRecord(r: NewInspectionRecord): number {
    const info = this.sql(`INSERT INTO records (time, pid, session_id, step_index, method, name, version, status, error_code,
        result_status, ng_reason, defect_count, position_count, calibration_count, latency_ms, guide_image, trace_id)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
      .run(r.time ?? now(), r.pid, r.session_id, r.step_index, r.method, r.name, r.version, r.status, r.error_code,
        r.result_status, r.ng_reason, r.defect_count, r.position_count, r.calibration_count, r.latency_ms, r.guide_image === true ? 1 : 0,
        r.trace_id ?? null);
    return Number(info.lastInsertRowid);
  }

  records(filter: RecordFilter = {}): InspectionRecord[] {
    const w = where([
      ["pid = ?", filter.pid], ["session_id = ?", filter.session_id], ["name = ?", filter.name], ["version = ?", filter.version],
      ["status = ?", filter.status], ["result_status = ?", filter.result_status], ["time >= ?", filter.since],
    ]);
    const rows = this.sql(`SELECT *, EXISTS (SELECT 1 FROM telemetry_artifacts a WHERE a.record_id = records.id) AS images
      FROM records ${w.sql} ORDER BY id DESC LIMIT ?`).all(...w.params, limitOf(filter.limit)) as RecordRow[];
    return rows.map((row) => ({ ...row, guide_image: row.guide_image === 1, images: row.images === 1 }));
  }

  /** Applies the retention bound to records below `keepFrom` (an id); returns how many were dropped. Cheap enough to call after every insert batch. */
  pruneRecords(bound: RetentionBound, at = Date.now(), keepFrom = Number.MAX_SAFE_INTEGER): number {
    return this.transaction(() => {
      let dropped = 0;
      if (bound.maxAgeMs !== undefined) {
        dropped += this.sql("DELETE FROM records WHERE time < ? AND id < ?").run(new Date(at - bound.maxAgeMs).toISOString(), keepFrom).changes;
      }
      if (bound.maxRows !== undefined) {
        // ids grow with time and only the oldest rows are ever deleted, so the newest maxRows rows are the ids above
        // max(id) − maxRows: two b-tree lookups, where counting maxRows rows down (OFFSET) walked the whole table.
        dropped += this.sql("DELETE FROM records WHERE id <= (SELECT max(id) FROM records) - ? AND id < ?")
          .run(Math.max(0, bound.maxRows), keepFrom).changes;
      }
      return dropped;
    });
  }
}
