// The outbox in a real runner.db: records past the watermark and log lines are sealed into batches that close by
// count, age or bytes, each line in exactly one batch. A records batch is a range of the records table, written out
// when uploaded: a record pruned before its batch is left out instead of blocking the rest, and retention keeps the
// records of a batch not uploaded yet.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openDb } from "../../src/store/db.js";
import { Repository } from "../../src/store/repository.js";
import { recordBatchBody } from "../../src/telemetry/record-batches.js";
import { TelemetryStore } from "../../src/telemetry/store.js";

const work = mkdtempSync(path.join(tmpdir(), "pv-telemetry-store-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A fresh runner.db; `add` commits records as the record writer does. */
function fresh(name: string): { repo: Repository; store: TelemetryStore; add: (n: number, t0: number) => number[] } {
  const db = openDb(path.join(work, `${name}.db`));
  const repo = new Repository(db);
  const store = new TelemetryStore(db, { prefix: "p", workstationId: "ws" });
  const add = (n: number, t0: number) => {
    return repo.transaction(() => Array.from({ length: n }, (_, i) => repo.addRecord({
      time: new Date(t0 + i).toISOString(), pid: "p1", session_id: `s${i}`, step_index: 1, method: "execute", name: "a", version: "1",
      status: "OK", error_code: null, result_status: "OK", ng_reason: null, defect_count: 0, position_count: 0, calibration_count: 0, latency_ms: 1,
    })));
  };
  return { repo, store, add };
}

const limits = { max_lines: 4, max_age_ms: 1000, max_bytes: 1024 * 1024 };
/** The objects the outbox's records batches would upload now. */
const objects = (store: TelemetryStore) => (store.db.prepare("SELECT record_from, record_through FROM telemetry_outbox WHERE kind = 'records' ORDER BY id").raw().all() as [number, number][])
  .map(([from, through]) => recordBatchBody(store.db, "ws", { from, through }).body);
/** The session ids in each of those objects. */
const bodies = (store: TelemetryStore) => objects(store)
  .map((b) => b.toString().trimEnd().split("\n").map((l) => (JSON.parse(l) as { session_id: string }).session_id));

describe("TelemetryStore.sealBatches", () => {
  it("closes full batches at once and the rest only when its oldest line is max_age_ms old", () => {
    const { store, add } = fresh("count-age");
    const t0 = Date.UTC(2026, 11, 3);
    add(10, t0);
    expect(store.sealBatches("records", limits, t0 + 10)).toBe(2);
    expect(bodies(store)).toEqual([["s0", "s1", "s2", "s3"], ["s4", "s5", "s6", "s7"]]);
    expect(store.depth().lines.records).toBe(2);
    expect(store.sealBatches("records", limits, t0 + 500)).toBe(0);
    expect(store.sealBatches("records", limits, t0 + 8 + 1000)).toBe(1);
    expect(bodies(store).at(-1)).toEqual(["s8", "s9"]);
    expect(store.depth()).toMatchObject({ lines: { records: 0 }, outbox: { records: 3 } });
    const keys = store.db.prepare("SELECT object_key FROM telemetry_outbox ORDER BY id").pluck().all();
    expect(keys[0]).toBe(`p/records/ws/2026/12/03/ws/s0/1/${t0}.1.ndjson`);
  });

  it("closes a batch at max_bytes", () => {
    const { store, add } = fresh("bytes");
    add(6, 0);
    // 261-byte lines, estimated at their widest numbers (~350 bytes, so that a batch never overflows): two fill a
    // 1 KiB batch; the last two wait for more lines or their age.
    expect(store.sealBatches("records", { max_lines: 500, max_age_ms: 1e9, max_bytes: 1024 }, 1)).toBe(2);
    expect(bodies(store)).toEqual([["s0", "s1"], ["s2", "s3"]]);
    expect(store.depth().lines.records).toBe(2);
    for (const body of objects(store)) expect(body.length).toBeLessThanOrEqual(1024);
  });

  it("leaves out a record pruned before its batch", () => {
    const { repo, store, add } = fresh("pruned");
    const ids = add(3, 0);
    repo.db.prepare("DELETE FROM records WHERE id = ?").run(ids[0]);
    expect(store.sealBatches("records", limits, 1, true)).toBe(1);
    expect(bodies(store)).toEqual([["s1", "s2"]]);
    expect(store.depth().lines.records).toBe(0);
  });

  it("keeps the records of a batch not uploaded yet past retention, and lets them go once it is sent", () => {
    const { repo, store, add } = fresh("retention");
    add(6, 0);
    expect(store.sealBatches("records", limits, 1, true)).toBe(2);
    const before = objects(store).map((b) => b.toString());
    // A bound of one row would drop all but the newest: the batches' records stay.
    expect(repo.pruneRecords({ maxRows: 1 }, Date.now(), store.oldestNeededRecord())).toBe(0);
    expect(objects(store).map((b) => b.toString())).toEqual(before);
    const first = store.nextDue(Date.now())!;
    expect(first.records).toEqual({ from: 1, through: 4 });
    store.markSent(first, Date.now(), 1000);
    expect(repo.pruneRecords({ maxRows: 1 }, Date.now(), store.oldestNeededRecord())).toBe(4);
    expect(bodies(store)).toEqual([["s4", "s5"]]);
    expect(store.counters().bytes_sent).toBe(1000);
  });

  it("moves the watermark only with its batch: a failed seal leaves the records waiting, and the retry writes the same key", () => {
    const { store, add } = fresh("failed-seal");
    add(4, 0);
    const key = "p/records/ws/1970/01/01/ws/s0/1/0.1.ndjson";
    store.db.prepare("INSERT INTO telemetry_outbox (kind, priority, object_key, content_type, bytes, created_ms) VALUES ('logs', 1, ?, 'x', 0, 0)").run(key);
    expect(() => store.sealBatches("records", limits, 1)).toThrow(/UNIQUE/);
    expect(store.depth().lines.records).toBe(4);
    store.db.prepare("DELETE FROM telemetry_outbox").run();
    expect(store.sealBatches("records", limits, 1)).toBe(1);
    expect(store.db.prepare("SELECT object_key FROM telemetry_outbox").pluck().all()).toEqual([key]);
    expect(bodies(store)).toEqual([["s0", "s1", "s2", "s3"]]);
  });

  it("starts at the newest record on telemetry's first start, keeps its place across restarts, and follows the table while records are not sent", () => {
    const { repo, store, add } = fresh("first-start");
    add(2, 0);
    const later = new TelemetryStore(repo.db, { prefix: "p", workstationId: "ws" });
    expect(later.depth().lines.records).toBe(2); // the watermark was set when `store` first opened this runner.db
    const db = openDb(path.join(work, "first-start-2.db"));
    const before = new Repository(db);
    before.addRecord({ time: new Date(0).toISOString(), pid: "p1", session_id: "s-before", step_index: 1, method: "execute", name: "a", version: "1",
      status: "OK", error_code: null, result_status: "OK", ng_reason: null, defect_count: 0, position_count: 0, calibration_count: 0, latency_ms: 1 });
    expect(new TelemetryStore(db, { prefix: "p", workstationId: "ws" }).depth().lines.records).toBe(0);
    const off = new TelemetryStore(repo.db, { prefix: "p", workstationId: "ws", records: false });
    expect(off.depth().lines.records).toBe(0);
    expect(off.sealBatches("records", limits, 1, true)).toBe(0);
    expect(new TelemetryStore(repo.db, { prefix: "p", workstationId: "ws" }).depth().lines.records).toBe(0);
    expect(store.db.prepare("SELECT count(*) FROM telemetry_outbox").pluck().get()).toBe(0);
  });

  it("numbers logs batches, so a burst sealed within one millisecond never reuses a key", () => {
    const { store } = fresh("logs");
    const t = Date.UTC(2026, 11, 3);
    for (let round = 0; round < 3; round++) {
      store.addLogLines([[t, "{\"n\":1}"], [t, "{\"n\":2}"]]);
      expect(store.sealBatches("logs", limits, t, true)).toBe(1);
    }
    expect(store.db.prepare("SELECT object_key FROM telemetry_outbox ORDER BY id").pluck().all())
      .toEqual([1, 2, 3].map((n) => `p/logs/ws/2026/12/03/ws/log/${n}/${t}.ndjson`));
  });
});
