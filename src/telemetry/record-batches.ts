import type { Statement } from "better-sqlite3";
import { statementCache, type Db } from "../store/db.js";
import { recordLine } from "./keys.js";

/*
 * Records batches (contract §8). A sealed batch is a range of the records table, not a copy of its lines: the seal
 * writes one small outbox row, and the NDJSON object is written from the rows when it is uploaded (by the uploader
 * thread, off the inspection path). Both halves live here: where the next batch ends, and the object's bytes.
 */

/** Records `from`..`through` (ids, inclusive); rows pruned meanwhile are simply not in the object. */
export interface RecordRange {
  from: number;
  through: number;
}

/** The next batch the waiting records make, as the seal decides it. */
export interface NextRecordBatch extends RecordRange {
  lines: number;
  /** Estimated bytes of the object (see lineEstimate). */
  bytes: number;
  /** max_lines or max_bytes reached: sealed now, whatever its age. */
  full: boolean;
  /** The first record's time and call identity: the batch's key and age come from it. */
  first: { time_ms: number; session_id: string | null; step_index: number | null };
}

/** The text fields of a record line and how often each is in it (session_id twice: once in its ingest_id). */
const TEXT_FIELDS = [
  ["session_id", 2], ["pid", 1], ["trace_id", 1], ["method", 1], ["status", 1], ["name", 1], ["version", 1], ["error_code", 1], ["result_status", 1], ["ng_reason", 1],
] as const;

type TextFields = { [K in (typeof TEXT_FIELDS)[number][0]]?: string | null };

export interface LineEstimate {
  /** A record line's bytes from its row, in SQL. */
  sql: string;
  /** The fewest bytes the estimate gives a line. */
  least: number;
  /** The same from a record in hand, counting UTF-16 units for bytes (so at most the SQL figure): when to seal. */
  of(record: TextFields): number;
  /** The seal's query: the records after :after, up to :lines of them, with their running byte total. */
  nextBatch: string;
}

/**
 * A record line's bytes estimated without building it: the widest line of empty fields (recordLine of a template
 * with the longest numbers) plus the UTF-8 length of each text field. Exact up to JSON escapes and narrower numbers,
 * which only make real lines shorter, so a batch cut by it stays within max_bytes unless its text needs escaping.
 */
function lineEstimate(workstationId: string): LineEstimate {
  const widest = recordLine(workstationId, {
    time: "9999-12-31T23:59:59.999Z", pid: "", trace_id: "", session_id: "", step_index: -2147483648, method: "", name: "", version: "", status: "",
    error_code: null, result_status: null, ng_reason: null, defect_count: -2147483648, latency_ms: -Number.MAX_VALUE,
  });
  // A null prints as `null` (counted here); a string as its bytes plus quotes, so `+ length` bounds both. A line
  // without a trace_id has no such key: counted all the same, it only makes the estimate larger.
  const least = Buffer.byteLength(JSON.stringify(widest)) + 1;
  const sql = [String(least), ...TEXT_FIELDS.map(([c, times]) => `${times} * coalesce(octet_length(${c}), 0)`)].join(" + ");
  return {
    sql,
    least,
    of: (r) => {
      let bytes = least;
      for (const [c, times] of TEXT_FIELDS) bytes += times * (r[c]?.length ?? 0);
      return bytes;
    },
    nextBatch: `SELECT count(*), count(*) FILTER (WHERE cum <= :bytes), max(id) FILTER (WHERE cum <= :bytes), max(cum) FILTER (WHERE cum <= :bytes),
        min(id), min(cum)
      FROM (SELECT id, sum(${sql}) OVER (ORDER BY id ROWS UNBOUNDED PRECEDING) AS cum FROM records WHERE id > :after ORDER BY id LIMIT :lines)`,
  };
}

const caches = new WeakMap<Db, (text: string, raw?: boolean) => Statement>();
/** A raw statement of `db`, prepared once. */
function statement(db: Db, text: string): Statement {
  let cache = caches.get(db);
  if (cache === undefined) caches.set(db, cache = statementCache(db));
  return cache(text, true);
}

const estimates = new Map<string, LineEstimate>();

