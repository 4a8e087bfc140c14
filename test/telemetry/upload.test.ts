// Telemetry end to end through a real S3-compatible server (versitygw on 127.0.0.1) and a real runner with the
// example algorithm (contract §8): record lines in NDJSON batches, NG images kept under artifacts/ and uploaded
// with their annotated copy, metadata and sidecar; an outage grows the outbox and a restart of the server drains it.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import { buildApi } from "../../src/api/server.js";
import { ensureToken } from "../../src/api/token.js";
import { Runner } from "../../src/index.js";
import type { RecordLine } from "../../src/telemetry/keys.js";
import { EXAMPLE, exampleZip } from "../helpers/store.js";
import { startS3Server, type S3Server } from "../helpers/s3-server.js";

const work = mkdtempSync(path.join(tmpdir(), "pv-telemetry-"));
const root = path.join(work, "root");
const sample = path.join(EXAMPLE, "sample.png");
let s3: S3Server;
let runner: Runner;
let app: FastifyInstance;
let url: string;
let token: string;

beforeAll(async () => {
  // The server first, on its own: afterAll stops it even when building the zip fails.
  s3 = await startS3Server();
  const zip = await exampleZip(work);
  runner = await Runner.open({
    root, log: () => undefined, telemetryRetry: { baseMs: 100, maxMs: 400 },
    config: {
      workstation_id: "line3-st07",
      telemetry: {
        ...s3.target, prefix: "plant-a",
        upload: { records: true, logs: true, ng_images: true }, batch: { max_lines: 5, max_age_ms: 100, max_bytes: 1024 * 1024 },
      },
    },
  });
  expect((await runner.install(zip)).state).toBe("installed");
  await runner.activate("algorithm-example", "1.0", ["p001"]);
  token = await ensureToken(root);
  app = await buildApi({ runner, token, log: runner.log });
  url = await app.listen({ host: "127.0.0.1", port: 0 });
}, 240_000);

afterAll(async () => {
  await app?.close();
  await runner?.close();
  await s3?.close();
  rmSync(work, { recursive: true, force: true });
});

/** Every line of every records batch in the bucket. */
async function bucketLines(): Promise<RecordLine[]> {
  const keys = (await s3.keys("plant-a/records/")).filter((k) => k.endsWith(".ndjson"));
  const bodies = await Promise.all(keys.map((k) => s3.get(k)));
  return bodies.flatMap((b) => b.body.toString().split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as RecordLine));
}

const drained = () => runner.telemetryHandle!.drained(60_000);

