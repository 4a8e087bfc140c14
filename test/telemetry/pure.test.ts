// The pure parts of telemetry: object keys, retry schedule, bandwidth pacing, and which kept images the quota and
// age bounds remove.
import { describe, expect, it } from "vitest";
import { planPrune } from "../../src/telemetry/artifacts.js";
import { ingestId, objectKey } from "../../src/telemetry/keys.js";
import { paceUntil, retryDelay } from "../../src/telemetry/retry.js";
import type { Artifact } from "../../src/telemetry/store.js";

const DAY = 24 * 3600_000;
const art = (id: number, uploaded: boolean, bytes = 100, created_ms = id * 1000): Artifact => ({
  id, record_id: id, kind: "image", path: `artifacts/${id}.jpg`, bytes, width: 1, height: 1, created_ms, uploaded,
});

describe("telemetry keys (contract §8)", () => {
  it("<prefix>/<kind>/<workstation_id>/<yyyy>/<mm>/<dd>/<ingest_id>, the day in UTC, no prefix → no leading segment", () => {
    const t = Date.UTC(2026, 0, 5, 23, 59, 59, 999);
    const id = ingestId("st07", "s-1", 2, t);
    expect(id).toBe(`st07/s-1/2/${t}`);
    expect(objectKey({ prefix: "plant/a", kind: "images", workstationId: "st07", timeMs: t, ingestId: id, suffix: ".jpg" }))
      .toBe(`plant/a/images/st07/2026/01/05/st07/s-1/2/${t}.jpg`);
    expect(objectKey({ prefix: "", kind: "records", workstationId: "st07", timeMs: t, ingestId: id, suffix: ".ndjson" }))
      .toBe(`records/st07/2026/01/05/st07/s-1/2/${t}.ndjson`);
  });
});

describe("retry and bandwidth", () => {
  it("doubles from base to max, with half of each delay random", () => {
    const policy = { baseMs: 500, maxMs: 30_000 };
    expect([1, 2, 3, 4].map((n) => retryDelay(n, policy, () => 1))).toEqual([500, 1000, 2000, 4000]);
    expect([1, 2, 3, 4].map((n) => retryDelay(n, policy, () => 0))).toEqual([250, 500, 1000, 2000]);
    expect(retryDelay(40, policy, () => 1)).toBe(30_000);
    expect(retryDelay(40, policy, () => 0)).toBe(15_000);
  });

  it("paces objects to max_kbps on average", () => {
    expect(paceUntil(1000, 125_000, 1000)).toBe(2000); // 1 Mbit at 1000 kbit/s: one second
    expect(paceUntil(1000, 125_000, undefined)).toBe(1000);
  });
});

describe("planPrune: quota and age of kept images", () => {
  it("over the quota, the oldest uploaded images go first; un-uploaded ones only when that is not enough, counted", () => {
    const kept = [art(1, false), art(2, true), art(3, true), art(4, false), art(5, true)];
    expect(planPrune(kept, 300, 30 * DAY, 10_000)).toEqual({ remove: [kept[1], kept[2]], forced: 0 });
    const forced = planPrune(kept, 100, 30 * DAY, 10_000);
    expect(forced.remove.map((a) => a.id)).toEqual([2, 3, 5, 1]);
    expect(forced.forced).toBe(1);
  });

  it("past retain_days only uploaded images go; an un-uploaded one stays until uploaded or forced", () => {
    const old = [art(1, true, 100, 0), art(2, false, 100, 0), art(3, true, 100, 40 * DAY)];
    expect(planPrune(old, 1e9, 30 * DAY, 40 * DAY)).toEqual({ remove: [old[0]], forced: 0 });
  });
});