/** The line estimate of a station's records (built once per workstation id). */
export function lineEstimateOf(workstationId: string): LineEstimate {
  let e = estimates.get(workstationId);
  if (e === undefined) estimates.set(workstationId, e = lineEstimate(workstationId));
  return e;
}

/**
 * The batch the records after `watermark` make: up to `maxLines` of them, as many as fit in `maxBytes` (at least
 * one). One query in SQLite over no more rows than can fit (every line is at least the fixed part): the seal costs
 * well under a microsecond per record.
 */
export function nextRecordBatch(db: Db, workstationId: string, watermark: number, limits: { max_lines: number; max_bytes: number }): NextRecordBatch | undefined {
  const query = lineEstimateOf(workstationId);
  // One row past what can fit, so that a batch cut by bytes is seen as full.
  const scan = Math.min(limits.max_lines, Math.floor(limits.max_bytes / query.least) + 1);
  const [rows, fit, fitThrough, fitBytes, firstId, firstBytes] = statement(db, query.nextBatch).get({ after: watermark, lines: scan, bytes: limits.max_bytes }) as [number, number, number | null, number | null, number | null, number | null];
  if (rows === 0 || firstId === null) return undefined;
  const [through, bytes, lines] = fit > 0 ? [fitThrough!, fitBytes!, fit] : [firstId, firstBytes!, 1];
  const [time, sessionId, stepIndex] = statement(db, "SELECT time, session_id, step_index FROM records WHERE id = ?").get(firstId) as [string, string | null, number | null];
  return {
    from: firstId, through, lines, bytes, full: lines < rows || lines === limits.max_lines || bytes >= limits.max_bytes,
    first: { time_ms: Date.parse(time), session_id: sessionId, step_index: stepIndex },
  };
}

/**
 * A records batch's NDJSON, written by SQLite in one statement: the lines of recordLine (keys.ts), key for key,
 * json_quote escaping text as JSON.stringify does. About half the CPU of building them in JS (14 columns read into JS
 * values, stringify, join, UTF-8 encoding), in a microbenchmark. Latencies are kept to the µs (the pool rounds them), and
 * `%.15g` prints such a number as JSON.stringify does.
 */
function recordBatchSql(): string {
  const ms = "CAST(round((julianday(time) - 2440587.5) * 86400000) AS INTEGER)";
  const session = "coalesce(session_id, '')";
  const step = "coalesce(step_index, 0)";
  const key = (name: string, value: string): string => `',"${name}":', ${value}`;
  // concat() builds the line in one pass (a chain of || copies it once per field). trace_id is the one key a line
  // has only when the record has a value (keys.ts leaves it out when null).
  const parts = [
    `'{"timestamp_ms":', ${ms}`, key("workstation_id", "json_quote(:ws)"), key("session_id", `json_quote(${session})`), key("step_index", step),
    key("pid", "json_quote(pid)"), `iif(trace_id IS NULL, '', concat(${key("trace_id", "json_quote(trace_id)")}))`,
    key("method", "json_quote(method)"), key("status", "json_quote(status)"), key("error_code", "json_quote(error_code)"),
    key("latency_ms", "printf('%.15g', latency_ms)"), key("name", "json_quote(name)"), key("version", "json_quote(version)"),
    key("result_status", "json_quote(result_status)"), key("ng_reason", "json_quote(ng_reason)"), key("defect_rects_count", "defect_count"),
    key("ingest_id", `json_quote(:ws || '/' || ${session} || '/' || ${step} || '/' || ${ms})`),
  ];
  const line = `concat(${parts.join(", ")}, '}', char(10))`;
  return `SELECT CAST(string_agg(${line}, '' ORDER BY id) AS BLOB), count(*) FROM records WHERE id BETWEEN :from AND :through`;
}

const RECORD_BATCH_SQL = recordBatchSql();

/** The NDJSON object of a records batch: one line per record of the range still in the table, in id order. */
export function recordBatchBody(db: Db, workstationId: string, range: RecordRange): { body: Buffer; lines: number } {
  const [body, lines] = statement(db, RECORD_BATCH_SQL).get({ ws: workstationId, from: range.from, through: range.through }) as [Buffer | null, number];
  return { body: body ?? Buffer.alloc(0), lines };
}
