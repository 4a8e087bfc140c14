import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { integrityCheck, migrate, openDb, SCHEMA_VERSION } from "../../src/store/db.js";
import { Repository } from "../../src/store/repository.js";
import type { Manifest } from "../../src/manifest/index.js";

const work = mkdtempSync(path.join(tmpdir(), "pv-store-db-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function fresh(): Repository {
  return new Repository(openDb(path.join(mkdtempSync(path.join(work, "db-")), "runner.db")));
}

const manifest = { name: "a", version: "1", entry_point: "m:C", supported_pids: ["p1"] } as Manifest;

describe("runner.db", () => {
  it("is WAL, migrated once, and reopens without re-running migrations", () => {
    const file = path.join(mkdtempSync(path.join(work, "db-")), "runner.db");
    const db = openDb(file);
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(db.prepare("SELECT version FROM schema_migrations").pluck().all()).toEqual(Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1));
    expect(migrate(db)).toEqual([]);
    db.close();
    const again = openDb(file);
    expect(integrityCheck(again)).toBe("ok");
    again.close();
  });

  it("upgrades a database of the previous schema: its records read guide_image false, new ones keep it", () => {
    const file = path.join(mkdtempSync(path.join(work, "db-")), "runner.db");
    const old = new Repository(openDb(file));
    old.addRecord({
      pid: "p1", session_id: "s", step_index: 1, method: "execute", name: "a", version: "1", status: "OK", error_code: null,
      result_status: "OK", ng_reason: null, defect_count: 0, position_count: 0, calibration_count: 0, latency_ms: 1,
    });
    // Back to what a station running the previous runner has on disk: schema 1, no guide_image column.
    old.db.exec("ALTER TABLE records DROP COLUMN guide_image; DELETE FROM schema_migrations WHERE version = 2;");
    old.db.close();
    const db = openDb(file);
    expect(db.prepare("SELECT version FROM schema_migrations ORDER BY version").pluck().all()).toContain(2); // migration 2 ran again (and any later ones)
    const repo = new Repository(db);
    repo.addRecord({
      pid: "p1", session_id: "s", step_index: 0, method: "execute", name: "g3", version: "1", status: "OK", error_code: null,
      result_status: "NG", ng_reason: "gap", defect_count: 1, position_count: 0, calibration_count: 0, latency_ms: 2, guide_image: true,
    });
    expect(repo.records().map((r) => [r.name, r.step_index, r.guide_image])).toEqual([["g3", 0, true], ["a", 1, false]]);
    db.close();
  });

  it("refuses a database from a newer runner", () => {
    const file = path.join(mkdtempSync(path.join(work, "db-")), "runner.db");
    const db = openDb(file);
    db.prepare("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)").run(SCHEMA_VERSION + 1, "x");
    db.close();
    expect(() => openDb(file)).toThrow(/newer than this runner/);
  });

  it("stores packages with their JSON fields parsed", () => {
    const repo = fresh();
    repo.beginInstall({ name: "a", version: "1", manifest, dir: "/d", source_zip: "/z.zip", zip_sha256: "ab", operator: "op" });
    expect(repo.getPackage("a", "1")).toMatchObject({ state: "installing", manifest, warnings: [], validation: null, installed_at: null });
    repo.finishInstall("a", "1", { state: "invalid", zip_path: "/zips/a.zip", validation: { summary: { status: "FAIL", passed: 0, failed: 1 }, checks: [] }, warnings: ["w"], size_bytes: 5 });
    expect(repo.getPackage("a", "1")).toMatchObject({ state: "invalid", warnings: ["w"], size_bytes: 5, validation: { summary: { status: "FAIL" } } });
    expect(repo.listPackages({ state: "installed" })).toEqual([]);
    expect(repo.listPackages({ name: "a" })).toHaveLength(1);
  });

  it("records every binding change with its predecessor", () => {
    const repo = fresh();
    repo.rebind("p1", { name: "a", version: "1" }, "activate", "op");
    repo.rebind("p1", { name: "a", version: "2" }, "switch", "op");
    repo.rebind("p1", null, "deactivate", "op");
    expect(repo.binding("p1")).toBeUndefined();
    expect(repo.history("p1").map((h) => [h.action, h.version, h.previous_version])).toEqual([["deactivate", null, "2"], ["switch", "2", "1"], ["activate", "1", null]]);
    expect(repo.lastChange("p1")?.previous_version).toBe("2");
  });

  it("keeps sessions with state and expires idle ones", () => {
    const repo = fresh();
    repo.createSession({ id: "s1", pid: "p1", name: "a", version: "1", context: { lot: 7 } });
    repo.saveSessionState("s1", { holes: [1, 2] });
    expect(repo.getSession("s1")).toMatchObject({ context: { lot: 7 }, state: { holes: [1, 2] } });
    expect(repo.sessionCount("a", "1")).toBe(1);
    expect(repo.expireSessions(60_000)).toEqual([]);
    expect(repo.expireSessions(60_000, Date.now() + 120_000)).toEqual(["s1"]);
    expect(repo.deleteSession("s1")).toBe(false);
  });

  it("audits and filters", () => {
    const repo = fresh();
    repo.addAudit({ operator: "op", action: "install", target: "a 1", outcome: "ok" });
    repo.addAudit({ operator: "op", action: "activate", target: "a 1", outcome: "failed", error_code: "2006", detail: "conflict" });
    expect(repo.audit({ outcome: "failed" })).toMatchObject([{ action: "activate", error_code: "2006", detail: "conflict" }]);
    expect(repo.audit({ target: "a 1" })).toHaveLength(2);
    expect(repo.audit({ limit: 1 })[0]?.action).toBe("activate");
  });

  it("bounds inspection records by count and age", () => {
    const repo = fresh();
    const record = (i: number, time?: string) => repo.addRecord({
      pid: "p1", session_id: "s", step_index: 1, method: "execute", name: "a", version: "1", status: "OK", error_code: null,
      result_status: i % 2 ? "NG" : "OK", ng_reason: i % 2 ? "scratch" : null, defect_count: i % 2, position_count: 0, calibration_count: 0,
      latency_ms: 3.5, ...(time ? { time } : {}),
    });
    record(0, "2020-01-01T00:00:00.000Z");
    for (let i = 1; i <= 10; i++) record(i);
    expect(repo.records({ result_status: "NG" })).toHaveLength(5);
    expect(repo.pruneRecords({ maxAgeMs: 86_400_000 })).toBe(1);
    expect(repo.pruneRecords({ maxRows: 4 })).toBe(6);
    expect(repo.records().map((r) => r.id)).toEqual([11, 10, 9, 8]);
    expect(repo.pruneRecords({ maxRows: 4 })).toBe(0);
  });
});
