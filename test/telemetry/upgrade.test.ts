// A runner.db made by the release before migration 4 upgrades cleanly and loses nothing: its sealed batches still
// waiting in the outbox and its record lines not yet in a batch each reach the bucket exactly once.
// test/fixtures/telemetry/runner-v3.db was made with that release (commit 7741325) through its Repository and
// TelemetryStore: 10 records (s0…s9) with telemetry on, batches of 4 lines sealed (s0–s3, s4–s7 and one logs batch
// in the outbox, not uploaded), s8 and s9 and one log line still waiting; workstation "st-old", prefix "plant-a".
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Runner } from "../../src/index.js";
import { SCHEMA_VERSION } from "../../src/store/db.js";
import type { RecordLine } from "../../src/telemetry/keys.js";
import { repoRoot } from "../helpers/python.js";
import { startS3Server, type S3Server } from "../helpers/s3-server.js";

const work = mkdtempSync(path.join(tmpdir(), "pv-telemetry-upgrade-"));
const root = path.join(work, "root");
let s3: S3Server;

beforeAll(async () => {
  s3 = await startS3Server();
  mkdirSync(root);
  copyFileSync(path.join(repoRoot, "test", "fixtures", "telemetry", "runner-v3.db"), path.join(root, "runner.db"));
}, 120_000);

afterAll(async () => {
  await s3?.close();
  rmSync(work, { recursive: true, force: true });
});

const open = () => Runner.open({
  root, log: () => undefined, telemetryRetry: { baseMs: 100, maxMs: 400 },
  config: { workstation_id: "st-old", telemetry: { ...s3.target, prefix: "plant-a", batch: { max_lines: 4, max_age_ms: 100 } } },
});

async function bucketLines(): Promise<RecordLine[]> {
  const bodies = await Promise.all((await s3.keys("plant-a/records/")).map((k) => s3.get(k)));
  return bodies.flatMap((b) => b.body.toString().split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as RecordLine));
}

describe("runner.db from the release before the records watermark (migration 4)", { timeout: 120_000 }, () => {
  it("uploads its pending batches and waiting record lines exactly once, then its own records after them", async () => {
    const runner = await open();
    try {
      const t = runner.telemetryHandle!;
      const db = t.store.db;
      expect(db.prepare("SELECT max(version) FROM schema_migrations").pluck().get()).toBe(SCHEMA_VERSION);
      expect(db.prepare("SELECT count(*) FROM telemetry_lines WHERE kind = 'records'").pluck().get()).toBe(0);
      // s8 and s9; the old log line (and this runner's own, when its start was logged already).
      expect(t.status().pending_lines.records).toBe(2);
      expect(t.status().pending_lines.logs).toBeGreaterThanOrEqual(1);
      await t.drained(60_000);
      expect(await s3.keys("plant-a/records/")).toEqual([
        "plant-a/records/st-old/2026/12/01/st-old/s0/1/1796112000000.1.ndjson",
        "plant-a/records/st-old/2026/12/01/st-old/s4/1/1796112000004.5.ndjson",
        "plant-a/records/st-old/2026/12/01/st-old/s8/1/1796112000008.9.ndjson",
      ]);
      expect((await bucketLines()).map((l) => l.session_id)).toEqual(["s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9"]);
      const logs = await Promise.all((await s3.keys("plant-a/logs/")).map(async (k) => (await s3.get(k)).body.toString()));
      expect(logs.join("").match(/"message":"(sealed|waiting)"/g)).toEqual(["\"message\":\"sealed\"", "\"message\":\"waiting\""]);
    } finally {
      await runner.close();
    }

    // A restart sends nothing again; the next records continue after the old ones.
    const again = await open();
    try {
      expect(again.telemetryHandle!.status().pending_lines.records).toBe(0);
      again.telemetryHandle!.store.db.prepare(`INSERT INTO records (time, pid, session_id, step_index, method, name, version, status, latency_ms)
        VALUES (?, 'p001', 's10', 1, 'execute', 'algorithm-example', '1.0', 'OK', 1)`).run(new Date(Date.UTC(2026, 11, 2)).toISOString());
      await again.telemetryHandle!.drained(60_000);
      expect((await bucketLines()).map((l) => l.session_id)).toEqual(["s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10"]);
    } finally {
      await again.close();
    }
  });
});
