// Worker-level sections: small call round trip vs a raw pipe echo, frame handoff vs Buffer.copy, and start → ready vs
// `python -c "import numpy"`, each baseline measured in the same run.
import { execFileSync, spawn } from "node:child_process";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { encodeFrame, FrameDecoder } from "../src/protocol/frame-codec.js";
import type { StepPayload } from "../src/protocol/messages.js";
import { writeFrame } from "../src/shm/frame.js";
import { nativeAvailable } from "../src/shm/native.js";
import { FileSegment, MappedSegment, type Segment } from "../src/shm/segment.js";
import { Worker } from "../src/worker/worker.js";
import { fmt as f, stats, verdict, type Stats } from "./stats.js";

export interface WorkerBenchContext { python: string; fixtures: string; quick: boolean }

export function smallPayload(extra: Record<string, unknown> = {}): StepPayload {
  return {
    step_index: 1, pid: "p", session: { id: "s", context: {}, state: {} }, user_params: extra,
    shared_mem_id: "none", image_meta: { width: 1, height: 1, timestamp_ms: 0, camera_id: "c" },
  };
}

export async function benchWorker(c: WorkerBenchContext): Promise<Worker> {
  return Worker.start({ python: c.python, entryPoint: "bench_algo:BenchAlgo", cwd: c.fixtures, heartbeatIntervalMs: 0 });
}

// ── round trip ──────────────────────────────────────────────────────────────────────────────────────────────────────

async function rawEcho(c: WorkerBenchContext, rounds: number): Promise<Stats> {
  const child = spawn(c.python, [path.join(c.fixtures, "raw_echo.py")], { stdio: ["pipe", "pipe", "inherit"] });
  const decoder = new FrameDecoder();
  let waiting: (() => void) | undefined;
  child.stdout.on("data", (chunk: Buffer) => {
    if (decoder.push(chunk).length > 0) waiting?.();
  });
  const frame = encodeFrame({ type: "call", request_id: "r1", method: "execute", payload: smallPayload() });
  const samples: number[] = [];
  for (let i = 0; i < rounds + 200; i++) {
    const t0 = performance.now();
    await new Promise<void>((resolve) => { waiting = resolve; child.stdin.write(frame); });
    if (i >= 200) samples.push((performance.now() - t0) * 1000);
  }
  child.stdin.end();
  return stats(samples);
}

async function workerRoundTrip(c: WorkerBenchContext, rounds: number): Promise<Stats> {
  const worker = await benchWorker(c);
  const samples: number[] = [];
  const payload = smallPayload();
  for (let i = 0; i < rounds + 200; i++) {
    const t0 = performance.now();
    await worker.call("execute", payload);
    if (i >= 200) samples.push((performance.now() - t0) * 1000);
  }
  await worker.shutdown();
  return stats(samples);
}

export interface RoundTripBench { raw_echo_us: Stats; round_trip_us: Stats }

export async function benchRoundTrip(c: WorkerBenchContext): Promise<RoundTripBench> {
  const rounds = c.quick ? 500 : 5000;
  const raw_echo_us = await rawEcho(c, rounds);
  const round_trip_us = await workerRoundTrip(c, rounds);
  return { raw_echo_us, round_trip_us };
}

export function roundTripLines({ raw_echo_us: echo, round_trip_us: rt }: RoundTripBench): string[] {
  return [
    "## Small call round trip (Worker.call → adapter → algorithm → result)",
    "",
    "| | p50 µs | p99 µs | mean µs | n |",
    "|---|---|---|---|---|",
    `| raw pipe echo (baseline: same framing, Python echo without SDK) | ${f(echo.p50, 0)} | ${f(echo.p99, 0)} | ${f(echo.mean, 0)} | ${echo.n} |`,
    `| worker round trip | ${f(rt.p50, 0)} | ${f(rt.p99, 0)} | ${f(rt.mean, 0)} | ${rt.n} |`,
    "",
    `Target p50 ≤ 1.5× echo (${f(echo.p50 * 1.5, 0)} µs): ${verdict(rt.p50 <= echo.p50 * 1.5)} (${f(rt.p50 / echo.p50)}×). Target p99 ≤ 300 µs: ${verdict(rt.p99 <= 300)}.`,
    "",
  ];
}

// ── frame handoff ───────────────────────────────────────────────────────────────────────────────────────────────────

interface Handoff { write_ms: Stats; read_ms: Stats; total_ms: Stats }

