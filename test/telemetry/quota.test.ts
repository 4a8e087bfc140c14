// quota_mb on the NG images kept under artifacts/ (contract §8), with a real runner and a real S3 server: the oldest
// uploaded images go first; images not yet uploaded go only when the quota forces it, and are counted.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Runner } from "../../src/index.js";
import type { TelemetryStatus } from "../../src/telemetry/telemetry.js";
import { EXAMPLE, exampleZip } from "../helpers/store.js";
import { startS3Server, type S3Server } from "../helpers/s3-server.js";

const work = mkdtempSync(path.join(tmpdir(), "pv-telemetry-quota-"));
const root = path.join(work, "root");
const sample = path.join(EXAMPLE, "sample.png");
/** About three NG inspections' image pairs (the example's JPEG pair is ~15 KB). */
const QUOTA_MB = 0.05;
let s3: S3Server;
let runner: Runner;

beforeAll(async () => {
  // The server first, on its own: afterAll stops it even when building the zip fails.
  s3 = await startS3Server();
  const zip = await exampleZip(work);
  runner = await Runner.open({
    root, log: () => undefined, telemetryRetry: { baseMs: 100, maxMs: 400 },
    config: {
      workstation_id: "st-quota",
      telemetry: {
        ...s3.target,
        upload: { records: true, logs: false, ng_images: true }, quota_mb: QUOTA_MB, batch: { max_lines: 50, max_age_ms: 100, max_bytes: 1024 * 1024 },
      },
    },
  });
  expect((await runner.install(zip)).state).toBe("installed");
  await runner.activate("algorithm-example", "1.0", ["p001"]);
}, 240_000);

afterAll(async () => {
  await runner?.close();
  await s3?.close();
  rmSync(work, { recursive: true, force: true });
});

const ngInspection = async (): Promise<number> => {
  await runner.inspect({ pid: "p001", step_index: 1, method: "execute", image: { path: sample } });
  const t = runner.telemetryHandle!;
  await t.imagesSettled();
  return (await runner.records({ limit: 1 }))[0]!.id;
};
const keptOf = async (id: number) => runner.recordImages(id).catch(() => []);
const status = async () => (await runner.telemetry()) as TelemetryStatus;

describe("quota_mb (contract §8)", { timeout: 120_000 }, () => {
  it("keeps the newest images within the quota: uploaded ones leave oldest first, nothing forced while uploads keep up", async () => {
    const ids: number[] = [];
    for (let i = 0; i < 6; i++) {
      ids.push(await ngInspection());
      await runner.telemetryHandle!.drained(30_000);
    }
    const s = await status();
    expect(s.dropped_by_quota).toBe(0);
    expect(s.artifacts.bytes).toBeLessThanOrEqual(s.artifacts.quota_bytes);
    const kept = await Promise.all(ids.map(keptOf));
    // Oldest gone, newest kept: a prefix of empty entries, then records with both images.
    const firstKept = kept.findIndex((k) => k.length > 0);
    expect(firstKept).toBeGreaterThan(0);
    expect(kept.slice(firstKept).every((k) => k.length === 2)).toBe(true);
    for (const k of kept.slice(0, firstKept)) expect(k).toEqual([]);
    // Every NG image still reached the bucket: removal from disk waited for the upload.
    expect((await s3.keys("images/")).filter((k) => k.endsWith(".jpg"))).toHaveLength(ids.length * 2);
  });

  it("uploads paused: the quota forces un-uploaded images out only after every uploaded one, and counts them", async () => {
    await runner.setTelemetryPaused(true);
    const before = await Promise.all((await runner.records({ result_status: "NG", limit: 100 })).map((r) => keptOf(r.id)));
    const uploadedKept = before.flat();
    expect(uploadedKept.length).toBeGreaterThan(0);
    const ids: number[] = [];
    for (let i = 0; i < 6; i++) ids.push(await ngInspection());
    const s = await status();
    expect(s.dropped_by_quota).toBeGreaterThan(0);
    expect(s.artifacts.bytes).toBeLessThanOrEqual(s.artifacts.quota_bytes);
    // The uploaded images went first: none of them is left, and their files are gone.
    for (const a of uploadedKept) expect(existsSync(path.join(root, a.path))).toBe(false);
    const kept = await Promise.all(ids.map(keptOf));
    const keptFiles = kept.flat().length;
    expect(keptFiles).toBeGreaterThan(0);
    expect(kept.at(-1)).toHaveLength(2);
    expect(s.dropped_by_quota).toBe(ids.length * 2 - keptFiles);
    expect((await runner.metrics()).body).toMatch(new RegExp(`procvision_telemetry_dropped_by_quota_total ${s.dropped_by_quota}\\b`));
    // Resumed: what is still kept goes up; what the quota forced out never does.
    const inBucket = (await s3.keys("images/")).length;
    await runner.setTelemetryPaused(false);
    await runner.telemetryHandle!.drained(30_000);
    const after = await s3.keys("images/");
    expect(after.filter((k) => k.endsWith(".jpg")).length - (inBucket / 3) * 2).toBe(keptFiles);
  });
});
