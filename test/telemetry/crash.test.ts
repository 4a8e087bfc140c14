// kill -9 of a real `procvision-runner serve` at random points while it inspects and uploads (contract §8 "nothing
// is lost"): after the last restart everything is in the bucket, each record line exactly once, no object rewritten
// with other content, and every answered NG inspection's images there too.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Runner } from "../../src/index.js";
import { loadRunnerConfig } from "../../src/runner/config.js";
import type { RecordLine } from "../../src/telemetry/keys.js";
import { repoRoot } from "../helpers/python.js";
import { EXAMPLE, exampleZip } from "../helpers/store.js";
import { startS3Server, type S3Server } from "../helpers/s3-server.js";

const RUNNER_CLI = path.join(repoRoot, "dist", "bin", "procvision-runner.js");
const KILLS = Number(process.env.PROCVISION_CRASH_KILLS ?? 20);
const work = mkdtempSync(path.join(tmpdir(), "pv-telemetry-crash-"));
const root = path.join(work, "root");
const configFile = path.join(work, "runner_config.json");
const sample = readFileSync(path.join(EXAMPLE, "sample.png"));
let s3: S3Server;
let live: ChildProcessWithoutNullStreams | undefined;
let serverLog = "";

/** A seeded generator: a failing run can be replayed with the same kill points. */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

beforeAll(async () => {
  // The server first, on its own: afterAll stops it even when building the zip fails.
  s3 = await startS3Server();
  const zip = await exampleZip(work);
  writeFileSync(configFile, JSON.stringify({
    workstation_id: "st-crash",
    telemetry: {
      ...s3.target,
      upload: { records: true, logs: true, ng_images: true }, batch: { max_lines: 4, max_age_ms: 50, max_bytes: 64 * 1024 },
    },
  }));
  const runner = await Runner.open({ root, config: await loadRunnerConfig(configFile), log: () => undefined });
  expect((await runner.install(zip)).state).toBe("installed");
  await runner.activate("algorithm-example", "1.0", ["p001"]);
  await runner.close();
}, 240_000);

afterAll(async () => {
  live?.kill("SIGKILL");
  await s3?.close();
  rmSync(work, { recursive: true, force: true });
});

function serve(): Promise<{ child: ChildProcessWithoutNullStreams; url: string }> {
  const child = spawn(process.execPath, [RUNNER_CLI, "serve", "--root", root, "--port", "0", "--config", configFile], { cwd: work });
  live = child;
  return new Promise((resolve, reject) => {
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
      const match = /listening on (\S+)/.exec(stdout);
      if (match?.[1]) resolve({ child, url: match[1] });
    });
    child.stderr.on("data", (d: Buffer) => (serverLog += d.toString()));
    child.on("exit", (code, signal) => reject(new Error(`runner exited (${code ?? signal}) before listening:\n${serverLog.slice(-3000)}`)));
  });
}

interface Answered { session_id: string; ng: boolean }

/** Inspections one after another until the runner dies; the answered ones are returned. */
async function inspectUntilDead(url: string, child: ChildProcessWithoutNullStreams, random: () => number): Promise<Answered[]> {
  const token = readFileSync(path.join(root, "token"), "utf8").trim();
  const answered: Answered[] = [];
  while (child.exitCode === null && child.signalCode === null) {
    const form = new FormData();
    form.set("pid", "p001");
    form.set("step_index", random() < 0.5 ? "1" : "2");
    form.set("method", "execute");
    form.set("image", new Blob([sample]), "sample.png");
    try {
      const response = await fetch(`${url}/inspect`, { method: "POST", body: form, headers: { authorization: `Bearer ${token}` } });
      const body = (await response.json()) as { session_id: string; execute?: { data?: { result_status?: string } } };
      if (response.ok) answered.push({ session_id: body.session_id, ng: body.execute?.data?.result_status === "NG" });
    } catch {
      break; // killed mid-request: not answered
    }
  }
  return answered;
}

