// Records batches are ranges of the records table, written out when uploaded: the seal cuts them by an estimate of
// each line's bytes made in SQLite from the row (no line is built on the inspection thread). The estimate must never
// be below the real line, or a batch could overflow max_bytes; the intake's own figure (when to seal) must not be
// above it; and the object is exactly the records' NDJSON lines.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { openDb } from "../../src/store/db.js";
import { Repository, type NewInspectionRecord } from "../../src/store/repository.js";
import { recordLine } from "../../src/telemetry/keys.js";
import { lineEstimateOf, nextRecordBatch, recordBatchBody } from "../../src/telemetry/record-batches.js";

const work = mkdtempSync(path.join(tmpdir(), "pv-record-batches-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// Text JSON prints as is (no quote, backslash or control character), ASCII or not.
const text = fc.string({ unit: fc.constantFrom("a", "Z", "0", "-", "_", ".", " ", "é", "不", "良", "😀"), maxLength: 40 });
const record: fc.Arbitrary<NewInspectionRecord & { time: string }> = fc.record({
  time: fc.integer({ min: 0, max: Date.UTC(9999, 11, 31) }).map((ms) => new Date(ms).toISOString()),
  pid: text, trace_id: fc.option(text), session_id: fc.option(text), step_index: fc.option(fc.integer({ min: -2147483648, max: 2147483647 })),
  method: fc.constantFrom("execute", "pre_execute"), name: text, version: text, status: fc.constantFrom("OK", "ERROR"),
  error_code: fc.option(text), result_status: fc.option(fc.constantFrom("OK", "NG")), ng_reason: fc.option(text),
  defect_count: fc.integer({ min: -2147483648, max: 2147483647 }), position_count: fc.constant(0), calibration_count: fc.constant(0),
  // The pool keeps latencies to the µs.
  latency_ms: fc.integer({ min: 0, max: 2 ** 40 }).map((us) => us / 1000), guide_image: fc.constant(false),
});

describe("records batches", () => {
  it("estimates no line below its real bytes, and writes the object as the records' lines in id order", () => {
    const db = openDb(path.join(work, "estimate.db"));
    const repo = new Repository(db);
    fc.assert(fc.property(fc.array(record, { minLength: 1, maxLength: 8 }), fc.constantFrom("ws", "line3-st07", "工位-1"), (records, ws) => {
      const ids = repo.transaction(() => records.map((r) => repo.addRecord(r)));
      const { body, lines } = recordBatchBody(db, ws, { from: ids[0]!, through: ids.at(-1)! });
      expect(lines).toBe(records.length);
      const expected = records.map((r) => `${JSON.stringify(recordLine(ws, r))}\n`);
      expect(body.toString()).toBe(expected.join(""));
      // One line per batch: the seal's estimate of each line, against the line.
      for (const [i, line] of expected.entries()) {
        const batch = nextRecordBatch(db, ws, ids[i]! - 1, { max_lines: 1, max_bytes: 1024 * 1024 })!;
        expect(batch).toMatchObject({ from: ids[i], through: ids[i], lines: 1, full: true });
        expect(batch.bytes).toBeGreaterThanOrEqual(Buffer.byteLength(line));
        // The intake's figure from the record in hand (when to seal) never runs ahead of the seal's.
        expect(lineEstimateOf(ws).of(records[i]!)).toBeLessThanOrEqual(batch.bytes);
      }
    }), { numRuns: 200 });
  });

  it("writes any text as JSON.stringify would, and a full-precision latency (an older runner's row) as valid JSON", () => {
    const db = openDb(path.join(work, "escapes.db"));
    const repo = new Repository(db);
    const anyText = fc.string({ unit: "binary", maxLength: 20 });
    const older = record.chain((r) => fc.record({ pid: anyText, name: anyText, trace_id: fc.option(anyText), ng_reason: fc.option(anyText), latency_ms: fc.double({ min: 0, max: 1e9, noNaN: true }) })
      .map((o) => ({ ...r, ...o })));
    fc.assert(fc.property(older, anyText, (r, ws) => {
      const id = repo.addRecord(r);
      // What the store gives back (text is stored as UTF-8: a lone surrogate comes back as U+FFFD).
      const stored = db.prepare("SELECT pid, name, trace_id, ng_reason FROM records WHERE id = ?").get(id) as { pid: string; name: string; trace_id: string | null; ng_reason: string | null };
      const { body, lines } = recordBatchBody(db, ws, { from: id, through: id });
      expect(lines).toBe(1);
      expect(body.toString().endsWith("\n")).toBe(true);
      const { latency_ms: latency, ...line } = JSON.parse(body.toString()) as { latency_ms: number };
      const { latency_ms: expectedLatency, ...expected } = recordLine(ws, { ...r, ...stored });
      expect(line).toEqual(expected);
      // 15 significant digits.
      expect(Math.abs(latency - expectedLatency)).toBeLessThanOrEqual(expectedLatency * 1e-14);
    }), { numRuns: 300 });
  });

  it("cuts at max_lines or at max_bytes, whichever comes first, and says when a batch is not full yet", () => {
    const db = openDb(path.join(work, "cut.db"));
    const repo = new Repository(db);
    const row = (i: number): NewInspectionRecord & { time: string } => ({
      time: new Date(Date.UTC(2026, 11, 3) + i).toISOString(), pid: "p1", session_id: `s${i}`, step_index: 1, method: "execute", name: "a", version: "1",
      status: "OK", error_code: null, result_status: "OK", ng_reason: i === 3 ? "x".repeat(5000) : null, defect_count: 0, position_count: 0, calibration_count: 0,
      latency_ms: 1, guide_image: false,
    });
    repo.transaction(() => Array.from({ length: 6 }, (_, i) => repo.addRecord(row(i))));
    expect(nextRecordBatch(db, "ws", 0, { max_lines: 2, max_bytes: 1024 * 1024 })).toMatchObject({ from: 1, through: 2, lines: 2, full: true });
    // Record 4 alone is larger than the bound: it goes in a batch of its own.
    expect(nextRecordBatch(db, "ws", 2, { max_lines: 500, max_bytes: 4096 })).toMatchObject({ from: 3, through: 3, lines: 1, full: true });
    expect(nextRecordBatch(db, "ws", 3, { max_lines: 500, max_bytes: 4096 })).toMatchObject({ from: 4, through: 4, lines: 1, full: true });
    expect(nextRecordBatch(db, "ws", 4, { max_lines: 500, max_bytes: 4096 })).toMatchObject({
      from: 5, through: 6, lines: 2, full: false, first: { time_ms: Date.UTC(2026, 11, 3) + 4, session_id: "s4", step_index: 1 },
    });
    expect(nextRecordBatch(db, "ws", 6, { max_lines: 500, max_bytes: 4096 })).toBeUndefined();
  });
});
