// The uploader thread (S3 requests off the inspection thread) against a real S3-compatible server: each kind of body
// (bytes, a kept file, a records batch the thread writes from runner.db through its own read-only connection) arrives
// whole and the bytes sent are reported; an S3 failure reaches the pump as the SDK names it, with its HTTP status;
// after close nothing is sent.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDb, type Db } from "../../src/store/db.js";
import { Repository } from "../../src/store/repository.js";
import { recordLine } from "../../src/telemetry/keys.js";
import { resolveCredentials, telemetryConfigSchema } from "../../src/telemetry/config.js";
import { Uploader } from "../../src/telemetry/uploader.js";
import { startS3Server, type S3Server } from "../helpers/s3-server.js";

const work = mkdtempSync(path.join(tmpdir(), "pv-uploader-"));
let s3: S3Server;
let db: Db;

beforeAll(async () => {
  s3 = await startS3Server();
  db = openDb(path.join(work, "runner.db"));
}, 120_000);

afterAll(async () => {
  db?.close();
  await s3?.close();
  rmSync(work, { recursive: true, force: true });
});

function uploader(bucket = s3.bucket): Uploader {
  const config = telemetryConfigSchema.parse({ ...s3.target, bucket });
  return new Uploader({ config, credentials: resolveCredentials(config), dbFile: db.name, workstationId: "st-1" });
}

describe("the uploader thread", { timeout: 60_000 }, () => {
  it("stores bytes, a kept file and a records batch written from runner.db, and reports the bytes sent", async () => {
    const repo = new Repository(db);
    const records = Array.from({ length: 3 }, (_, i) => ({
      time: new Date(Date.UTC(2026, 11, 3) + i).toISOString(), pid: "p1", session_id: `s${i}`, step_index: 1, method: "execute", name: "a", version: "1",
      status: "OK", error_code: null, result_status: i === 1 ? "NG" : "OK", ng_reason: i === 1 ? "scratch" : null, defect_count: i, position_count: 0,
      calibration_count: 0, latency_ms: 1.5,
    }));
    const ids = repo.transaction(() => records.map((r) => repo.addRecord(r)));
    const file = path.join(work, "image.jpg");
    writeFileSync(file, Buffer.alloc(5000, 7));
    const up = uploader();
    try {
      const meta = { contentType: "application/x-ndjson", metadata: { lines: "3" } };
      expect(await up.put({ key: "t/bytes", body: Buffer.from("hello\n"), ...meta })).toBe(6);
      expect(await up.put({ key: "t/file", body: { file, bytes: 5000 }, ...meta, contentType: "image/jpeg" })).toBe(5000);
      const expected = records.map((r) => `${JSON.stringify(recordLine("st-1", r))}\n`).join("");
      expect(await up.put({ key: "t/records", body: { records: { from: ids[0]!, through: ids[2]! } }, ...meta })).toBe(Buffer.byteLength(expected));
      expect((await s3.get("t/bytes")).body.toString()).toBe("hello\n");
      expect((await s3.get("t/file")).body.equals(Buffer.alloc(5000, 7))).toBe(true);
      const stored = await s3.get("t/records");
      expect(stored.body.toString()).toBe(expected);
      expect(stored.metadata).toEqual({ lines: "3" });
      expect(up.alive).toBe(true);
    } finally {
      await up.close();
    }
  });

  it("rejects with the S3 error's name and HTTP status, and keeps running", async () => {
    const up = uploader("no-such-bucket");
    try {
      const err = await up.put({ key: "t/x", body: Buffer.from("x"), contentType: "text/plain", metadata: {} }).catch((e: unknown) => e) as Error & { $metadata?: { httpStatusCode?: number } };
      expect(err.name).toBe("NoSuchBucket");
      expect(err.$metadata?.httpStatusCode).toBe(404);
      expect(JSON.stringify({ message: err.message })).not.toContain(s3.secretAccessKey);
      expect(up.alive).toBe(true);
      // A records batch whose rows are gone is an empty object, not an error (they were pruned).
      const other = uploader();
      try {
        expect(await other.put({ key: "t/empty", body: { records: { from: 1_000_000, through: 1_000_010 } }, contentType: "application/x-ndjson", metadata: {} })).toBe(0);
      } finally {
        await other.close();
      }
    } finally {
      await up.close();
    }
  });

  it("sends nothing after close", async () => {
    const up = uploader();
    await up.close();
    expect(up.alive).toBe(false);
    await expect(up.put({ key: "t/late", body: Buffer.from("x"), contentType: "text/plain", metadata: {} })).rejects.toThrow(/closed/);
    expect(await s3.keys("t/late")).toEqual([]);
  });
});