describe("telemetry survives kill -9 (contract §8)", { timeout: 900_000 }, () => {
  it(`${KILLS} kills at random points of the upload loop → everything uploaded once, nothing missing`, async () => {
    const random = lcg(Number(process.env.PROCVISION_CRASH_SEED ?? 16));
    const answered: Answered[] = [];
    for (let kill = 0; kill < KILLS; kill++) {
      const { child, url } = await serve();
      const exited = new Promise((resolve) => child.once("exit", resolve));
      const loop = inspectUntilDead(url, child, random);
      const delay = 100 + random() * 900;
      await new Promise((resolve) => setTimeout(resolve, delay));
      child.kill("SIGKILL");
      await exited;
      answered.push(...(await loop));
    }
    expect(answered.length).toBeGreaterThan(KILLS);

    // The last start: it drains everything the killed ones left.
    const { child, url } = await serve();
    const telemetry = async () => (await (await fetch(`${url}/telemetry`)).json()) as {
      depth: Record<string, number>; pending_lines: Record<string, number>; images_pending: number;
    };
    await expect.poll(async () => {
      const t = await telemetry();
      return Object.values(t.depth).reduce((a, b) => a + b, 0) + Object.values(t.pending_lines).reduce((a, b) => a + b, 0) + t.images_pending;
    }, { timeout: 120_000, interval: 250 }).toBe(0);
    const stopped = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await stopped;

    const db = new Database(path.join(root, "runner.db"), { readonly: true });
    const records = db.prepare("SELECT id, session_id, step_index, method, time FROM records").all() as { id: number; session_id: string; step_index: number; method: string; time: string }[];
    const artifacts = db.prepare("SELECT record_id, kind, path FROM telemetry_artifacts").all() as { record_id: number; kind: string; path: string }[];
    db.close();

    // Records: every committed one in exactly one line of one batch.
    const keys = await s3.keys("records/");
    const lines = (await Promise.all(keys.map((k) => s3.get(k)))).flatMap((o) => o.body.toString().split("\n").filter(Boolean).map((l) => JSON.parse(l) as RecordLine));
    const seen = new Map<string, number>();
    for (const l of lines) seen.set(`${l.ingest_id}.${l.method}`, (seen.get(`${l.ingest_id}.${l.method}`) ?? 0) + 1);
    expect([...seen.values()].filter((n) => n > 1)).toEqual([]);
    expect(lines).toHaveLength(records.length);
    const ingest = (r: (typeof records)[number]) => `st-crash/${r.session_id}/${r.step_index}/${Date.parse(r.time)}`;
    for (const r of records) expect(seen.get(`${ingest(r)}.${r.method}`), ingest(r)).toBe(1);
    // Every answered inspection is recorded.
    const sessions = new Set(records.map((r) => r.session_id));
    expect(answered.filter((a) => !sessions.has(a.session_id))).toEqual([]);

    // Images: every answered NG inspection's image and annotated copy are kept and uploaded, byte for byte.
    const bySession = new Map(records.map((r) => [r.session_id, r]));
    const imageKeys = new Set(await s3.keys("images/"));
    const ng = answered.filter((x) => x.ng);
    expect(ng.length).toBeGreaterThan(0);
    for (const a of ng) {
      const r = bySession.get(a.session_id)!;
      const kept = artifacts.filter((x) => x.record_id === r.id);
      expect(kept.map((k) => k.kind).sort()).toEqual(["annotated", "image"]);
      const base = `images/st-crash/${r.time.slice(0, 10).replace(/-/g, "/")}/${ingest(r)}`;
      for (const k of kept) {
        const key = `${base}${k.kind === "image" ? ".jpg" : ".annotated.jpg"}`;
        expect(imageKeys.has(key), key).toBe(true);
        expect((await s3.get(key)).body.equals(readFileSync(path.join(root, k.path)))).toBe(true);
      }
      expect(imageKeys.has(`${base}.json`)).toBe(true);
    }
    // Log lines of every start made it too.
    expect((await s3.keys("logs/")).length).toBeGreaterThan(0);
  });
});