describe("telemetry to S3 (contract §8)", { timeout: 120_000 }, () => {
  it("N inspections → exactly their NDJSON lines, and per NG inspection its image, annotated copy and sidecar with metadata", async () => {
    const calls = [1, 2, 1, 2, 1];
    const answers = [];
    // The first inspection runs in a session whose context carries a trace id: its lines carry it too.
    const traced = await runner.createSession("p001", { trace_id: "lot-42/part-7" });
    for (const [i, step] of calls.entries()) {
      answers.push(await runner.inspect({ pid: "p001", step_index: step, image: { path: sample }, ...(i === 0 ? { session_id: traced.session_id } : {}) }));
    }
    await drained();
    const records = (await runner.records({ limit: 100 })).reverse();
    expect(records).toHaveLength(calls.length * 2);
    const lines = await bucketLines();
    expect(lines).toHaveLength(records.length);
    expect(new Set(lines.map((l) => `${l.ingest_id}.${l.method}`)).size).toBe(lines.length);
    for (const r of records) {
      const t = Date.parse(r.time);
      const line = lines.find((l) => l.session_id === r.session_id && l.method === r.method);
      expect(line).toEqual({
        timestamp_ms: t, workstation_id: "line3-st07", session_id: r.session_id, step_index: r.step_index, pid: "p001",
        ...(r.session_id === traced.session_id ? { trace_id: "lot-42/part-7" } : {}), method: r.method,
        status: r.status, error_code: r.error_code, latency_ms: r.latency_ms, name: "algorithm-example", version: "1.0",
        result_status: r.result_status, ng_reason: r.ng_reason, defect_rects_count: r.defect_count,
        ingest_id: `line3-st07/${r.session_id}/${r.step_index}/${t}`,
      });
    }
    expect(records.filter((r) => r.trace_id === "lot-42/part-7").map((r) => r.session_id)).toEqual([traced.session_id, traced.session_id]);
    expect(lines.filter((l) => "trace_id" in l)).toHaveLength(2);
    const ng = records.filter((r) => r.method === "execute" && r.result_status === "NG");
    expect(ng).toHaveLength(3);
    const imageKeys = await s3.keys("plant-a/images/");
    expect(imageKeys).toHaveLength(ng.length * 3);
    const { width, height } = await sharp(sample).metadata();
    for (const r of ng) {
      const t = Date.parse(r.time);
      const d = new Date(t).toISOString().slice(0, 10).replace(/-/g, "/");
      const base = `plant-a/images/line3-st07/${d}/line3-st07/${r.session_id}/${r.step_index}/${t}`;
      expect(imageKeys).toEqual(expect.arrayContaining([`${base}.jpg`, `${base}.annotated.jpg`, `${base}.json`]));
      const image = await s3.get(`${base}.jpg`);
      expect(image.contentType).toBe("image/jpeg");
      expect(image.metadata).toMatchObject({
        pid: "p001", session_id: r.session_id!, step_index: String(r.step_index), result_status: "NG", ng_reason: r.ng_reason!,
        width: String(width), height: String(height), camera_id: "cam-0", size: String(image.body.length), kind: "image",
      });
      expect((await sharp(image.body).metadata()).format).toBe("jpeg");
      const annotated = await s3.get(`${base}.annotated.jpg`);
      expect(annotated.metadata.kind).toBe("annotated");
      expect(annotated.body.equals(image.body)).toBe(false);
      const sidecar = JSON.parse((await s3.get(`${base}.json`)).body.toString()) as Record<string, unknown>;
      expect(sidecar).toMatchObject({ pid: "p001", session_id: r.session_id, step_index: r.step_index, result_status: "NG", width, height, camera_id: "cam-0" });
      // The local copies stay (within the quota), marked uploaded.
      const kept = await runner.recordImages(r.id);
      expect(kept.map((a) => [a.kind, a.uploaded])).toEqual([["image", true], ["annotated", true]]);
      for (const a of kept) expect(existsSync(path.join(root, a.path))).toBe(true);
    }
    const status = await runner.telemetry();
    expect(status).toMatchObject({ enabled: true, depth: { records: 0, logs: 0, images: 0 }, oldest_pending_age_ms: null, dropped_by_quota: 0 });
    expect(JSON.stringify(status)).not.toContain(s3.secretAccessKey);
  });

  it("outage: inspections go on and the outbox grows; the server back → drained, every record exactly once", async () => {
    const before = (await bucketLines()).length;
    await s3.stop();
    const n = 8;
    for (let i = 0; i < n; i++) await runner.inspect({ pid: "p001", step_index: 2, method: "execute", image: { path: sample } });
    runner.telemetryHandle!.flush();
    await expect.poll(async () => (await runner.telemetry() as { last_error: unknown }).last_error, { timeout: 20_000 }).not.toBeNull();
    const during = await runner.telemetry() as { depth: { records: number }; pending_lines: { records: number }; oldest_pending_age_ms: number };
    expect(during.depth.records + during.pending_lines.records).toBeGreaterThan(0);
    expect(during.oldest_pending_age_ms).toBeGreaterThanOrEqual(0);
    await s3.restart();
    await drained();
    const lines = await bucketLines();
    expect(lines).toHaveLength(before + n);
    expect(new Set(lines.map((l) => `${l.ingest_id}.${l.method}`)).size).toBe(lines.length);
  });
});

