import type { InspectionRecord as StoreRecord, NewInspectionRecord, Repository } from "../store/repository.js";
import type { SessionRecord, SessionStore } from "../supervisor/sessions.js";
import type { InspectionRecord as CallRecord } from "../supervisor/types.js";

let lastIso = { ms: NaN, text: "" };
/** ISO time of `ms`; records of one millisecond share the string (thousands of inspections a second). */
const iso = (ms: number): string => {
  if (ms !== lastIso.ms) lastIso = { ms, text: new Date(ms).toISOString() };
  return lastIso.text;
};

/** Sessions live in runner.db, so a runner restart keeps open inspection flows and their state. */
export function sqliteSessionStore(repo: Repository): SessionStore {
  return {
    load: () => repo.allSessions().map((s): SessionRecord => ({
      ...s, created_at: Date.parse(s.created_at), last_used_at: Date.parse(s.last_used_at),
    })),
    save: (s) => repo.upsertSession({ ...s, created_at: iso(s.created_at), last_used_at: iso(s.last_used_at) }),
    remove: (id) => {
      repo.deleteSession(id);
    },
  };
}

/** How many records to keep: pruned every PRUNE_EVERY inserts, so retention costs nothing per call. */
export const RECORD_RETENTION = { maxRows: 200_000, maxAgeMs: 30 * 24 * 3600_000 };
const PRUNE_EVERY = 1000;
/** Records are written in one transaction per batch: a commit per call would cost more than the call itself. */
const FLUSH_EVERY_MS = 50;
const FLUSH_AT = 500;

/**
 * Records every answered call (contract §7) and keeps the table within its retention bound. Calls are buffered and
 * committed together at most FLUSH_EVERY_MS later; readers call `flush()` first so they see every answered call.
 */
export class RecordWriter {
  #pending: NewInspectionRecord[] = [];
  #timer: NodeJS.Timeout | undefined;
  #sincePrune = 0;

  constructor(private readonly repo: Repository, private readonly onRecorded: (record: StoreRecord) => void) {}

  readonly add = (r: CallRecord): void => {
    this.#pending.push({
      time: iso(r.timestamp_ms), pid: r.pid, session_id: r.session_id, step_index: r.step_index, method: r.method, name: r.name,
      version: r.version, status: r.status, error_code: r.error_code, result_status: r.result_status, ng_reason: r.ng_reason,
      defect_count: r.defect_rects, position_count: r.position_rects, calibration_count: r.calibration_rects, latency_ms: r.latency_ms,
      guide_image: r.guide_image,
    });
    if (this.#pending.length >= FLUSH_AT) this.flush();
    else this.#timer ??= setTimeout(() => this.flush(), FLUSH_EVERY_MS);
  };

  flush(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending.length === 0) return;
    const batch = this.#pending;
    this.#pending = [];
    const written = this.repo.transaction(() => batch.map((record) => ({ id: this.repo.addRecord(record), ...record }) as StoreRecord));
    for (const record of written) this.onRecorded(record);
    this.#sincePrune += batch.length;
    if (this.#sincePrune >= PRUNE_EVERY) {
      this.#sincePrune = 0;
      this.repo.pruneRecords(RECORD_RETENTION);
    }
  }
}
