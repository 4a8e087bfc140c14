// The record writer keeps the records table within its retention bound (checked every 1000 inserts), but never drops
// records telemetry has not uploaded yet: a records batch's object is written from the table when it is sent.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { RECORD_RETENTION, RecordWriter } from "../../src/runner/persistence.js";
import { openDb } from "../../src/store/db.js";
import { Repository } from "../../src/store/repository.js";
import type { InspectionRecord } from "../../src/supervisor/types.js";

const work = mkdtempSync(path.join(tmpdir(), "pv-record-retention-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const call = (timestampMs: number): InspectionRecord => ({
  timestamp_ms: timestampMs, pid: "p1", session_id: "s", step_index: 1, method: "execute", name: "a", version: "1", status: "OK", error_code: null,
  message: "", result_status: "OK", ng_reason: null, defect_rects: 0, position_rects: 0, calibration_rects: 0, latency_ms: 1, attempts: 1,
  worker_pid: null, guide_image: false, trace_id: null,
});

/** 1000 records older than the age bound through a writer whose telemetry still needs records from `neededFrom` on. */
async function writeExpired(name: string, neededFrom: number | undefined): Promise<number[]> {
  const repo = new Repository(openDb(path.join(work, `${name}.db`)));
  const tap = neededFrom === undefined ? undefined : { committed: () => undefined, oldestNeededRecord: () => neededFrom };
  const writer = new RecordWriter(repo, () => undefined, tap);
  const old = Date.now() - RECORD_RETENTION.maxAgeMs - 86_400_000;
  await Promise.all(Array.from({ length: 1000 }, (_, i) => writer.add(call(old + i))));
  return repo.db.prepare("SELECT id FROM records ORDER BY id").pluck().all() as number[];
}

describe("record retention", () => {
  it("drops records past the age bound", async () => {
    expect(await writeExpired("no-telemetry", undefined)).toEqual([]);
  });

  it("keeps every record telemetry has not uploaded yet", async () => {
    const kept = await writeExpired("telemetry", 401);
    expect(kept).toHaveLength(600);
    expect(kept[0]).toBe(401);
  });
});
