import Database from "better-sqlite3";

export type Db = Database.Database;

/**
 * Schema migrations, applied in order and recorded in `schema_migrations`. Append only: a released migration is
 * never edited, because stations upgrade from whatever version they run.
 */
const MIGRATIONS: readonly { version: number; sql: string }[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE packages (
        name         TEXT NOT NULL,
        version      TEXT NOT NULL,
        -- installing → installed | invalid; removing while an uninstall or prune deletes it (finished at recovery)
        state        TEXT NOT NULL CHECK (state IN ('installing', 'installed', 'invalid', 'removing')),
        manifest     TEXT NOT NULL,
        dir          TEXT NOT NULL,
        zip_path     TEXT,
        source_zip   TEXT,
        zip_sha256   TEXT,
        started_at   TEXT NOT NULL,
        installed_at TEXT,
        validation   TEXT,
        warnings     TEXT NOT NULL DEFAULT '[]',
        size_bytes   INTEGER,
        operator     TEXT NOT NULL,
        PRIMARY KEY (name, version)
      );
      CREATE TABLE activations (
        pid     TEXT PRIMARY KEY,
        name    TEXT NOT NULL,
        version TEXT NOT NULL,
        since   TEXT NOT NULL
      );
      CREATE TABLE activation_history (
        id               INTEGER PRIMARY KEY AUTOINCREMENT,
        time             TEXT NOT NULL,
        pid              TEXT NOT NULL,
        -- null name/version: the PID was unbound
        name             TEXT,
        version          TEXT,
        previous_name    TEXT,
        previous_version TEXT,
        action           TEXT NOT NULL,
        operator         TEXT NOT NULL
      );
      CREATE INDEX activation_history_pid ON activation_history (pid, id);
      CREATE TABLE sessions (
        id           TEXT PRIMARY KEY,
        pid          TEXT NOT NULL,
        name         TEXT NOT NULL,
        version      TEXT NOT NULL,
        context      TEXT NOT NULL DEFAULT '{}',
        state        TEXT NOT NULL DEFAULT '{}',
        created_at   TEXT NOT NULL,
        last_used_at TEXT NOT NULL
      );
      CREATE INDEX sessions_last_used ON sessions (last_used_at);
      CREATE TABLE audit (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        time       TEXT NOT NULL,
        operator   TEXT NOT NULL,
        action     TEXT NOT NULL,
        target     TEXT NOT NULL,
        outcome    TEXT NOT NULL,
        error_code TEXT,
        detail     TEXT
      );
      CREATE TABLE records (
        id                INTEGER PRIMARY KEY AUTOINCREMENT,
        time              TEXT NOT NULL,
        pid               TEXT NOT NULL,
        session_id        TEXT,
        step_index        INTEGER,
        method            TEXT NOT NULL,
        name              TEXT NOT NULL,
        version           TEXT NOT NULL,
        status            TEXT NOT NULL,
        error_code        TEXT,
        result_status     TEXT,
        ng_reason         TEXT,
        defect_count      INTEGER NOT NULL DEFAULT 0,
        position_count    INTEGER NOT NULL DEFAULT 0,
        calibration_count INTEGER NOT NULL DEFAULT 0,
        latency_ms        REAL NOT NULL
      );
      CREATE INDEX records_time ON records (time);
      CREATE INDEX records_pid ON records (pid, id);
    `,
  },
  {
    version: 2,
    // Whether the inspection carried a guide image (G3 dual-image inspections, contract §5a); older rows had none.
    sql: "ALTER TABLE records ADD COLUMN guide_image INTEGER NOT NULL DEFAULT 0 CHECK (guide_image IN (0, 1));",
  },
  {
    version: 3,
    // Telemetry (contract §8), read and written only by src/telemetry/store.ts.
    sql: `
      -- NDJSON lines not yet in a batch. A record's row is inserted in the record's own transaction and names the
      -- record (its line is written from it when the batch is sealed, seconds later): the inspection path pays for a
      -- small row, not for a line of text. A log line carries its text.
      CREATE TABLE telemetry_lines (
        id        INTEGER PRIMARY KEY,
        kind      TEXT NOT NULL CHECK (kind IN ('records', 'logs')),
        time_ms   INTEGER NOT NULL,
        record_id INTEGER,
        line      TEXT,
        CHECK ((kind = 'records' AND record_id IS NOT NULL) OR (kind = 'logs' AND line IS NOT NULL))
      );
      -- NG images kept under artifacts/ (path relative to the root), bound by quota and age.
      CREATE TABLE telemetry_artifacts (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        record_id  INTEGER NOT NULL,
        kind       TEXT NOT NULL CHECK (kind IN ('image', 'annotated')),
        path       TEXT NOT NULL UNIQUE,
        bytes      INTEGER NOT NULL,
        width      INTEGER NOT NULL,
        height     INTEGER NOT NULL,
        created_ms INTEGER NOT NULL,
        uploaded   INTEGER NOT NULL DEFAULT 0 CHECK (uploaded IN (0, 1)),
        UNIQUE (record_id, kind)
      );
      CREATE INDEX telemetry_artifacts_created ON telemetry_artifacts (created_ms);
      -- One row per object to upload: a sealed NDJSON batch (body), an artifact (file) or its sidecar (body).
      -- The key and the bytes are fixed when the row is written, so every retry rewrites the same object.
      CREATE TABLE telemetry_outbox (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        kind            TEXT NOT NULL CHECK (kind IN ('records', 'logs', 'images')),
        priority        INTEGER NOT NULL,
        object_key      TEXT NOT NULL UNIQUE,
        content_type    TEXT NOT NULL,
        body            BLOB,
        artifact_id     INTEGER REFERENCES telemetry_artifacts (id) ON DELETE CASCADE,
        metadata        TEXT NOT NULL DEFAULT '{}',
        bytes           INTEGER NOT NULL,
        created_ms      INTEGER NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_ms INTEGER NOT NULL DEFAULT 0,
        last_error      TEXT
      );
      CREATE INDEX telemetry_outbox_due ON telemetry_outbox (priority, id);
      -- Counters and last outcomes shown by GET /telemetry: they survive restarts.
      CREATE TABLE telemetry_state (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
      );
    `,
  },
  {
    version: 4,
    // Records wait for their NDJSON batch in the records table itself: telemetry_state 'records_watermark' is the id
    // of the last record in a sealed batch, moved in the transaction that writes the batch, so the inspection path
    // writes nothing for telemetry. telemetry_lines keeps log lines only. Record lines an older runner left waiting
    // are sent once: the watermark starts just below the first of them (ids only grow, and every later record was
    // unsealed too). Without any, telemetry sets it to the newest record at its first start.
    sql: `
      INSERT INTO telemetry_state (key, value)
        SELECT 'records_watermark', CAST(min(record_id) - 1 AS TEXT) FROM telemetry_lines WHERE kind = 'records' GROUP BY kind;
      DELETE FROM telemetry_lines WHERE kind = 'records';
    `,
  },
  {
    version: 5,
    // A records batch is a range of the records table (its object is written from the rows at upload time, by the
    // uploader thread), not a copy of their lines: sealing writes one small row. Rows of older runners keep their body.
    sql: `
      ALTER TABLE telemetry_outbox ADD COLUMN record_from INTEGER;
      ALTER TABLE telemetry_outbox ADD COLUMN record_through INTEGER;
    `,
  },
  {
    version: 6,
    // The session's trace_id (its context's), carried by the record and its NDJSON line (contract §8 trace_id?).
    sql: "ALTER TABLE records ADD COLUMN trace_id TEXT;",
  },
];

export const SCHEMA_VERSION = MIGRATIONS.at(-1)?.version ?? 0;

/** Opens (creating) the store database: WAL, foreign keys, a busy timeout for a second process, migrations. */
/**
 * Statements compiled once per text (and per row mode): preparing costs more than running the small queries of the
 * inspection path. `raw` statements return rows as arrays.
 */
export function statementCache(db: Db): (text: string, raw?: boolean) => Database.Statement {
  const statements = new Map<string, Database.Statement>();
  return (text, raw = false) => {
    const key = raw ? `raw:${text}` : text;
    let statement = statements.get(key);
    if (!statement) {
      statement = raw ? db.prepare(text).raw(true) : db.prepare(text);
      statements.set(key, statement);
    }
    return statement;
  };
}

export function openDb(file: string): Db {
  const db = new Database(file);
  try {
    db.pragma("journal_mode = WAL");
    // NORMAL in WAL mode is durable against process crashes (our crash model); only power loss can lose the last commit.
    db.pragma("synchronous = NORMAL");
    db.pragma("foreign_keys = ON");
    db.pragma("busy_timeout = 5000");
    migrate(db);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

export function migrate(db: Db): number[] {
  db.exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)");
  const applied = new Set(db.prepare("SELECT version FROM schema_migrations").pluck().all() as number[]);
  const newest = Math.max(0, ...applied);
  if (newest > SCHEMA_VERSION) {
    throw new Error(`runner.db has schema version ${newest}, newer than this runner (${SCHEMA_VERSION}): upgrade the runner or restore an older database`);
  }
  const done: number[] = [];
  for (const m of MIGRATIONS) {
    if (applied.has(m.version)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)").run(m.version, new Date().toISOString());
    })();
    done.push(m.version);
  }
  return done;
}

/** `PRAGMA integrity_check` → "ok" or the problems. */
export function integrityCheck(db: Db): string {
  return (db.pragma("integrity_check") as { integrity_check: string }[]).map((r) => r.integrity_check).join("; ");
}