describe("log lines (contract §8)", { timeout: 60_000 }, () => {
  it("runner and worker log lines leave in NDJSON batches under logs/, each line once", async () => {
    // An execute without pre_execute makes the example algorithm warn on stderr (it calibrates itself); a mutation
    // without the token is a line of the API's.
    await runner.inspect({ pid: "p001", step_index: 2, method: "execute", image: { path: sample } });
    expect((await fetch(`${url}/telemetry/pause`, { method: "POST" })).status).toBe(401);
    await drained();
    const keys = await s3.keys("plant-a/logs/line3-st07/");
    expect(keys.length).toBeGreaterThan(0);
    const lines = (await Promise.all(keys.map((k) => s3.get(k)))).flatMap((o) => o.body.toString().split("\n").filter(Boolean)
      .map((l) => JSON.parse(l) as { source: string; level: string; message: string; workstation_id: string; timestamp_ms: number }));
    expect(lines.every((l) => l.workstation_id === "line3-st07" && Number.isInteger(l.timestamp_ms))).toBe(true);
    expect(lines.some((l) => l.source === "worker:algorithm-example@1.0#0" && l.message.includes("calibrating now"))).toBe(true);
    expect(lines.some((l) => l.source === "runner")).toBe(true);
    // Every runner line, with its level: the API's, and telemetry's own from the outage above.
    const runnerLine = (level: string, text: RegExp) => lines.some((l) => l.source === "runner" && l.level === level && text.test(l.message));
    expect(runnerLine("warn", /^denied POST \/telemetry\/pause \(no valid token\)$/)).toBe(true);
    expect(runnerLine("warn", /^telemetry: upload of .* failed .*retrying with backoff$/)).toBe(true);
    expect(runnerLine("info", /^telemetry: .* reachable again after \d+ failed upload/)).toBe(true);
    expect(new Set(lines.map((l) => JSON.stringify(l))).size).toBe(lines.length);
    expect(JSON.stringify(lines)).not.toContain(s3.secretAccessKey);
  });
});

describe("telemetry through the HTTP API", { timeout: 60_000 }, () => {
  const http = async (method: string, route: string, auth = true) => {
    const response = await fetch(`${url}${route}`, { method, headers: auth ? { authorization: `Bearer ${token}` } : {} });
    const bytes = Buffer.from(await response.arrayBuffer());
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(bytes.toString()) as Record<string, unknown>;
    } catch {
      // an image
    }
    return { status: response.status, type: response.headers.get("content-type"), bytes, json };
  };

  it("GET /records/{id}/images lists an NG record's kept images and serves each as JPEG; other records and bad input are refused", async () => {
    const ng = (await runner.records({ result_status: "NG", limit: 1 }))[0]!;
    const listed = await http("GET", `/records/${ng.id}/images`);
    expect(listed.status).toBe(200);
    const images = listed.json.images as { kind: string; url: string; bytes: number }[];
    expect(images.map((i) => i.kind).sort()).toEqual(["annotated", "image"]);
    const kept = await runner.recordImages(ng.id);
    for (const image of images) {
      const got = await http("GET", image.url);
      expect(got.status).toBe(200);
      expect(got.type).toBe("image/jpeg");
      expect(got.bytes.equals(readFileSync(path.join(root, kept.find((k) => k.kind === image.kind)!.path)))).toBe(true);
    }
    const ok = (await runner.records({ result_status: "OK", limit: 1 }))[0]!;
    expect((await http("GET", `/records/${ok.id}/images`)).json).toMatchObject({ error_code: "3006" });
    expect((await http("GET", `/records/${ng.id}/images/thumbnail`)).json).toMatchObject({ error_code: "1006" });
    expect((await http("GET", "/records/x/images")).json).toMatchObject({ error_code: "1006" });
  });

  it("GET /telemetry and /metrics show the outbox; pause and resume need the token and are audited", async () => {
    const status = await http("GET", "/telemetry");
    expect(status.json).toMatchObject({ enabled: true, workstation_id: "line3-st07", bucket: s3.bucket, paused: false, dropped_by_quota: 0 });
    expect(status.bytes.toString()).not.toContain(s3.secretAccessKey);
    expect(status.bytes.toString()).not.toContain(s3.accessKeyId);
    const metrics = (await http("GET", "/metrics")).bytes.toString();
    expect(metrics).toMatch(/procvision_telemetry_outbox_depth\{kind="records"\} 0/);
    expect(metrics).toMatch(/procvision_telemetry_dropped_by_quota_total 0/);
    expect(metrics).toMatch(/procvision_telemetry_sent_bytes_total [1-9]/);
    expect((await http("POST", "/telemetry/pause", false)).json).toMatchObject({ error_code: "3007" });
    expect((await http("POST", "/telemetry/pause")).json).toMatchObject({ paused: true });
    await runner.inspect({ pid: "p001", step_index: 2, method: "execute", image: { path: sample } });
    runner.telemetryHandle!.flush();
    const paused = await http("GET", "/telemetry");
    expect((paused.json.depth as { records: number }).records).toBe(1);
    expect((await http("POST", "/telemetry/resume")).json).toMatchObject({ paused: false });
    await drained();
    expect((await runner.audit({ limit: 2 })).map((a) => a.action)).toEqual(["telemetry-resume", "telemetry-pause"]);
    expect(JSON.stringify(await runner.audit({ limit: 50 }))).not.toContain(s3.secretAccessKey);
  });
});

