import type { InspectionRecord as StoreRecord, Repository } from "../store/repository.js";
import type { SessionRecord, SessionStore } from "../supervisor/sessions.js";
import type { InspectionRecord as CallRecord } from "../supervisor/types.js";

const iso = (ms: number) => new Date(ms).toISOString();

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

/** Records every answered call (contract §7) and keeps the table within its retention bound. */
export function recordWriter(repo: Repository, onRecorded: (record: StoreRecord) => void): (r: CallRecord) => void {
  let sincePrune = 0;
  return (r) => {
    const record = {
      time: iso(r.timestamp_ms), pid: r.pid, session_id: r.session_id, step_index: r.step_index, method: r.method, name: r.name,
      version: r.version, status: r.status, error_code: r.error_code, result_status: r.result_status, ng_reason: r.ng_reason,
      defect_count: r.defect_rects, position_count: r.position_rects, calibration_count: r.calibration_rects, latency_ms: r.latency_ms,
    };
    const id = repo.addRecord(record);
    onRecorded({ id, ...record });
    sincePrune += 1;
    if (sincePrune >= PRUNE_EVERY) {
      sincePrune = 0;
      repo.pruneRecords(RECORD_RETENTION);
    }
  };
}