async function handoff(c: WorkerBenchContext, count: number, make: (name: string, bytes: number) => Segment, width: number, height: number): Promise<Handoff> {
  const bytes = width * height * 3;
  const frames = [0, 1, 2, 3].map((k) => Buffer.alloc(bytes, 17 + k));
  const segment = make(`procvision-${process.pid}-bench-${width}`, bytes);
  const worker = await benchWorker(c);
  const writes: number[] = [];
  const reads: number[] = [];
  try {
    for (let i = 0; i < count + 10; i++) {
      const t0 = performance.now();
      const meta = writeFrame(segment, { data: frames[i % 4]!, width, height, channels: 3, colorSpace: "RGB" }, "bench");
      const writeMs = performance.now() - t0;
      const result = await worker.call("execute", { ...smallPayload({ read: true }), shared_mem_id: segment.name, image_meta: meta });
      if (result.status !== "OK") throw new Error(`bench read failed: ${result.message}`);
      if (i >= 10) {
        writes.push(writeMs);
        reads.push(Number(result.debug.read_ms));
      }
    }
  } finally {
    await worker.shutdown();
    segment.close();
  }
  return { write_ms: stats(writes), read_ms: stats(reads), total_ms: stats(writes.map((w, i) => w + (reads[i] ?? 0))) };
}

function bufferCopy(count: number, bytes: number): Stats {
  const frames = [0, 1, 2, 3].map((k) => Buffer.alloc(bytes, 17 + k));
  const target = Buffer.alloc(bytes);
  const samples: number[] = [];
  for (let i = 0; i < count + 10; i++) {
    const t0 = performance.now();
    frames[i % 4]!.copy(target);
    if (i >= 10) samples.push(performance.now() - t0);
  }
  return stats(samples);
}

export interface FrameResult { label: string; buffer_copy_ms: Stats; mapped: Handoff | undefined; file: Handoff }

export async function benchFrames(c: WorkerBenchContext): Promise<FrameResult[]> {
  const count = c.quick ? 30 : 200;
  const sizes = [["6.9 MB (1920×1200×3)", 1920, 1200], ["15 MB (2560×1960×3)", 2560, 1960]] as const;
  const out: FrameResult[] = [];
  for (const [label, w, h] of sizes) {
    const copy = bufferCopy(count, w * h * 3);
    const mapped = nativeAvailable() ? await handoff(c, count, (n, b) => MappedSegment.create(n, b), w, h) : undefined;
    const file = await handoff(c, count, (n, b) => FileSegment.create(n, b), w, h);
    out.push({ label, buffer_copy_ms: copy, mapped, file });
  }
  return out;
}

export function framesLines(frameResults: FrameResult[]): string[] {
  return [
    "## Frame handoff (Node write into the segment → numpy view in the worker)",
    "",
    "| frame | Buffer.copy p50 ms (baseline) | mapped write p50 | view p50 | mapped total p50 | file write p50 | file total p50 |",
    "|---|---|---|---|---|---|---|",
    ...frameResults.map((r) => `| ${r.label} | ${f(r.buffer_copy_ms.p50, 3)} | ${f(r.mapped?.write_ms.p50, 3)} | ${f(r.mapped?.read_ms.p50, 3)} | ${f(r.mapped?.total_ms.p50, 3)} | ${f(r.file.write_ms.p50, 3)} | ${f(r.file.total_ms.p50, 3)} |`),
    "",
    ...frameResults.map((r) => `Target ${r.label}: mapped total ≤ 2× Buffer.copy: ${r.mapped ? verdict(r.mapped.total_ms.p50 <= 2 * r.buffer_copy_ms.p50) + ` (${f(r.mapped.total_ms.p50 / r.buffer_copy_ms.p50)}×)` : "n/a (addon not built)"}.`),
    "",
  ];
}

// ── start → ready ───────────────────────────────────────────────────────────────────────────────────────────────────

export interface StartupBench { startup_ms: Stats; spawn_import_numpy_ms: Stats }

export async function benchStartup(c: WorkerBenchContext): Promise<StartupBench> {
  const starts = c.quick ? 3 : 10;
  const samples: number[] = [];
  for (let i = 0; i < starts; i++) {
    const t0 = performance.now();
    const worker = await Worker.start({ python: c.python, entryPoint: "bench_algo:BenchAlgo", cwd: c.fixtures, heartbeatIntervalMs: 0 });
    samples.push(performance.now() - t0);
    await worker.shutdown();
  }
  const baseline: number[] = [];
  for (let i = 0; i < starts; i++) {
    const t0 = performance.now();
    execFileSync(c.python, ["-c", "import numpy"]);
    baseline.push(performance.now() - t0);
  }
  return { startup_ms: stats(samples), spawn_import_numpy_ms: stats(baseline) };
}

export function startupLines({ startup_ms: start, spawn_import_numpy_ms: importBaseline }: StartupBench): string[] {
  return [
    "## Worker start → ready (spawn, import numpy + SDK, construct, setup, handshake)",
    "",
    "| | p50 ms | p99 ms | n |",
    "|---|---|---|---|",
    `| \`python -c "import numpy"\` (baseline) | ${f(importBaseline.p50, 1)} | ${f(importBaseline.p99, 1)} | ${importBaseline.n} |`,
    `| Worker.start → ready | ${f(start.p50, 1)} | ${f(start.p99, 1)} | ${start.n} |`,
    "",
    `Target ≤ 150 ms: ${verdict(start.p50 <= 150)}.`,
    "",
  ];
}