describe("telemetry failures (contract §8)", { timeout: 60_000 }, () => {
  it("wrong credentials: last_error says 403 and names no credential; nothing is lost from the outbox", async () => {
    const wrong = "this-secret-is-wrong-1234567890";
    const other = await Runner.open({
      root: path.join(work, "wrong-creds"), log: () => undefined, telemetryRetry: { baseMs: 50, maxMs: 100 },
      config: { workstation_id: "st-wrong", telemetry: { endpoint: s3.endpoint, bucket: s3.bucket, access_key_id: s3.accessKeyId, secret_access_key: wrong, batch: { max_age_ms: 10 } } },
    });
    try {
      const t = other.telemetryHandle!;
      t.logLine("test", "info", "hello");
      t.flush();
      await expect.poll(() => t.status().last_error, { timeout: 20_000 }).not.toBeNull();
      const status = t.status();
      expect(status.last_error!.message).toMatch(/HTTP 403/);
      expect(JSON.stringify(status)).not.toContain(wrong);
      expect(status.depth.logs).toBeGreaterThan(0);
      expect(await s3.keys("logs/st-wrong/")).toEqual([]);
    } finally {
      await other.close();
    }
  });

  it("an image above 16 MiB goes up in parts (multipart) and arrives whole", async () => {
    const t = runner.telemetryHandle!;
    const size = 17 * 1024 * 1024 + 123;
    const rel = path.join("artifacts", "big", "big.jpg");
    mkdirSync(path.join(root, "artifacts", "big"), { recursive: true });
    const bytes = randomBytes(size);
    writeFileSync(path.join(root, rel), bytes);
    t.store.addArtifacts(999_999, Date.now(), [{ kind: "image", path: rel, bytes: size, width: 1, height: 1, upload: { object_key: "plant-a/big/big.jpg", metadata: { kind: "image" } } }]);
    await drained();
    const got = await s3.get("plant-a/big/big.jpg");
    expect(got.body.length).toBe(size);
    expect(got.body.equals(bytes)).toBe(true);
    expect(got.metadata.kind).toBe("image");
  });

  it("max_kbps bounds the upload rate: 4 objects of 50 kB at 800 kbit/s take at least 1.5 s", async () => {
    const paced = await Runner.open({
      root: path.join(work, "paced"), log: () => undefined,
      config: { workstation_id: "st-paced", telemetry: { ...s3.target, max_kbps: 800, upload: { logs: false } } },
    });
    try {
      const t = paced.telemetryHandle!;
      t.pause();
      mkdirSync(path.join(work, "paced", "artifacts"), { recursive: true });
      for (let i = 0; i < 4; i++) {
        const rel = path.join("artifacts", `${i}.jpg`);
        writeFileSync(path.join(work, "paced", rel), randomBytes(50_000));
        t.store.addArtifacts(100 + i, Date.now(), [{ kind: "image", path: rel, bytes: 50_000, width: 1, height: 1, upload: { object_key: `paced/${i}.jpg`, metadata: {} } }]);
      }
      const t0 = performance.now();
      t.resume();
      await t.drained(30_000);
      // 50 kB at 100 kB/s is 0.5 s per object; the first goes at once.
      expect(performance.now() - t0).toBeGreaterThanOrEqual(1_500);
      expect(await s3.keys("paced/")).toHaveLength(4);
    } finally {
      await paced.close();
    }
  });
});
