import type { InspectionRecord as StoreRecord, NewInspectionRecord, Repository } from "../store/repository.js";
import type { SessionRecord, SessionStore } from "../supervisor/sessions.js";
import type { InspectionRecord as CallRecord } from "../supervisor/types.js";
import type { RecordTap } from "../telemetry/telemetry.js";

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
/** Records of one event-loop turn share one transaction (group commit): a commit per call would cost more than the call. */
const FLUSH_AT = 500;

/**
 * Records every answered call (contract §7) and keeps the table within its retention bound. `add` resolves once its
 * record is committed, and the supervisor answers only then: a record of an answered call survives a kill of the
 * runner (WAL commits reach the OS before `add` resolves). Calls recorded in the same turn are committed together.
 */
export class RecordWriter {
  #pending: NewInspectionRecord[] = [];
  /** The calls behind #pending, kept only when a tap wants them. */
  #calls: CallRecord[] = [];
  #committed: { promise: Promise<void>; resolve: () => void; reject: (err: unknown) => void } | undefined;
  #timer: NodeJS.Immediate | undefined;
  #sincePrune = 0;

  /** `tap`: telemetry, told of every committed record (its line waits for a batch, an NG image is kept). */
  constructor(private readonly repo: Repository, private readonly onRecorded: (record: StoreRecord) => void, private readonly tap?: RecordTap) {}

  readonly add = (r: CallRecord): Promise<void> => {
    this.#pending.push({
      time: iso(r.timestamp_ms), pid: r.pid, session_id: r.session_id, step_index: r.step_index, method: r.method, name: r.name,
      version: r.version, status: r.status, error_code: r.error_code, result_status: r.result_status, ng_reason: r.ng_reason,
      defect_count: r.defect_rects, position_count: r.position_rects, calibration_count: r.calibration_rects, latency_ms: r.latency_ms,
      guide_image: r.guide_image, trace_id: r.trace_id,
    });
    if (this.tap) this.#calls.push(r);
    const committed = this.#committed ??= deferred();
    if (this.#pending.length >= FLUSH_AT) this.#flushQuietly();
    else this.#timer ??= setImmediate(() => this.#flushQuietly());
    return committed.promise;
  };

  /** Commits every pending record now; throws when the commit fails (the waiting calls get the same error). */
  flush(): void {
    if (this.#timer) clearImmediate(this.#timer);
    this.#timer = undefined;
    const committed = this.#committed;
    this.#committed = undefined;
    const batch = this.#pending;
    const calls = this.#calls;
    this.#pending = [];
    this.#calls = [];
    const tap = this.tap;
    let written: StoreRecord[];
    try {
      written = batch.length === 0 ? [] : this.repo.transaction(() => batch.map((record) => ({ id: this.repo.addRecord(record), ...record }) as StoreRecord));
    } catch (err) {
      committed?.reject(err);
      throw err;
    }
    committed?.resolve();
    // Before the awaiting calls continue (the promise settles after this turn): their images are still intact.
    for (const [i, record] of written.entries()) {
      this.onRecorded(record);
      if (tap) tap.committed(record, calls[i]!);
    }
    this.#sincePrune += batch.length;
    if (this.#sincePrune >= PRUNE_EVERY) {
      this.#sincePrune = 0;
      // Records telemetry has not uploaded yet stay past the bound (a batch's object is written from them).
      this.repo.pruneRecords(RECORD_RETENTION, Date.now(), this.tap?.oldestNeededRecord());
    }
  }

  /** A flush of the writer's own scheduling: a failed commit is reported to the calls waiting on it, not thrown here. */
  #flushQuietly(): void {
    try {
      this.flush();
    } catch {
      // rejected to every waiting add()
    }
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (err: unknown) => void } {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
